//! s3keyring 0.3.0 compatibility: its profile file, its environment variables, its bucket
//! layout and name escaping, and how a `(service, username)` pair becomes a tresor name.
//!
//! # Names
//! s3keyring keeps a secret at `<namespace>/<service>/<username>/secret.b64`, with `/` legal
//! inside each part, so `("a/b", "c")` and `("a", "b/c")` are the same object. tresor keeps
//! s3keyring secrets as ordinary vault secrets named `SERVICE:NAMESPACE:USERNAME` (app =
//! service, env = namespace, key = username), each part written by [`encode_part`]: the
//! characters that mean something in a tresor name or filter (`%`, `:`, `*`, `?`, `[`, `]`,
//! `,`, whitespace, control characters) are percent-encoded, and an empty part is a lone `%`.
//! The mapping is one-to-one, so two pairs never share a secret, and
//! `tresor get SERVICE:NAMESPACE:USERNAME` reads what `tresor s3 set` wrote.
//!
//! # Settings
//! Each setting of a profile (`aws_profile`, `bucket`, `kms_key_id`, `namespace`,
//! `use_local_keyring`) is taken from, in order: `S3KEYRING_<SETTING>`; the variables of
//! s3keyring's README (`KEYRING_BUCKET`, `KEYRING_NAMESPACE`, `KMS_KEY_ID`); the
//! `[profile:NAME]` section of the profile file; s3keyring's fallbacks (`namespace = default`,
//! `aws_profile = default`). s3keyring 0.3.0 itself reads `S3KEYRING_*` only while
//! `configure` runs and ignores the README's variables; tresor lets them override the file at
//! every command, so a deployment needs no file at all.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Result, S3Error};

/// The settings of an s3keyring profile, in s3keyring's order.
pub const SETTINGS: [&str; 5] = [
    "aws_profile",
    "bucket",
    "kms_key_id",
    "namespace",
    "use_local_keyring",
];

/// Settings s3keyring's `configure` refuses to leave empty.
pub const REQUIRED: [&str; 3] = ["aws_profile", "bucket", "kms_key_id"];

/// s3keyring's fallback for a setting nobody gave.
pub fn fallback(setting: &str) -> Option<&'static str> {
    match setting {
        "aws_profile" => Some("default"),
        "namespace" => Some("default"),
        "use_local_keyring" => Some("yes"),
        _ => None,
    }
}

/// The environment variables that set `setting`, strongest first.
pub fn env_names(setting: &str) -> Vec<String> {
    let mut v = vec![format!("S3KEYRING_{}", setting.to_ascii_uppercase())];
    match setting {
        "bucket" => v.push("KEYRING_BUCKET".into()),
        "namespace" => v.push("KEYRING_NAMESPACE".into()),
        "kms_key_id" => v.push("KMS_KEY_ID".into()),
        _ => {}
    }
    v
}

// ---------------------------------------------------------------------------------------------
// s3keyring's escaping and layout

/// Returns true if and only if s3keyring writes byte `b` as itself.
fn s3keyring_legal(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-')
}

/// Escapes a name part exactly as s3keyring 0.3.0 does (`_escape_for_s3`): each UTF-8 byte
/// that is not an ASCII letter, digit, `/`, `_` or `-` becomes `_<decimal>02X` (its format
/// string `"_{}02X"` was meant to be hex; the bytes it writes are what counts).
pub fn s3keyring_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if s3keyring_legal(b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("_{b}02X"));
        }
    }
    out
}

/// Undoes [`s3keyring_escape`]; `None` if the bytes are not UTF-8.
///
/// s3keyring's escaping is not one-to-one (a literal `_4602X` and an escaped `.` are written
/// the same way); this reads every `_<byte>02X` whose byte s3keyring would have escaped as an
/// escape, which is what s3keyring wrote for every name without such a literal run.
pub fn s3keyring_unescape(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'_' {
            let digits = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
            let end = i + 1 + digits;
            if digits >= 3 && b.get(end) == Some(&b'X') && &b[end - 2..end] == b"02" {
                let num = &s[i + 1..end - 2];
                if let Ok(v) = num.parse::<u8>()
                    && !s3keyring_legal(v)
                    && v.to_string() == num
                {
                    out.push(v);
                    i = end + 1;
                    continue;
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// The object key s3keyring 0.3.0 writes a secret at.
pub fn s3keyring_key(namespace: &str, service: &str, username: &str) -> String {
    format!(
        "{}/{}/{}/secret.b64",
        s3keyring_escape(namespace),
        s3keyring_escape(service),
        s3keyring_escape(username)
    )
}

/// One secret found in an s3keyring bucket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegacyEntry {
    /// The object key.
    pub key: String,
    /// The service (unescaped).
    pub service: String,
    /// The username (unescaped).
    pub username: String,
    /// The key has more than one `/` between namespace and `secret.b64`, so the split into
    /// service and username is a guess (s3keyring itself cannot tell them apart).
    pub ambiguous: bool,
}

/// Reads an object key of an s3keyring bucket under `namespace` (unescaped, as configured):
/// `None` for keys that are not `<namespace>/<service>/<username>/secret.b64`. The service is
/// the first path segment and the username the rest, as s3keyring's `list-keys SERVICE` shows
/// them.
pub fn parse_s3keyring_key(namespace: &str, key: &str) -> Option<LegacyEntry> {
    let ns = s3keyring_escape(namespace);
    let rest = key.strip_prefix(&ns)?.strip_prefix('/')?;
    let mid = rest.strip_suffix("/secret.b64")?;
    let (svc, user) = mid.split_once('/')?;
    Some(LegacyEntry {
        key: key.to_owned(),
        service: s3keyring_unescape(svc).unwrap_or_else(|| svc.to_owned()),
        username: s3keyring_unescape(user).unwrap_or_else(|| user.to_owned()),
        ambiguous: user.contains('/'),
    })
}

/// Decodes an s3keyring body: base64 (MIME style, line breaks allowed) of the secret.
///
/// # Errors
/// [`S3Error::Input`] naming the object when the body is not base64.
pub fn decode_body(key: &str, body: &[u8]) -> Result<Vec<u8>> {
    use base64::Engine as _;
    let compact: Vec<u8> = body
        .iter()
        .copied()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|e| S3Error::Input(format!("s3keyring object '{key}' is not base64: {e}")))
}

// ---------------------------------------------------------------------------------------------
// tresor names

/// Returns true if and only if `c` is written as itself in a name part.
fn part_plain(c: char) -> bool {
    !(c.is_control() || c.is_whitespace() || matches!(c, '%' | ':' | '*' | '?' | '[' | ']' | ','))
}

/// Writes one part of a tresor name (see the module docs): one-to-one, never empty, never
/// containing `:` or a glob character.
pub fn encode_part(s: &str) -> String {
    if s.is_empty() {
        return "%".to_owned();
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if part_plain(c) {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

/// Reads a part written by [`encode_part`]; `None` for anything [`encode_part`] does not write.
pub fn decode_part(s: &str) -> Option<String> {
    if s == "%" {
        return Some(String::new());
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
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    let d = String::from_utf8(out).ok()?;
    (encode_part(&d) == s).then_some(d)
}

/// The tresor name `(app, env, key)` of an s3keyring secret.
pub fn tresor_parts(namespace: &str, service: &str, username: &str) -> (String, String, String) {
    (
        encode_part(service),
        encode_part(namespace),
        encode_part(username),
    )
}

/// The full tresor name `SERVICE:NAMESPACE:USERNAME` of an s3keyring secret.
pub fn tresor_name(namespace: &str, service: &str, username: &str) -> String {
    let (a, e, k) = tresor_parts(namespace, service, username);
    tresor_store::secret_name::SecretName::join(&a, &e, &k)
}

/// `(namespace, service, username)` of a tresor name made by [`tresor_name`].
pub fn parse_tresor_name(name: &str) -> Option<(String, String, String)> {
    let mut it = name.split(':');
    let (a, e, k) = (it.next()?, it.next()?, it.next()?);
    if it.next().is_some() {
        return None;
    }
    Some((decode_part(e)?, decode_part(a)?, decode_part(k)?))
}

// ---------------------------------------------------------------------------------------------
// The profile file

/// s3keyring's profile file (`.s3keyring.ini`): `[profile:NAME]` sections of `key = value`.
///
/// Other sections and the order of everything are kept when a profile is written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProfileFile {
    path: PathBuf,
    sections: Vec<(String, Vec<(String, String)>)>,
}

impl ProfileFile {
    /// Where s3keyring looks: `./.s3keyring.ini` if it exists, else `~/.s3keyring.ini`.
    pub fn default_path(cwd: &Path, home: Option<&Path>) -> PathBuf {
        let local = cwd.join(".s3keyring.ini");
        if local.is_file() {
            return local;
        }
        home.map(|h| h.join(".s3keyring.ini")).unwrap_or(local)
    }

    /// Reads the file at `path`; a missing file is an empty one.
    ///
    /// # Errors
    /// [`S3Error::Io`] if it exists but cannot be read, [`S3Error::Input`] for a line that is
    /// neither a section, a setting nor a comment (with its line number).
    pub fn load(path: &Path) -> Result<Self> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => {
                return Err(S3Error::Io {
                    what: "cannot read the s3keyring profile file",
                    path: path.display().to_string(),
                    source: e,
                });
            }
        };
        let mut f = Self::parse(&text).map_err(|(line, why)| {
            S3Error::Input(format!("{}: line {line}: {why}", path.display()))
        })?;
        f.path = path.to_owned();
        Ok(f)
    }

    /// Parses configparser-style text: `[section]`, `key = value` or `key: value` (keys are
    /// lower-cased, values trimmed), `#` / `;` comment lines.
    fn parse(text: &str) -> std::result::Result<Self, (usize, String)> {
        let mut f = ProfileFile::default();
        for (n, line) in text.lines().enumerate() {
            let l = line.trim();
            if l.is_empty() || l.starts_with('#') || l.starts_with(';') {
                continue;
            }
            if let Some(s) = l.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
                f.sections.push((s.trim().to_owned(), Vec::new()));
                continue;
            }
            let at = l
                .find(['=', ':'])
                .ok_or_else(|| (n + 1, "expected '[section]' or 'key = value'".to_owned()))?;
            let (k, v) = (l[..at].trim().to_ascii_lowercase(), l[at + 1..].trim());
            let Some((_, items)) = f.sections.last_mut() else {
                return Err((n + 1, "a setting before any '[section]'".to_owned()));
            };
            match items.iter_mut().find(|(ik, _)| *ik == k) {
                Some(slot) => slot.1 = v.to_owned(),
                None => items.push((k, v.to_owned())),
            }
        }
        Ok(f)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The names of the profiles in the file.
    pub fn profiles(&self) -> Vec<String> {
        self.sections
            .iter()
            .filter_map(|(s, _)| s.strip_prefix("profile:").map(str::to_owned))
            .collect()
    }

    /// The settings of profile `name`, if the file has it.
    pub fn profile(&self, name: &str) -> Option<BTreeMap<String, String>> {
        let want = format!("profile:{name}");
        self.sections
            .iter()
            .find(|(s, _)| *s == want)
            .map(|(_, items)| items.iter().cloned().collect())
    }

    /// Sets settings of profile `name` (the section is added if missing).
    pub fn set_profile(&mut self, name: &str, values: &[(String, String)]) {
        let want = format!("profile:{name}");
        let idx = match self.sections.iter().position(|(s, _)| *s == want) {
            Some(i) => i,
            None => {
                self.sections.push((want, Vec::new()));
                self.sections.len() - 1
            }
        };
        let items = &mut self.sections[idx].1;
        for (k, v) in values {
            match items.iter_mut().find(|(ik, _)| ik == k) {
                Some(slot) => slot.1 = v.clone(),
                None => items.push((k.clone(), v.clone())),
            }
        }
    }

    /// The file's text, as configparser writes it.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (s, items) in &self.sections {
            out.push_str(&format!("[{s}]\n"));
            for (k, v) in items {
                out.push_str(&format!("{k} = {v}\n"));
            }
            out.push('\n');
        }
        out
    }

    /// Writes the file at `path` atomically (a temporary file renamed over it), mode 0600.
    ///
    /// # Errors
    /// [`S3Error::Io`].
    pub fn save_to(&self, path: &Path) -> Result<()> {
        let io = |what: &'static str, e: std::io::Error| S3Error::Io {
            what,
            path: path.display().to_string(),
            source: e,
        };
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
            _ => PathBuf::from("."),
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| ".s3keyring.ini".into());
        let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
        let write = || -> std::io::Result<()> {
            use std::io::Write as _;
            let mut o = std::fs::OpenOptions::new();
            o.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
            let mut f = o.open(&tmp)?;
            f.write_all(self.render().as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            io("cannot write the s3keyring profile file", e)
        })
    }
}

/// Where a resolved setting came from (for messages).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// An environment variable.
    Env(String),
    /// The profile file.
    File,
    /// s3keyring's fallback.
    Fallback,
}

/// A profile's settings, resolved from the environment, the file and the fallbacks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    /// The profile's name.
    pub name: String,
    /// Each setting that has a value, with where it came from.
    pub values: BTreeMap<String, (String, Source)>,
}

impl Profile {
    /// Resolves profile `name` from `file` and the variables `env` returns (see the module
    /// docs for the order). Empty values count as unset, as in s3keyring.
    ///
    /// # Errors
    /// [`S3Error::Profile`] when `explicit` (the user named the profile) and neither the file
    /// nor the environment knows it.
    pub fn resolve(
        file: &ProfileFile,
        name: &str,
        explicit: bool,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Profile> {
        let section = file.profile(name);
        let mut values = BTreeMap::new();
        let mut from_env = false;
        for s in SETTINGS {
            let v = env_names(s)
                .into_iter()
                .find_map(|n| {
                    env(&n)
                        .filter(|v| !v.is_empty())
                        .map(|v| (v, Source::Env(n)))
                })
                .inspect(|_| from_env = true)
                .or_else(|| {
                    section
                        .as_ref()
                        .and_then(|m| m.get(s).cloned())
                        .filter(|v| !v.is_empty())
                        .map(|v| (v, Source::File))
                })
                .or_else(|| fallback(s).map(|v| (v.to_owned(), Source::Fallback)));
            if let Some(v) = v {
                values.insert(s.to_owned(), v);
            }
        }
        if section.is_none() && explicit && !from_env {
            let known = file.profiles();
            return Err(S3Error::Profile {
                name: name.to_owned(),
                path: file.path().display().to_string(),
                known: if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                },
            });
        }
        Ok(Profile {
            name: name.to_owned(),
            values,
        })
    }

    /// The value of `setting`, if any.
    pub fn get(&self, setting: &str) -> Option<&str> {
        self.values.get(setting).map(|(v, _)| v.as_str())
    }

    /// The value of a setting tresor needs.
    ///
    /// # Errors
    /// [`S3Error::MissingSetting`] naming the profile, the setting and the variable to set.
    pub fn require(&self, setting: &'static str) -> Result<&str> {
        self.get(setting).ok_or_else(|| S3Error::MissingSetting {
            profile: self.name.clone(),
            setting,
            var: env_names(setting)[0].clone(),
        })
    }

    /// The namespace (`default` unless configured).
    pub fn namespace(&self) -> &str {
        self.get("namespace").unwrap_or("default")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_matches_s3keyring() {
        // Values observed from s3keyring 0.3.0 against moto.
        assert_eq!(s3keyring_escape("svc.x"), "svc_4602Xx");
        assert_eq!(s3keyring_escape("us er"), "us_3202Xer");
        assert_eq!(s3keyring_escape("a/b_c-d"), "a/b_c-d");
        assert_eq!(s3keyring_escape("é"), "_19502X_16902X");
        assert_eq!(
            s3keyring_key("ns", "svc.x", "us er"),
            "ns/svc_4602Xx/us_3202Xer/secret.b64"
        );
        for s in ["svc.x", "us er", "é!", "p@ss wörd", "_4X", "_"] {
            assert_eq!(s3keyring_unescape(&s3keyring_escape(s)).as_deref(), Some(s));
        }
        // s3keyring's own collisions: both pairs are one object.
        assert_eq!(
            s3keyring_key("n", "a/b", "c"),
            s3keyring_key("n", "a", "b/c")
        );
        assert_eq!(s3keyring_unescape("_4602X").as_deref(), Some("."));
        assert_eq!(
            s3keyring_unescape("_6502X").as_deref(),
            Some("_6502X"),
            "'A' is legal"
        );
    }

    #[test]
    fn layout_keys() {
        let e = parse_s3keyring_key("ns", "ns/svc_4602Xx/us_3202Xer/secret.b64").unwrap();
        assert_eq!(
            (e.service.as_str(), e.username.as_str()),
            ("svc.x", "us er")
        );
        assert!(!e.ambiguous);
        let e = parse_s3keyring_key("ns", "ns/a/b/c/secret.b64").unwrap();
        assert_eq!(
            (e.service.as_str(), e.username.as_str(), e.ambiguous),
            ("a", "b/c", true)
        );
        assert_eq!(parse_s3keyring_key("ns", "ns/a/secret.b64"), None);
        assert_eq!(parse_s3keyring_key("ns", "other/a/b/secret.b64"), None);
        assert_eq!(parse_s3keyring_key("ns", "nsx/a/b/secret.b64"), None);
        assert_eq!(decode_body("k", b"aHVu\ndGVy\n").unwrap(), b"hunter");
        assert!(decode_body("k", b"not base64!").is_err());
    }

    #[test]
    fn tresor_names() {
        assert_eq!(
            tresor_name("default", "github", "bob@example.com"),
            "github:default:bob@example.com"
        );
        assert_eq!(tresor_name("ns", "a:b", "x*y"), "a%3Ab:ns:x%2Ay");
        assert_eq!(tresor_name("", "a b", "%"), "a%20b:%:%25");
        assert_eq!(
            parse_tresor_name("a%3Ab:ns:x%2Ay"),
            Some(("ns".into(), "a:b".into(), "x*y".into()))
        );
        assert_ne!(tresor_name("n", "a/b", "c"), tresor_name("n", "a", "b/c"));
    }

    proptest::proptest! {
        #[test]
        fn parts_round_trip_and_never_collide(a in "\\PC{0,10}", b in "\\PC{0,10}") {
            let ea = encode_part(&a);
            proptest::prop_assert_eq!(decode_part(&ea), Some(a.clone()));
            proptest::prop_assert!(!ea.is_empty() && !ea.contains(':') && !ea.contains('*'));
            if a != b {
                proptest::prop_assert_ne!(ea, encode_part(&b));
            }
        }
        #[test]
        fn s3keyring_escape_round_trips(a in "[a-z._ é/@:-]{0,12}") {
            // Without literal `_<n>02X` runs, unescaping recovers the name.
            proptest::prop_assert_eq!(s3keyring_unescape(&s3keyring_escape(&a)), Some(a.clone()));
        }
    }

    #[test]
    fn profile_file_and_resolution() {
        let text = "[default]\nprofile = default\n\n[profile:test]\naws_profile = default\nbucket = fh-share\nnamespace = s3keyring \nkms_key_id = \nuse_local_keyring = no\n";
        let mut f = ProfileFile::parse(text).unwrap();
        assert_eq!(f.profiles(), vec!["test".to_owned()]);
        let none = |_: &str| None;
        let p = Profile::resolve(&f, "test", true, &none).unwrap();
        assert_eq!(p.get("bucket"), Some("fh-share"));
        assert_eq!(p.namespace(), "s3keyring");
        assert!(p.require("kms_key_id").is_err(), "an empty value is unset");
        let env = |k: &str| match k {
            "KMS_KEY_ID" => Some("k1".to_owned()),
            "S3KEYRING_BUCKET" => Some("b2".to_owned()),
            "KEYRING_BUCKET" => Some("b3".to_owned()),
            _ => None,
        };
        let p = Profile::resolve(&f, "test", true, &env).unwrap();
        assert_eq!(p.get("bucket"), Some("b2"));
        assert_eq!(p.get("kms_key_id"), Some("k1"));
        let e = Profile::resolve(&f, "nope", true, &none).unwrap_err();
        assert!(e.to_string().contains("profile 'nope' not found"), "{e}");
        assert!(e.to_string().contains("(profiles: test)"), "{e}");
        assert!(Profile::resolve(&f, "default", false, &none).is_ok());
        f.set_profile("x", &[("bucket".into(), "b".into())]);
        f.set_profile("test", &[("kms_key_id".into(), "k".into())]);
        let again = ProfileFile::parse(&f.render()).unwrap();
        assert_eq!(
            again,
            ProfileFile {
                path: PathBuf::new(),
                ..f.clone()
            }
        );
        assert_eq!(again.profile("test").unwrap()["kms_key_id"], "k");
        assert!(ProfileFile::parse("[a]\njunk\n").unwrap_err().0 == 2);
        assert!(ProfileFile::parse("k = v\n").is_err());
    }
}
