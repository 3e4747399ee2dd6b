//! Helpers for `cargo fuzz` targets (`fuzz/fuzz_targets/*.rs`); not a stable API.

use crate::message::{RequestMessage, ResponseMessage};
use crate::ttlv::Ttlv;

/// Decodes `data` as a TTLV message and, if that succeeds, asserts that re-encoding gives
/// back exactly `data`; also runs the typed message parsers over the tree.
///
/// # Panics
/// When the codec is not canonical: that is the bug the fuzzer looks for.
pub fn fuzz_ttlv(data: &[u8]) {
    if let Ok(t) = Ttlv::decode(data) {
        assert_eq!(t.encode(), data, "re-encoding differs from the input");
        if let Ok(req) = RequestMessage::from_ttlv(&t) {
            let again = req.to_ttlv();
            assert_eq!(RequestMessage::from_ttlv(&again).ok().as_ref(), Some(&req));
        }
        if let Ok(resp) = ResponseMessage::from_ttlv(&t) {
            let again = resp.to_ttlv();
            assert_eq!(
                ResponseMessage::from_ttlv(&again).ok().as_ref(),
                Some(&resp)
            );
        }
    }
}

/// Decodes `data` as a request message and runs every batch item through the server's
/// operation dispatch ([`crate::ops::Session`]) against a real SQLite store in a throw-away
/// folder (kept across inputs so later inputs see earlier objects, replaced by a fresh one
/// every 5,000 inputs), the way the server's batch loop does (Batch Error Continuation Option
/// included); commits unless Undo applies. Returns the encoded response, or `None` for input that is not a request.
///
/// To keep the fuzzer fast, Create Key Pair and Re-key Key Pair are skipped when they may
/// generate RSA (seconds per input): the caps on that are the server limits' tests.
///
/// # Panics
/// When the response does not encode into a message that decodes again (typed round trip),
/// or the dispatch itself panics: those are the bugs the fuzzer looks for.
pub fn fuzz_dispatch(data: &[u8]) -> Option<Vec<u8>> {
    use crate::enums::{BatchErrorContinuationOption, Operation, ResultReason, ResultStatus};
    use crate::message::{ProtocolVersion, ResponseBatchItem};
    use crate::tags::Tag;

    let request = Ttlv::decode(data).ok()?;
    let msg = RequestMessage::from_ttlv(&request).ok()?;
    if msg.batch_items.iter().any(|b| {
        matches!(
            b.operation,
            Operation::CREATE_KEY_PAIR | Operation::RE_KEY_KEY_PAIR
        ) && b.payload.as_ref().is_none_or(may_be_rsa)
    }) {
        return None;
    }
    let version = msg.header.protocol_version;
    let option = msg
        .header
        .batch_error_continuation_option
        .unwrap_or(BatchErrorContinuationOption::STOP);
    let response = DISPATCH.with(|cell| {
        let mut current = cell.borrow_mut();
        if current
            .as_ref()
            .is_some_and(|(_, served)| *served >= INPUTS_PER_STORE)
        {
            *current = None; // the old folder goes before the new one is made
        }
        let (d, served) = current.get_or_insert_with(|| (DispatchState::new(), 0));
        *served += 1;
        let mut session = crate::ops::Session::new(&d.store, "fuzz-client", version, &d.admins);
        session.streams = Some(&d.streams);
        let empty = Ttlv::structure(Tag::REQUEST_PAYLOAD, Vec::new());
        let mut items = Vec::with_capacity(msg.batch_items.len());
        let mut failed = false;
        for item in &msg.batch_items {
            if failed && option != BatchErrorContinuationOption::CONTINUE {
                break;
            }
            let payload = item.payload.as_ref().unwrap_or(&empty);
            let result = if item.operation == Operation::DISCOVER_VERSIONS
                || item.operation == Operation::QUERY
                || ProtocolVersion::SUPPORTED.contains(&version)
            {
                session.dispatch(item.operation, payload)
            } else {
                Err(crate::ops::OpError::new(
                    ResultReason::UNSUPPORTED_PROTOCOL_VERSION,
                    "unsupported protocol version",
                ))
            };
            items.push(match result {
                Ok(p) => {
                    ResponseBatchItem::success(item.operation, item.unique_batch_item_id.clone(), p)
                }
                Err(e) => {
                    failed = true;
                    ResponseBatchItem::failure(
                        Some(item.operation),
                        item.unique_batch_item_id.clone(),
                        e.reason,
                        e.message,
                    )
                }
            });
        }
        if failed && option == BatchErrorContinuationOption::UNDO {
            drop(session);
            for it in &mut items {
                if it.result_status == ResultStatus::SUCCESS {
                    it.result_status = ResultStatus::OPERATION_UNDONE;
                }
            }
        } else {
            // A store error here is an answer (the server reports it), not a bug.
            let _ = session.commit();
        }
        ResponseMessage::new(version, tresor_store::now(), items)
    });
    let n = response.batch_items.len();
    let out =
        crate::server::within_item_limit(&msg, version, tresor_store::now(), response.to_ttlv()).0;
    let encoded = out.encode();
    let back = Ttlv::decode(&encoded).expect("the response does not decode");
    let typed = ResponseMessage::from_ttlv(&back).expect("the response is not a response message");
    assert_eq!(typed.batch_items.len(), n);
    Some(encoded)
}

/// True if a Create Key Pair / Re-key Key Pair payload may ask for RSA: it names RSA (as a
/// Cryptographic Algorithm or an attribute value), or names no algorithm at all.
fn may_be_rsa(payload: &Ttlv) -> bool {
    use crate::tags::Tag;
    fn walk(t: &Ttlv, named: &mut bool) -> bool {
        if matches!(t.tag, Tag::CRYPTOGRAPHIC_ALGORITHM | Tag::ATTRIBUTE_VALUE)
            && let Some(v) = t.as_enumeration()
        {
            *named = true;
            if v == crate::enums::CryptographicAlgorithm::RSA.0 {
                return true;
            }
        }
        t.items().iter().any(|c| walk(c, named))
    }
    let mut named = false;
    walk(payload, &mut named) || !named
}

/// The throw-away store [`fuzz_dispatch`] runs against.
struct DispatchState {
    _dir: TempDir,
    store: tresor_store::Store,
    admins: Vec<String>,
    streams: crate::ops::Streams,
}

/// A folder removed on drop (under `/dev/shm` when it exists, so commits cost no disk I/O).
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let shm = std::path::Path::new("/dev/shm");
        let base = if shm.is_dir() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir = base.join(format!("tresor-fuzz-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("creating the fuzz store folder");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Inputs one store serves before [`fuzz_dispatch`] starts a fresh one: later inputs see
/// earlier inputs' objects, but the store stays small enough for thousands of inputs a second
/// (a store grown over millions of inputs made every Locate a scan of tens of thousands; at
/// 5,000 inputs per store, Locate's scan and MAC checks were most of the time and the target ran
/// about 1,000 inputs a second, at 1,000 per store about 5,000).
const INPUTS_PER_STORE: u32 = 1_000;

impl DispatchState {
    fn new() -> DispatchState {
        let dir = TempDir::new("kmip");
        let kek = std::sync::Arc::new(tresor_crypto::LocalKek::generate().expect("a KEK"));
        let store = tresor_store::Store::open_sqlite(&dir.0.join("kmip.db"), kek, "kmip")
            .expect("opening the fuzz store");
        DispatchState {
            _dir: dir,
            store,
            admins: Vec::new(),
            streams: crate::ops::Streams::default(),
        }
    }
}

thread_local! {
    /// The current store and how many inputs it has served.
    static DISPATCH: std::cell::RefCell<Option<(DispatchState, u32)>> =
        const { std::cell::RefCell::new(None) };
}

/// Parses `data` (lossy UTF-8) as a PyKMIP `server.conf` and as the `[client]` section of a
/// `pykmip.conf`, from memory, through the same code the file readers use.
///
/// # Panics
/// Never on its own; the fuzzer looks for panics inside the parsers.
pub fn fuzz_conf(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let base = crate::server::ServerConfig::new("c", "k", "a");
    let path = std::path::Path::new("server.conf");
    if let Ok((c, _db)) = crate::server::conf::server_conf_from_str(&text, path, base) {
        // The listen address it builds must split back into host and port.
        let (_, port) = c
            .listen
            .rsplit_once(':')
            .expect("listen address without a port");
        assert!(port.parse::<u16>().is_ok(), "bad port in {:?}", c.listen);
    }
    for section in ["client", "server"] {
        let _ = crate::client::ClientConfig::from_pykmip_str(
            &text,
            section,
            std::path::Path::new("/conf"),
            "pykmip.conf",
        );
    }
}
