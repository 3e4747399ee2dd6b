//! What one client may ask of the server: batch size, response size, connections overall and
//! per identity, requests per second per identity, timeouts, RNG and key pair generation.
//!
//! A request over a bound is refused before any operation runs ([`over_bounds`]), with a KMIP
//! result naming the bound, and the server logs one line; the other clients are not affected.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::attributes::{AttributeSet, Container};
use crate::enums::{Operation, ResultReason};
use crate::message::{ProtocolVersion, RequestMessage};
use crate::ops::OpError;
use crate::tags::Tag;
use crate::ttlv::Ttlv;

/// The server's bounds on what clients may ask; `0` turns a count or rate bound off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// The most batch items in one request message (64).
    pub max_batch_items: usize,
    /// The largest response message in bytes (8 MiB); a client's smaller Maximum Response
    /// Size wins.
    pub max_response_size: usize,
    /// The most connections open at once (1024); more are closed right after accept.
    pub max_connections: usize,
    /// The most connections one identity may hold open (32).
    pub max_connections_per_identity: usize,
    /// Request messages per second per identity, as a token bucket holding one second's
    /// worth (0: off by default; a KMIP client such as a database's key fetcher or a load
    /// test legitimately sends thousands per second, and what one request may cost is bounded
    /// by the other limits).
    pub requests_per_second: u32,
    /// How long a started message (or the TLS handshake) may take to arrive (30 s): a client
    /// sending a byte now and then is dropped.
    pub read_timeout: Duration,
    /// How long writing a response may take (30 s).
    pub write_timeout: Duration,
    /// The most RNG Retrieve bytes one request may ask for, summed over its batch (1 MiB).
    pub max_rng_bytes: usize,
    /// The most Create Key Pair (and Re-Key Key Pair) items in one request (4).
    pub max_key_pairs: usize,
    /// The largest RSA modulus Create Key Pair may generate, in bits (4096).
    pub max_rsa_bits: i32,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            max_batch_items: 64,
            max_response_size: 8 << 20,
            max_connections: 1024,
            max_connections_per_identity: 32,
            requests_per_second: 0,
            read_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(30),
            max_rng_bytes: 1 << 20,
            max_key_pairs: 4,
            max_rsa_bits: 4096,
        }
    }
}

/// The result reason for a server limit: Server Limit Exceeded from KMIP 2.0, else the 1.x
/// reason that fits (`v1`).
pub(super) fn limit_reason(version: ProtocolVersion, v1: ResultReason) -> ResultReason {
    if version.is_v2() {
        ResultReason::SERVER_LIMIT_EXCEEDED
    } else {
        v1
    }
}

/// The bound `msg` exceeds, if any: batch items, RNG bytes, key pairs or RSA size.
pub(super) fn over_bounds(limits: &ServerLimits, msg: &RequestMessage) -> Option<OpError> {
    let version = msg.header.protocol_version;
    let items = &msg.batch_items;
    if limits.max_batch_items > 0 && items.len() > limits.max_batch_items {
        return Some(OpError::new(
            limit_reason(version, ResultReason::INVALID_MESSAGE),
            format!(
                "the request has {} batch items; this server takes at most {}",
                items.len(),
                limits.max_batch_items
            ),
        ));
    }
    let empty = Ttlv::structure(Tag::REQUEST_PAYLOAD, Vec::new());
    let payloads = |op: Operation| {
        items
            .iter()
            .filter(move |i| i.operation == op)
            .map(|i| i.payload.as_ref().unwrap_or(&empty))
    };
    if limits.max_rng_bytes > 0 {
        let asked: u64 = payloads(Operation::RNG_RETRIEVE)
            .filter_map(|p| p.find(Tag::DATA_LENGTH).and_then(Ttlv::as_integer))
            .map(|n| u64::try_from(n).unwrap_or(0))
            .sum();
        if asked > limits.max_rng_bytes as u64 {
            return Some(OpError::new(
                limit_reason(version, ResultReason::PERMISSION_DENIED),
                format!(
                    "the request asks for {asked} random bytes; this server gives at most {} \
                     per request",
                    limits.max_rng_bytes
                ),
            ));
        }
    }
    let pairs =
        payloads(Operation::CREATE_KEY_PAIR).count() + payloads(Operation::RE_KEY_KEY_PAIR).count();
    if limits.max_key_pairs > 0 && pairs > limits.max_key_pairs {
        return Some(OpError::new(
            limit_reason(version, ResultReason::PERMISSION_DENIED),
            format!(
                "the request creates {pairs} key pairs; this server creates at most {} per \
                 request",
                limits.max_key_pairs
            ),
        ));
    }
    if limits.max_rsa_bits > 0 {
        for p in payloads(Operation::CREATE_KEY_PAIR).chain(payloads(Operation::RE_KEY_KEY_PAIR)) {
            for item in p.items() {
                if !matches!(
                    Container::from_tag(item.tag),
                    Some(Container::Common | Container::PrivateKey | Container::PublicKey)
                ) {
                    continue;
                }
                // A container that does not parse is the operation's to refuse.
                let Ok(set) = AttributeSet::from_ttlv(item) else {
                    continue;
                };
                if let Some(bits) = set.cryptographic_length()
                    && bits > limits.max_rsa_bits
                {
                    return Some(OpError::new(
                        ResultReason::INVALID_FIELD,
                        format!(
                            "a key pair of {bits} bits was asked for; this server generates at \
                             most {} bits",
                            limits.max_rsa_bits
                        ),
                    ));
                }
            }
        }
    }
    None
}

/// Connection and request-rate accounting shared by every connection.
#[derive(Debug)]
pub(super) struct Gate {
    /// The limits in force (a reload replaces them).
    limits: std::sync::RwLock<ServerLimits>,
    open: AtomicUsize,
    per_identity: Mutex<HashMap<String, usize>>,
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// A counted open connection; released on drop.
#[derive(Debug)]
pub(super) struct ConnectionSlot(Arc<Gate>);

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A counted connection of one identity; released on drop.
#[derive(Debug)]
pub(super) struct IdentitySlot(Arc<Gate>, String);

impl Drop for IdentitySlot {
    fn drop(&mut self) {
        if let Ok(mut m) = self.0.per_identity.lock()
            && let Some(n) = m.get_mut(&self.1)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                m.remove(&self.1);
            }
        }
    }
}

impl Gate {
    /// The limits in force now.
    fn limits(&self) -> ServerLimits {
        *self
            .limits
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Replaces the limits (a reload): connections and requests that follow use them.
    pub(super) fn set_limits(&self, l: ServerLimits) {
        *self
            .limits
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = l;
    }

    pub(super) fn new(limits: ServerLimits) -> Arc<Gate> {
        Arc::new(Gate {
            limits: std::sync::RwLock::new(limits),
            open: AtomicUsize::new(0),
            per_identity: Mutex::new(HashMap::new()),
            buckets: Mutex::new(HashMap::new()),
        })
    }

    /// How many connections are open now.
    pub(super) fn open_now(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    /// Counts one more open connection; `None` (and nothing counted) when the server already
    /// holds `max_connections`.
    pub(super) fn connection(self: &Arc<Self>) -> Option<ConnectionSlot> {
        let before = self.open.fetch_add(1, Ordering::AcqRel);
        let slot = ConnectionSlot(self.clone());
        let max = self.limits().max_connections;
        (max == 0 || before < max).then_some(slot)
    }

    /// Counts one more connection of `identity`; `Err(open)` (nothing counted) when it
    /// already holds `max_connections_per_identity`.
    pub(super) fn identity(self: &Arc<Self>, identity: &str) -> Result<IdentitySlot, usize> {
        let max = self.limits().max_connections_per_identity;
        let mut m = self
            .per_identity
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = m.entry(identity.to_owned()).or_insert(0);
        if max > 0 && *n >= max {
            return Err(*n);
        }
        *n += 1;
        Ok(IdentitySlot(self.clone(), identity.to_owned()))
    }

    /// Takes one request token of `identity`; false when its bucket is empty.
    pub(super) fn allow_request(&self, identity: &str) -> bool {
        let rate = self.limits().requests_per_second;
        if rate == 0 {
            return true;
        }
        let rate = f64::from(rate);
        let now = Instant::now();
        let mut m = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Forget identities whose bucket has refilled, so the map stays small.
        if m.len() > 4096 {
            m.retain(|_, b| b.tokens + now.duration_since(b.last).as_secs_f64() * rate < rate);
        }
        let b = m.entry(identity.to_owned()).or_insert(Bucket {
            tokens: rate,
            last: now,
        });
        b.tokens = (b.tokens + now.duration_since(b.last).as_secs_f64() * rate).min(rate);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::RequestBatchItem;

    fn msg(items: Vec<RequestBatchItem>) -> RequestMessage {
        let mut m = RequestMessage::single(ProtocolVersion::V2_0, Operation::QUERY, Vec::new());
        m.batch_items = items;
        m
    }

    fn rng(n: i32) -> RequestBatchItem {
        RequestBatchItem::new(
            Operation::RNG_RETRIEVE,
            vec![Ttlv::integer(Tag::DATA_LENGTH, n)],
        )
    }

    #[test]
    fn bounds_are_checked() {
        let l = ServerLimits::default();
        assert!(over_bounds(&l, &msg(vec![rng(1 << 16); 16])).is_none());
        let e = over_bounds(&l, &msg(vec![rng(1 << 16); 17])).unwrap();
        assert_eq!(e.reason, ResultReason::SERVER_LIMIT_EXCEEDED);
        let e = over_bounds(&l, &msg(vec![rng(1); 65])).unwrap();
        assert!(e.message.contains("65 batch items"), "{e}");
        let kp = RequestBatchItem::new(Operation::CREATE_KEY_PAIR, Vec::new());
        assert!(over_bounds(&l, &msg(vec![kp.clone(); 4])).is_none());
        assert!(over_bounds(&l, &msg(vec![kp; 5])).is_some());
    }

    #[test]
    fn slots_are_released() {
        let g = Gate::new(ServerLimits {
            max_connections: 1,
            max_connections_per_identity: 1,
            requests_per_second: 2,
            ..ServerLimits::default()
        });
        let a = g.connection().unwrap();
        assert!(g.connection().is_none());
        drop(a);
        assert!(g.connection().is_some());
        let s = g.identity("alice").unwrap();
        assert_eq!(g.identity("alice").unwrap_err(), 1);
        assert!(g.identity("bob").is_ok());
        drop(s);
        assert!(g.identity("alice").is_ok());
        assert!(g.allow_request("alice") && g.allow_request("alice"));
        assert!(!g.allow_request("alice"));
        assert!(g.allow_request("bob"));
    }
}
