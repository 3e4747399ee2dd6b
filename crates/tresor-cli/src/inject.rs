//! `tresor inject`: replaces the `tresor://APP/ENV/KEY` references of a text file by the
//! secrets' values; and [`resolve`], which every command that takes references uses: all of
//! its references in one read, every missing one named before anything is written or run.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Result, bail};
use serde_json::json;
use tresor_crypto::SecretBytes;
use tresor_vault::reference::{self, Reference};

use crate::door::SecretsDoor;
use crate::output;

/// Largest input `inject` reads (16 MiB).
const MAX_INPUT: u64 = 16 << 20;

/// The values of `refs`, in order, read in one request ([`SecretsDoor::read_references`],
/// each distinct reference once).
///
/// # Errors
/// Every reference that names no secret (or no such version, or no such field) is named in
/// one error; nothing else happens first, so the caller has written and run nothing.
pub fn resolve(door: &dyn SecretsDoor, refs: &[Reference]) -> Result<Vec<SecretBytes>> {
    let mut distinct: Vec<Reference> = Vec::new();
    let mut index = std::collections::HashMap::new();
    let slots: Vec<usize> = refs
        .iter()
        .map(|r| {
            *index.entry(r.clone()).or_insert_with(|| {
                distinct.push(r.clone());
                distinct.len() - 1
            })
        })
        .collect();
    // One read of each distinct name/version; a field is taken from the value afterwards.
    let mut reads: Vec<Reference> = Vec::new();
    let mut read_index = std::collections::HashMap::new();
    let read_slots: Vec<usize> = distinct
        .iter()
        .map(|r| {
            let key = Reference {
                field: None,
                ..r.clone()
            };
            *read_index.entry(key.clone()).or_insert_with(|| {
                reads.push(key);
                reads.len() - 1
            })
        })
        .collect();
    let found = door.read_references(&reads)?;
    let mut missing: Vec<String> = Vec::new();
    let mut values: Vec<Option<SecretBytes>> = Vec::with_capacity(distinct.len());
    for (r, slot) in distinct.iter().zip(&read_slots) {
        match found.get(*slot).cloned().flatten() {
            None => {
                let what = match r.version {
                    Some(v) => format!("no version {v} of secret '{}'", r.name().escape_debug()),
                    None => format!("no secret '{}'", r.name().escape_debug()),
                };
                missing.push(format!("{r} ({what})"));
                values.push(None);
            }
            Some(v) => match r.select(v) {
                Ok(v) => values.push(Some(v)),
                Err(e) => {
                    missing.push(e.to_string());
                    values.push(None);
                }
            },
        }
    }
    if !missing.is_empty() {
        bail!(
            "{} reference(s) cannot be resolved, so nothing was written or run:\n  {}",
            missing.len(),
            missing.join("\n  ")
        );
    }
    Ok(slots
        .into_iter()
        .map(|i| {
            values[i]
                .clone()
                .unwrap_or_else(|| SecretBytes::new(Vec::new()))
        })
        .collect())
}

/// The references of a text, or every invalid one named in one error.
fn references_in(text: &str, source: &str) -> Result<Vec<(std::ops::Range<usize>, Reference)>> {
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    for (range, r) in reference::find(text) {
        match r {
            Ok(r) => ok.push((range, r)),
            Err(e) => {
                let line = text[..range.start].matches('\n').count() + 1;
                bad.push(format!("{source}:{line}: {e}"));
            }
        }
    }
    if !bad.is_empty() {
        bail!(
            "{} invalid reference(s), so nothing was written:\n  {}",
            bad.len(),
            bad.join("\n  ")
        );
    }
    Ok(ok)
}

/// `tresor inject -i IN -o OUT`: `-` is stdin / stdout; a file is written 0600, atomically.
pub fn inject(
    door: &dyn SecretsDoor,
    input: &Path,
    output_path: &Path,
    json_out: bool,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    let text = crate::input::text_file(input, MAX_INPUT)?;
    let source = if input == Path::new("-") {
        "<stdin>".to_owned()
    } else {
        input.display().to_string()
    };
    let found = references_in(&text, &source)?;
    let refs: Vec<Reference> = found.iter().map(|(_, r)| r.clone()).collect();
    let values = resolve(door, &refs)?;
    let mut rendered = zeroize::Zeroizing::new(Vec::with_capacity(text.len()));
    let mut pos = 0;
    for ((range, _), v) in found.iter().zip(&values) {
        rendered.extend_from_slice(&text.as_bytes()[pos..range.start]);
        rendered.extend_from_slice(v.expose());
        pos = range.end;
    }
    rendered.extend_from_slice(&text.as_bytes()[pos..]);
    let distinct: std::collections::HashSet<&Reference> = refs.iter().collect();
    if output_path == Path::new("-") {
        out.write_all(&rendered)?;
        out.flush()?;
    } else {
        tresor_store::fsutil::write_atomic(output_path, &rendered)?;
        if json_out {
            output::json(
                out,
                &json!({
                    "output": output_path.display().to_string(),
                    "references": refs.len(),
                    "secrets": distinct.len(),
                }),
            )?;
        } else {
            eprintln!(
                "wrote {} ({} reference(s) to {} secret(s) replaced)",
                output_path.display(),
                refs.len(),
                distinct.len()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
