//! Reading and writing whole TTLV messages on a byte stream (a TLS connection).

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::{HEADER_LEN, Limits, Ttlv, message_len};
use crate::error::KmipError;

/// Reads one message from `stream`: the 8-byte header, then the length it announces.
///
/// The header is checked against `limits` before the body is allocated. Returns `Ok(None)`
/// when the stream ends cleanly before the first header byte (the peer closed the
/// connection between messages).
///
/// # Errors
/// [`KmipError::Ttlv`] for a bad header or body, [`KmipError::Io`] if the stream fails or
/// ends inside a message.
pub async fn read_message_bytes<R: AsyncRead + Unpin>(
    stream: &mut R,
    limits: &Limits,
) -> Result<Option<Vec<u8>>, KmipError> {
    let mut header = [0u8; HEADER_LEN];
    let mut got = 0;
    while got < HEADER_LEN {
        let n = stream
            .read(header.get_mut(got..).unwrap_or_default())
            .await
            .map_err(|e| KmipError::io("reading a message header", e))?;
        if !header_progress(n, got)? {
            return Ok(None);
        }
        got += n;
    }
    let mut buf = body_buffer(&header, limits)?;
    stream
        .read_exact(buf.get_mut(HEADER_LEN..).unwrap_or_default())
        .await
        .map_err(|e| KmipError::io("reading a message body", e))?;
    Ok(Some(buf))
}

/// [`read_message_bytes`] on a blocking stream (a `rustls::StreamOwned` over a
/// `std::net::TcpStream`): the same checks, the same `Ok(None)` on a clean end.
///
/// # Errors
/// As [`read_message_bytes`].
pub fn read_message_bytes_blocking<R: std::io::Read>(
    stream: &mut R,
    limits: &Limits,
) -> Result<Option<Vec<u8>>, KmipError> {
    let mut header = [0u8; HEADER_LEN];
    let mut got = 0;
    while got < HEADER_LEN {
        let n = stream
            .read(header.get_mut(got..).unwrap_or_default())
            .map_err(|e| KmipError::io("reading a message header", e))?;
        if !header_progress(n, got)? {
            return Ok(None);
        }
        got += n;
    }
    let mut buf = body_buffer(&header, limits)?;
    stream
        .read_exact(buf.get_mut(HEADER_LEN..).unwrap_or_default())
        .map_err(|e| KmipError::io("reading a message body", e))?;
    Ok(Some(buf))
}

/// What `n` bytes read with `got` header bytes already in hand mean: `false` for a clean
/// end of stream between messages, an error for an end inside the header.
fn header_progress(n: usize, got: usize) -> Result<bool, KmipError> {
    match (n, got) {
        (0, 0) => Ok(false),
        (0, _) => Err(KmipError::io(
            "reading a message header",
            std::io::ErrorKind::UnexpectedEof.into(),
        )),
        _ => Ok(true),
    }
}

/// A buffer for the whole message `header` announces (checked against `limits` before
/// anything is allocated), the header already in place.
fn body_buffer(header: &[u8; HEADER_LEN], limits: &Limits) -> Result<Vec<u8>, KmipError> {
    let len = message_len(header, limits)?;
    let mut buf = Vec::with_capacity(HEADER_LEN + len);
    buf.extend_from_slice(header);
    buf.resize(HEADER_LEN + len, 0);
    Ok(buf)
}

/// Reads and decodes one message; `Ok(None)` on a clean end of stream.
///
/// # Errors
/// As [`read_message_bytes`], plus decoding errors.
pub async fn read_message<R: AsyncRead + Unpin>(
    stream: &mut R,
    limits: &Limits,
) -> Result<Option<Ttlv>, KmipError> {
    match read_message_bytes(stream, limits).await? {
        Some(bytes) => Ok(Some(Ttlv::decode_with(&bytes, limits)?)),
        None => Ok(None),
    }
}

/// Encodes `msg` and writes it to `stream`, then flushes.
///
/// # Errors
/// [`KmipError::Io`] if writing fails.
pub async fn write_message<W: AsyncWrite + Unpin>(
    stream: &mut W,
    msg: &Ttlv,
) -> Result<(), KmipError> {
    let bytes = msg.encode();
    stream
        .write_all(&bytes)
        .await
        .map_err(|e| KmipError::io("writing a message", e))?;
    stream
        .flush()
        .await
        .map_err(|e| KmipError::io("flushing a message", e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tags::Tag;
    use crate::ttlv::Value;

    fn msg() -> Ttlv {
        Ttlv::structure(
            Tag::REQUEST_MESSAGE,
            vec![Ttlv::new(Tag::BATCH_COUNT, Value::Integer(1))],
        )
    }

    #[tokio::test]
    async fn reads_back_to_back_messages() {
        let mut wire = Vec::new();
        write_message(&mut wire, &msg()).await.unwrap();
        write_message(&mut wire, &msg()).await.unwrap();
        let mut r = &wire[..];
        let l = Limits::default();
        assert_eq!(read_message(&mut r, &l).await.unwrap(), Some(msg()));
        assert_eq!(read_message(&mut r, &l).await.unwrap(), Some(msg()));
        assert_eq!(read_message(&mut r, &l).await.unwrap(), None);
    }

    #[tokio::test]
    async fn rejects_oversized_header_before_reading_body() {
        let mut header = vec![0x42, 0x00, 0x78, 0x01];
        header.extend_from_slice(&0x7fff_fff8u32.to_be_bytes());
        let mut r = &header[..];
        let err = read_message(&mut r, &Limits::default()).await.unwrap_err();
        assert!(err.to_string().contains("exceeds the limit"), "{err}");
    }

    #[tokio::test]
    async fn truncated_message_is_an_error() {
        let wire = msg().encode();
        let mut r = &wire[..wire.len() - 3];
        assert!(read_message(&mut r, &Limits::default()).await.is_err());
        let mut r = &wire[..5];
        assert!(read_message(&mut r, &Limits::default()).await.is_err());
    }

    #[tokio::test]
    async fn non_structure_message_rejected() {
        let item = Ttlv::new(Tag::BATCH_COUNT, Value::Integer(1)).encode();
        let mut r = &item[..];
        assert!(read_message(&mut r, &Limits::default()).await.is_err());
    }

    /// The blocking reader answers exactly as the async one: each message, a clean end,
    /// a refused header, a message cut in its header or body.
    #[tokio::test]
    async fn blocking_reader_agrees_with_the_async_one() {
        let mut wire = Vec::new();
        write_message(&mut wire, &msg()).await.unwrap();
        write_message(&mut wire, &msg()).await.unwrap();
        let l = Limits::default();
        let mut oversized = vec![0x42, 0x00, 0x78, 0x01];
        oversized.extend_from_slice(&0x7fff_fff8u32.to_be_bytes());
        let one = msg().encode();
        for input in [
            &wire[..],
            &oversized[..],
            &one[..one.len() - 3],
            &one[..5],
            &[][..],
        ] {
            let (mut a, mut b) = (input, input);
            loop {
                let x = read_message_bytes(&mut a, &l).await;
                let y = read_message_bytes_blocking(&mut b, &l);
                // The same answer; for an I/O error the same context and kind (the
                // standard library words an early end differently in its two readers).
                let shape = |r: &Result<Option<Vec<u8>>, KmipError>| match r {
                    Ok(v) => Ok(v.clone()),
                    Err(KmipError::Io { context, source }) => {
                        Err(format!("{context}: {:?}", source.kind()))
                    }
                    Err(e) => Err(e.to_string()),
                };
                assert_eq!(shape(&x), shape(&y));
                if !matches!(x, Ok(Some(_))) {
                    break;
                }
            }
        }
    }
}
