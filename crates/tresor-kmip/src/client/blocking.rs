//! [`BlockingKmipClient`]: [`KmipClient`](super::KmipClient) on a blocking socket.

use std::io::Write;
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use rustls::{ClientConnection, StreamOwned};

use super::{ClientConfig, Round, first_item, typed_response};
use crate::enums::Operation;
use crate::error::KmipError;
use crate::message::{RequestMessage, ResponseBatchItem, ResponseMessage};
use crate::payload::Request;
use crate::ttlv::Ttlv;
use crate::ttlv::stream::read_message_bytes_blocking;

type Conn = StreamOwned<ClientConnection, Timed>;

/// The socket under the TLS stream, with the deadline of the request in flight: every read
/// and write past it fails with `TimedOut`, and each one is also bounded by the socket's own
/// timeout, so a request takes at most its deadline plus one socket timeout however slowly
/// the server sends.
struct Timed {
    tcp: TcpStream,
    deadline: Option<Instant>,
}

impl Timed {
    fn check(&self) -> std::io::Result<()> {
        match self.deadline {
            Some(d) if Instant::now() >= d => Err(std::io::ErrorKind::TimedOut.into()),
            _ => Ok(()),
        }
    }
}

impl std::io::Read for Timed {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.check()?;
        self.tcp.read(buf)
    }
}

impl Write for Timed {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.check()?;
        self.tcp.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.tcp.flush()
    }
}

/// A KMIP client holding one reusable mutual-TLS connection, with no async runtime: each
/// call writes its request and waits in `read` for the answer.
///
/// It behaves as [`KmipClient`](super::KmipClient): the connection is opened on the first
/// request and kept; a request that finds it closed by the server reconnects once; responses
/// are read within the [`ClientConfig::limits`]. Timeouts: `connect_timeout` bounds the TCP
/// connect to each address and each read or write of the handshake; a request fails with
/// [`KmipError::Timeout`] once `request_timeout` has passed (checked before each read and
/// write, each of which is itself bounded by it: a server trickling its answer holds a call
/// at most twice `request_timeout`).
///
/// # Examples
/// ```no_run
/// use tresor_kmip::client::{BlockingKmipClient, ClientConfig};
/// use tresor_kmip::enums::Operation;
/// # fn demo() -> Result<(), tresor_kmip::KmipError> {
/// let config = ClientConfig::from_pykmip_conf("pykmip.conf".as_ref(), "client")?;
/// let client = BlockingKmipClient::new(config)?;
/// let item = client.call(Operation::DISCOVER_VERSIONS, vec![])?;
/// println!("{:?}", item.result_status);
/// # Ok(()) }
/// ```
pub struct BlockingKmipClient {
    config: ClientConfig,
    tls: Arc<rustls::ClientConfig>,
    server_name: ServerName<'static>,
    conn: Mutex<Option<Conn>>,
}

impl std::fmt::Debug for BlockingKmipClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockingKmipClient")
            .field("host", &self.config.host)
            .field("port", &self.config.port)
            .finish_non_exhaustive()
    }
}

/// `e` as [`KmipError::Timeout`]`(what)` when it is a socket timeout.
fn timeout_as(what: &'static str, e: KmipError) -> KmipError {
    match e {
        KmipError::Io { source, .. }
            if matches!(
                source.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            KmipError::Timeout(what)
        }
        e => e,
    }
}

impl BlockingKmipClient {
    /// Makes a client; no connection is opened until the first request.
    ///
    /// # Errors
    /// [`KmipError::Tls`] if the certificate files cannot be used or the server name is
    /// invalid.
    pub fn new(config: ClientConfig) -> Result<Self, KmipError> {
        Ok(BlockingKmipClient {
            tls: Arc::new(config.tls_config()?),
            server_name: config.tls_server_name()?,
            conn: Mutex::new(None),
            config,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    fn connect(&self) -> Result<Conn, KmipError> {
        let (host, port) = (self.config.host.as_str(), self.config.port);
        let where_ = || format!("connecting to {host}:{port}");
        let addrs = (host, port)
            .to_socket_addrs()
            .map_err(|e| KmipError::io(where_(), e))?;
        let mut last = None;
        let mut tcp = None;
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, self.config.connect_timeout) {
                Ok(s) => {
                    tcp = Some(s);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let mut tcp = match (tcp, last) {
            (Some(t), _) => t,
            (None, Some(e)) => return Err(timeout_as("connect", KmipError::io(where_(), e))),
            (None, None) => {
                return Err(KmipError::io(
                    where_(),
                    std::io::Error::new(std::io::ErrorKind::NotFound, "no address"),
                ));
            }
        };
        tcp.set_nodelay(true)
            .map_err(|e| KmipError::io("setting TCP_NODELAY", e))?;
        set_timeouts(&tcp, self.config.connect_timeout)?;
        let mut conn = ClientConnection::new(self.tls.clone(), self.server_name.clone())
            .map_err(|e| KmipError::Tls(e.to_string()))?;
        while conn.is_handshaking() {
            conn.complete_io(&mut tcp)
                .map_err(|e| timeout_as("connect", KmipError::io("TLS handshake", e)))?;
        }
        set_timeouts(&tcp, self.config.request_timeout)?;
        Ok(StreamOwned::new(
            conn,
            Timed {
                tcp,
                deadline: None,
            },
        ))
    }

    /// Sends one request message and reads one response message, reusing the connection.
    ///
    /// If the kept connection turns out to be closed before any response byte arrives, the
    /// client reconnects and sends once more.
    ///
    /// # Errors
    /// [`KmipError::Io`], [`KmipError::Timeout`], or a decoding error for a bad response.
    pub fn send(&self, request: &Ttlv) -> Result<Ttlv, KmipError> {
        let bytes = request.encode();
        let mut guard = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        for attempt in 0..2 {
            let reused = guard.is_some();
            let mut stream = match guard.take() {
                Some(s) => s,
                None => self.connect()?,
            };
            stream.sock.deadline = Some(Instant::now() + self.config.request_timeout);
            let result = stream
                .write_all(&bytes)
                .and_then(|()| stream.flush())
                .map_err(|e| KmipError::io("writing a message", e))
                .and_then(|()| read_message_bytes_blocking(&mut stream, &self.config.limits))
                .map_err(|e| timeout_as("request", e));
            match Round::of(result, reused && attempt == 0, &self.config.limits)? {
                Round::Answered(t) => {
                    *guard = Some(stream);
                    return Ok(t);
                }
                Round::Again => {}
            }
        }
        Err(Round::gave_up())
    }

    /// Sends a typed request and parses the response.
    ///
    /// # Errors
    /// As [`BlockingKmipClient::send`], plus [`KmipError`] for a malformed response.
    pub fn request(&self, msg: &RequestMessage) -> Result<ResponseMessage, KmipError> {
        ResponseMessage::from_ttlv(&self.send(&msg.to_ttlv())?)
    }

    /// Runs one operation with the payload fields `payload` and returns its result item.
    ///
    /// # Errors
    /// As [`BlockingKmipClient::request`]; a response without batch items is
    /// [`KmipError::MissingField`].
    pub fn call(
        &self,
        operation: Operation,
        payload: Vec<Ttlv>,
    ) -> Result<ResponseBatchItem, KmipError> {
        let msg = RequestMessage::single(self.config.protocol_version, operation, payload);
        first_item(self.request(&msg)?)
    }

    /// Runs a typed request ([`crate::payload`]) and reads its typed response, as
    /// [`super::KmipClient::perform`] does.
    ///
    /// # Errors
    /// As [`BlockingKmipClient::call`]; [`KmipError::Failed`] when the server answers with
    /// a failure, [`KmipError::Payload`] when its response payload does not fit.
    pub fn perform<R: Request>(&self, request: &R) -> Result<R::Response, KmipError> {
        let payload = request.to_items(self.config.protocol_version);
        typed_response::<R>(&self.call(R::OPERATION, payload)?)
    }

    /// Closes the kept connection, if any (with a TLS close_notify).
    pub fn close(&self) {
        let taken = self
            .conn
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(mut s) = taken {
            s.sock.deadline = None;
            s.conn.send_close_notify();
            // Closing is best effort: the connection is dropped either way.
            let _ = s.flush();
        }
    }
}

fn set_timeouts(tcp: &TcpStream, t: Duration) -> Result<(), KmipError> {
    tcp.set_read_timeout(Some(t))
        .and_then(|()| tcp.set_write_timeout(Some(t)))
        .map_err(|e| KmipError::io("setting socket timeouts", e))
}
