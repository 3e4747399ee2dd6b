//! Comparing a received batch item with the expected one (the rules are in
//! `vectors_engine.rs`), binding the placeholders the server fills.

use tresor_kmip::enums::Operation;
use tresor_kmip::{Tag, Ttlv, Value};

use super::{
    Bindings, Mismatch, NOW_TOLERANCE, Session, is_placeholder_str, placeholder_bytes, show,
    tag_name,
};

/// Tags whose runs of siblings may come in any order.
fn unordered_member(t: Tag) -> bool {
    [
        Tag::ATTRIBUTE,
        Tag::UNIQUE_IDENTIFIER,
        Tag::ATTRIBUTE_NAME,
        Tag::ATTRIBUTE_REFERENCE,
    ]
    .contains(&t)
}

/// Structures whose members may come in any order (KMIP 2.x attribute containers).
fn unordered_struct(t: Tag) -> bool {
    [
        Tag::ATTRIBUTES,
        Tag::COMMON_ATTRIBUTES,
        Tag::PRIVATE_KEY_ATTRIBUTES,
        Tag::PUBLIC_KEY_ATTRIBUTES,
    ]
    .contains(&t)
}

/// How to compare inside one batch item.
#[derive(Debug, Clone, Copy, Default)]
struct Ctx {
    /// Byte Strings and Big Integers are random: same type and length suffice.
    random: bool,
    /// The server may return attributes beyond the expected ones.
    extra_attributes: bool,
}

impl Session {
    pub(super) fn check_item(
        &mut self,
        req: Option<&Ttlv>,
        e: &Ttlv,
        s: &Ttlv,
        g: &Ttlv,
        path: &str,
        last_uid: &Option<String>,
    ) -> Result<(), Mismatch> {
        let op = e.find(Tag::OPERATION).and_then(Ttlv::as_enumeration);
        let req_payload = req.and_then(|r| r.find(Tag::REQUEST_PAYLOAD));
        let req_uid = req_payload
            .and_then(|p| p.find(Tag::UNIQUE_IDENTIFIER))
            .and_then(Ttlv::as_text)
            .map(str::to_owned)
            .or_else(|| last_uid.clone());
        // Locate's Located Items is optional (KMIP 1.3+: a server may always return it);
        // the vectors leave it out.
        let stripped;
        let mut got_payload = g.find(Tag::RESPONSE_PAYLOAD);
        if let Some(p) = got_payload.filter(|p| {
            op == Some(Operation::LOCATE.0)
                && p.find(Tag::LOCATED_ITEMS).is_some()
                && e.find(Tag::RESPONSE_PAYLOAD)
                    .is_none_or(|ep| ep.find(Tag::LOCATED_ITEMS).is_none())
        }) {
            stripped = Ttlv::structure(
                p.tag,
                p.items()
                    .iter()
                    .filter(|c| c.tag != Tag::LOCATED_ITEMS)
                    .cloned()
                    .collect(),
            );
            got_payload = Some(&stripped);
        }
        let server_iv = got_payload.is_some_and(|p| p.find(Tag::IV_COUNTER_NONCE).is_some())
            && req_payload.is_some_and(|p| p.find(Tag::IV_COUNTER_NONCE).is_none());
        let about_generated = req_uid.as_ref().is_some_and(|u| self.generated.contains(u))
            || got_payload
                .and_then(|p| p.find(Tag::UNIQUE_IDENTIFIER))
                .and_then(Ttlv::as_text)
                .is_some_and(|u| self.generated.contains(u));
        let ctx = Ctx {
            random: about_generated || server_iv || op == Some(Operation::RNG_RETRIEVE.0),
            extra_attributes: op == Some(Operation::GET_ATTRIBUTES.0)
                && req_payload.is_some_and(|p| {
                    p.find(Tag::ATTRIBUTE_NAME).is_none()
                        && p.find(Tag::ATTRIBUTE_REFERENCE).is_none()
                }),
        };
        let Value::Structure(e_items) = &e.value else {
            return Err(Mismatch {
                path: path.to_owned(),
                expected: show(e),
                got: show(g),
            });
        };
        let empty = Vec::new();
        let s_items = match &s.value {
            Value::Structure(v) => v,
            _ => &empty,
        };
        for tag in [
            Tag::OPERATION,
            Tag::UNIQUE_BATCH_ITEM_ID,
            Tag::RESULT_STATUS,
            Tag::RESULT_REASON,
        ] {
            let ev = e.find(tag);
            let gv = g.find(tag);
            if ev != gv {
                // Say why the server failed: its Result Reason and Message.
                let mut got = gv.map_or("nothing".into(), show);
                if tag == Tag::RESULT_STATUS || tag == Tag::RESULT_REASON {
                    for t in [Tag::RESULT_REASON, Tag::RESULT_MESSAGE] {
                        if let Some(x) = g.find(t).filter(|_| t != tag) {
                            got.push_str(&format!(" ({})", show(x)));
                        }
                    }
                }
                return Err(Mismatch {
                    path: format!("{path}/{}", tag_name(tag)),
                    expected: ev.map_or("nothing".into(), show),
                    got,
                });
            }
        }
        if e.find(Tag::RESULT_MESSAGE).is_some() && g.find(Tag::RESULT_MESSAGE).is_none() {
            return Err(Mismatch {
                path: format!("{path}/ResultMessage"),
                expected: "a ResultMessage".into(),
                got: "nothing".into(),
            });
        }
        let ep = e_items.iter().position(|c| c.tag == Tag::RESPONSE_PAYLOAD);
        // A Query answer describes the server (its operations, object types, vendor): the
        // vectors hold the reference server's; ours is checked by the server's own tests.
        if op == Some(Operation::QUERY.0) {
            return Ok(());
        }
        match (ep, got_payload) {
            (None, None) => {}
            (Some(i), Some(gp)) => {
                let sp = s_items.get(i).unwrap_or(&e_items[i]);
                let mut b = self.bindings.clone();
                cmp(
                    &e_items[i],
                    sp,
                    gp,
                    &format!("{path}/ResponsePayload"),
                    ctx,
                    &mut b,
                )?;
                self.bindings = b;
            }
            // An empty expected payload and none received (or the reverse) are the same.
            (Some(i), None) if e_items[i].items().is_empty() => {}
            (None, Some(gp)) if gp.items().is_empty() => {}
            (ei, gp) => {
                return Err(Mismatch {
                    path: format!("{path}/ResponsePayload"),
                    expected: ei.map_or("nothing".into(), |i| show(&e_items[i])),
                    got: gp.map_or("nothing".into(), show),
                });
            }
        }
        // Objects the server generated: their material and everything derived is random.
        if [
            Operation::CREATE.0,
            Operation::CREATE_KEY_PAIR.0,
            Operation::RE_KEY.0,
            Operation::RE_KEY_KEY_PAIR.0,
            Operation::DERIVE_KEY.0,
        ]
        .contains(&op.unwrap_or(0))
        {
            if let Some(p) = got_payload {
                for tag in [
                    Tag::UNIQUE_IDENTIFIER,
                    Tag::PRIVATE_KEY_UNIQUE_IDENTIFIER,
                    Tag::PUBLIC_KEY_UNIQUE_IDENTIFIER,
                ] {
                    if let Some(u) = p.find(tag).and_then(Ttlv::as_text) {
                        self.generated.insert(u.to_owned());
                    }
                }
            }
        }
        Ok(())
    }
}

fn mismatch(path: &str, e: &Ttlv, g: &Ttlv) -> Mismatch {
    Mismatch {
        path: path.to_owned(),
        expected: show(e),
        got: show(g),
    }
}

/// The key that pairs an expected with a received member of an unordered run: its tag, and
/// for a 1.x `Attribute` its name.
fn member_key(t: &Ttlv) -> (Tag, Option<String>) {
    let name = if t.tag == Tag::ATTRIBUTE {
        t.find(Tag::ATTRIBUTE_NAME)
            .and_then(Ttlv::as_text)
            .map(str::to_owned)
    } else {
        None
    };
    (t.tag, name)
}

/// Compares `e` (with its `$NOW`-shifted twin `s`) to `g`, binding placeholders in `b`.
fn cmp(
    e: &Ttlv,
    s: &Ttlv,
    g: &Ttlv,
    path: &str,
    ctx: Ctx,
    b: &mut Bindings,
) -> Result<(), Mismatch> {
    if e.tag != g.tag || e.value.item_type() != g.value.item_type() {
        return Err(mismatch(path, e, g));
    }
    // Which random number generator the server uses is its own (the vectors name the
    // reference server's ANSI X9.31): present, any content.
    if e.tag == Tag::RANDOM_NUMBER_GENERATOR
        || (e.tag == Tag::ATTRIBUTE
            && member_key(e).1.as_deref() == Some("Random Number Generator"))
    {
        return Ok(());
    }
    match (&e.value, &g.value) {
        (Value::Structure(ei), Value::Structure(gi)) => {
            let empty = Vec::new();
            let si = match &s.value {
                Value::Structure(v) if v.len() == ei.len() => v,
                _ => &empty,
            };
            cmp_children(e.tag, ei, si, gi, path, ctx, b)
        }
        (Value::TextString(et), Value::TextString(gt)) => {
            if is_placeholder_str(et) {
                match b.text.get(et) {
                    Some(v) if v == gt => Ok(()),
                    Some(v) => Err(Mismatch {
                        path: path.to_owned(),
                        expected: format!("{et} (= {v:?})"),
                        got: show(g),
                    }),
                    None => {
                        b.text.insert(et.clone(), gt.clone());
                        Ok(())
                    }
                }
            } else if et == gt {
                Ok(())
            } else {
                Err(mismatch(path, e, g))
            }
        }
        (Value::ByteString(eb), Value::ByteString(gb)) => {
            if placeholder_bytes(eb).is_some() {
                match b.bytes.get(eb) {
                    Some(v) if v == gb => Ok(()),
                    Some(_) => Err(mismatch(path, e, g)),
                    None => {
                        b.bytes.insert(eb.clone(), gb.clone());
                        Ok(())
                    }
                }
            } else if eb == gb || (ctx.random && eb.len() == gb.len()) {
                if ctx.random {
                    b.random_by_tag.insert(g.tag.value(), gb.clone());
                }
                Ok(())
            } else {
                Err(mismatch(path, e, g))
            }
        }
        (Value::BigInteger(eb), Value::BigInteger(gb)) => {
            if eb == gb || ctx.random {
                Ok(())
            } else {
                Err(mismatch(path, e, g))
            }
        }
        (Value::DateTime(ev), Value::DateTime(gv)) => {
            let from_now = s.value != e.value;
            if ev == gv || (from_now && (ev - gv).abs() <= NOW_TOLERANCE) {
                Ok(())
            } else {
                Err(mismatch(path, e, g))
            }
        }
        (ev, gv) => {
            if ev == gv {
                Ok(())
            } else {
                Err(mismatch(path, e, g))
            }
        }
    }
}

fn cmp_children(
    parent: Tag,
    ei: &[Ttlv],
    si: &[Ttlv],
    gi: &[Ttlv],
    path: &str,
    ctx: Ctx,
    b: &mut Bindings,
) -> Result<(), Mismatch> {
    let shifted = |i: usize| si.get(i).unwrap_or(&ei[i]);
    let child_path = |items: &[Ttlv], i: usize| {
        let tag = items[i].tag;
        let n = items[..i].iter().filter(|c| c.tag == tag).count();
        let many = items.iter().filter(|c| c.tag == tag).count() > 1;
        if many {
            format!("{path}/{}[{n}]", tag_name(tag))
        } else {
            format!("{path}/{}", tag_name(tag))
        }
    };
    if unordered_struct(parent) {
        return cmp_multiset(
            &(0..ei.len()).collect::<Vec<_>>(),
            ei,
            si,
            gi,
            &(0..gi.len()).collect::<Vec<_>>(),
            path,
            ctx,
            b,
            ctx.extra_attributes,
        );
    }
    // Ordered, except that runs of unordered members compare as multisets.
    let (mut i, mut j) = (0, 0);
    while i < ei.len() {
        let tag = ei[i].tag;
        if unordered_member(tag) {
            let e_run: Vec<usize> = (i..ei.len()).take_while(|&k| ei[k].tag == tag).collect();
            let g_run: Vec<usize> = (j..gi.len()).take_while(|&k| gi[k].tag == tag).collect();
            let extra = ctx.extra_attributes && tag == Tag::ATTRIBUTE;
            cmp_multiset(&e_run, ei, si, gi, &g_run, path, ctx, b, extra)?;
            i += e_run.len();
            j += g_run.len();
            continue;
        }
        let Some(g) = gi.get(j) else {
            return Err(Mismatch {
                path: child_path(ei, i),
                expected: show(&ei[i]),
                got: "nothing".into(),
            });
        };
        cmp(&ei[i], shifted(i), g, &child_path(ei, i), ctx, b)?;
        i += 1;
        j += 1;
    }
    if let Some(g) = gi.get(j) {
        return Err(Mismatch {
            path: child_path(gi, j),
            expected: "nothing".into(),
            got: show(g),
        });
    }
    Ok(())
}

/// Matches the expected members `e_idx` with the received `g_idx` in any order.
#[allow(clippy::too_many_arguments)]
fn cmp_multiset(
    e_idx: &[usize],
    ei: &[Ttlv],
    si: &[Ttlv],
    gi: &[Ttlv],
    g_idx: &[usize],
    path: &str,
    ctx: Ctx,
    b: &mut Bindings,
    allow_extra: bool,
) -> Result<(), Mismatch> {
    let mut used = vec![false; g_idx.len()];
    for &k in e_idx {
        let e = &ei[k];
        let s = si.get(k).unwrap_or(e);
        let p = format!("{path}/{}", show_key(e));
        let mut found = false;
        for (u, &gk) in g_idx.iter().enumerate() {
            if used[u] {
                continue;
            }
            let mut trial = b.clone();
            if cmp(e, s, &gi[gk], &p, ctx, &mut trial).is_ok() {
                *b = trial;
                used[u] = true;
                found = true;
                break;
            }
        }
        if !found {
            // Report against the received member of the same kind, if any.
            let key = member_key(e);
            let same = g_idx
                .iter()
                .enumerate()
                .find(|(u, gk)| !used[*u] && member_key(&gi[**gk]) == key);
            return Err(match same {
                Some((_, &gk)) => {
                    let mut trial = b.clone();
                    cmp(e, s, &gi[gk], &p, ctx, &mut trial)
                        .err()
                        .unwrap_or_else(|| mismatch(&p, e, &gi[gk]))
                }
                None => Mismatch {
                    path: p,
                    expected: show(e),
                    got: "nothing".into(),
                },
            });
        }
    }
    if !allow_extra {
        if let Some(u) = used.iter().position(|x| !x) {
            let g = &gi[g_idx[u]];
            return Err(Mismatch {
                path: format!("{path}/{}", show_key(g)),
                expected: "nothing".into(),
                got: show(g),
            });
        }
    }
    Ok(())
}

/// A path element for an unordered member: the tag, and the 1.x attribute name.
fn show_key(t: &Ttlv) -> String {
    match member_key(t) {
        (tag, Some(name)) => format!("{}[{name}]", tag_name(tag)),
        (tag, None) => tag_name(tag),
    }
}
