//! Conformance: `get_many_by_name`, answered in order and in one backend read per chunk
//! of names, through the store and through a transaction.

use std::sync::Arc;

use tresor_crypto::LocalKek;

use crate::{Backend, Query};

use super::{secret, store};

/// A backend counting the calls that read objects or versions (a real backend inside).
struct Counting {
    inner: Arc<dyn Backend>,
    reads: std::sync::atomic::AtomicU64,
}

impl Counting {
    fn count(&self) {
        self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
    fn reads(&self) -> u64 {
        self.reads.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Backend for Counting {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }
    fn get(&self, uid: &str) -> crate::Result<Option<crate::ObjectMeta>> {
        self.count();
        self.inner.get(uid)
    }
    fn get_by_name(&self, name: &str) -> crate::Result<Option<crate::ObjectMeta>> {
        self.count();
        self.inner.get_by_name(name)
    }
    fn get_current_by_name(&self, name: &str) -> crate::Result<Option<crate::Found>> {
        self.count();
        self.inner.get_current_by_name(name)
    }
    fn get_many_by_name(&self, wanted: &[(&str, u32)]) -> crate::Result<Vec<Option<crate::Found>>> {
        self.count();
        self.inner.get_many_by_name(wanted)
    }
    fn version(&self, uid: &str, version: u32) -> crate::Result<Option<crate::SealedVersion>> {
        self.count();
        self.inner.version(uid, version)
    }
    fn versions(&self, uid: &str) -> crate::Result<Vec<crate::SealedVersion>> {
        self.count();
        self.inner.versions(uid)
    }
    fn locate(&self, q: &Query) -> crate::Result<Vec<crate::ObjectMeta>> {
        self.count();
        self.inner.locate(q)
    }
    fn commit(
        &self,
        batch: &crate::Batch,
        signer: &crate::audit::AuditSigner,
    ) -> crate::Result<()> {
        self.inner.commit(batch, signer)
    }
    fn audit(&self, after: u64, limit: usize) -> crate::Result<Vec<crate::AuditEntry>> {
        self.inner.audit(after, limit)
    }
    fn meta_get(&self, key: &str) -> crate::Result<Option<Vec<u8>>> {
        self.inner.meta_get(key)
    }
    fn meta_init(&self, key: &str, value: &[u8]) -> crate::Result<Vec<u8>> {
        self.inner.meta_init(key, value)
    }
    fn count(&self) -> crate::Result<u64> {
        self.inner.count()
    }
    fn dump(&self) -> crate::Result<crate::Dump> {
        self.inner.dump()
    }
    fn replace_all(&self, dump: &crate::Dump) -> crate::Result<()> {
        self.inner.replace_all(dump)
    }
    fn backfill_macs(
        &self,
        mac: &dyn Fn(&crate::ObjectMeta) -> [u8; 32],
        marker: &str,
        note: &crate::audit::AuditDraft,
        signer: &crate::audit::AuditSigner,
    ) -> crate::Result<u64> {
        self.inner.backfill_macs(mac, marker, note, signer)
    }
}

/// `get_many_by_name` answers names, versions (0: current), misses and destroyed material
/// in order; on SQLite and PostgreSQL with one backend read for 1,000 names, through the
/// store and through a transaction (which sees its own writes first).
pub(super) fn many_by_name(b: Arc<dyn Backend>) {
    let sql = matches!(b.kind(), "sqlite" | "postgres");
    let n: usize = if sql { 1000 } else { 20 };
    let counting = Arc::new(Counting {
        inner: b,
        reads: std::sync::atomic::AtomicU64::new(0),
    });
    let kek = Arc::new(LocalKek::generate().unwrap());
    let s = store(counting.clone(), &kek);
    s.write(|tx| {
        for i in 0..n {
            tx.create(secret(&format!("m:dev:K{i:04}"), &format!("v-{i}"), &[]))?;
        }
        Ok(())
    })
    .unwrap();
    let two = s.get_by_name("m:dev:K0001").unwrap().unwrap();
    s.write(|tx| tx.put_material(&two.uid, b"v-1-second"))
        .unwrap();
    let names: Vec<String> = (0..n).map(|i| format!("m:dev:K{i:04}")).collect();
    let mut wanted: Vec<(&str, u32)> = names.iter().map(|n| (n.as_str(), 0)).collect();
    wanted.push(("m:dev:K0001", 1));
    wanted.push(("m:dev:K0001", 3));
    wanted.push(("m:dev:MISSING", 0));
    wanted.push(("m:dev:K0002", 1));
    wanted.push(("m:dev:K0000", 0));
    let before = counting.reads();
    let got = s.read_many_by_name(&wanted).unwrap();
    let reads = counting.reads() - before;
    if sql {
        assert_eq!(reads, 1, "{n} names took {reads} backend reads");
    }
    let value = |i: usize| {
        got[i]
            .as_ref()
            .and_then(|(_, v)| v.as_ref())
            .map(|v| String::from_utf8(v.expose().to_vec()).unwrap())
    };
    assert_eq!(value(0).as_deref(), Some("v-0"));
    assert_eq!(value(1).as_deref(), Some("v-1-second"));
    assert_eq!(value(n - 1), Some(format!("v-{}", n - 1)));
    assert_eq!(value(n).as_deref(), Some("v-1"));
    assert!(
        got[n + 1]
            .as_ref()
            .is_some_and(|(m, v)| m.uid == two.uid && v.is_none())
    );
    assert!(got[n + 2].is_none());
    assert_eq!(value(n + 3).as_deref(), Some("v-2"));
    assert_eq!(value(n + 4).as_deref(), Some("v-0"));
    // A transaction: its own writes first, the rest in one read.
    let mut tx = s.begin();
    tx.put_material(&two.uid, b"v-1-third").unwrap();
    let before = counting.reads();
    let got = tx.get_many_by_name(&wanted).unwrap();
    let reads = counting.reads() - before;
    if sql {
        // One read for the untouched names, one for the version of the touched object
        // the transaction did not write (K0001 v1).
        assert!(reads <= 3, "{reads} backend reads");
    }
    let open = |i: usize| {
        got[i].as_ref().and_then(|(m, v)| {
            v.as_ref()
                .map(|v| String::from_utf8(s.open_sealed(m, v).unwrap().expose().to_vec()).unwrap())
        })
    };
    assert_eq!(open(0).as_deref(), Some("v-0"));
    assert_eq!(open(1).as_deref(), Some("v-1-third"));
    assert_eq!(open(n).as_deref(), Some("v-1"));
    assert!(got[n + 2].is_none());
    // A name asked twice is answered twice.
    assert_eq!(open(n + 4).as_deref(), Some("v-0"));
    drop(tx);
    // Destroyed material reads as no material.
    s.write(|tx| tx.destroy_material(&two.uid, None)).unwrap();
    let got = s.read_many_by_name(&[("m:dev:K0001", 0)]).unwrap();
    assert!(got[0].as_ref().is_some_and(|(_, v)| v.is_none()));
}
