//! `tresor.vault`: the developer vault (`app:env:KEY` secrets) from Python.

use std::io::Write;
use std::path::{Path, PathBuf};

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};
use tresor_crypto::SecretBytes;
use tresor_vault::filter::FilterSet;
use tresor_vault::template::Template;
use tresor_vault::{InitOptions, SecretInfo, Vault as RustVault, VaultError};
use zeroize::Zeroizing;

use crate::errors::{Kind, chain, raise};

/// The Python exception for a vault error.
pub(crate) fn vault_err(py: Python<'_>, e: &VaultError) -> PyErr {
    let kind = match e {
        VaultError::NotFound(_) => "SecretNotFoundError",
        VaultError::NotInitialized(_) | VaultError::KeyFileMissing(_) => "VaultNotFoundError",
        VaultError::PassphraseRequired | VaultError::WrongPassphrase => "VaultLockedError",
        VaultError::Exists(_) | VaultError::AlreadyInitialized(_) => "AlreadyExistsError",
        VaultError::Ambiguous { .. }
        | VaultError::Filter(_)
        | VaultError::Name(_)
        | VaultError::Template(_)
        | VaultError::Dotenv(_)
        | VaultError::Reserved { .. }
        | VaultError::Refused(_) => "InvalidArgumentError",
        VaultError::Io { .. } => "SystemCallError",
        _ => "VaultError",
    };
    let mut msg = chain(e);
    if let Some(hint) = e.hint() {
        msg.push_str(" (");
        msg.push_str(&hint);
        msg.push(')');
    }
    let errno = match e {
        VaultError::Io { source, .. } => source.raw_os_error(),
        _ => None,
    };
    crate::errors::raise_named(py, kind, msg, errno)
}

fn info_dict<'py>(py: Python<'py>, s: &SecretInfo) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("app", &s.app)?;
    d.set_item("env", &s.env)?;
    d.set_item("key", &s.key)?;
    d.set_item("name", &s.name)?;
    d.set_item("type", &s.kind)?;
    d.set_item("version", s.version)?;
    d.set_item("updated", s.updated)?;
    Ok(d)
}

fn text(py: Python<'_>, filter: &str, value: &SecretBytes) -> PyResult<String> {
    value.as_str().map(str::to_owned).ok_or_else(|| {
        raise(
            py,
            Kind::InvalidArgument,
            format!("secret '{filter}' is not UTF-8 text: use get_bytes()"),
            None,
        )
    })
}

/// An open tresor vault. Make one with `tresor.vault.open()` or `tresor.vault.init()`.
#[pyclass(module = "tresor.vault", frozen)]
pub(crate) struct Vault {
    inner: RustVault,
}

impl Vault {
    /// The Rust vault.
    pub(crate) fn inner(&self) -> &RustVault {
        &self.inner
    }
}

#[pymethods]
impl Vault {
    /// The vault folder.
    #[getter]
    fn path(&self) -> PathBuf {
        self.inner.dir().to_owned()
    }

    /// The value (text) of the one secret `filter` names: `app:env:KEY` is one indexed
    /// read; globs (`*:dev:DB_*`) must match exactly one secret.
    fn get(&self, py: Python<'_>, filter: &str) -> PyResult<String> {
        let v = py
            .detach(|| self.inner.get(filter))
            .map_err(|e| vault_err(py, &e))?;
        text(py, filter, &v)
    }

    /// Like `get`, but the value as bytes.
    fn get_bytes<'py>(&self, py: Python<'py>, filter: &str) -> PyResult<Bound<'py, PyBytes>> {
        let v = py
            .detach(|| self.inner.get(filter))
            .map_err(|e| vault_err(py, &e))?;
        Ok(PyBytes::new(py, v.expose()))
    }

    /// Every secret matching `filter` (seeqret's filter strings, e.g. `:dev:POSTGRES_*`;
    /// all secrets when empty), as dicts with app, env, key, name, type, version and
    /// updated (Unix seconds), sorted by name. Values are not included.
    #[pyo3(signature = (filter = ""))]
    fn list<'py>(&self, py: Python<'py>, filter: &str) -> PyResult<Bound<'py, PyList>> {
        let found = py
            .detach(|| {
                let set = if filter.is_empty() {
                    FilterSet::empty()
                } else {
                    FilterSet::new([filter])?
                };
                self.inner.list(&set)
            })
            .map_err(|e| vault_err(py, &e))?;
        let items = found
            .iter()
            .map(|s| info_dict(py, s))
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, items)
    }

    /// Adds secret `app:env:key` with `value` (str or bytes); `force=True` stores a new
    /// version of an existing one instead of raising AlreadyExistsError. Returns the
    /// version written.
    #[pyo3(signature = (app, env, key, value, *, r#type = "str", force = false))]
    #[allow(clippy::too_many_arguments)]
    fn add(
        &self,
        py: Python<'_>,
        app: &str,
        env: &str,
        key: &str,
        value: &Bound<'_, PyAny>,
        r#type: &str,
        force: bool,
    ) -> PyResult<u32> {
        let bytes: Zeroizing<Vec<u8>> = if let Ok(s) = value.extract::<String>() {
            Zeroizing::new(s.into_bytes())
        } else if let Ok(b) = value.cast::<PyBytes>() {
            Zeroizing::new(b.as_bytes().to_vec())
        } else {
            return Err(raise(
                py,
                Kind::InvalidArgument,
                "value must be str or bytes".to_owned(),
                None,
            ));
        };
        py.detach(|| self.inner.add(app, env, key, &bytes, r#type, force))
            .map_err(|e| vault_err(py, &e))
    }

    /// Removes the one secret `filter` names (all its versions); SecretNotFoundError if
    /// none, InvalidArgumentError if the filter matches several.
    fn remove(&self, py: Python<'_>, filter: &str) -> PyResult<()> {
        py.detach(|| {
            let f = tresor_vault::filter::Filter::new(filter)?;
            let one = self.inner.find_one(&f)?;
            self.inner.remove(&[one])
        })
        .map_err(|e| vault_err(py, &e))
    }

    /// Renders an `env.template` (seeqret's grammar: filters, `NAME=FILTER` renames,
    /// constants, version pins) and returns `{NAME: value}` in template order. With
    /// `output`, also writes that `.env` file (mode 0600, atomically).
    #[pyo3(signature = (template = None, output = None))]
    fn env<'py>(
        &self,
        py: Python<'py>,
        template: Option<PathBuf>,
        output: Option<PathBuf>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let template = template.unwrap_or_else(|| PathBuf::from("env.template"));
        let pairs = py
            .detach(|| render_env(&self.inner, &template, output.as_deref()))
            .map_err(|e| vault_err(py, &e))?;
        let d = PyDict::new(py);
        for (k, v) in pairs.iter() {
            d.set_item(k, v.as_str())?;
        }
        Ok(d)
    }

    fn __repr__(&self) -> String {
        format!("<tresor.vault.Vault {}>", self.inner.dir().display())
    }
}

fn render_env(
    vault: &RustVault,
    template: &Path,
    output: Option<&Path>,
) -> Result<Vec<(String, Zeroizing<String>)>, VaultError> {
    let text = std::fs::read_to_string(template).map_err(|source| VaultError::Io {
        what: "cannot read template",
        path: template.to_owned(),
        source,
    })?;
    let t = Template::parse(&text)?;
    t.check_pins(env!("CARGO_PKG_VERSION"))?;
    let pairs = t.try_render(|f| {
        let mut out = Vec::new();
        for s in vault.list(&FilterSet::from_iter([f.clone()]))? {
            let v = vault.value(&s)?;
            let v = String::from_utf8(v.expose().clone()).map_err(|_| {
                VaultError::Refused(format!("secret '{}' is not UTF-8 text", s.name))
            })?;
            out.push((s.key.clone(), Zeroizing::new(v)));
        }
        Ok::<_, VaultError>(out)
    })?;
    if let Some(path) = output {
        let body =
            tresor_vault::dotenv::render(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        write_private(path, body.as_bytes())?;
    }
    Ok(pairs)
}

/// Writes `data` to `path` through a 0600 temporary file in the same folder, renamed over.
fn write_private(path: &Path, data: &[u8]) -> Result<(), VaultError> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("env"),
        std::process::id()
    ));
    let io = |what: &'static str, p: &Path| {
        let p = p.to_owned();
        move |source| VaultError::Io {
            what,
            path: p,
            source,
        }
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io("cannot create", &tmp))?;
    let written = f.write_all(data).and_then(|()| f.sync_all());
    if let Err(source) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(VaultError::Io {
            what: "cannot write",
            path: tmp,
            source,
        });
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io("cannot write", path)(e)
    })
}

fn passphrase_fn(
    passphrase: Option<String>,
) -> impl FnMut() -> Result<SecretBytes, VaultError> + Send {
    move || match passphrase
        .clone()
        .or_else(|| std::env::var("TRESOR_PASSPHRASE").ok())
    {
        Some(p) => Ok(SecretBytes::from(p)),
        None => Err(VaultError::PassphraseRequired),
    }
}

/// open(path=None, passphrase=None, *, cache=False) -> Vault
///
/// Opens the vault at `path` (default: `$TRESOR_VAULT`, else `~/.local/share/tresor`).
/// A passphrase-protected vault takes `passphrase`, else `$TRESOR_PASSPHRASE`.
/// `cache=True` keeps read values in memory (the fast path for repeated `get`) until the
/// next write to the vault by any process (see `tresor_vault::Vault::with_cache`).
#[pyfunction]
#[pyo3(name = "vault_open", signature = (path = None, passphrase = None, *, cache = false))]
fn vault_open(
    py: Python<'_>,
    path: Option<PathBuf>,
    passphrase: Option<String>,
    cache: bool,
) -> PyResult<Vault> {
    let dir = path.unwrap_or_else(tresor_vault::default_dir);
    let mut pass = passphrase_fn(passphrase);
    let v = py
        .detach(|| RustVault::open(&dir, &mut pass))
        .map_err(|e| vault_err(py, &e))?;
    Ok(Vault {
        inner: if cache { v.with_cache() } else { v },
    })
}

/// Creates a new vault at `path` (passphrase-protected when `passphrase` is given);
/// `store` keeps its objects elsewhere (`s3://bucket/prefix`, `postgres://...`) while
/// the key stays in `path`.
#[pyfunction]
#[pyo3(name = "vault_init", signature = (path, passphrase = None, *, user = None, email = None, store = None))]
fn vault_init(
    py: Python<'_>,
    path: PathBuf,
    passphrase: Option<String>,
    user: Option<String>,
    email: Option<String>,
    store: Option<String>,
) -> PyResult<Vault> {
    let opts = InitOptions {
        user,
        email,
        passphrase: passphrase.map(SecretBytes::from),
        store,
        ..InitOptions::default()
    };
    let v = py
        .detach(|| RustVault::init(&path, opts))
        .map_err(|e| vault_err(py, &e))?;
    Ok(Vault { inner: v })
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Vault>()?;
    m.add_function(wrap_pyfunction!(vault_open, m)?)?;
    m.add_function(wrap_pyfunction!(vault_init, m)?)?;
    Ok(())
}
