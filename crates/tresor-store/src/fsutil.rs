//! Files that hold keys: created 0600 in 0700 folders, written atomically (write, fsync, rename).

use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use crate::{Result, StoreError};

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> StoreError {
    let path = path.display().to_string();
    move |source| StoreError::Io { what, path, source }
}

/// Creates `dir` (and parents) with mode 0700 if missing.
///
/// # Errors
/// [`StoreError::Io`] naming the folder.
pub fn create_private_dir(dir: &Path) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io("cannot create folder", dir))?;
    Ok(())
}

/// Creates an empty file with mode 0600; fails if it exists.
///
/// # Errors
/// [`StoreError::Io`] naming the file.
pub fn create_private_file(path: &Path) -> Result<()> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io("cannot create", path))?;
    Ok(())
}

/// Writes `bytes` to `path` atomically with mode 0600: a temp file beside it, fsync, rename,
/// fsync of the folder. A crash leaves either the old file or the new one.
///
/// The temp file is created new (`O_CREAT|O_EXCL|O_NOFOLLOW`, mode 0600 from the start, so no
/// other user can open it in between), and `rename` replaces whatever is at `path` (a file of
/// any mode, or a symlink: the link itself, never its target). The result is always a regular
/// 0600 file.
///
/// # Errors
/// [`StoreError::Io`] naming the file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_private_atomic(path, bytes).map_err(|(what, p, source)| StoreError::Io {
        what,
        path: p.display().to_string(),
        source,
    })
}

/// As [`write_atomic`], for callers with their own error type: the error names what failed
/// and the file it failed on.
///
/// # Errors
/// `(what, file, OS error)`.
pub fn write_private_atomic(
    path: &Path,
    bytes: &[u8],
) -> std::result::Result<(), (&'static str, std::path::PathBuf, std::io::Error)> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut rnd = [0u8; 8];
    tresor_crypto::random_fill(&mut rnd).map_err(|e| {
        (
            "cannot draw a temp name for",
            path.to_owned(),
            std::io::Error::other(e.to_string()),
        )
    })?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", tresor_crypto::hash::hex(&rnd)));
    let res = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp)
            .map_err(|e| ("cannot create", tmp.clone(), e))?;
        f.write_all(bytes)
            .map_err(|e| ("cannot write", tmp.clone(), e))?;
        f.sync_all().map_err(|e| ("cannot sync", tmp.clone(), e))?;
        drop(f);
        fs::rename(&tmp, path).map_err(|e| ("cannot rename into", path.to_owned(), e))?;
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res
}

/// The permission bits of `path`, if it exists.
pub fn mode(path: &Path) -> Option<u32> {
    fs::metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o777)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_atomic_replaces_an_open_file_and_a_symlink_itself() {
        let dir = tempfile::tempdir().unwrap();
        let open = dir.path().join("open");
        fs::write(&open, "old").unwrap();
        fs::set_permissions(&open, fs::Permissions::from_mode(0o644)).unwrap();
        write_atomic(&open, b"new").unwrap();
        assert_eq!(fs::read(&open).unwrap(), b"new");
        assert_eq!(mode(&open), Some(0o600));

        let decoy = dir.path().join("decoy");
        fs::write(&decoy, "decoy").unwrap();
        fs::set_permissions(&decoy, fs::Permissions::from_mode(0o644)).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&decoy, &link).unwrap();
        write_atomic(&link, b"secret").unwrap();
        let m = fs::symlink_metadata(&link).unwrap();
        assert!(m.file_type().is_file(), "the symlink was followed");
        assert_eq!(m.permissions().mode() & 0o777, 0o600);
        assert_eq!(fs::read(&decoy).unwrap(), b"decoy");
        assert_eq!(mode(&decoy), Some(0o644));
        // No temp file is left beside it.
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
    }
}
