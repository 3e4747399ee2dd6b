//! The rotation engine: attaches rotators, runs rotations step by step with the journal
//! written in the same store transaction as each step, resumes them after a crash, and
//! finds what is due.

use std::sync::Arc;

use serde::Serialize;
use tresor_crypto::SecretBytes;
use tresor_store::{AttrCond, NewObject, ObjectMeta, ObjectType, Query, Store, StoreError, Txn};

use crate::config::{Journal, Phase, Retire, RotatorConfig, RotatorKind};
use crate::error::{Result, RotateError, Step, StepFailure};
use crate::record::{
    check_companion, config_of, default_factory, is_secret, journal_of, json_err, read_secret,
};
use crate::rotator::{Rotator, StepCtx};
use crate::schedule::{Clock, SystemClock, due_at};

/// Name prefix of the companion object that carries a secret's rotator and journal.
pub const COMPANION_PREFIX: &str = tresor_store::secret_name::ROTATOR_PREFIX;
/// `tresor.role` of a companion object.
pub const COMPANION_ROLE: &str = "rotator";
/// Attribute: the uid of the secret a companion rotates.
pub const ATTR_TARGET: &str = tresor_store::secret_name::ROTATES;
/// Attribute: the [`RotatorConfig`].
pub const ATTR_CONFIG: &str = tresor_store::secret_name::ROTATOR;
/// Attribute: the [`Journal`].
pub const ATTR_JOURNAL: &str = tresor_store::secret_name::ROTATION;

pub(crate) use tresor_store::secret_name::ROLE;

/// Seconds after which `--due` takes over a rotation another process left unfinished.
const UNFINISHED_LEASE: i64 = 600;

/// One attached rotator, as `rotator list` and `list --due` show it.
#[derive(Clone, Debug, Serialize)]
pub struct RotatorEntry {
    /// The secret (`APP:ENV:KEY`).
    pub name: String,
    /// Its rotator.
    pub config: RotatorConfig,
    /// Its journal.
    pub journal: Journal,
    /// The secret's current version.
    pub current_version: u32,
    /// When it is next due (Unix seconds), if scheduled.
    pub due_at: Option<i64>,
    /// Whether it is due now.
    pub due: bool,
}

/// What one rotation (or resume) did.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Outcome {
    /// The secret.
    pub name: String,
    /// `postgres`, `aws-iam`, `exec`.
    pub rotator: String,
    /// The version current before.
    pub from_version: u32,
    /// The version made current (equal to `from_version` when nothing was rotated).
    pub to_version: u32,
    /// An old version retired at the service by this call.
    pub retired: Option<u32>,
    /// The hook ran.
    pub hook_ran: bool,
}

/// Builds the rotator for a kind; the CLI passes [`default_factory`].
pub type Factory = dyn Fn(&Store, &RotatorKind) -> Result<Box<dyn Rotator>> + Send + Sync;

/// A loaded rotator: the secret, its companion, config and journal.
struct Loaded {
    name: String,
    secret: ObjectMeta,
    companion: ObjectMeta,
    config: RotatorConfig,
    journal: Journal,
}

/// Attaches, runs and schedules rotations on one store.
pub struct Rotations<'s> {
    store: &'s Store,
    clock: Arc<dyn Clock>,
    factory: Box<Factory>,
}

impl std::fmt::Debug for Rotations<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rotations").finish_non_exhaustive()
    }
}

pub(crate) fn bad_record(name: &str, why: impl Into<String>) -> RotateError {
    RotateError::BadRecord {
        name: name.to_owned(),
        why: why.into(),
    }
}

/// Aborts a store transaction with a reason kept aside (the closure can only return a
/// store error).
fn abort(slot: &mut Option<RotateError>, e: RotateError) -> StoreError {
    *slot = Some(e);
    StoreError::Invalid {
        uid: String::new(),
        why: "rotation aborted".into(),
    }
}

impl<'s> Rotations<'s> {
    /// Rotations on `store` with the system clock and the built-in rotators.
    pub fn new(store: &'s Store) -> Self {
        Rotations {
            store,
            clock: Arc::new(SystemClock),
            factory: Box::new(default_factory),
        }
    }

    /// Uses `clock` for schedules and grace periods.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Builds rotators with `factory` instead of the built-in one.
    pub fn with_factory(mut self, factory: Box<Factory>) -> Self {
        self.factory = factory;
        self
    }

    fn now(&self) -> i64 {
        self.clock.now()
    }

    /// The companion's name for a secret.
    pub fn companion_name(name: &str) -> String {
        format!("{COMPANION_PREFIX}{name}")
    }

    /// Attaches (or replaces) the rotator of secret `name`. Refused while a rotation of it
    /// is unfinished.
    ///
    /// # Errors
    /// [`RotateError::NotFound`] if `name` is not a vault secret, [`RotateError::InProgress`].
    pub fn set(&self, name: &str, mut config: RotatorConfig) -> Result<()> {
        let secret = self.secret(name)?;
        if let RotatorKind::Postgres { dsn_secret, .. } = &config.kind {
            if dsn_secret == name {
                return Err(RotateError::Invalid(
                    "--dsn-secret must be another secret (an admin connection string), not the one rotated".into(),
                ));
            }
            read_secret(self.store, dsn_secret)?;
        }
        if let RotatorKind::Postgres {
            two_roles: true, ..
        } = &config.kind
            && !config
                .policy
                .alphabet
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
        {
            return Err(RotateError::Invalid(
                "with --two-roles the password goes in a URL: use --alphabet alnum or hex".into(),
            ));
        }
        if let RotatorKind::AwsIam { .. } = &config.kind {
            // The key it rotates signs its own rotation: it must be readable now.
            let v = read_secret(self.store, name)?;
            let ok = serde_json::from_slice::<serde_json::Value>(v.expose()).is_ok_and(|j| {
                j.get("AccessKeyId").is_some_and(|x| x.is_string())
                    && j.get("SecretAccessKey").is_some_and(|x| x.is_string())
            });
            if !ok {
                return Err(RotateError::Invalid(format!(
                    "secret '{name}' is not an access key in the credential_process format: store {{\"Version\":1,\"AccessKeyId\":\"AKIA…\",\"SecretAccessKey\":\"…\"}} first"
                )));
            }
        }
        config.since = self.now();
        let cname = Self::companion_name(name);
        let mut refused = None;
        let r = self.store.write(|tx| {
            match tx.get_by_name(&cname)? {
                Some(c) => {
                    let j = journal_of(&c).unwrap_or_default();
                    if !matches!(j.phase, Phase::Idle | Phase::Failed) {
                        return Err(abort(
                            &mut refused,
                            RotateError::InProgress {
                                name: name.to_owned(),
                                phase: j.phase.as_str().into(),
                                started: j.started,
                            },
                        ));
                    }
                    if c.owner != self.store.actor() {
                        return Err(abort(
                            &mut refused,
                            bad_record(name, format!("its rotator belongs to '{}'", c.owner)),
                        ));
                    }
                    let cfg = serde_json::to_value(&config).map_err(json_err)?;
                    let uid = secret.uid.clone();
                    tx.update(&c.uid, &format!("rotator set {name}"), move |m| {
                        m.attributes.insert(ATTR_CONFIG.into(), cfg);
                        m.attributes.insert(ATTR_TARGET.into(), uid.into());
                        Ok(())
                    })?;
                }
                None => {
                    let mut n = NewObject::new(ObjectType::SecretData);
                    n.names.push(cname.clone());
                    n.attributes.insert(ROLE.into(), COMPANION_ROLE.into());
                    n.attributes
                        .insert(ATTR_TARGET.into(), secret.uid.clone().into());
                    n.attributes.insert(
                        ATTR_CONFIG.into(),
                        serde_json::to_value(&config).map_err(json_err)?,
                    );
                    n.attributes.insert(
                        ATTR_JOURNAL.into(),
                        serde_json::to_value(Journal::default()).map_err(json_err)?,
                    );
                    tx.create(n)?;
                }
            }
            tx.record(
                "rotator-set",
                Some(&secret.uid),
                format!(
                    "{name} rotator={} {}",
                    config.kind.name(),
                    config.kind.target()
                ),
            );
            Ok(())
        });
        match (refused, r) {
            (Some(e), _) => Err(e),
            (None, r) => Ok(r?),
        }
    }

    /// Detaches the rotator of `name`; returns false if there was none.
    ///
    /// # Errors
    /// [`RotateError::InProgress`] while a rotation is unfinished.
    pub fn remove(&self, name: &str) -> Result<bool> {
        let cname = Self::companion_name(name);
        let Some(c) = self.store.get_by_name(&cname)? else {
            return Ok(false);
        };
        let j = journal_of(&c).unwrap_or_default();
        if !matches!(j.phase, Phase::Idle | Phase::Failed) {
            return Err(RotateError::InProgress {
                name: name.to_owned(),
                phase: j.phase.as_str().into(),
                started: j.started,
            });
        }
        self.store.write(|tx| {
            tx.delete(&c.uid)?;
            tx.record("rotator-rm", c.attr_str(ATTR_TARGET), name.to_owned());
            Ok(())
        })?;
        Ok(true)
    }

    /// Every attached rotator, sorted by secret name.
    ///
    /// # Errors
    /// Store errors; [`RotateError::BadRecord`] for a companion that is not tresor's.
    pub fn list(&self) -> Result<Vec<RotatorEntry>> {
        let q = Query {
            name_prefix: Some(COMPANION_PREFIX.into()),
            attrs: vec![AttrCond::Eq(ROLE.into(), COMPANION_ROLE.into())],
            ..Query::default()
        };
        let now = self.now();
        let mut out = Vec::new();
        for c in self.store.locate(&q)? {
            let Some(name) = c.name().and_then(|n| n.strip_prefix(COMPANION_PREFIX)) else {
                continue;
            };
            // A rotator whose secret was removed (or removed and added again) is left out:
            // `rotate NAME` and `rotator set` say why; the others still run.
            let l = match self.load(name) {
                Ok(l) => l,
                Err(RotateError::NotFound(_)) => continue,
                Err(RotateError::BadRecord { .. })
                    if c.attr_str(ROLE) == Some(COMPANION_ROLE)
                        && c.owner == self.store.actor() =>
                {
                    continue;
                }
                Err(e) => return Err(e),
            };
            let due_at = due_at(l.config.every, l.journal.last_rotated, l.config.since);
            out.push(RotatorEntry {
                name: l.name,
                current_version: l.secret.current_version,
                due: due_at.is_some_and(|d| d <= now),
                due_at,
                config: l.config,
                journal: l.journal,
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// The rotators due now.
    ///
    /// # Errors
    /// As [`Rotations::list`].
    pub fn due(&self) -> Result<Vec<RotatorEntry>> {
        Ok(self.list()?.into_iter().filter(|e| e.due).collect())
    }

    fn secret(&self, name: &str) -> Result<ObjectMeta> {
        match self.store.get_by_name(name)? {
            Some(m) if is_secret(&m) => Ok(m),
            _ => Err(RotateError::NotFound(name.to_owned())),
        }
    }

    fn load(&self, name: &str) -> Result<Loaded> {
        let secret = self.secret(name)?;
        let companion = self
            .store
            .get_by_name(&Self::companion_name(name))?
            .ok_or_else(|| RotateError::NoRotator(name.to_owned()))?;
        check_companion(name, &companion, &secret, self.store.actor())?;
        Ok(Loaded {
            name: name.to_owned(),
            config: config_of(&companion).map_err(|w| bad_record(name, w))?,
            journal: journal_of(&companion).map_err(|w| bad_record(name, w))?,
            secret,
            companion,
        })
    }

    /// One journal step in one store transaction: re-reads the companion, checks the phase is
    /// still one of `expect` (another process may have moved it), lets `f` change the
    /// journal (and write material), and stores the journal.
    fn step_tx<T>(
        &self,
        l: &Loaded,
        expect: &[Phase],
        mut f: impl FnMut(&mut Txn<'_>, &mut Journal) -> tresor_store::Result<T>,
    ) -> Result<T> {
        let mut refused = None;
        let r = self.store.write(|tx| {
            // The secret is touched first, so a store without multi-object transactions (S3
            // applies a batch object by object, in this order) writes the secret's new version
            // before the journal that says it is current: a crash in between is resumed.
            tx.get(&l.secret.uid)?;
            let c = tx
                .get(&l.companion.uid)?
                .ok_or_else(|| StoreError::NotFound(l.companion.uid.clone()))?;
            let mut j = journal_of(&c).map_err(|w| abort(&mut refused, bad_record(&l.name, w)))?;
            if !expect.contains(&j.phase) {
                return Err(abort(
                    &mut refused,
                    RotateError::InProgress {
                        name: l.name.clone(),
                        phase: j.phase.as_str().into(),
                        started: j.started,
                    },
                ));
            }
            let out = f(tx, &mut j)?;
            let phase = j.phase.as_str();
            let jv = serde_json::to_value(&j).map_err(json_err)?;
            tx.update(
                &l.companion.uid,
                &format!("rotation {} {phase}", l.name),
                move |m| {
                    m.attributes.insert(ATTR_JOURNAL.into(), jv);
                    Ok(())
                },
            )?;
            Ok(out)
        });
        match (refused, r) {
            (Some(e), _) => Err(e),
            (None, r) => Ok(r?),
        }
    }

    /// Rotates secret `name` now: generate, store as pending, apply, verify, make current;
    /// then retire the old value if its grace period is zero, and run the hook. An old value
    /// from the previous rotation still in its grace period is retired first (services such
    /// as IAM hold at most two credentials).
    ///
    /// # Errors
    /// [`RotateError::Step`] naming the failed step (the old value stays current),
    /// [`RotateError::InProgress`] if an earlier rotation is unfinished.
    pub fn rotate(&self, name: &str) -> Result<Outcome> {
        let l = self.load(name)?;
        if !matches!(l.journal.phase, Phase::Idle | Phase::Failed) {
            return Err(RotateError::InProgress {
                name: name.to_owned(),
                phase: l.journal.phase.as_str().into(),
                started: l.journal.started,
            });
        }
        let mut rotator = (self.factory)(self.store, &l.config.kind)?;
        let mut retired = None;
        if l.journal.retire.is_some() {
            retired = self.retire(&l, rotator.as_mut(), true)?;
        }
        if l.journal.hook_pending {
            self.hook(&l)?;
        }
        let l = self.load(name)?;
        let from = l.secret.current_version;
        let started = self.now();
        self.step_tx(&l, &[Phase::Idle, Phase::Failed], |tx, j| {
            j.phase = Phase::Generating;
            j.from_version = from;
            j.pending_version = 0;
            j.started = started;
            j.failed_step = None;
            j.failed_from = None;
            j.error = None;
            tx.record(
                "rotate-start",
                Some(&l.secret.uid),
                format!("{name} rotator={} from=v{from}", l.config.kind.name()),
            );
            Ok(())
        })?;
        let mut o = self.drive(name, rotator.as_mut())?;
        o.retired = o.retired.or(retired);
        Ok(o)
    }

    /// Finishes every unfinished rotation (from the step its journal reached), retries failed
    /// ones, retires old values whose grace period is over and runs pending hooks. Returns
    /// what each did, or its error; rotators with nothing to do are left out.
    ///
    /// # Errors
    /// Store errors while listing; each rotator's own error is in its slot.
    pub fn resume_all(&self) -> Result<Vec<(String, Result<Outcome>)>> {
        self.resume_older_than(0)
    }

    /// As [`Rotations::resume_all`], but leaves alone the rotations started less than
    /// `lease` seconds ago (another process may be driving them) and failed ones (a due
    /// rotation starts over). Retirements and hooks are done whatever their age.
    fn resume_older_than(&self, lease: i64) -> Result<Vec<(String, Result<Outcome>)>> {
        let now = self.now();
        let mut out = Vec::new();
        for e in self.list()? {
            let j = &e.journal;
            let unfinished = match j.phase {
                Phase::Idle => false,
                Phase::Failed => lease == 0,
                _ => lease == 0 || now.saturating_sub(j.started) >= lease,
            };
            let busy = unfinished
                || (j.phase == Phase::Idle && j.hook_pending)
                || (j.phase == Phase::Idle && j.retire.as_ref().is_some_and(|r| r.after <= now));
            if busy {
                let r = self.resume(&e.name);
                out.push((e.name, r));
            }
        }
        Ok(out)
    }

    /// Finishes the rotation of `name` (see [`Rotations::resume_all`]).
    ///
    /// # Errors
    /// As [`Rotations::rotate`].
    pub fn resume(&self, name: &str) -> Result<Outcome> {
        let l = self.load(name)?;
        let mut rotator = (self.factory)(self.store, &l.config.kind)?;
        if l.journal.phase == Phase::Failed {
            let back = match l.journal.failed_from {
                Some(p @ (Phase::Pending | Phase::Applied | Phase::Verified))
                    if l.journal.pending_version > 0 =>
                {
                    p
                }
                _ => Phase::Generating,
            };
            self.step_tx(&l, &[Phase::Failed], |_, j| {
                j.phase = back;
                j.failed_step = None;
                j.failed_from = None;
                j.error = None;
                Ok(())
            })?;
        }
        let l = self.load(name)?;
        if l.journal.phase == Phase::Idle {
            let retired = self.retire(&l, rotator.as_mut(), false)?;
            let hook_ran = l.journal.hook_pending && self.hook(&l)?;
            let v = l.secret.current_version;
            return Ok(Outcome {
                name: name.to_owned(),
                rotator: l.config.kind.name().into(),
                from_version: v,
                to_version: v,
                retired,
                hook_ran,
            });
        }
        self.drive(name, rotator.as_mut())
    }

    /// Rotates every due secret; returns each one's outcome or error. Old values whose grace
    /// period ended are retired too.
    ///
    /// # Errors
    /// Store errors while listing.
    pub fn rotate_due(&self) -> Result<Vec<(String, Result<Outcome>)>> {
        let mut out = Vec::new();
        let due: Vec<String> = self.due()?.into_iter().map(|e| e.name).collect();
        for name in &due {
            out.push((name.clone(), self.rotate(name)));
        }
        // Retirements (and hooks) due on rotators not rotated now, and rotations a crashed
        // process left unfinished over 10 minutes ago.
        for (name, r) in self.resume_older_than(UNFINISHED_LEASE)? {
            if !due.contains(&name) {
                out.push((name, r));
            }
        }
        Ok(out)
    }

    /// Runs the rotation of `name` from the phase its journal is in to the end.
    fn drive(&self, name: &str, rotator: &mut dyn Rotator) -> Result<Outcome> {
        loop {
            let l = self.load(name)?;
            let j = &l.journal;
            let current = self.store.material(&l.secret, j.from_version)?;
            let cx = StepCtx {
                name,
                current: &current,
                policy: &l.config.policy,
            };
            match j.phase {
                Phase::Generating => {
                    let new = rotator
                        .generate(&cx)
                        .map_err(|why| self.fail(&l, Step::Generate, why))?;
                    let cuid = l.companion.uid.clone();
                    self.step_tx(&l, &[Phase::Generating], |tx, j| {
                        j.pending_version = tx.put_material(&cuid, new.expose())?;
                        j.phase = Phase::Pending;
                        Ok(())
                    })?;
                }
                Phase::Pending => {
                    let new = self.pending_value(&l)?;
                    rotator
                        .apply(&cx, &new)
                        .map_err(|why| self.fail(&l, Step::Apply, why))?;
                    self.step_tx(&l, &[Phase::Pending], |_, j| {
                        j.phase = Phase::Applied;
                        Ok(())
                    })?;
                }
                Phase::Applied => {
                    let new = self.pending_value(&l)?;
                    rotator
                        .verify(&cx, &new)
                        .map_err(|why| self.fail(&l, Step::Verify, why))?;
                    self.step_tx(&l, &[Phase::Applied], |_, j| {
                        j.phase = Phase::Verified;
                        Ok(())
                    })?;
                }
                Phase::Verified => {
                    let new = self.pending_value(&l)?;
                    let suid = l.secret.uid.clone();
                    let now = self.now();
                    let grace = i64::try_from(l.config.grace).unwrap_or(i64::MAX);
                    let has_hook = l.config.hook.is_some();
                    let kind = l.config.kind.name();
                    let from = j.from_version;
                    let cuid = l.companion.uid.clone();
                    let to = self.step_tx(&l, &[Phase::Verified], |tx, j| {
                        let to = tx.put_material(&suid, new.expose())?;
                        // The value now lives in the secret: no second copy stays behind.
                        tx.destroy_material(&cuid, Some(j.pending_version + 1))?;
                        j.phase = Phase::Idle;
                        j.last_rotated = Some(now);
                        j.last_version = Some(to);
                        j.retire = Some(Retire {
                            version: from,
                            after: now.saturating_add(grace),
                        });
                        j.hook_pending = has_hook;
                        j.rotations += 1;
                        tx.record(
                            "rotate",
                            Some(&suid),
                            format!("{name} rotator={kind} outcome=ok versions=v{from}->v{to}"),
                        );
                        Ok(to)
                    })?;
                    let l = self.load(name)?;
                    let retired = self.retire(&l, rotator, false)?;
                    let hook_ran = l.journal.hook_pending && self.hook(&self.load(name)?)?;
                    return Ok(Outcome {
                        name: name.to_owned(),
                        rotator: kind.into(),
                        from_version: from,
                        to_version: to,
                        retired,
                        hook_ran,
                    });
                }
                Phase::Idle | Phase::Failed => {
                    return Err(bad_record(name, "rotation is not under way"));
                }
            }
        }
    }

    fn pending_value(&self, l: &Loaded) -> Result<SecretBytes> {
        if l.journal.pending_version == 0 {
            return Err(bad_record(&l.name, "no pending version recorded"));
        }
        Ok(self
            .store
            .material(&l.companion, l.journal.pending_version)?)
    }

    /// Records a failed step (phase `failed`, the old value current) and returns its error.
    fn fail(&self, l: &Loaded, step: Step, why: StepFailure) -> RotateError {
        let from = l.journal.from_version;
        let reached = l.journal.phase;
        let kind = l.config.kind.name();
        let msg = why.0.clone();
        let suid = l.secret.uid.clone();
        let recorded = self.step_tx(l, &[reached], |tx, j| {
            j.phase = Phase::Failed;
            j.failed_step = Some(step);
            j.failed_from = Some(reached);
            j.error = Some(msg.clone());
            tx.record(
                "rotate",
                Some(&suid),
                format!(
                    "{} rotator={kind} outcome=failed step={step} versions=v{from}",
                    l.name
                ),
            );
            Ok(())
        });
        if let Err(e) = recorded {
            return e;
        }
        RotateError::Step {
            name: l.name.clone(),
            step,
            why,
            state: format!("version {from} (the old value) is still current"),
        }
    }

    /// Retires the old value of the last rotation if its grace period is over (or `early`).
    fn retire(&self, l: &Loaded, rotator: &mut dyn Rotator, early: bool) -> Result<Option<u32>> {
        let Some(r) = l.journal.retire.clone() else {
            return Ok(None);
        };
        if !early && r.after > self.now() {
            return Ok(None);
        }
        let current = self.store.material(&l.secret, 0)?;
        let old = match self.store.material(&l.secret, r.version) {
            Ok(v) => Some(v),
            // A destroyed or missing old version: nothing to hand the service.
            Err(StoreError::NoMaterial { .. }) => None,
            Err(e) => return Err(e.into()),
        };
        if let Some(old) = &old {
            let cx = StepCtx {
                name: &l.name,
                current: &current,
                policy: &l.config.policy,
            };
            rotator.retire(&cx, old).map_err(|why| RotateError::Step {
                name: l.name.clone(),
                step: Step::Retire,
                why,
                state: format!(
                    "version {} (the new value) is current; version {} is not retired yet",
                    l.secret.current_version, r.version
                ),
            })?;
        }
        let kind = l.config.kind.name();
        let suid = l.secret.uid.clone();
        self.step_tx(l, &[Phase::Idle, Phase::Failed], |tx, j| {
            j.retire = None;
            tx.record(
                "rotate-retire",
                Some(&suid),
                format!("{} rotator={kind} retired=v{}", l.name, r.version),
            );
            Ok(())
        })?;
        Ok(Some(r.version))
    }

    /// Runs the hook of the last rotation; true if it ran.
    fn hook(&self, l: &Loaded) -> Result<bool> {
        let Some(h) = &l.config.hook else {
            self.step_tx(l, &[Phase::Idle, Phase::Failed], |_, j| {
                j.hook_pending = false;
                Ok(())
            })?;
            return Ok(false);
        };
        crate::hook::run_hook(h, &l.name, l.secret.current_version, l.config.kind.name()).map_err(
            |why| RotateError::Step {
                name: l.name.clone(),
                step: Step::Hook,
                why,
                state: format!(
                    "version {} (the new value) is current",
                    l.secret.current_version
                ),
            },
        )?;
        self.step_tx(l, &[Phase::Idle, Phase::Failed], |_, j| {
            j.hook_pending = false;
            Ok(())
        })?;
        Ok(true)
    }
}
