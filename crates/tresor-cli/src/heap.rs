//! The process's allocator: glibc's malloc for short commands, mimalloc for servers.
//!
//! A KMIP server allocates and frees a few hundred small blocks per request (the decoded
//! request, the object's attributes, the response), and glibc's free and realloc were ~20 % of
//! its instructions per Get: on mimalloc it serves ~13 % more Gets per second (BENCHMARKS.md,
//! issue 13's A/B). A short command such as `tresor get` is the other way round: mimalloc
//! gives each size class its own pages, so the same few thousand allocations touched ~100
//! more pages of fresh memory than glibc's one contiguous heap, and a process that lives 3 ms
//! pays for each page it touches (a page fault).
//!
//! So [`Heap`] allocates from glibc until [`serve`] is called (by the commands that run a
//! server, before they start it), and from mimalloc after. Each block is freed or resized by
//! the allocator it came from, which mimalloc can tell from the address alone
//! (`mi_is_in_heap_region`: its arenas and segments are address ranges it mapped itself, and
//! glibc never hands out an address inside them), so blocks made before the switch stay
//! valid after it.
//!
//! mimalloc is built as version 2 without transparent huge pages (features `v2`, `no_thp`):
//! with huge pages a short process spent ~1 ms more in the kernel faulting them in.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, Ordering};

use mimalloc::MiMalloc;

/// glibc's malloc until [`serve`], mimalloc after (see the module documentation).
pub struct Heap;

/// Whether new blocks come from mimalloc.
static SERVING: AtomicBool = AtomicBool::new(false);

/// Makes every later allocation come from mimalloc: called once by a command that is about
/// to run a server (a long-lived process allocating per request).
pub fn serve() {
    SERVING.store(true, Ordering::Relaxed);
}

/// Whether `ptr` is a block mimalloc handed out (else glibc did).
fn from_mimalloc(ptr: *mut u8) -> bool {
    // SAFETY: mi_is_in_heap_region only compares the address with mimalloc's own address
    // ranges; it reads nothing at `ptr` and accepts any address.
    unsafe { libmimalloc_sys::mi_is_in_heap_region(ptr.cast()) }
}

// SAFETY: each method forwards to System or MiMalloc, both GlobalAlloc implementations, with
// the caller's own arguments; a block is always freed or resized by the allocator that made
// it (`from_mimalloc`), so each allocator only ever sees its own blocks.
unsafe impl GlobalAlloc for Heap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc` is the contract of both allocators.
        unsafe {
            if SERVING.load(Ordering::Relaxed) {
                MiMalloc.alloc(layout)
            } else {
                System.alloc(layout)
            }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as `alloc`.
        unsafe {
            if SERVING.load(Ordering::Relaxed) {
                MiMalloc.alloc_zeroed(layout)
            } else {
                System.alloc_zeroed(layout)
            }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator with `layout`, i.e. from the one chosen here.
        unsafe {
            if from_mimalloc(ptr) {
                MiMalloc.dealloc(ptr, layout)
            } else {
                System.dealloc(ptr, layout)
            }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as `dealloc`; the block stays with the allocator that made it.
        unsafe {
            if from_mimalloc(ptr) {
                MiMalloc.realloc(ptr, layout, new_size)
            } else {
                System.realloc(ptr, layout, new_size)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Blocks made before the switch are freed and resized by glibc after it, blocks made
    /// after it by mimalloc. (The switch is for the whole test process: the other tests then
    /// run on mimalloc, freeing blocks made before it, as a server does.)
    #[test]
    fn blocks_stay_with_the_allocator_that_made_them() {
        let heap = Heap;
        let small = Layout::from_size_align(24, 8).unwrap();
        let big = Layout::from_size_align(1 << 20, 64).unwrap();
        unsafe {
            let before = [heap.alloc(small), heap.alloc_zeroed(big)];
            assert!(before.iter().all(|p| !p.is_null() && !from_mimalloc(*p)));
            assert!(
                std::slice::from_raw_parts(before[1], big.size())
                    .iter()
                    .all(|b| *b == 0)
            );
            serve();
            let after = [heap.alloc(small), heap.alloc_zeroed(big)];
            assert!(after.iter().all(|p| !p.is_null() && from_mimalloc(*p)));
            before[0].write_bytes(7, small.size());
            let grown = heap.realloc(before[0], small, 4096);
            assert!(
                !from_mimalloc(grown),
                "a glibc block stays in glibc when resized"
            );
            assert_eq!(*grown.add(23), 7);
            let grown_mi = heap.realloc(after[0], small, 4096);
            assert!(from_mimalloc(grown_mi));
            heap.dealloc(grown, Layout::from_size_align(4096, 8).unwrap());
            heap.dealloc(grown_mi, Layout::from_size_align(4096, 8).unwrap());
            heap.dealloc(before[1], big);
            heap.dealloc(after[1], big);
        }
    }
}
