//! A minimal DER reader and writer: enough to convert RSA and DSA keys between PKCS#1 and
//! PKCS#8 / SubjectPublicKeyInfo. Certificates are read with `x509-cert`.
//!
//! The reader never indexes out of bounds or panics: every length is checked against what is
//! left, and anything unexpected is `None`.

/// One TLV element: its tag byte and its content bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Element<'a> {
    pub(crate) tag: u8,
    pub(crate) body: &'a [u8],
}

/// A cursor over a sequence of DER elements.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

pub(crate) const SEQUENCE: u8 = 0x30;
pub(crate) const OID: u8 = 0x06;
pub(crate) const INTEGER: u8 = 0x02;
pub(crate) const OCTET_STRING: u8 = 0x04;
pub(crate) const BIT_STRING: u8 = 0x03;
pub(crate) const NULL: u8 = 0x05;

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The next element, or `None` at the end or on malformed input.
    pub(crate) fn next(&mut self) -> Option<Element<'a>> {
        let (&tag, rest) = self.buf.split_first()?;
        let (&first, rest) = rest.split_first()?;
        let (len, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || rest.len() < n {
                return None;
            }
            let (lb, rest) = rest.split_at(n);
            let len = lb.iter().fold(0usize, |a, &b| (a << 8) | usize::from(b));
            (len, rest)
        };
        if rest.len() < len {
            return None;
        }
        let (body, rest) = rest.split_at(len);
        self.buf = rest;
        Some(Element { tag, body })
    }

    /// The next element if it has tag `tag`.
    pub(crate) fn expect(&mut self, tag: u8) -> Option<Element<'a>> {
        let e = self.next()?;
        (e.tag == tag).then_some(e)
    }
}

/// Appends a DER length.
fn push_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        let rest = bytes.get(skip..).unwrap_or_default();
        out.push(0x80 | rest.len() as u8);
        out.extend_from_slice(rest);
    }
}

/// One TLV element.
pub(crate) fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 6);
    out.push(tag);
    push_len(&mut out, body.len());
    out.extend_from_slice(body);
    out
}

/// The OID 1.2.840.113549.1.1.1 (rsaEncryption), encoded body.
const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

fn rsa_algorithm_identifier() -> Vec<u8> {
    let mut body = tlv(OID, RSA_ENCRYPTION);
    body.extend(tlv(NULL, &[]));
    tlv(SEQUENCE, &body)
}

/// Wraps a PKCS#1 `RSAPrivateKey` in a PKCS#8 `PrivateKeyInfo`.
pub(crate) fn rsa_pkcs1_to_pkcs8(pkcs1: &[u8]) -> Vec<u8> {
    let mut body = tlv(INTEGER, &[0]);
    body.extend(rsa_algorithm_identifier());
    body.extend(tlv(OCTET_STRING, pkcs1));
    tlv(SEQUENCE, &body)
}

/// Wraps a PKCS#1 `RSAPublicKey` in a `SubjectPublicKeyInfo`.
pub(crate) fn rsa_pkcs1_to_spki(pkcs1: &[u8]) -> Vec<u8> {
    let mut bits = vec![0u8];
    bits.extend_from_slice(pkcs1);
    let mut body = rsa_algorithm_identifier();
    body.extend(tlv(BIT_STRING, &bits));
    tlv(SEQUENCE, &body)
}

/// The algorithm OID body of a PKCS#8 `PrivateKeyInfo` and its inner key bytes.
pub(crate) fn pkcs8_parts(pkcs8: &[u8]) -> Option<(&[u8], &[u8])> {
    let seq = Reader::new(pkcs8).expect(SEQUENCE)?;
    let mut r = Reader::new(seq.body);
    r.expect(INTEGER)?;
    let alg = r.expect(SEQUENCE)?;
    let oid = Reader::new(alg.body).expect(OID)?;
    let key = r.expect(OCTET_STRING)?;
    Some((oid.body, key.body))
}

/// The algorithm OID body of a `SubjectPublicKeyInfo` and its key bytes (bit string content
/// without the unused-bits byte).
pub(crate) fn spki_parts(spki: &[u8]) -> Option<(&[u8], &[u8])> {
    let seq = Reader::new(spki).expect(SEQUENCE)?;
    let mut r = Reader::new(seq.body);
    let alg = r.expect(SEQUENCE)?;
    let oid = Reader::new(alg.body).expect(OID)?;
    let bits = r.expect(BIT_STRING)?;
    let (_, key) = bits.body.split_first()?;
    Some((oid.body, key))
}

/// The OID 1.2.840.10040.4.1 (id-dsa), encoded body.
const DSA: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x01];

/// DSA domain parameters and one key integer (y for a public key, x for a private one), as
/// DER INTEGER bodies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DsaParts {
    pub(crate) p: Vec<u8>,
    pub(crate) q: Vec<u8>,
    pub(crate) g: Vec<u8>,
    pub(crate) key: Vec<u8>,
}

fn dsa_algorithm_identifier(d: &DsaParts) -> Vec<u8> {
    let mut params = tlv(INTEGER, &d.p);
    params.extend(tlv(INTEGER, &d.q));
    params.extend(tlv(INTEGER, &d.g));
    let mut body = tlv(OID, DSA);
    body.extend(tlv(SEQUENCE, &params));
    tlv(SEQUENCE, &body)
}

/// A DSA public key (`key` = y) as a `SubjectPublicKeyInfo` (RFC 3279 2.3.2).
pub(crate) fn dsa_spki(d: &DsaParts) -> Vec<u8> {
    let mut bits = vec![0u8];
    bits.extend(tlv(INTEGER, &d.key));
    let mut body = dsa_algorithm_identifier(d);
    body.extend(tlv(BIT_STRING, &bits));
    tlv(SEQUENCE, &body)
}

/// A DSA private key (`key` = x) as a PKCS#8 `PrivateKeyInfo`.
pub(crate) fn dsa_pkcs8(d: &DsaParts) -> Vec<u8> {
    let mut body = tlv(INTEGER, &[0]);
    body.extend(dsa_algorithm_identifier(d));
    body.extend(tlv(OCTET_STRING, &tlv(INTEGER, &d.key)));
    tlv(SEQUENCE, &body)
}

fn dsa_params(alg: &[u8]) -> Option<(Vec<u8>, Vec<u8>, Vec<u8>)> {
    let mut r = Reader::new(alg);
    if r.expect(OID)?.body != DSA {
        return None;
    }
    let params = r.expect(SEQUENCE)?;
    let mut p = Reader::new(params.body);
    let (a, b, c) = (p.expect(INTEGER)?, p.expect(INTEGER)?, p.expect(INTEGER)?);
    Some((a.body.to_vec(), b.body.to_vec(), c.body.to_vec()))
}

/// The parts of a DSA `SubjectPublicKeyInfo` (`None` for any other key).
pub(crate) fn dsa_spki_parts(spki: &[u8]) -> Option<DsaParts> {
    let seq = Reader::new(spki).expect(SEQUENCE)?;
    let mut r = Reader::new(seq.body);
    let (p, q, g) = dsa_params(r.expect(SEQUENCE)?.body)?;
    let bits = r.expect(BIT_STRING)?;
    let (_, key) = bits.body.split_first()?;
    let y = Reader::new(key).expect(INTEGER)?;
    Some(DsaParts {
        p,
        q,
        g,
        key: y.body.to_vec(),
    })
}

/// The parts of a DSA PKCS#8 `PrivateKeyInfo` (`None` for any other key).
pub(crate) fn dsa_pkcs8_parts(pkcs8: &[u8]) -> Option<DsaParts> {
    let seq = Reader::new(pkcs8).expect(SEQUENCE)?;
    let mut r = Reader::new(seq.body);
    r.expect(INTEGER)?;
    let (p, q, g) = dsa_params(r.expect(SEQUENCE)?.body)?;
    let key = r.expect(OCTET_STRING)?;
    let x = Reader::new(key.body).expect(INTEGER)?;
    Some(DsaParts {
        p,
        q,
        g,
        key: x.body.to_vec(),
    })
}

/// Returns true if and only if `oid` is rsaEncryption.
pub(crate) fn is_rsa_oid(oid: &[u8]) -> bool {
    oid == RSA_ENCRYPTION
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_round_trip() {
        for n in [0usize, 1, 127, 128, 255, 256, 70000] {
            let body = vec![7u8; n];
            let t = tlv(OCTET_STRING, &body);
            let mut r = Reader::new(&t);
            let e = r.next().unwrap();
            assert_eq!(e.tag, OCTET_STRING);
            assert_eq!(e.body.len(), n);
            assert!(r.is_empty());
        }
    }

    #[test]
    fn dsa_round_trips() {
        let d = DsaParts {
            p: vec![0x00, 0xfc, 0xa6],
            q: vec![0x00, 0x96],
            g: vec![0x67, 0x84],
            key: vec![0x09, 0x54],
        };
        assert_eq!(dsa_spki_parts(&dsa_spki(&d)), Some(d.clone()));
        assert_eq!(dsa_pkcs8_parts(&dsa_pkcs8(&d)), Some(d.clone()));
        assert_eq!(dsa_spki_parts(&dsa_pkcs8(&d)), None);
        let spki = dsa_spki(&d);
        for n in 0..spki.len() {
            assert_eq!(dsa_spki_parts(&spki[..n]), None);
        }
    }

    #[test]
    fn truncated_input_is_none() {
        let t = tlv(SEQUENCE, &[1, 2, 3, 4]);
        for cut in 0..t.len() {
            assert_eq!(Reader::new(&t[..cut]).next(), None);
        }
        assert_eq!(Reader::new(&[0x30, 0x85, 1, 1, 1, 1, 1]).next(), None);
    }

    #[test]
    fn rsa_wrapping_round_trips() {
        let inner = tlv(SEQUENCE, &tlv(INTEGER, &[5]));
        let p8 = rsa_pkcs1_to_pkcs8(&inner);
        let (oid, key) = pkcs8_parts(&p8).unwrap();
        assert!(is_rsa_oid(oid));
        assert_eq!(key, &inner[..]);
        let spki = rsa_pkcs1_to_spki(&inner);
        let (oid, key) = spki_parts(&spki).unwrap();
        assert!(is_rsa_oid(oid));
        assert_eq!(key, &inner[..]);
    }
}
