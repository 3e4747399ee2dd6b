//! [`S3Backend`]: the store's [`Backend`] on an S3 bucket, through `object_store`.
//!
//! # Layout under `s3://bucket/prefix/`
//! | key | body |
//! |---|---|
//! | `objects/<uid>` | one JSON record per store object: its metadata and every sealed version |
//! | `names/<app>/<env>/<KEY>` | the uid owning that name (components percent-encoded, see [`crate::keys`]) |
//! | `audit/<seq, 20 digits>` | one audit entry, created with `If-None-Match: *` |
//! | `meta/<key>` | store settings (the sealed audit key), created with `If-None-Match: *` |
//!
//! An empty body is a tombstone: a deleted object or a freed name. Deletes are conditional
//! PUTs of a tombstone with `If-Match: <etag>` (S3 has no portable conditional DELETE), so a
//! delete never removes what another writer just wrote.
//!
//! # Concurrency and atomicity
//! An update of one object is one conditional PUT (`If-Match: <etag>`, after checking the
//! record's revision). Creating an object writes its record (`If-None-Match: *`) and then claims
//! each name (`If-None-Match: *`); a lost name race rolls the record back to a tombstone.
//! A batch touching several objects is applied object by object, in order, each with its own
//! precondition: S3 cannot make them atomic, so a failure part-way leaves the earlier objects
//! written (they are individually consistent). Audit entries are appended after the objects; on
//! a `412` the writer re-reads the head and retries, so the chain stays linear.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use object_store::aws::AmazonS3;
#[cfg(doc)]
use tresor_store::{Backend, StoreError};

use crate::config::{S3Location, S3Settings};
use crate::error::S3Error;

mod audit;
mod backend_impl;
mod client;
#[doc(hidden)]
pub mod fuzzing;
mod layout;
mod names;
mod record;
mod requests;
mod write;

pub(crate) use client::build_client;

type SResult<T> = tresor_store::Result<T>;

/// The S3 store backend.
pub struct S3Backend {
    store: Arc<AmazonS3>,
    location: S3Location,
    rt: tokio::runtime::Runtime,
    /// name → uid, learnt from reads; checked against the record's names on every use.
    names: Mutex<HashMap<String, String>>,
    /// The last audit entry this process saw: (seq, mac).
    head: Mutex<Option<(u64, String)>>,
    /// Store settings are written once and never change.
    meta: Mutex<HashMap<String, Vec<u8>>>,
}

impl std::fmt::Debug for S3Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "S3Backend({})", self.location)
    }
}

impl S3Backend {
    /// Opens the store at `url` (`s3://bucket/prefix`) with settings from the environment.
    ///
    /// Opening sends no request: a missing bucket or refused credentials are reported by the
    /// first read or write ([`StoreError::Unavailable`] naming the bucket), which saves a
    /// round trip for every command.
    ///
    /// # Errors
    /// [`S3Error::BadLocation`], [`S3Error::Config`].
    pub fn open(url: &str) -> Result<Self, S3Error> {
        Self::open_with(S3Location::parse(url)?, &S3Settings::from_env())
    }

    /// Opens the backend of `url` (`s3://bucket/prefix`) with the settings of the environment,
    /// as a store backend: the [`Opener`](tresor_store::store_url::Opener) a composition root
    /// [`install`](tresor_store::store_url::install)s so that every door opens `s3://` stores.
    ///
    /// # Errors
    /// As [`S3Backend::open`], as a store error.
    pub fn open_backend(url: &str) -> tresor_store::Result<Arc<dyn tresor_store::Backend>> {
        match Self::open(url) {
            Ok(b) => Ok(Arc::new(b)),
            Err(S3Error::Store(e)) => Err(e),
            Err(e) => Err(tresor_store::StoreError::Unsupported(e.to_string())),
        }
    }

    /// Opens the store at `location` with explicit settings.
    ///
    /// # Errors
    /// As [`S3Backend::open`].
    pub fn open_with(location: S3Location, s: &S3Settings) -> Result<Self, S3Error> {
        let store = Arc::new(build_client(&location, s)?);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("tresor-s3")
            .enable_all()
            .build()
            .map_err(|e| S3Error::Config {
                location: location.url(),
                why: format!("cannot start the I/O runtime: {e}"),
            })?;
        Ok(S3Backend {
            store,
            location,
            rt,
            names: Mutex::new(HashMap::new()),
            head: Mutex::new(None),
            meta: Mutex::new(HashMap::new()),
        })
    }

    /// The location of this store.
    pub fn location(&self) -> &S3Location {
        &self.location
    }

    /// The underlying object store client (for tools and tests that read raw bodies).
    pub fn object_store(&self) -> Arc<AmazonS3> {
        self.store.clone()
    }

    /// Runs a future to completion on this backend's runtime, from any thread.
    fn run<F>(&self, f: F) -> F::Output
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match tokio::runtime::Handle::try_current() {
            // Called from inside another runtime (a KMIP server answers reads in place on its
            // worker): hop to ours and wait. On a multi-thread runtime `block_in_place` first
            // hands the worker's other tasks to another thread, so the server's other
            // connections are served during the S3 round trip instead of stalling behind it.
            Ok(h) => {
                let h2 = self.rt.spawn(f);
                let wait = move || {
                    futures::executor::block_on(h2)
                        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
                };
                if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread {
                    tokio::task::block_in_place(wait)
                } else {
                    wait()
                }
            }
            Err(_) => self.rt.block_on(f),
        }
    }
}
