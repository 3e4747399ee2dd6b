//! The requests under every operation: GET, the conditional PUT with its retry (`put_raw`,
//! `put_once`, `is_transient`, `has_status`) and LIST; and what S3's errors mean in the
//! store's terms.

use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, UpdateVersion};
use tresor_store::StoreError;

use super::{S3Backend, SResult};

/// Whether `e` says the bucket itself is missing (S3 answers `404 NoSuchBucket` to any request
/// on it; a LIST can only be 404 for that reason).
fn is_no_such_bucket(op: &str, e: &object_store::Error) -> bool {
    (op == "LIST" && matches!(e, object_store::Error::NotFound { .. }))
        || e.to_string().contains("NoSuchBucket")
}

/// Whether a GET's error only means "no object at this key" (not a missing bucket).
pub(super) fn is_missing_object(e: &object_store::Error) -> bool {
    matches!(e, object_store::Error::NotFound { .. }) && !is_no_such_bucket("GET", e)
}

/// Maps an S3 error to the store's terms. There is no separate bucket check when a store is
/// opened (it would cost a round trip per command), so every request's error says plainly
/// when the bucket is missing or access is denied.
fn s3err(bucket: &str, op: &str, path: &Path, e: object_store::Error) -> StoreError {
    use object_store::Error as E;
    let s = e.to_string();
    if is_no_such_bucket(op, &e) {
        return StoreError::Unavailable(format!(
            "S3 bucket '{bucket}' does not exist ({op} '{path}')"
        ));
    }
    let denied = matches!(e, E::PermissionDenied { .. } | E::Unauthenticated { .. })
        || has_status(&s, 403)
        || [
            "AccessDenied",
            "InvalidAccessKeyId",
            "SignatureDoesNotMatch",
        ]
        .iter()
        .any(|w| s.contains(w));
    if denied {
        StoreError::Unavailable(format!(
            "S3 access denied for bucket '{bucket}' ({op} '{path}'): {s}"
        ))
    } else {
        StoreError::Unavailable(format!("S3 {op} '{path}' failed: {s}"))
    }
}

/// Whether a PUT's error may be a request that never got its answer (transport error,
/// timeout, server error) rather than a refusal that says the write was not applied.
fn is_transient(e: &object_store::Error) -> bool {
    use object_store::Error as E;
    if !matches!(e, E::Generic { .. }) {
        return false;
    }
    let s = e.to_string();
    let refused = [400, 403, 404].iter().any(|c| has_status(&s, *c))
        || [
            "AccessDenied",
            "InvalidAccessKeyId",
            "SignatureDoesNotMatch",
            "NoSuchBucket",
        ]
        .iter()
        .any(|w| s.contains(w));
    !refused
}

/// Whether a PUT's error is the server's answer to a lost If-Match race: some servers answer
/// it with `409 Conflict` (`ConditionalRequestConflict`) rather than 412. Matched as an
/// answer only, as [`has_status`] does: the message also holds the URL and the time the
/// request took, and a uid, a port or a duration with the digits "409" in it (about one
/// failed PUT in 30) once made a run of 503s read as a lost race and end in a false "changed
/// by another writer".
fn is_conflict_answer(e: &object_store::Error) -> bool {
    let s = e.to_string();
    has_status(&s, 409) || s.contains("ConditionalRequestConflict")
}

/// Whether an object_store error message carries HTTP status `code` as the server's answer
/// ("… non-2xx status code: 403 Forbidden …"). A bare "403" is not enough: the message also
/// holds the URL, whose port and object name (a random uid) may contain those digits, and a
/// reset connection was once reported as "access denied" and not retried for that reason.
fn has_status(message: &str, code: u16) -> bool {
    message.contains(&format!("status code: {code}"))
}

pub(super) fn decode_err(path: &Path, why: impl std::fmt::Display) -> StoreError {
    StoreError::Decode(format!("S3 object '{path}': {why}"))
}

pub(super) enum PutOutcome {
    Done(Option<String>),
    /// The precondition failed (the object exists, or its etag changed).
    Lost,
}

impl S3Backend {
    pub(super) fn err(&self, op: &str, path: &Path, e: object_store::Error) -> StoreError {
        s3err(&self.location.bucket, op, path, e)
    }

    /// GET: `None` if there is no object at `p`; else (body, etag).
    pub(super) fn get_raw(&self, p: &Path) -> SResult<Option<(bytes::Bytes, Option<String>)>> {
        let store = self.store.clone();
        let pc = p.clone();
        let r = self.run(async move {
            match store.get(&pc).await {
                Ok(g) => {
                    let etag = g.meta.e_tag.clone();
                    g.bytes().await.map(|b| Some((b, etag)))
                }
                Err(e) if is_missing_object(&e) => Ok(None),
                Err(e) => Err(e),
            }
        });
        r.map_err(|e| self.err("GET", p, e))
    }

    pub(super) fn put_raw(&self, p: &Path, body: Vec<u8>, mode: PutMode) -> SResult<PutOutcome> {
        let mut attempts = 0;
        loop {
            let err = match self.put_once(p, body.clone(), mode.clone()) {
                // object_store sends a request again when its answer was cut off by a clean
                // close (hyper's "incomplete message" reads as "not sent"), so a failed
                // precondition may be S3's answer to the second send of our own applied
                // write. Our body in place means done, not a lost race: reading it as lost
                // would store the object, name claim or audit entry a second time.
                Ok(PutOutcome::Lost) => {
                    return match self.get_raw(p)? {
                        Some((b, etag)) if b.as_ref() == body.as_slice() => {
                            Ok(PutOutcome::Done(etag))
                        }
                        _ => Ok(PutOutcome::Lost),
                    };
                }
                Ok(outcome) => return Ok(outcome),
                Err(e) => e,
            };
            // A conditional PUT cut off without an answer (reset, timeout, 5xx after
            // object_store's own retries) may or may not have been applied, and object_store
            // does not retry it: a blind retry of an applied Create answers 412 and would read
            // as a lost race, so the caller would write the object again under another key.
            // Read what is there instead: our own body means done; the precondition still
            // holding means not applied, so retry; anything else is a lost race.
            if matches!(mode, PutMode::Overwrite) || attempts >= 3 || !is_transient(&err) {
                return Err(self.err("PUT", p, err));
            }
            attempts += 1;
            let Ok(now) = self.get_raw(p) else {
                return Err(self.err("PUT", p, err));
            };
            match (now, &mode) {
                (Some((b, etag)), _) if b.as_ref() == body.as_slice() => {
                    return Ok(PutOutcome::Done(etag));
                }
                (None, PutMode::Create) => {}
                (Some((_, etag)), PutMode::Update(v)) if etag == v.e_tag => {}
                _ => return Ok(PutOutcome::Lost),
            }
        }
    }

    /// One PUT; a failed precondition is [`PutOutcome::Lost`].
    fn put_once(
        &self,
        p: &Path,
        body: Vec<u8>,
        mode: PutMode,
    ) -> Result<PutOutcome, object_store::Error> {
        let store = self.store.clone();
        let pc = p.clone();
        let r = self.run(async move {
            store
                .put_opts(
                    &pc,
                    PutPayload::from(body),
                    PutOptions {
                        mode,
                        ..Default::default()
                    },
                )
                .await
        });
        match r {
            Ok(res) => Ok(PutOutcome::Done(res.e_tag)),
            Err(object_store::Error::AlreadyExists { .. })
            | Err(object_store::Error::Precondition { .. }) => Ok(PutOutcome::Lost),
            Err(e) if is_conflict_answer(&e) => Ok(PutOutcome::Lost),
            Err(e) => Err(e),
        }
    }

    pub(super) fn update_mode(etag: &Option<String>) -> PutMode {
        match etag {
            Some(e) => PutMode::Update(UpdateVersion {
                e_tag: Some(e.clone()),
                version: None,
            }),
            None => PutMode::Create,
        }
    }

    /// Lists keys under `rel/` with their sizes (no bodies).
    pub(super) fn list(&self, rel: &str) -> SResult<Vec<(Path, u64)>> {
        let p = self.path(rel);
        let store = self.store.clone();
        let pc = p.clone();
        let r = self.run(async move {
            store
                .list(Some(&pc))
                .map_ok(|m| (m.location, m.size))
                .try_collect::<Vec<_>>()
                .await
        });
        r.map_err(|e| self.err("LIST", &p, e))
    }
}

#[cfg(test)]
mod error_tests {
    use super::*;

    fn generic(msg: &str) -> object_store::Error {
        object_store::Error::Generic {
            store: "S3",
            source: msg.to_owned().into(),
        }
    }

    /// A transport error whose URL happens to hold "403"/"400"/"404" (a port, a uid) is a
    /// request that may not have been answered: retried, and not reported as access denied.
    /// Found by the fault campaign (a reset before a PUT reached S3, reported as denied).
    #[test]
    fn digits_in_the_url_are_not_a_status() {
        let e = || {
            generic(
                "Error performing PUT http://127.0.0.1:40312/b/.tresor/objects/ab403f4047 in \
                 1ms - HTTP error: error sending request",
            )
        };
        assert!(is_transient(&e()));
        let StoreError::Unavailable(m) = s3err("b", "PUT", &Path::from("x"), e()) else {
            panic!("not unavailable");
        };
        assert!(!m.contains("access denied"), "{m}");
    }

    /// A 503 whose URL or duration holds "409" is a server error, not a lost race (found as a
    /// flaky fault test: a run of 503s ended in "changed by another writer").
    #[test]
    fn digits_409_are_not_a_conflict() {
        for msg in [
            "Error performing PUT http://127.0.0.1:40912/b/.tresor/objects/ab409f in 1.2s, after \
             3 retries - Server returned non-2xx status code: 503 Service Unavailable: SlowDown",
            "Error performing PUT http://h/b/k in 409.3ms, after 3 retries - Server returned \
             non-2xx status code: 503 Service Unavailable",
        ] {
            assert!(!is_conflict_answer(&generic(msg)), "{msg}");
            assert!(is_transient(&generic(msg)), "{msg}");
        }
        for msg in [
            "Server returned non-2xx status code: 409 Conflict: <Error/>",
            "<Code>ConditionalRequestConflict</Code>",
        ] {
            assert!(is_conflict_answer(&generic(msg)), "{msg}");
        }
    }

    /// The server's own refusals are still refusals.
    #[test]
    fn a_status_answer_is_a_refusal() {
        for code in ["403 Forbidden", "400 Bad Request", "404 Not Found"] {
            let e = generic(&format!(
                "Error performing PUT http://h/b/k in 1ms - Server returned non-2xx status \
                 code: {code}: <Error/>"
            ));
            assert!(!is_transient(&e), "{code}");
        }
        let e = generic("Server returned non-2xx status code: 403 Forbidden: <Code>AccessDenied");
        let StoreError::Unavailable(m) = s3err("b", "PUT", &Path::from("x"), e) else {
            panic!("not unavailable");
        };
        assert!(m.contains("access denied"), "{m}");
    }
}
