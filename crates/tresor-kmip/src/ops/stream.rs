//! Streaming Encrypt / Decrypt: the server side of KMIP's Init Indicator, Correlation Value
//! and Final Indicator.
//!
//! A client starts a stream with `Init Indicator = true`; the server answers with a random
//! Correlation Value that later parts carry, and `Final Indicator = true` ends the stream
//! (the GCM tag is returned, or checked). [`Streams`] keeps the open streams of one server:
//! bounded in number ([`Streams::with_limits`], 1,024 by default), each forgotten after an
//! idle time (5 minutes by default), and each bound to the identity that opened it, the key
//! and the direction, so another client cannot continue it. The state holds no key material
//! (see [`GcmStream`]): each part reloads the key, so revocation, usage masks and usage
//! limits apply to every part.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::OpError;
use super::crypto::GcmStream;
use crate::enums::ResultReason;

/// One open stream.
#[derive(Debug)]
pub(crate) struct Stream {
    pub(crate) identity: String,
    pub(crate) uid: String,
    pub(crate) tag_len: usize,
    pub(crate) gcm: GcmStream,
    last_used: Instant,
}

impl Stream {
    pub(crate) fn new(identity: &str, uid: &str, tag_len: usize, gcm: GcmStream) -> Self {
        Stream {
            identity: identity.to_owned(),
            uid: uid.to_owned(),
            tag_len,
            gcm,
            last_used: Instant::now(),
        }
    }
}

/// The open Encrypt/Decrypt streams of one server, bounded in number and idle time.
#[derive(Debug)]
pub struct Streams {
    open: Mutex<HashMap<[u8; 16], Stream>>,
    max: usize,
    idle: Duration,
}

impl Default for Streams {
    fn default() -> Self {
        Streams::with_limits(1024, Duration::from_secs(300))
    }
}

impl Streams {
    /// At most `max` open streams, each dropped after `idle` without a part.
    pub fn with_limits(max: usize, idle: Duration) -> Self {
        Streams {
            open: Mutex::new(HashMap::new()),
            max,
            idle,
        }
    }

    /// The number of open (not yet expired) streams.
    pub fn len(&self) -> usize {
        let mut open = self.lock();
        self.expire(&mut open);
        open.len()
    }

    /// Returns true if and only if no stream is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 16], Stream>> {
        // A panic while holding the lock cannot leave a half-updated map (each operation is
        // one insert or remove), so a poisoned lock is still usable.
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn expire(&self, open: &mut HashMap<[u8; 16], Stream>) {
        let idle = self.idle;
        open.retain(|_, s| s.last_used.elapsed() < idle);
    }

    /// Registers a new stream and returns its Correlation Value.
    ///
    /// # Errors
    /// [`OpError`] when the server already holds its maximum of open streams.
    pub(crate) fn open(&self, stream: Stream) -> Result<Vec<u8>, OpError> {
        let mut id = [0u8; 16];
        aws_lc_rs::rand::fill(&mut id).map_err(|_| {
            OpError::new(ResultReason::GENERAL_FAILURE, "the random generator failed")
        })?;
        let mut open = self.lock();
        self.expire(&mut open);
        if open.len() >= self.max {
            return Err(OpError::new(
                ResultReason::GENERAL_FAILURE,
                format!(
                    "the server already holds {} open encrypt/decrypt streams; finish one first",
                    self.max
                ),
            ));
        }
        open.insert(id, stream);
        Ok(id.to_vec())
    }

    /// Takes the stream a Correlation Value names, if it belongs to `identity`, key `uid`
    /// and the direction `encrypt`. The caller [`put_back`](Self::put_back)s it unless the
    /// part was final.
    ///
    /// # Errors
    /// [`OpError`] (Invalid Correlation Value, else Invalid Message) when no such stream is
    /// open for this client, key and direction.
    pub(crate) fn take(
        &self,
        correlation: &[u8],
        identity: &str,
        uid: &str,
        encrypt: bool,
    ) -> Result<Stream, OpError> {
        let unknown = || {
            OpError::new(
                ResultReason::INVALID_CORRELATION_VALUE,
                "the correlation value names no open stream of this client for this key \
                 (finished, expired after idling, or never opened)",
            )
        };
        let id: [u8; 16] = correlation.try_into().map_err(|_| unknown())?;
        let mut open = self.lock();
        self.expire(&mut open);
        let fits = open.get(&id).is_some_and(|s| {
            s.identity == identity && s.uid == uid && s.gcm.is_encrypt() == encrypt
        });
        if !fits {
            return Err(unknown());
        }
        open.remove(&id).ok_or_else(unknown)
    }

    /// Returns a stream taken with [`take`](Self::take) after a non-final part.
    pub(crate) fn put_back(&self, correlation: &[u8], mut stream: Stream) {
        if let Ok(id) = <[u8; 16]>::try_from(correlation) {
            stream.last_used = Instant::now();
            self.lock().insert(id, stream);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gcm() -> GcmStream {
        GcmStream::start(&[7u8; 16], &[1u8; 12], b"", true).unwrap()
    }

    #[test]
    fn streams_are_bound_bounded_and_expire() {
        let s = Streams::with_limits(2, Duration::from_secs(60));
        let a = s.open(Stream::new("alice", "k1", 16, gcm())).unwrap();
        let _b = s.open(Stream::new("alice", "k1", 16, gcm())).unwrap();
        let full = s.open(Stream::new("alice", "k1", 16, gcm())).unwrap_err();
        assert_eq!(full.reason, ResultReason::GENERAL_FAILURE);
        // Another identity, another key or the other direction cannot continue it.
        for (who, uid, enc) in [
            ("bob", "k1", true),
            ("alice", "k2", true),
            ("alice", "k1", false),
        ] {
            let e = s.take(&a, who, uid, enc).unwrap_err();
            assert_eq!(e.reason, ResultReason::INVALID_CORRELATION_VALUE);
        }
        let st = s.take(&a, "alice", "k1", true).unwrap();
        assert_eq!(s.len(), 1);
        s.put_back(&a, st);
        assert_eq!(s.len(), 2);
        assert!(s.take(b"short", "alice", "k1", true).is_err());

        let quick = Streams::with_limits(2, Duration::ZERO);
        let c = quick.open(Stream::new("alice", "k1", 16, gcm())).unwrap();
        assert!(quick.take(&c, "alice", "k1", true).is_err());
        assert!(quick.is_empty());
    }
}
