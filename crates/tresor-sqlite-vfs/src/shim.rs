//! The VFS itself: SQLite's C callbacks (see the crate documentation for what they do).
#![allow(unsafe_code)]

use std::ffi::{c_int, c_void};
use std::ptr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};

use libsqlite3_sys as ffi;

use crate::{Error, Stats};

/// Bytes gathered at most before they are written even without a commit frame: the default
/// Unix VFS writes at most 128 KiB − 1 bytes per call (`seekAndWriteFd` masks the length with
/// 0x1ffff, so a longer write would be cut short or fail as "disk full").
const MAX_GATHER: usize = 0x1ffff;

/// Size of a WAL frame header (SQLite's `WAL_FRAME_HDRSIZE`), written alone before its page.
const FRAME_HEADER: usize = 24;

/// The VFS's name as a C string (the same as [`crate::VFS_NAME`]).
const NAME: &std::ffi::CStr = c"tresor-wal";

/// The default VFS this one forwards to (set once, before the registration).
static REAL: AtomicPtr<ffi::sqlite3_vfs> = AtomicPtr::new(ptr::null_mut());
static REGISTERED: OnceLock<Result<(), Error>> = OnceLock::new();
static WRITES: AtomicU64 = AtomicU64::new(0);
static FLUSHES: AtomicU64 = AtomicU64::new(0);

pub(crate) fn stats() -> Stats {
    Stats {
        writes: WRITES.load(Ordering::Relaxed),
        flushes: FLUSHES.load(Ordering::Relaxed),
    }
}

pub(crate) fn register() -> Result<(), Error> {
    *REGISTERED.get_or_init(|| {
        // SAFETY: sqlite3_vfs_find (which initialises SQLite) accepts NULL for the default
        // VFS and returns NULL or a VFS that stays registered for the life of the process.
        // The copy made of it and leaked here lives as long: SQLite keeps the pointer.
        unsafe {
            let real = ffi::sqlite3_vfs_find(ptr::null());
            if real.is_null() {
                return Err(Error {
                    code: ffi::SQLITE_ERROR,
                });
            }
            let mut vfs = *real;
            vfs.szOsFile = (*real).szOsFile + REAL_AT as c_int;
            vfs.pNext = ptr::null_mut();
            vfs.zName = NAME.as_ptr();
            vfs.xOpen = Some(x_open);
            REAL.store(real, Ordering::Release);
            let rc = ffi::sqlite3_vfs_register(Box::leak(Box::new(vfs)), 0);
            if rc == ffi::SQLITE_OK {
                Ok(())
            } else {
                Err(Error { code: rc })
            }
        }
    })
}

/// What the writes gathered for one WAL file are.
struct Gather {
    /// Contiguous bytes to be written at `start`.
    buf: Vec<u8>,
    start: i64,
    /// The last gathered write was a commit frame's header: its page comes next, and then
    /// everything gathered is written.
    commit_page_next: bool,
}

/// An open WAL file: SQLite's file header, the gathered writes, then (at [`REAL_AT`]) the
/// default VFS's own file structure. Other files are the default VFS's structure alone.
#[repr(C)]
struct WalFile {
    base: ffi::sqlite3_file,
    gather: *mut Gather,
}

/// Where the default VFS's file structure starts inside a [`WalFile`] (8-byte aligned, as
/// SQLite aligns the whole).
const REAL_AT: usize = std::mem::size_of::<WalFile>().next_multiple_of(8);

// SQLite sees a WalFile as its `sqlite3_file` header.
const _: () = assert!(std::mem::offset_of!(WalFile, base) == 0);

/// Where the default VFS's file structure lies inside WAL file `f` (address arithmetic only).
fn real_file(f: *mut ffi::sqlite3_file) -> *mut ffi::sqlite3_file {
    f.cast::<u8>().wrapping_add(REAL_AT).cast()
}

/// The default VFS's file inside WAL file `f`, and its methods.
///
/// # Safety
/// `f` is a [`WalFile`] opened by [`x_open`] and not yet closed.
unsafe fn inner<'a>(
    f: *mut ffi::sqlite3_file,
) -> (*mut ffi::sqlite3_file, &'a ffi::sqlite3_io_methods) {
    // SAFETY: per the contract, the default VFS's open file lies at REAL_AT and its methods
    // pointer (set by its xOpen, a static table) is valid while it is open.
    unsafe {
        let real = real_file(f);
        (real, &*(*real).pMethods)
    }
}

/// Writes what `f` gathered, as one write of the default VFS.
///
/// # Safety
/// As [`inner`].
unsafe fn flush(f: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: `f` is an open WalFile, so `gather` is the live Box x_open made.
    unsafe {
        let g = &mut *(*f.cast::<WalFile>()).gather;
        g.commit_page_next = false;
        if g.buf.is_empty() {
            return ffi::SQLITE_OK;
        }
        FLUSHES.fetch_add(1, Ordering::Relaxed);
        let (real, m) = inner(f);
        let rc = match (m.xWrite, c_int::try_from(g.buf.len())) {
            (Some(write), Ok(n)) => write(real, g.buf.as_ptr().cast(), n, g.start),
            _ => ffi::SQLITE_IOERR_WRITE,
        };
        g.buf.clear();
        rc
    }
}

unsafe extern "C" fn x_open(
    _vfs: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    f: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    // SAFETY: SQLite gives `f` szOsFile bytes (REAL_AT more than the default VFS asks for);
    // the default VFS is called with its own VFS pointer and memory of its own size.
    unsafe {
        let real_vfs = REAL.load(Ordering::Acquire);
        let Some(open) = real_vfs.as_ref().and_then(|v| v.xOpen) else {
            return ffi::SQLITE_ERROR;
        };
        if flags & ffi::SQLITE_OPEN_WAL == 0 {
            // Not a WAL: the default VFS's file, in place.
            return open(real_vfs, name, f, flags, out_flags);
        }
        (*f).pMethods = ptr::null();
        let real = real_file(f);
        (*real).pMethods = ptr::null();
        let rc = open(real_vfs, name, real, flags, out_flags);
        if rc != ffi::SQLITE_OK {
            // As SQLite does for a failed open that left methods set.
            if let Some(close) = (*real).pMethods.as_ref().and_then(|m| m.xClose) {
                close(real);
            }
            return rc;
        }
        let w = f.cast::<WalFile>();
        (*w).gather = Box::into_raw(Box::new(Gather {
            buf: Vec::new(),
            start: 0,
            commit_page_next: false,
        }));
        (*w).base.pMethods = &WAL_METHODS;
        ffi::SQLITE_OK
    }
}

static WAL_METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    // Version 1: a WAL file is never memory-mapped and has no shared memory of its own.
    iVersion: 1,
    xClose: Some(x_close),
    xRead: Some(x_read),
    xWrite: Some(x_write),
    xTruncate: Some(x_truncate),
    xSync: Some(x_sync),
    xFileSize: Some(x_file_size),
    xLock: Some(x_lock),
    xUnlock: Some(x_unlock),
    xCheckReservedLock: Some(x_check_reserved_lock),
    xFileControl: Some(x_file_control),
    xSectorSize: Some(x_sector_size),
    xDeviceCharacteristics: Some(x_device_characteristics),
    xShmMap: None,
    xShmLock: None,
    xShmBarrier: None,
    xShmUnmap: None,
    xFetch: None,
    xUnfetch: None,
};

unsafe extern "C" fn x_write(
    f: *mut ffi::sqlite3_file,
    data: *const c_void,
    amt: c_int,
    off: ffi::sqlite3_int64,
) -> c_int {
    WRITES.fetch_add(1, Ordering::Relaxed);
    // SAFETY: SQLite calls this only on a file x_open opened with WAL_METHODS, with `amt`
    // readable bytes at `data`.
    unsafe {
        let g = &mut *(*f.cast::<WalFile>()).gather;
        let Ok(n) = usize::try_from(amt) else {
            return ffi::SQLITE_IOERR_WRITE;
        };
        let continues = !g.buf.is_empty() && off == g.start + g.buf.len() as i64;
        if !continues || g.buf.len() + n > MAX_GATHER {
            let rc = flush(f);
            if rc != ffi::SQLITE_OK {
                return rc;
            }
        }
        if n > MAX_GATHER {
            FLUSHES.fetch_add(1, Ordering::Relaxed);
            let (real, m) = inner(f);
            return m
                .xWrite
                .map_or(ffi::SQLITE_IOERR_WRITE, |w| w(real, data, amt, off));
        }
        let bytes = std::slice::from_raw_parts(data.cast::<u8>(), n);
        if g.buf.is_empty() {
            g.start = off;
        }
        g.buf.extend_from_slice(bytes);
        if g.commit_page_next {
            // The commit frame is complete: SQLite publishes the transaction next.
            return flush(f);
        }
        // A frame header whose "database size after commit" field is set: a commit frame.
        g.commit_page_next = n == FRAME_HEADER && bytes[4..8] != [0; 4];
        ffi::SQLITE_OK
    }
}

unsafe extern "C" fn x_close(f: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: as x_write; after this SQLite never uses `f` again, so the Box is freed.
    unsafe {
        let flushed = flush(f);
        let (real, m) = inner(f);
        let closed = m.xClose.map_or(ffi::SQLITE_OK, |c| c(real));
        let w = f.cast::<WalFile>();
        drop(Box::from_raw((*w).gather));
        (*w).gather = ptr::null_mut();
        (*w).base.pMethods = ptr::null();
        if flushed != ffi::SQLITE_OK {
            flushed
        } else {
            closed
        }
    }
}

/// Defines a method that writes what was gathered, then forwards to the default VFS.
macro_rules! flush_then_forward {
    ($name:ident, $field:ident, ($($arg:ident: $ty:ty),*)) => {
        unsafe extern "C" fn $name(f: *mut ffi::sqlite3_file, $($arg: $ty),*) -> c_int {
            // SAFETY: as x_write; the arguments are SQLite's, passed on unchanged.
            unsafe {
                let rc = flush(f);
                if rc != ffi::SQLITE_OK {
                    return rc;
                }
                let (real, m) = inner(f);
                m.$field.map_or(ffi::SQLITE_IOERR, |x| x(real, $($arg),*))
            }
        }
    };
}

/// Defines a method that forwards to the default VFS (nothing gathered matters to it).
macro_rules! forward {
    ($name:ident, $field:ident, $absent:expr, ($($arg:ident: $ty:ty),*)) => {
        unsafe extern "C" fn $name(f: *mut ffi::sqlite3_file, $($arg: $ty),*) -> c_int {
            // SAFETY: as x_write; the arguments are SQLite's, passed on unchanged.
            unsafe {
                let (real, m) = inner(f);
                m.$field.map_or($absent, |x| x(real, $($arg),*))
            }
        }
    };
}

flush_then_forward!(x_read, xRead, (buf: *mut c_void, amt: c_int, off: ffi::sqlite3_int64));
flush_then_forward!(x_truncate, xTruncate, (size: ffi::sqlite3_int64));
flush_then_forward!(x_sync, xSync, (flags: c_int));
flush_then_forward!(x_file_size, xFileSize, (size: *mut ffi::sqlite3_int64));
flush_then_forward!(x_file_control, xFileControl, (op: c_int, arg: *mut c_void));
// (A missing method answers what SQLite's own defaults would.)
forward!(x_lock, xLock, ffi::SQLITE_OK, (level: c_int));
forward!(x_unlock, xUnlock, ffi::SQLITE_OK, (level: c_int));
forward!(x_check_reserved_lock, xCheckReservedLock, ffi::SQLITE_OK, (out: *mut c_int));
forward!(x_sector_size, xSectorSize, 4096, ());
forward!(x_device_characteristics, xDeviceCharacteristics, 0, ());
