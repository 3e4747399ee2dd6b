//! Two `tresor kmip serve` processes on one PostgreSQL database: a concurrent workload on
//! both, races between them, and one server killed mid-way.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tresor_kmip::Tag;
use tresor_kmip::enums::{Operation, ResultReason};

use super::support::*;

// ---- the workload -------------------------------------------------------------------------

/// What one client knows about one object of the workload.
#[derive(Clone, Debug)]
struct Record {
    name: String,
    uid: Option<String>,
    /// The last state a success response confirmed (None: the Create was not acknowledged).
    acked: Option<&'static str>,
    /// The state an unanswered request (server killed) may have reached.
    pending: Option<&'static str>,
}

fn target_states(i: usize) -> &'static [(Operation, &'static str)] {
    match i % 4 {
        0 => &[],
        1 => &[(Operation::ACTIVATE, "Active")],
        2 => &[
            (Operation::ACTIVATE, "Active"),
            (Operation::REVOKE, "Deactivated"),
        ],
        _ => &[
            (Operation::ACTIVATE, "Active"),
            (Operation::REVOKE, "Deactivated"),
            (Operation::DESTROY, "Destroyed"),
        ],
    }
}

/// One client thread: `n` objects named `w{t}-{i}`, created, located and moved through
/// their lifecycle; on a transport error (its server killed) it records what is uncertain
/// and moves to `fallback`.
fn worker(
    t: usize,
    n: usize,
    certs: &Path,
    port: u16,
    fallback: u16,
    progress: &AtomicUsize,
) -> Vec<Record> {
    let mut kc = kmip_client(certs, port);
    let mut out = Vec::with_capacity(n);
    let mut switched = false;
    for i in 0..n {
        let name = format!("w{t}-{i}");
        let mut rec = Record {
            name: name.clone(),
            uid: None,
            acked: None,
            pending: None,
        };
        let mut lost = false;
        match kc.call(Operation::CREATE, create_payload(&name)) {
            Ok(item) => {
                assert!(succeeded(&item), "create {name}: {item:?}");
                let u = text_of(&item, Tag::UNIQUE_IDENTIFIER);
                rec.uid = Some(u.clone());
                rec.acked = Some("PreActive");
                match kc.call(Operation::LOCATE, locate_payload(&name)) {
                    Ok(item) => {
                        assert!(succeeded(&item), "locate {name}: {item:?}");
                        assert_eq!(located(&item), vec![u.clone()], "locate {name}");
                    }
                    Err(_) => lost = true,
                }
                if !lost {
                    for (op, to) in target_states(i) {
                        let payload = if *op == Operation::REVOKE {
                            revoke_payload(&u)
                        } else {
                            vec![uid(&u)]
                        };
                        match kc.call(*op, payload) {
                            Ok(item) => {
                                assert!(succeeded(&item), "{op} {name}: {item:?}");
                                rec.acked = Some(to);
                            }
                            Err(_) => {
                                rec.pending = Some(to);
                                lost = true;
                                break;
                            }
                        }
                    }
                }
            }
            Err(_) => {
                rec.pending = Some("PreActive");
                lost = true;
            }
        }
        out.push(rec);
        progress.fetch_add(1, Ordering::SeqCst);
        if lost {
            assert!(!switched, "thread {t}: the fallback server failed too");
            switched = true;
            kc = kmip_client(certs, fallback);
        }
    }
    out
}

#[test]
fn two_servers_one_database() {
    let Some(admin) = admin_url() else { return };
    let url = fresh_db(&admin, "two");
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let certs = certs(h);
    let (va, vb) = two_vaults(h, &url);
    let s1 = spawn_server(h, &va, &url, &certs);
    let mut s2 = spawn_server(h, &vb, &url, &certs);
    let (p1, p2) = (s1.port(), s2.port());
    let (k1, k2) = (kmip_client(&certs, p1), kmip_client(&certs, p2));
    k1.ok(Operation::DISCOVER_VERSIONS, vec![]);
    k2.ok(Operation::DISCOVER_VERSIONS, vec![]);
    let mut secrets: Vec<Vec<u8>> = Vec::new();

    // 1. Same-name Register on both servers at once. KMIP does not require Name values to be
    //    unique: tresor gives the store name (what `tresor list` and the vault use, unique in
    //    the store) to the first object and keeps only the Name attribute on a later one. In
    //    a race the later one is either refused ('name taken', when its operation saw the name
    //    appear mid-request) or registered without the store name (when it saw it at once or
    //    lost at commit and was run again). Either way: exactly one holder of the store name,
    //    every acknowledged object present with its own bytes, nothing else stored.
    let mut pgc = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
    let mut outcomes = [0usize; 2];
    for k in 0..25 {
        let name = format!("race-{k}");
        let (a, b) = (
            format!("race-secret-A-{k}-7c1e9a0b").into_bytes(),
            format!("race-secret-B-{k}-3f5d2e8c").into_bytes(),
        );
        secrets.push(a.clone());
        secrets.push(b.clone());
        let (ra, rb) = race(
            || {
                k1.call(Operation::REGISTER, register_secret_payload(&name, &a))
                    .expect("transport")
            },
            || {
                k2.call(Operation::REGISTER, register_secret_payload(&name, &b))
                    .expect("transport")
            },
        );
        // Each acknowledged Register is one stored object with its own bytes; a refused one
        // left nothing behind.
        let mut acked = Vec::new();
        for (r, bytes) in [(&ra, &a), (&rb, &b)] {
            if succeeded(r) {
                acked.push((text_of(r, Tag::UNIQUE_IDENTIFIER), bytes));
            } else {
                assert_eq!(
                    r.result_reason,
                    Some(ResultReason::ILLEGAL_OPERATION),
                    "{r:?}"
                );
                assert!(
                    r.result_message.as_deref().unwrap_or("").contains("taken"),
                    "{r:?}"
                );
            }
        }
        assert!(!acked.is_empty(), "{name}: neither register succeeded");
        outcomes[acked.len() - 1] += 1;
        let holders: Vec<String> = pgc
            .query("SELECT uid FROM names WHERE name = $1", &[&name])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(holders.len(), 1, "{name}: store name holders {holders:?}");
        assert!(acked.iter().any(|(u, _)| *u == holders[0]), "{name}");
        // Nothing but the acknowledged objects: one create entry and one Name each.
        let creates: i64 = pgc
            .query_one(
                "SELECT count(*) FROM audit WHERE action = 'create' AND detail LIKE 'SecretData%' \
                 AND uid IN (SELECT uid FROM attr_index WHERE attr = 'Name' AND value = $1)",
                &[&name],
            )
            .unwrap()
            .get(0);
        let carriers: i64 = pgc
            .query_one(
                "SELECT count(*) FROM attr_index WHERE attr = 'Name' AND value = $1",
                &[&name],
            )
            .unwrap()
            .get(0);
        assert_eq!(
            (creates, carriers),
            (acked.len() as i64, acked.len() as i64)
        );
        for kc in [&k1, &k2] {
            let mut found = located(&kc.ok(Operation::LOCATE, locate_payload(&name)));
            found.sort();
            let mut want: Vec<String> = acked.iter().map(|(u, _)| u.clone()).collect();
            want.sort();
            assert_eq!(found, want, "{name}: Locate by Name");
            for (u, bytes) in &acked {
                let got = kc.ok(Operation::GET, vec![uid(u)]);
                let mut material = Vec::new();
                byte_strings(got.payload.as_ref().unwrap(), &mut material);
                assert!(
                    material.contains(bytes),
                    "{name}: each object keeps its bytes"
                );
            }
        }
    }
    eprintln!(
        "register races: {} with one refused ('name taken'), {} with both registered",
        outcomes[0], outcomes[1]
    );

    // 2. Activate (server 1) against Destroy (server 2) on the same pre-active object, and
    //    Destroy against Destroy: one wins, the state machine holds.
    for k in 0..20 {
        let u = text_of(
            &k1.ok(Operation::CREATE, create_payload(&format!("ad-{k}"))),
            Tag::UNIQUE_IDENTIFIER,
        );
        let (act, des) = race(
            || {
                k1.call(Operation::ACTIVATE, vec![uid(&u)])
                    .expect("transport")
            },
            || {
                k2.call(Operation::DESTROY, vec![uid(&u)])
                    .expect("transport")
            },
        );
        assert!(
            succeeded(&act) ^ succeeded(&des),
            "ad-{k}: activate {act:?} / destroy {des:?}"
        );
        let want = if succeeded(&act) {
            "Active"
        } else {
            "Destroyed"
        };
        assert_eq!(kmip_state(&k1, &u), want);
        assert_eq!(kmip_state(&k2, &u), want);

        let u = text_of(
            &k2.ok(Operation::CREATE, create_payload(&format!("dd-{k}"))),
            Tag::UNIQUE_IDENTIFIER,
        );
        let (d1, d2) = race(
            || {
                k1.call(Operation::DESTROY, vec![uid(&u)])
                    .expect("transport")
            },
            || {
                k2.call(Operation::DESTROY, vec![uid(&u)])
                    .expect("transport")
            },
        );
        assert!(succeeded(&d1) ^ succeeded(&d2), "dd-{k}: {d1:?} / {d2:?}");
        assert_eq!(kmip_state(&k1, &u), "Destroyed");
    }

    // 3. ReKey of the same key on both servers: no lost update — the old key links to every
    //    replacement a server acknowledged, and the name lives on exactly one of them.
    for k in 0..10 {
        let name = format!("rk-{k}");
        let old = text_of(
            &k1.ok(Operation::CREATE, create_payload(&name)),
            Tag::UNIQUE_IDENTIFIER,
        );
        k1.ok(Operation::ACTIVATE, vec![uid(&old)]);
        let (r1, r2) = race(
            || {
                k1.call(Operation::RE_KEY, vec![uid(&old)])
                    .expect("transport")
            },
            || {
                k2.call(Operation::RE_KEY, vec![uid(&old)])
                    .expect("transport")
            },
        );
        let new: BTreeSet<String> = [&r1, &r2]
            .into_iter()
            .filter(|r| succeeded(r))
            .map(|r| text_of(r, Tag::UNIQUE_IDENTIFIER))
            .collect();
        assert!(
            !new.is_empty(),
            "{name}: no re-key succeeded: {r1:?} / {r2:?}"
        );
        let attrs: String = pgc
            .query_one("SELECT attrs FROM objects WHERE uid=$1", &[&old])
            .unwrap()
            .get(0);
        let attrs: serde_json::Value = serde_json::from_str(&attrs).unwrap();
        let replacements: BTreeSet<String> = attrs["Link"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|l| {
                l["LinkType"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("Replacement"))
            })
            .filter_map(|l| l["LinkedObjectIdentifier"].as_str().map(str::to_owned))
            .collect();
        assert_eq!(
            replacements, new,
            "{name}: replacement links of the old key"
        );
        let holders = located(&k2.ok(Operation::LOCATE, locate_payload(&name)));
        assert_eq!(holders.len(), 1, "{name}: {holders:?}");
        assert!(
            new.contains(&holders[0]),
            "{name}: the name moved to a replacement"
        );
    }

    // 4. Four clients, two per server, 2,000 objects; server 2 is killed (SIGKILL) mid-run and
    //    its clients move to server 1.
    const PER_THREAD: usize = 500;
    let progress = AtomicUsize::new(0);
    let killed = AtomicBool::new(false);
    let records: Vec<Record> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let (port, fallback) = if t < 2 { (p1, p1) } else { (p2, p1) };
                let (certs, progress) = (&certs, &progress);
                s.spawn(move || worker(t, PER_THREAD, certs, port, fallback, progress))
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(900);
        while progress.load(Ordering::SeqCst) < 4 * PER_THREAD * 2 / 5 {
            assert!(Instant::now() < deadline, "workload stalled");
            std::thread::sleep(Duration::from_millis(20));
        }
        s2.kill();
        killed.store(true, Ordering::SeqCst);
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert!(killed.load(Ordering::SeqCst));
    assert_eq!(records.len(), 4 * PER_THREAD);
    let uncertain = records.iter().filter(|r| r.pending.is_some()).count();
    eprintln!(
        "workload: {} objects, {uncertain} in flight when server 2 died",
        records.len()
    );

    // Every acknowledged operation is there, in exactly one consistent state.
    let rows = pgc
        .query("SELECT uid, state, name FROM objects", &[])
        .unwrap();
    let by_uid: BTreeMap<String, (String, Option<String>)> = rows
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2))))
        .collect();
    let mut by_name: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (u, (_, n)) in &by_uid {
        if let Some(n) = n {
            by_name.entry(n.clone()).or_default().push(u.clone());
        }
    }
    for (n, us) in &by_name {
        assert_eq!(us.len(), 1, "name {n} is held by {us:?}");
    }
    for r in &records {
        match (&r.uid, r.acked) {
            (Some(u), Some(acked)) => {
                let (state, name) = by_uid.get(u).unwrap_or_else(|| panic!("{r:?} lost"));
                assert_eq!(name.as_deref(), Some(r.name.as_str()));
                let ok = state == acked || r.pending.is_some_and(|p| p == state);
                assert!(ok, "{r:?}: stored state {state}");
            }
            (None, _) => {
                // A Create whose answer was lost: there at most once, pre-active.
                let held = by_name.get(&r.name).map_or(0, Vec::len);
                assert!(held <= 1, "{r:?}");
                if held == 1 {
                    assert_eq!(by_uid[&by_name[&r.name][0]].0, "PreActive");
                }
            }
            (Some(_), None) => unreachable!("a uid is only known from an acknowledged create"),
        }
    }
    // Destroyed objects have no material left.
    let sealed: i64 = pgc
        .query_one(
            "SELECT count(*) FROM versions v JOIN objects o ON o.uid = v.uid \
             WHERE o.state = 'Destroyed' AND v.sealed IS NOT NULL",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(sealed, 0);
    // The surviving server agrees with the database (Locate and GetAttributes).
    let k1 = kmip_client(&certs, p1);
    for r in records.iter().step_by(7) {
        let Some(u) = &r.uid else { continue };
        // Locate leaves destroyed objects out unless a Storage Status Mask asks for them.
        let expect = if by_uid[u].0 == "Destroyed" {
            Vec::new()
        } else {
            vec![u.clone()]
        };
        assert_eq!(
            located(&k1.ok(Operation::LOCATE, locate_payload(&r.name))),
            expect,
            "{r:?}"
        );
        assert_eq!(kmip_state(&k1, u), by_uid[u].0, "{r:?}");
    }

    // Key material fetched over KMIP, for the dump check below.
    for r in records
        .iter()
        .filter(|r| r.acked == Some("Active"))
        .take(20)
    {
        let got = k1.ok(Operation::GET, vec![uid(r.uid.as_ref().unwrap())]);
        byte_strings(got.payload.as_ref().unwrap(), &mut secrets);
    }
    let secrets: Vec<Vec<u8>> = secrets.into_iter().filter(|s| s.len() >= 16).collect();
    assert!(secrets.len() >= 60, "collected {} secrets", secrets.len());

    // The audit chain is linear and verifies (the store opened on the same URL).
    let vault =
        tresor_vault::Vault::open(&va, &mut || unreachable!("no passphrase")).expect("open vault");
    let report = vault.store().verify_audit().expect("verify audit");
    assert_eq!(report.first_bad, None, "{report:?}");
    let acked_changes: usize = records
        .iter()
        .filter(|r| r.acked.is_some())
        .map(|r| 1 + target_states(r.name.rsplit('-').next().unwrap().parse().unwrap()).len())
        .sum();
    assert!(
        report.entries as usize >= acked_changes,
        "{} audit entries for {acked_changes} acknowledged changes",
        report.entries
    );
    let seqs: Vec<i64> = pgc
        .query("SELECT seq FROM audit ORDER BY seq", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(seqs.iter().enumerate().all(|(i, s)| *s == i as i64 + 1));

    // PostgreSQL never sees key or secret bytes: a pg_dump holds none of them, raw, hex or
    // base64.
    let dump_bin = pg_dump_bin().expect("pg_dump");
    let out = Command::new(dump_bin).arg(&url).output().expect("pg_dump");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dump = out.stdout;
    assert!(
        dump.windows(6).any(|w| w == b"race-0"),
        "the dump holds the names"
    );
    use base64::Engine as _;
    for s in &secrets {
        let hex: String = s.iter().map(|b| format!("{b:02x}")).collect();
        let b64 = base64::engine::general_purpose::STANDARD.encode(s);
        for needle in [s.as_slice(), hex.as_bytes(), b64.as_bytes()] {
            assert!(
                !dump.windows(needle.len()).any(|w| w == needle),
                "secret bytes found in pg_dump"
            );
        }
    }
    drop(s1);
    drop(s2);
}

/// The key cache of the cryptographic operations across servers: server 1 encrypts and
/// decrypts with a key (so keeps it unsealed), server 2 revokes, then destroys it; server 1
/// refuses each use the new state forbids. A key's cache entry never outlives a change made
/// elsewhere, because every request still reads the key's state from the database.
#[test]
fn a_key_changed_on_one_server_is_refused_by_the_other() {
    let Some(admin) = admin_url() else { return };
    let url = fresh_db(&admin, "keycache");
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let certs = certs(h);
    let (va, vb) = two_vaults(h, &url);
    let s1 = spawn_server(h, &va, &url, &certs);
    let s2 = spawn_server(h, &vb, &url, &certs);
    let (k1, k2) = (
        kmip_client(&certs, s1.port()),
        kmip_client(&certs, s2.port()),
    );
    let u = text_of(
        &k1.ok(Operation::CREATE, create_payload("cached-key")),
        Tag::UNIQUE_IDENTIFIER,
    );
    k1.ok(Operation::ACTIVATE, vec![uid(&u)]);
    let encrypt = || {
        vec![
            uid(&u),
            tresor_kmip::Ttlv::bytes(Tag::DATA, b"sixteen byte msg".to_vec()),
        ]
    };
    let e = k1.ok(Operation::ENCRYPT, encrypt());
    let bytes_of = |tag| {
        e.payload
            .as_ref()
            .and_then(|p| p.find(tag))
            .and_then(tresor_kmip::Ttlv::as_bytes)
            .expect("field")
            .to_vec()
    };
    let decrypt = vec![
        uid(&u),
        tresor_kmip::Ttlv::bytes(Tag::DATA, bytes_of(Tag::DATA)),
        tresor_kmip::Ttlv::bytes(Tag::IV_COUNTER_NONCE, bytes_of(Tag::IV_COUNTER_NONCE)),
        tresor_kmip::Ttlv::bytes(
            Tag::AUTHENTICATED_ENCRYPTION_TAG,
            bytes_of(Tag::AUTHENTICATED_ENCRYPTION_TAG),
        ),
    ];
    k1.ok(Operation::ENCRYPT, encrypt());
    k1.ok(Operation::DECRYPT, decrypt.clone());
    k2.ok(Operation::REVOKE, revoke_payload(&u));
    let refused = k1.call(Operation::ENCRYPT, encrypt()).expect("transport");
    assert!(
        !succeeded(&refused),
        "encrypt after a revoke elsewhere: {refused:?}"
    );
    assert_eq!(
        refused.result_reason,
        Some(ResultReason::WRONG_KEY_LIFECYCLE_STATE),
        "{refused:?}"
    );
    k1.ok(Operation::DECRYPT, decrypt.clone());
    k2.ok(Operation::DESTROY, vec![uid(&u)]);
    let refused = k1.call(Operation::DECRYPT, decrypt).expect("transport");
    assert!(
        !succeeded(&refused),
        "decrypt after a destroy elsewhere: {refused:?}"
    );
}
