//! `tresor.kmip`: the native half of `tresor.kmip.ProxyKmipClient` — one mutual-TLS KMIP
//! connection (tresor-kmip's [`BlockingKmipClient`]: TLS 1.2+/1.3 with the server's name verified,
//! bounded reads, one kept connection) and one call: an operation with its payload items,
//! answered with the result status, reason, message and payload items; and Get, whose
//! answer for a key in the clear comes back already read (the hot path of a PyKMIP-style
//! client).
//!
//! Items cross the boundary as plain tuples `(tag, type, value)`: `tag` the KMIP tag
//! number, `type` the item type number (1 Structure .. 11 DateTimeExtended), `value` a list
//! of items (Structure), an `int` (Integer, LongInteger, Enumeration, DateTime, Interval,
//! DateTimeExtended), `bytes` (ByteString, BigInteger), `str` or `bool`. The Python side
//! (`python/tresor/kmip.py`) builds and reads them; every round trip runs with the
//! interpreter detached.

use std::path::PathBuf;
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};
use tresor_kmip::client::{BlockingKmipClient, ClientConfig};
use tresor_kmip::enums::{ObjectType, Operation};
use tresor_kmip::message::ResponseBatchItem;
use tresor_kmip::{KmipError, ProtocolVersion, Tag, Ttlv, Value};

use crate::errors::{chain, raise_named};

fn kmip_err(py: Python<'_>, e: &KmipError) -> PyErr {
    let class = match e {
        KmipError::Config { .. } | KmipError::Tls(_) => "InvalidArgumentError",
        KmipError::Io { .. } | KmipError::Timeout(_) => "KmipConnectionError",
        _ => "KmipProtocolError",
    };
    raise_named(py, class, chain(e), None)
}

fn bad(py: Python<'_>, why: String) -> PyErr {
    raise_named(py, "InvalidArgumentError", why, None)
}

/// Reads one `(tag, type, value)` tuple into a TTLV item.
fn to_ttlv(py: Python<'_>, item: &Bound<'_, PyAny>, depth: u32) -> PyResult<Ttlv> {
    if depth > 32 {
        return Err(bad(py, "kmip item nested deeper than 32 structures".into()));
    }
    let (tag, ty, value): (u32, u8, Bound<'_, PyAny>) = item.extract()?;
    let tag =
        Tag::new(tag).ok_or_else(|| bad(py, format!("kmip tag 0x{tag:X} is over 24 bits")))?;
    let value = match ty {
        1 => {
            let list = value.cast::<PyList>()?;
            let mut items = Vec::with_capacity(list.len());
            for child in list.iter() {
                items.push(to_ttlv(py, &child, depth + 1)?);
            }
            Value::Structure(items)
        }
        2 => Value::Integer(value.extract()?),
        3 => Value::LongInteger(value.extract()?),
        4 => Value::BigInteger(value.extract()?),
        5 => Value::Enumeration(value.extract()?),
        6 => Value::Boolean(value.extract()?),
        7 => Value::TextString(value.extract()?),
        8 => Value::ByteString(value.extract()?),
        9 => Value::DateTime(value.extract()?),
        10 => Value::Interval(value.extract()?),
        11 => Value::DateTimeExtended(value.extract()?),
        other => return Err(bad(py, format!("kmip item type {other} is not 1..11"))),
    };
    Ok(Ttlv::new(tag, value))
}

/// Writes one TTLV item as a `(tag, type, value)` tuple.
fn from_ttlv<'py>(py: Python<'py>, t: &Ttlv) -> PyResult<Bound<'py, PyTuple>> {
    let tag = t.tag.value();
    let (ty, v): (u8, Bound<'py, PyAny>) = match &t.value {
        Value::Structure(items) => {
            let list = PyList::empty(py);
            for i in items {
                list.append(from_ttlv(py, i)?)?;
            }
            (1, list.into_any())
        }
        Value::Integer(i) => (2, i.into_pyobject(py)?.into_any()),
        Value::LongInteger(i) => (3, i.into_pyobject(py)?.into_any()),
        Value::BigInteger(b) => (4, PyBytes::new(py, b).into_any()),
        Value::Enumeration(e) => (5, e.into_pyobject(py)?.into_any()),
        Value::Boolean(b) => (6, b.into_pyobject(py)?.to_owned().into_any()),
        Value::TextString(s) => (7, s.into_pyobject(py)?.into_any()),
        Value::ByteString(b) => (8, PyBytes::new(py, b).into_any()),
        Value::DateTime(d) => (9, d.into_pyobject(py)?.into_any()),
        Value::Interval(i) => (10, i.into_pyobject(py)?.into_any()),
        Value::DateTimeExtended(d) => (11, d.into_pyobject(py)?.into_any()),
    };
    PyTuple::new(
        py,
        [
            tag.into_pyobject(py)?.into_any(),
            ty.into_pyobject(py)?.into_any(),
            v,
        ],
    )
}

/// `(result_status, result_reason, result_message, payload items)` of one call.
type CallResult<'py> = (u32, Option<u32>, Option<String>, Bound<'py, PyList>);

/// `(result_status, result_reason, result_message, key fields, payload items)` of a Get.
type GetResult<'py> = (
    u32,
    Option<u32>,
    Option<String>,
    Option<KeyFields<'py>>,
    Option<Bound<'py, PyList>>,
);

/// `(object_type, key_format_type, material, algorithm, length, secret_data_type)`.
type KeyFields<'py> = (
    u32,
    Option<u32>,
    Bound<'py, PyBytes>,
    Option<u32>,
    Option<i32>,
    Option<u32>,
);

fn items_to_py<'py>(py: Python<'py>, items: &[Ttlv]) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(py);
    for t in items {
        out.append(from_ttlv(py, t)?)?;
    }
    Ok(out)
}

/// The fields of a Get answer holding a key block in the clear whose Key Material is a byte
/// string (the answer to nearly every Get of a key or secret).
struct ClearKey<'a> {
    object_type: u32,
    format: Option<u32>,
    material: &'a [u8],
    algorithm: Option<u32>,
    length: Option<i32>,
    secret_data_type: Option<u32>,
}

impl ClearKey<'_> {
    fn into_py<'py>(self, py: Python<'py>) -> KeyFields<'py> {
        (
            self.object_type,
            self.format,
            PyBytes::new(py, self.material),
            self.algorithm,
            self.length,
            self.secret_data_type,
        )
    }
}

/// [`ClearKey`] of a Get answer's payload items, or None for any other shape (which the
/// Python side reads item by item): the same first-of-each-tag reading as
/// `tresor.kmip._object_from_ttlv`.
fn clear_key(items: &[Ttlv]) -> Option<ClearKey<'_>> {
    let first = |tag: Tag| items.iter().find(|i| i.tag == tag);
    let object_type = first(Tag::OBJECT_TYPE)?.as_enumeration()?;
    let body = first(match ObjectType(object_type) {
        ObjectType::SYMMETRIC_KEY => Tag::SYMMETRIC_KEY,
        ObjectType::PUBLIC_KEY => Tag::PUBLIC_KEY,
        ObjectType::PRIVATE_KEY => Tag::PRIVATE_KEY,
        ObjectType::SECRET_DATA => Tag::SECRET_DATA,
        _ => return None,
    })?;
    let block = body.find(Tag::KEY_BLOCK)?;
    if block.find(Tag::KEY_WRAPPING_DATA).is_some() {
        return None;
    }
    let material = block
        .find(Tag::KEY_VALUE)?
        .find(Tag::KEY_MATERIAL)?
        .as_bytes()?;
    let enumeration = |t: Option<&Ttlv>| match t {
        None => Some(None),
        Some(t) => t.as_enumeration().map(Some),
    };
    let length = match block.find(Tag::CRYPTOGRAPHIC_LENGTH) {
        None => None,
        Some(t) => Some(t.as_integer()?),
    };
    Some(ClearKey {
        object_type,
        format: enumeration(block.find(Tag::KEY_FORMAT_TYPE))?,
        material,
        algorithm: enumeration(block.find(Tag::CRYPTOGRAPHIC_ALGORITHM))?,
        length,
        secret_data_type: if object_type == ObjectType::SECRET_DATA.0 {
            enumeration(body.find(Tag::SECRET_DATA_TYPE))?
        } else {
            None
        },
    })
}

/// One KMIP connection (kept open, reopened once if the server closed it).
#[pyclass(module = "tresor.kmip", frozen)]
pub(crate) struct KmipConnection {
    client: BlockingKmipClient,
}

fn version_of(py: Python<'_>, v: &str) -> PyResult<ProtocolVersion> {
    ProtocolVersion::SUPPORTED
        .into_iter()
        .find(|pv| pv.to_string() == v)
        .ok_or_else(|| bad(py, format!("kmip_version '{v}' is not one of 1.0..2.1")))
}

impl KmipConnection {
    /// One request with the GIL released: the result item, and its payload items converted
    /// to the KMIP 1.x shape for a 2.x connection (None: read the item's own).
    fn round(
        &self,
        py: Python<'_>,
        operation: Operation,
        mut items: Vec<Ttlv>,
    ) -> PyResult<(ResponseBatchItem, Option<Vec<Ttlv>>)> {
        let version = self.client.config().protocol_version;
        if version.is_v2() {
            items = crate::kmip_v2::request_to_v2(operation, items, version)
                .map_err(|e| kmip_err(py, &e))?;
        }
        let item = py
            .detach(|| self.client.call(operation, items))
            .map_err(|e| kmip_err(py, &e))?;
        let converted = if version.is_v2() {
            Some(
                crate::kmip_v2::response_from_v2(item.payload_items())
                    .map_err(|e| kmip_err(py, &e))?,
            )
        } else {
            None
        };
        Ok((item, converted))
    }

    fn open(py: Python<'_>, config: ClientConfig) -> PyResult<KmipConnection> {
        let client = BlockingKmipClient::new(config).map_err(|e| kmip_err(py, &e))?;
        Ok(KmipConnection { client })
    }
}

#[pymethods]
impl KmipConnection {
    /// A connection to `host:port` with the client certificate `certfile`/`keyfile`,
    /// verifying the server's certificate against `ca_certs` and its name against
    /// `server_name` (default `host`). Nothing is sent until the first call.
    #[new]
    #[pyo3(signature = (host, port, certfile, keyfile, ca_certs, *, server_name = None, timeout = None, kmip_version = "1.2"))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        host: &str,
        port: u16,
        certfile: PathBuf,
        keyfile: PathBuf,
        ca_certs: PathBuf,
        server_name: Option<String>,
        timeout: Option<f64>,
        kmip_version: &str,
    ) -> PyResult<KmipConnection> {
        let mut c = ClientConfig::new(host, certfile, keyfile, ca_certs);
        c.port = port;
        c.server_name = server_name;
        c.protocol_version = version_of(py, kmip_version)?;
        if let Some(t) = timeout {
            if !(t.is_finite() && t > 0.0 && t < 86_400.0) {
                return Err(bad(
                    py,
                    format!("timeout {t} is not a number of seconds in (0, 86400)"),
                ));
            }
            c.connect_timeout = Duration::from_secs_f64(t);
            c.request_timeout = Duration::from_secs_f64(t);
        }
        Self::open(py, c)
    }

    /// A connection from section `section` of a PyKMIP `pykmip.conf` (`host`, `port`,
    /// `certfile`, `keyfile`, `ca_certs`, `timeout`, `kmip_version`, `server_name`).
    #[staticmethod]
    #[pyo3(signature = (path, section = "client", kmip_version = None))]
    fn from_conf(
        py: Python<'_>,
        path: PathBuf,
        section: &str,
        kmip_version: Option<&str>,
    ) -> PyResult<KmipConnection> {
        let mut c = ClientConfig::from_pykmip_conf(&path, section).map_err(|e| kmip_err(py, &e))?;
        if let Some(v) = kmip_version {
            c.protocol_version = version_of(py, v)?;
        }
        Self::open(py, c)
    }

    /// The protocol version requests carry (`"1.2"`).
    #[getter]
    fn kmip_version(&self) -> String {
        self.client.config().protocol_version.to_string()
    }

    /// Sends `operation` (its number) with `payload` (a list of items); returns
    /// `(result_status, result_reason or None, result_message or None, payload items)`.
    fn call<'py>(
        &self,
        py: Python<'py>,
        operation: u32,
        payload: &Bound<'py, PyList>,
    ) -> PyResult<CallResult<'py>> {
        let mut items = Vec::with_capacity(payload.len());
        for p in payload.iter() {
            items.push(to_ttlv(py, &p, 0)?);
        }
        let (item, converted) = self.round(py, Operation(operation), items)?;
        let answer = converted.as_deref().unwrap_or(item.payload_items());
        Ok((
            item.result_status.0,
            item.result_reason.map(|r| r.0),
            item.result_message.clone(),
            items_to_py(py, answer)?,
        ))
    }

    /// Get of `uid` (None: the ID placeholder), no key wrapping: as
    /// `call(GET, [uid])`, but a key in the clear comes back already read, as
    /// `(object_type, key_format_type, material, algorithm, length, secret_data_type)`
    /// (absent fields None), in place of the payload items, which are then None. Any
    /// other answer (certificate, opaque or split object, wrapped or structured key) comes
    /// back as items, the key fields None.
    fn get<'py>(&self, py: Python<'py>, uid: Option<String>) -> PyResult<GetResult<'py>> {
        let payload = uid
            .map(|u| vec![Ttlv::text(Tag::UNIQUE_IDENTIFIER, u)])
            .unwrap_or_default();
        let (item, converted) = self.round(py, Operation::GET, payload)?;
        let answer = converted.as_deref().unwrap_or(item.payload_items());
        let key = clear_key(answer);
        let items = match key {
            Some(_) => None,
            None => Some(items_to_py(py, answer)?),
        };
        Ok((
            item.result_status.0,
            item.result_reason.map(|r| r.0),
            item.result_message.clone(),
            key.map(|k| k.into_py(py)),
            items,
        ))
    }

    /// Closes the connection (the next call opens a new one).
    fn close(&self, py: Python<'_>) {
        py.detach(|| self.client.close());
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<KmipConnection>()
}
