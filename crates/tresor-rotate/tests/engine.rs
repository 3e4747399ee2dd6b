//! The engine on a real SQLite vault, with a rotator that looks at the vault from inside each
//! step: the journal records every step before the next one starts, the pending value is
//! never what the vault returns until it is made current, and a second rotation cannot start
//! while one is unfinished.

use std::sync::{Arc, Mutex};

use tresor_crypto::SecretBytes;
use tresor_rotate::{
    FixedClock, Phase, RotateError, Rotations, Rotator, RotatorConfig, RotatorKind, Step, StepCtx,
    StepFailure, ValuePolicy,
};
use tresor_vault::{InitOptions, Vault};

/// What the rotator saw at each step: (step, journal phase, vault value).
type Seen = Arc<Mutex<Vec<(String, String, Vec<u8>)>>>;

struct Watching {
    vault_dir: std::path::PathBuf,
    seen: Seen,
    fail: Option<&'static str>,
}

impl Watching {
    fn look(&self, step: &str) {
        let v = Vault::open_default_at(&self.vault_dir);
        let value = v.get("app:dev:TOKEN").unwrap().expose().clone();
        let list = Rotations::new(v.store()).list().unwrap();
        let phase = list[0].journal.phase.as_str().to_owned();
        self.seen.lock().unwrap().push((step.into(), phase, value));
    }

    fn maybe_fail(&self, step: &str) -> Result<(), StepFailure> {
        if self.fail == Some(step) {
            return Err(StepFailure::new(format!(
                "{step} refused by the test service"
            )));
        }
        Ok(())
    }
}

trait OpenAt {
    fn open_default_at(dir: &std::path::Path) -> Vault;
}

impl OpenAt for Vault {
    fn open_default_at(dir: &std::path::Path) -> Vault {
        Vault::open(dir, &mut || unreachable!("no passphrase")).unwrap()
    }
}

impl Rotator for Watching {
    fn kind(&self) -> &'static str {
        "exec"
    }
    fn generate(&mut self, cx: &StepCtx<'_>) -> Result<SecretBytes, StepFailure> {
        self.look("generate");
        self.maybe_fail("generate")?;
        Ok(SecretBytes::new(
            format!("{}-next", cx.current.as_str().unwrap()).into_bytes(),
        ))
    }
    fn apply(&mut self, _: &StepCtx<'_>, _: &SecretBytes) -> Result<(), StepFailure> {
        self.look("apply");
        self.maybe_fail("apply")
    }
    fn verify(&mut self, _: &StepCtx<'_>, _: &SecretBytes) -> Result<(), StepFailure> {
        self.look("verify");
        self.maybe_fail("verify")
    }
    fn retire(&mut self, _: &StepCtx<'_>, old: &SecretBytes) -> Result<(), StepFailure> {
        self.look("retire");
        assert_eq!(old.expose(), b"v1");
        self.maybe_fail("retire")
    }
}

fn config() -> RotatorConfig {
    RotatorConfig {
        kind: RotatorKind::Exec {
            command: "/bin/true".into(),
        },
        every: Some(86_400),
        grace: 3_600,
        hook: None,
        policy: ValuePolicy::default(),
        since: 0,
    }
}

fn vault() -> (tempfile::TempDir, std::path::PathBuf, Vault) {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("v");
    let v = Vault::init(&dir, InitOptions::default()).unwrap();
    v.add("app", "dev", "TOKEN", b"v1", "str", false).unwrap();
    (d, dir, v)
}

fn factory(
    dir: &std::path::Path,
    seen: &Seen,
    fail: Option<&'static str>,
) -> Box<tresor_rotate::Factory> {
    let dir = dir.to_owned();
    let seen = seen.clone();
    Box::new(move |_, _| {
        Ok(Box::new(Watching {
            vault_dir: dir.clone(),
            seen: seen.clone(),
            fail,
        }) as Box<dyn Rotator>)
    })
}

#[test]
fn each_step_is_journaled_and_the_pending_value_is_never_current() {
    let (_d, dir, v) = vault();
    let seen: Seen = Arc::default();
    let r = Rotations::new(v.store())
        .with_clock(Arc::new(FixedClock(1_000)))
        .with_factory(factory(&dir, &seen, None));
    r.set("app:dev:TOKEN", config()).unwrap();
    let o = r.rotate("app:dev:TOKEN").unwrap();
    assert_eq!((o.from_version, o.to_version, o.retired), (1, 2, None));
    let seen = seen.lock().unwrap().clone();
    let steps: Vec<(&str, &str, &[u8])> = seen
        .iter()
        .map(|(s, p, v)| (s.as_str(), p.as_str(), v.as_slice()))
        .collect();
    assert_eq!(
        steps,
        [
            ("generate", "generating", &b"v1"[..]),
            ("apply", "pending", b"v1"),
            ("verify", "applied", b"v1"),
        ]
    );
    assert_eq!(v.get("app:dev:TOKEN").unwrap().expose(), b"v1-next");
    // The old value waits for its grace period (3600 s) before it is retired.
    let e = &r.list().unwrap()[0];
    assert_eq!(e.journal.phase, Phase::Idle);
    assert_eq!(
        e.journal.retire.as_ref().map(|x| (x.version, x.after)),
        Some((1, 4_600))
    );
    assert_eq!(e.due_at, Some(1_000 + 86_400));
    let later = Rotations::new(v.store())
        .with_clock(Arc::new(FixedClock(4_600)))
        .with_factory(factory(&dir, &Arc::default(), None));
    let done = later.resume_all().unwrap();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].1.as_ref().unwrap().retired, Some(1));
    assert!(later.list().unwrap()[0].journal.retire.is_none());
}

#[test]
fn a_failed_step_keeps_the_old_value_and_blocks_nothing_but_itself() {
    for step in ["generate", "apply", "verify"] {
        let (_d, dir, v) = vault();
        let seen: Seen = Arc::default();
        let r = Rotations::new(v.store()).with_factory(factory(&dir, &seen, Some(step)));
        r.set("app:dev:TOKEN", config()).unwrap();
        match r.rotate("app:dev:TOKEN") {
            Err(RotateError::Step { step: s, state, .. }) => {
                assert_eq!(s.as_str(), step);
                assert!(state.contains("version 1 (the old value) is still current"));
            }
            other => panic!("{step}: {other:?}"),
        }
        assert_eq!(v.get("app:dev:TOKEN").unwrap().expose(), b"v1", "{step}");
        let j = &r.list().unwrap()[0].journal;
        assert_eq!(j.phase, Phase::Failed);
        assert_eq!(j.failed_step.map(Step::as_str), Some(step));
        // Fixed, resume finishes from that step.
        let fixed = Rotations::new(v.store()).with_factory(factory(&dir, &seen, None));
        let out = fixed.resume_all().unwrap();
        assert_eq!(out.len(), 1, "{step}");
        assert_eq!(out[0].1.as_ref().unwrap().to_version, 2, "{step}");
        assert_eq!(v.get("app:dev:TOKEN").unwrap().expose(), b"v1-next");
    }
}

/// A rotator that, at `verify`, tries to start a second rotation of the same secret from
/// another handle on the vault (as a second `tresor rotate` process would).
struct Reentrant {
    vault_dir: std::path::PathBuf,
    second: Arc<Mutex<Option<String>>>,
}

impl Rotator for Reentrant {
    fn kind(&self) -> &'static str {
        "exec"
    }
    fn apply(&mut self, _: &StepCtx<'_>, _: &SecretBytes) -> Result<(), StepFailure> {
        Ok(())
    }
    fn verify(&mut self, _: &StepCtx<'_>, _: &SecretBytes) -> Result<(), StepFailure> {
        let v = Vault::open_default_at(&self.vault_dir);
        let r = Rotations::new(v.store());
        let msg = match r.rotate("app:dev:TOKEN") {
            Ok(_) => "second rotation ran".to_owned(),
            Err(e) => e.to_string(),
        };
        *self.second.lock().unwrap() = Some(msg);
        Ok(())
    }
    fn retire(&mut self, _: &StepCtx<'_>, _: &SecretBytes) -> Result<(), StepFailure> {
        Ok(())
    }
}

#[test]
fn a_second_rotation_cannot_start_while_one_is_unfinished() {
    let (_d, dir, v) = vault();
    let second: Arc<Mutex<Option<String>>> = Arc::default();
    let (d2, s2) = (dir.clone(), second.clone());
    let r = Rotations::new(v.store()).with_factory(Box::new(move |_, _| {
        Ok(Box::new(Reentrant {
            vault_dir: d2.clone(),
            second: s2.clone(),
        }) as Box<dyn Rotator>)
    }));
    r.set("app:dev:TOKEN", config()).unwrap();
    let o = r.rotate("app:dev:TOKEN").unwrap();
    assert_eq!(o.to_version, 2);
    let msg = second.lock().unwrap().clone().unwrap();
    assert!(
        msg.contains("a rotation of 'app:dev:TOKEN' is unfinished (stopped at 'applied'"),
        "{msg}"
    );
    // Only the first rotation happened: one new version, drawn from the policy.
    assert_eq!(v.get("app:dev:TOKEN").unwrap().expose().len(), 32);
    assert_eq!(r.list().unwrap()[0].current_version, 2);
}

#[test]
fn the_pending_copy_is_destroyed_once_the_value_is_current() {
    let (_d, dir, v) = vault();
    let r = Rotations::new(v.store()).with_factory(factory(&dir, &Arc::default(), None));
    r.set("app:dev:TOKEN", config()).unwrap();
    r.rotate("app:dev:TOKEN").unwrap();
    r.rotate("app:dev:TOKEN").unwrap();
    let c = v
        .store()
        .get_by_name("tresor:rotator:app:dev:TOKEN")
        .unwrap()
        .unwrap();
    assert_eq!(c.current_version, 2);
    for version in [1, 2] {
        assert!(
            matches!(
                v.store().material(&c, version),
                Err(tresor_store::StoreError::NoMaterial { .. })
            ),
            "pending copy v{version} is still readable"
        );
    }
    assert_eq!(v.get("app:dev:TOKEN").unwrap().expose(), b"v1-next-next");
}
