//! Three-way merge of sealed files, per key, for git's merge driver.
//!
//! The three versions are opened; in each plaintext every value is replaced by a placeholder
//! naming its key path, so the caller's line merge (`git merge-file`) sees only structure
//! (keys, comments, order) and never a value. Values are then merged per key: a key changed on
//! one side takes that side's value; changed on both sides to different values, it is a
//! conflict, kept in the header (ours in the body, theirs in the header) and shown as conflict
//! markers around the plaintext key by [`Opened::plaintext_view`](crate::Opened). The result is
//! sealed with the data key of the side whose recipients are current: values nobody changed
//! keep their ciphertexts.

use std::collections::HashMap;

use zeroize::Zeroizing;

use crate::error::{Result, SealError};
use crate::{Format, Identity, KeyPath, KeyService, Opened, open_via, seal_with};

/// What a merge produced.
#[derive(Debug)]
pub struct MergeOutcome {
    /// The merged sealed file.
    pub text: String,
    /// The key paths changed differently on both sides (dotted), empty for a clean merge.
    pub conflicts: Vec<String>,
}

/// A line-based three-way merge `(base, ours, theirs) -> (merged, clean)` of texts that hold
/// no secret (`git merge-file`).
pub type LineMerge<'a> = dyn FnMut(&str, &str, &str) -> std::io::Result<(String, bool)> + 'a;

const MARK: char = '\u{1}';

fn masked(o: &Opened) -> Result<(String, HashMap<KeyPath, String>)> {
    let p = o.plaintext();
    let leaves = o.leaves()?;
    let fmt_leaves = o.format().scan_spans(p)?;
    let mut out = String::with_capacity(p.len());
    let mut last = 0;
    let mut map = HashMap::new();
    for (span, (path, raw)) in fmt_leaves.into_iter().zip(leaves) {
        out.push_str(&p[last..span.start]);
        out.push(MARK);
        out.push_str(&tresor_crypto::hash::hex(&path.aad()));
        out.push(MARK);
        last = span.end;
        map.insert(path, raw);
    }
    out.push_str(&p[last..]);
    Ok((out, map))
}

/// Merges `base` (absent when both sides added the file), `ours` and `theirs`.
/// `line_merge(base, ours, theirs)` is a line-based three-way merge of texts holding no
/// secret, returning the merged text and whether it was clean.
///
/// # Errors
/// Opening errors of any version; [`SealError::Merge`] when the structure (keys, comments,
/// order) conflicts or both sides changed the recipients differently.
pub fn merge(
    base: Option<&str>,
    ours: &str,
    theirs: &str,
    format: Format,
    ids: &[Identity],
    line_merge: &mut LineMerge<'_>,
) -> Result<MergeOutcome> {
    merge_via(base, ours, theirs, format, ids, None, line_merge)
}

/// [`merge`], with `service` opening files sealed to AWS KMS or KMIP recipients.
///
/// # Errors
/// As [`merge`].
pub fn merge_via(
    base: Option<&str>,
    ours: &str,
    theirs: &str,
    format: Format,
    ids: &[Identity],
    service: Option<&dyn KeyService>,
    line_merge: &mut LineMerge<'_>,
) -> Result<MergeOutcome> {
    let ob = base
        .filter(|b| !b.trim().is_empty())
        .map(|b| open_via(b, format, ids, service))
        .transpose()?;
    let oo = open_via(ours, format, ids, service)?;
    let ot = open_via(theirs, format, ids, service)?;
    if !oo.conflicts.is_empty() || !ot.conflicts.is_empty() {
        return Err(SealError::Merge(
            "a side still has unresolved conflicts: resolve them with 'tresor edit' first".into(),
        ));
    }
    // Whose data key and recipients: the side that changed them (both alike: ours).
    let rb = ob.as_ref().map(|b| sorted(b.recipients()));
    let (ro, rt) = (sorted(oo.recipients()), sorted(ot.recipients()));
    let keyside = if rb.as_ref() == Some(&ro) && rt != ro {
        &ot
    } else if rb.is_some() && rb.as_ref() != Some(&rt) && rt != ro {
        return Err(SealError::Merge(
            "both branches changed the recipients differently: merge by hand (tresor unseal both sides, then tresor seal)".into(),
        ));
    } else {
        &oo
    };
    let (mb, vb) = match &ob {
        Some(b) => masked(b)?,
        None => (String::new(), HashMap::new()),
    };
    let (mo, vo) = masked(&oo)?;
    let (mt, vt) = masked(&ot)?;
    let (merged, clean) = line_merge(&mb, &mo, &mt)
        .map_err(|e| SealError::Merge(format!("the line merge failed: {e}")))?;
    if !clean {
        return Err(SealError::Merge(
            "the branches changed the same lines of the file's structure (keys, comments, order): resolve by hand with 'tresor edit' on the merged file".into(),
        ));
    }
    let mut plain = Zeroizing::new(String::with_capacity(merged.len() * 2));
    let mut conflicts: Vec<(KeyPath, Zeroizing<String>)> = Vec::new();
    let mut rest = merged.as_str();
    while let Some(i) = rest.find(MARK) {
        plain.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let j = after
            .find(MARK)
            .ok_or_else(|| SealError::Merge("the merged structure is damaged".into()))?;
        let path = hex_path(&after[..j])?;
        let (b, o, t) = (vb.get(&path), vo.get(&path), vt.get(&path));
        let v = if o == t || t == b {
            o.or(t)
        } else if o == b {
            t.or(o)
        } else {
            match (o, t) {
                (Some(o), Some(t)) => {
                    conflicts.push((path.clone(), Zeroizing::new(t.clone())));
                    Some(o)
                }
                (o, t) => o.or(t),
            }
        };
        plain.push_str(v.map(String::as_str).unwrap_or(""));
        rest = &after[j + 1..];
    }
    plain.push_str(rest);
    let text = seal_with(
        &plain,
        format,
        keyside.key(),
        keyside.header().recipients.clone(),
        (
            keyside.header().data_key.clone(),
            keyside.header().wraps.clone(),
        ),
        &conflicts,
    )?;
    Ok(MergeOutcome {
        text,
        conflicts: conflicts.iter().map(|(p, _)| p.dotted()).collect(),
    })
}

fn sorted(r: &[String]) -> Vec<String> {
    let mut v = r.to_vec();
    v.sort();
    v
}

fn hex_path(h: &str) -> Result<KeyPath> {
    let bad = || SealError::Merge("the merged structure is damaged".into());
    if !h.len().is_multiple_of(2) {
        return Err(bad());
    }
    let bytes = (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(h.get(i..i + 2).ok_or_else(bad)?, 16).map_err(|_| bad()))
        .collect::<Result<Vec<u8>>>()?;
    KeyPath::from_aad(&bytes).ok_or_else(bad)
}
