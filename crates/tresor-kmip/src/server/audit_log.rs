//! The server's audit stream: one JSON line per audited operation, to a file or stdout, for a
//! SIEM, and the server's record of where the store's audit chain stood.
//!
//! The store's hash-chained audit log records every write in the database; reads leave no
//! trace there (a Get must not cost a commit). The stream records the reads too, chosen per
//! operation ([`AuditReads`]), and every write with the chain seq it committed and the
//! store's audit head after it (seq and MAC, MAC'd with the audit key): kept away from the
//! database, the stream is what `tresor audit --verify --head-from FILE` checks a server's
//! database against (an older database restored, or the tail deleted, shows as a head the
//! chain no longer reaches).
//!
//! A line never holds material, passphrases or result messages (which may quote request
//! fields): only time, identity, operation, object, result status and reason.
//!
//! ```text
//! {"time":"2026-12-06T05:40:01Z","identity":"alice","op":"Get","kind":"read","uid":"3f…","result":"success"}
//! {"time":"2026-12-06T05:40:02Z","identity":"bob","op":"Get","kind":"read","uid":"3f…","result":"failure","reason":"PermissionDenied"}
//! {"time":"2026-12-06T05:40:03Z","identity":"alice","op":"Create","kind":"write","uid":"9a…","result":"success","seq":42,"head":{"v":1,"seq":42,"entry":"…","mac":"…"}}
//! ```

use std::borrow::Cow;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Mutex;

use tresor_store::AuditHead;

use crate::enums::{Operation, ResultStatus};
use crate::error::KmipError;
use crate::message::{RequestBatchItem, ResponseBatchItem};
use crate::tags::Tag;
use crate::vendor;

/// Operations that only read the store: logged when [`AuditReads`] selects them. Every other
/// operation is a write (or may be one) and is always logged.
const READS: &[(Operation, &str)] = &[
    (Operation::GET, "get"),
    (vendor::VERSIONS, "versions"),
    (vendor::READ_NAMES, "read-names"),
    (Operation::ENCRYPT, "encrypt"),
    (Operation::DECRYPT, "decrypt"),
    (Operation::SIGN, "sign"),
    (Operation::MAC, "mac"),
    (Operation::MAC_VERIFY, "mac-verify"),
    (Operation::SIGNATURE_VERIFY, "signature-verify"),
    (Operation::GET_ATTRIBUTES, "get-attributes"),
    (Operation::GET_ATTRIBUTE_LIST, "get-attribute-list"),
    (Operation::LOCATE, "locate"),
    (Operation::CHECK, "check"),
    (Operation::RNG_RETRIEVE, "rng-retrieve"),
    (Operation::QUERY, "query"),
    (Operation::DISCOVER_VERSIONS, "discover-versions"),
    (Operation::INTEROP, "interop"),
    (Operation::LOG, "log"),
];

/// The reads audited by default: those that return or use key material (Get and the vendor
/// Versions and Read Names operations return it; Encrypt, Decrypt, Sign, MAC and MAC Verify use it).
pub const DEFAULT_READS: &str = "get,versions,read-names,encrypt,decrypt,sign,mac,mac-verify";

/// Which read operations the stream records (writes are always recorded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditReads(Vec<Operation>);

impl AuditReads {
    /// Parses `all`, `none` or a comma-separated list of read operation names
    /// (`get,decrypt,versions`, see [`DEFAULT_READS`]).
    ///
    /// # Errors
    /// [`KmipError::Usage`] naming an unknown operation and listing the known ones.
    pub fn parse(s: &str) -> Result<Self, KmipError> {
        match s.trim() {
            "all" => return Ok(AuditReads(READS.iter().map(|(o, _)| *o).collect())),
            "none" | "" => return Ok(AuditReads(Vec::new())),
            _ => {}
        }
        let mut ops = Vec::new();
        for name in s.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let key = name.to_ascii_lowercase().replace('_', "-");
            let op = READS
                .iter()
                .find(|(_, n)| *n == key)
                .map(|(o, _)| *o)
                .ok_or_else(|| {
                    KmipError::Usage(format!(
                        "--audit-reads: '{name}' is not a read operation; use all, none or a comma-separated list of: {}",
                        READS.iter().map(|(_, n)| *n).collect::<Vec<_>>().join(", ")
                    ))
                })?;
            if !ops.contains(&op) {
                ops.push(op);
            }
        }
        Ok(AuditReads(ops))
    }

    /// Returns true if and only if `op` is a read operation this selection leaves out.
    fn skips(&self, op: Operation) -> bool {
        READS.iter().any(|(o, _)| *o == op) && !self.0.contains(&op)
    }
}

impl Default for AuditReads {
    fn default() -> Self {
        // DEFAULT_READS names only known operations.
        AuditReads::parse(DEFAULT_READS).unwrap_or(AuditReads(Vec::new()))
    }
}

/// The audit stream of a server.
pub struct AuditLog {
    out: Mutex<Box<dyn Write + Send>>,
    reads: AuditReads,
    /// Where it goes (for messages).
    target: String,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("target", &self.target)
            .field("reads", &self.reads)
            .finish()
    }
}

impl AuditLog {
    /// A stream appended to `path` (created 0600, never truncated), or stdout for `-`.
    ///
    /// # Errors
    /// [`KmipError::Io`] if the file cannot be opened.
    pub fn open(path: &Path, reads: AuditReads) -> Result<Self, KmipError> {
        if path.as_os_str() == "-" {
            // A duplicate of fd 1, not `std::io::stdout()`: a caller (the tresor binary) may
            // hold stdout's lock for the whole command, and a server thread waiting for it
            // would hang the request. Each record is one write_all of whole lines.
            use std::os::fd::AsFd;
            let fd = std::io::stdout()
                .as_fd()
                .try_clone_to_owned()
                .map_err(|e| KmipError::io("duplicating stdout for the audit stream", e))?;
            return Ok(Self::to_writer(
                Box::new(std::fs::File::from(fd)),
                "stdout",
                reads,
            ));
        }
        let f = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| KmipError::io(format!("opening the audit log '{}'", path.display()), e))?;
        Ok(Self::to_writer(
            Box::new(f),
            &path.display().to_string(),
            reads,
        ))
    }

    /// A stream written to `out`, one line per audited operation.
    pub fn to_writer(out: Box<dyn Write + Send>, target: &str, reads: AuditReads) -> Self {
        AuditLog {
            out: Mutex::new(out),
            reads,
            target: target.to_owned(),
        }
    }

    /// Where the stream goes (a path, or `stdout`).
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Records the answered batch items of one request by `identity`; `head` is where the
    /// request's commit left the store's audit chain (`None`: nothing was committed).
    pub(crate) fn record(
        &self,
        identity: &str,
        requests: &[RequestBatchItem],
        responses: &[ResponseBatchItem],
        head: Option<&AuditHead>,
    ) {
        let stamp = crate::json::rfc3339(tresor_store::now());
        let time = stamp.as_str();
        // Sized for the usual line (~200 bytes) so that serialising it does not regrow the buffer.
        let mut lines = Vec::with_capacity(256 * responses.len());
        for (i, resp) in responses.iter().enumerate() {
            let req = requests.get(i);
            let Some(op) = resp.operation.or(req.map(|r| r.operation)) else {
                continue;
            };
            if self.reads.skips(op) {
                continue;
            }
            let write = !READS.iter().any(|(o, _)| *o == op);
            if op == vendor::READ_NAMES && resp.result_status == ResultStatus::SUCCESS {
                // One line per name answered: the object read, or the refusal's reason.
                read_names_lines(&mut lines, identity, time, resp);
                continue;
            }
            let uid = uid_of(resp.payload.as_ref())
                .or_else(|| uid_of(req.and_then(|r| r.payload.as_ref())));
            let committed = write && resp.result_status == ResultStatus::SUCCESS;
            let head = head.filter(|_| committed);
            let line = Line {
                head,
                identity,
                kind: if write { "write" } else { "read" },
                op: op_name(op),
                reason: resp.result_reason.map(|r| r.to_string()),
                result: status_name(resp.result_status),
                seq: head.map(|h| h.seq),
                time,
                uid,
            };
            // One line per item, written straight from the struct (no JSON map per line).
            if serde_json::to_writer(&mut lines, &line).is_err() {
                continue;
            }
            lines.push(b'\n');
        }
        if lines.is_empty() {
            return;
        }
        let r = match self.out.lock() {
            Ok(mut out) => out.write_all(&lines).and_then(|()| out.flush()),
            Err(_) => Ok(()),
        };
        if let Err(e) = r {
            tracing::error!(
                target: "tresor::kmip",
                error = %e,
                "cannot write the audit log '{}'",
                self.target
            );
        }
    }
}

/// One line of the stream. Fields in sorted order (the order `serde_json`'s map gave the
/// lines before, so the stream reads the same); `head`, `reason` and `seq` only when set.
#[derive(serde::Serialize)]
struct Line<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    head: Option<&'a AuditHead>,
    identity: &'a str,
    kind: &'static str,
    op: Cow<'static, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    result: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    seq: Option<u64>,
    time: &'a str,
    uid: Option<&'a str>,
}

/// The lines of a successful Read Names item: one per name it answered.
fn read_names_lines(lines: &mut Vec<u8>, identity: &str, time: &str, resp: &ResponseBatchItem) {
    for item in resp.payload_items() {
        let (uid, reason, result) = match item.tag {
            Tag::UNIQUE_IDENTIFIER => (item.as_text(), None, "success"),
            Tag::RESULT_REASON => (
                None,
                item.as_enumeration()
                    .map(|r| crate::enums::ResultReason(r).to_string()),
                "failure",
            ),
            _ => continue,
        };
        let line = Line {
            head: None,
            identity,
            kind: "read",
            op: op_name(vendor::READ_NAMES),
            reason,
            result,
            seq: None,
            time,
            uid,
        };
        if serde_json::to_writer(&mut *lines, &line).is_ok() {
            lines.push(b'\n');
        }
    }
}

/// The object an item names: the first Unique Identifier (or private key's) as text.
fn uid_of(payload: Option<&crate::ttlv::Ttlv>) -> Option<&str> {
    let p = payload?;
    [Tag::UNIQUE_IDENTIFIER, Tag::PRIVATE_KEY_UNIQUE_IDENTIFIER]
        .iter()
        .find_map(|t| p.find(*t).and_then(|v| v.as_text()))
}

/// The operation's name: borrowed for every named one (no allocation per line).
fn op_name(op: Operation) -> Cow<'static, str> {
    match op {
        vendor::VERSIONS => Cow::Borrowed("Versions"),
        vendor::ADD_VERSION => Cow::Borrowed("AddVersion"),
        vendor::PURGE => Cow::Borrowed("Purge"),
        vendor::READ_NAMES => Cow::Borrowed("ReadNames"),
        op => op
            .name()
            .map_or_else(|| Cow::Owned(op.to_string()), Cow::Borrowed),
    }
}

fn status_name(s: ResultStatus) -> &'static str {
    match s {
        ResultStatus::SUCCESS => "success",
        ResultStatus::OPERATION_UNDONE => "undone",
        ResultStatus::OPERATION_PENDING => "pending",
        _ => "failure",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc() {
        use crate::json::rfc3339;
        assert_eq!(rfc3339(0).as_str(), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400).as_str(), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_796_535_601).as_str(), "2026-12-06T05:40:01Z");
    }

    #[test]
    fn read_lists_parse() {
        assert_eq!(AuditReads::parse("none").unwrap().0, vec![]);
        assert_eq!(AuditReads::parse("all").unwrap().0.len(), READS.len());
        let r = AuditReads::parse("Get, decrypt,VERSIONS,get_attributes").unwrap();
        assert_eq!(
            r.0,
            vec![
                Operation::GET,
                Operation::DECRYPT,
                vendor::VERSIONS,
                Operation::GET_ATTRIBUTES
            ]
        );
        assert!(!r.skips(Operation::GET));
        assert!(r.skips(Operation::LOCATE));
        assert!(!r.skips(Operation::CREATE), "writes are never skipped");
        let e = AuditReads::parse("get,create").unwrap_err().to_string();
        assert!(e.contains("'create' is not a read operation"), "{e}");
        assert!(!AuditReads::default().skips(vendor::VERSIONS));
    }
}
