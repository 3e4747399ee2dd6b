//! Object keys: every name component percent-encoded, so no two names collide and every key
//! maps back to its name.
//!
//! A store name `app:env:KEY` is split on `:`; each component is percent-encoded (everything
//! but `A–Z a–z 0–9 - _ .` becomes `%XX`, a component that is `.` or `..` is written `%2E` /
//! `%2E%2E`, and an empty component is written as a lone `%`, which no encoding produces
//! otherwise) and the components are joined with `/`. So `tresor list app:*` is a listing of
//! the `names/app/` folder, and the mapping is a bijection.

/// Returns true if and only if `b` is written as itself.
fn plain(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')
}

/// Percent-encodes one component (never empty, never `.`/`..`, never containing `/`).
pub fn encode_component(s: &str) -> String {
    match s {
        "" => return "%".to_owned(),
        "." => return "%2E".to_owned(),
        ".." => return "%2E%2E".to_owned(),
        _ => {}
    }
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if plain(b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes one component written by [`encode_component`]; `None` if it is not such a component.
pub fn decode_component(s: &str) -> Option<String> {
    if s == "%" {
        return Some(String::new());
    }
    if s.is_empty() {
        return None;
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            if !hex
                .bytes()
                .all(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(&c))
            {
                return None;
            }
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else if plain(b[i]) {
            out.push(b[i]);
            i += 1;
        } else {
            return None;
        }
    }
    let d = String::from_utf8(out).ok()?;
    // Only the canonical encoding decodes, so the mapping stays one-to-one.
    (encode_component(&d) == s).then_some(d)
}

/// The key path (relative, `/`-separated) of a store name.
pub fn encode_name(name: &str) -> String {
    name.split(':')
        .map(encode_component)
        .collect::<Vec<_>>()
        .join("/")
}

/// The store name of a key path written by [`encode_name`].
pub fn decode_name(path: &str) -> Option<String> {
    let parts: Option<Vec<String>> = path.split('/').map(decode_component).collect();
    Some(parts?.join(":"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples() {
        assert_eq!(encode_name("app:dev:DB_PASS"), "app/dev/DB_PASS");
        assert_eq!(encode_name("a/b:c"), "a%2Fb/c");
        assert_eq!(encode_name("a::b"), "a/%/b");
        assert_eq!(encode_name(".:..:x y"), "%2E/%2E%2E/x%20y");
        assert_eq!(encode_name("100%"), "100%25");
        assert_eq!(decode_name("a/%/b").as_deref(), Some("a::b"));
        assert_eq!(
            decode_name("a%2fb"),
            None,
            "lower-case hex is not canonical"
        );
        assert_eq!(decode_name("a b"), None);
        assert_eq!(decode_name("%41"), None, "'A' is written as itself");
    }

    proptest::proptest! {
        #[test]
        fn round_trip_and_no_collisions(a in "\\PC{0,12}", b in "\\PC{0,12}") {
            let ea = encode_name(&a);
            proptest::prop_assert_eq!(decode_name(&ea), Some(a.clone()));
            proptest::prop_assert!(ea.split('/').all(|p| !p.is_empty() && p != "." && p != ".."));
            if a != b {
                proptest::prop_assert_ne!(ea, encode_name(&b));
            }
        }
        #[test]
        fn decode_never_panics(s in "\\PC{0,20}") {
            let _ = decode_name(&s);
        }
    }
}
