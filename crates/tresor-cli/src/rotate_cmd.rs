//! `tresor rotate`, `tresor rotator set|list|rm`, `tresor list --due`, and the periodic
//! rotation `tresor kmip serve --rotate-due-every` runs: the CLI side of tresor-rotate.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use serde_json::json;
use tresor_rotate::{
    Clock, FixedClock, Outcome, RotateError, Rotations, RotatorConfig, RotatorEntry, RotatorKind,
    SystemClock, ValuePolicy, format_duration, parse_duration,
};
use tresor_vault::Vault;

use crate::cli::JsonFlag;
use crate::output;

const ROTATE_HELP: &str = "\
Examples:
  tresor rotate myapp:prod:DB_PASSWORD          # now: generate, apply, verify, make current
  tresor rotate --resume                        # after a crash or a failed step
  tresor rotate --due                           # what --every says is due (cron, systemd timer)
  tresor list --due --json

Each step is recorded in the rotation journal in the same store transaction as its data:
the new value is stored as a pending version (never returned by get/run/env), given to the
service, checked there, then made current. Killed at any point, 'tresor rotate --resume'
finishes the rotation so that the vault's current value is the one the service accepts. A
failed step leaves the old value current and names the step. Every rotation is in the audit
log (rotator, outcome, versions). TRESOR_ROTATE_CLOCK=UNIX_SECONDS replaces the clock (to
check schedules and grace periods ahead of time).

Exit codes:
  0  success
  1  no such secret, or no rotator attached
  2  an error (a step failed, an unfinished rotation, bad input)";

const SET_HELP: &str = "\
Examples:
  tresor rotator set myapp:prod:DB_PASSWORD postgres --dsn-secret myapp:prod:ADMIN_DSN --role app --every 30d
  tresor rotator set myapp:prod:DB_URL postgres --dsn-secret myapp:prod:ADMIN_DSN --role app --two-roles --grace 1h
  tresor rotator set myapp:prod:AWS_KEY aws-iam --user deploy --every 90d --grace 1h --hook 'systemctl reload myapp'
  tresor rotator set myapp:prod:TOKEN exec --command /usr/local/bin/rotate-token --length 40 --alphabet hex

postgres: ALTER ROLE … PASSWORD through the admin connection string kept in another secret
(sent as a SCRAM verifier), verified by logging in as the role. PostgreSQL keeps one password
per role: the old one is refused as soon as the new one is applied; with --two-roles the login
roles ROLE_a and ROLE_b take turns (the secret holds a URL naming one), and the previous one
works until --grace ends.
aws-iam: the secret holds {\"Version\":1,\"AccessKeyId\":…,\"SecretAccessKey\":…} (the
credential_process format); CreateAccessKey, STS GetCallerIdentity with the new key, and
DeleteAccessKey of the old one after --grace (the user never holds more than two keys).
exec: COMMAND generate|apply|verify|retire, the name in TRESOR_SECRET_NAME, values on stdin
(apply, verify: the new; retire: the old); 'generate' may print the value (else the policy
makes one). Steps may run twice after a crash: make them idempotent.
--hook runs through /bin/sh after each rotation with TRESOR_SECRET_NAME,
TRESOR_SECRET_VERSION and TRESOR_ROTATOR set; it never gets the value.";

/// `tresor rotate` flags.
#[derive(Args, Debug)]
#[command(after_help = ROTATE_HELP)]
pub struct RotateArgs {
    /// The secret to rotate (APP:ENV:KEY); with --resume, only this one.
    #[arg(required_unless_present_any = ["resume", "due"], conflicts_with = "due")]
    pub name: Option<String>,
    /// Finish interrupted rotations (from the step their journal reached), retry failed
    /// ones, retire old values whose grace period ended, run pending hooks.
    #[arg(long, conflicts_with = "due")]
    pub resume: bool,
    /// Rotate every secret whose schedule (--every) is due, and retire old values whose grace
    /// period ended.
    #[arg(long)]
    pub due: bool,
    #[command(flatten)]
    pub out: JsonFlag,
}

/// `tresor rotator …`.
#[derive(Subcommand, Debug)]
pub enum RotatorCommand {
    /// Attach a rotator to a secret (replacing the one attached, if any).
    #[command(after_help = SET_HELP)]
    Set(SetArgs),
    /// List the attached rotators with their schedule and last rotation.
    #[command(after_help = "Examples:\n  tresor rotator list\n  tresor rotator list --json")]
    List {
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Detach the rotator of a secret (the secret and its versions stay).
    #[command(after_help = "Examples:\n  tresor rotator rm myapp:prod:DB_PASSWORD")]
    Rm {
        /// The secret (APP:ENV:KEY).
        name: String,
        #[command(flatten)]
        out: JsonFlag,
    },
}

/// `tresor rotator set NAME KIND …`.
#[derive(Args, Debug)]
pub struct SetArgs {
    /// The secret (APP:ENV:KEY).
    pub name: String,
    #[command(subcommand)]
    pub kind: KindArgs,
}

/// The rotator kinds.
#[derive(Subcommand, Debug)]
pub enum KindArgs {
    /// A PostgreSQL role's password.
    #[command(after_help = SET_HELP)]
    Postgres {
        /// The secret holding an admin connection string (postgres://ADMIN:PW@HOST:PORT/DB).
        #[arg(long, value_name = "APP:ENV:KEY")]
        dsn_secret: String,
        /// The role whose password the secret is (with --two-roles: the group role).
        #[arg(long, value_name = "NAME")]
        role: String,
        /// Dual credentials: alternate between login roles ROLE_a and ROLE_b (created as
        /// members of ROLE); the secret holds postgres://ROLE_x:PASSWORD@HOST:PORT/DB, and the
        /// previous login keeps working until --grace ends.
        #[arg(long)]
        two_roles: bool,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// An AWS IAM user's access key.
    #[command(after_help = SET_HELP)]
    AwsIam {
        /// The IAM user.
        #[arg(long, value_name = "NAME")]
        user: String,
        /// IAM and STS endpoint (default AWS; e.g. a moto or LocalStack URL).
        #[arg(long, value_name = "URL")]
        endpoint: Option<String>,
        /// Region STS calls are signed for.
        #[arg(long, default_value = "us-east-1")]
        region: String,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// A command run once per step.
    #[command(after_help = SET_HELP)]
    Exec {
        /// The command (an executable file).
        #[arg(long, value_name = "PATH")]
        command: PathBuf,
        #[command(flatten)]
        common: CommonArgs,
    },
}

/// Options every rotator kind takes.
#[derive(Args, Debug)]
pub struct CommonArgs {
    /// Rotate every DURATION (90s, 15m, 12h, 30d, 2w) with 'tresor rotate --due'.
    #[arg(long, value_name = "DURATION")]
    pub every: Option<String>,
    /// How long the old value stays valid at the service before it is retired (default 1h
    /// for aws-iam and postgres --two-roles, else 0; a single PostgreSQL role has one
    /// password, replaced at once).
    #[arg(long, value_name = "DURATION")]
    pub grace: Option<String>,
    /// A command run (by /bin/sh) after each rotation, with the secret's name in
    /// TRESOR_SECRET_NAME (never its value).
    #[arg(long, value_name = "CMD")]
    pub hook: Option<String>,
    /// Length of generated values.
    #[arg(long, default_value_t = 32)]
    pub length: usize,
    /// Characters of generated values: alnum, hex, symbols, or the characters themselves.
    #[arg(long, default_value = "alnum")]
    pub alphabet: String,
    #[command(flatten)]
    pub out: JsonFlag,
}

/// The clock schedules use: `TRESOR_ROTATE_CLOCK` (Unix seconds) if set, else the system's.
fn clock() -> Result<Arc<dyn Clock>> {
    match std::env::var("TRESOR_ROTATE_CLOCK") {
        Ok(s) if !s.is_empty() => match s.trim().parse::<i64>() {
            Ok(t) => Ok(Arc::new(FixedClock(t))),
            Err(_) => bail!(RotateError::Invalid(format!(
                "TRESOR_ROTATE_CLOCK='{s}' is not Unix seconds"
            ))),
        },
        _ => Ok(Arc::new(SystemClock)),
    }
}

/// Library errors to anyhow, the store's kept as themselves (their exit codes and hints).
fn err(e: RotateError) -> anyhow::Error {
    match e {
        RotateError::Store(s) => s.into(),
        e => e.into(),
    }
}

pub(crate) fn rotations(v: &Vault) -> Result<Rotations<'_>> {
    Ok(Rotations::new(v.store()).with_clock(clock()?))
}

/// `tresor rotator …`.
pub fn rotator(v: &Vault, c: RotatorCommand, out: &mut dyn Write) -> Result<ExitCode> {
    let r = rotations(v)?;
    match c {
        RotatorCommand::Set(a) => {
            let (kind, common) = match a.kind {
                KindArgs::Postgres {
                    dsn_secret,
                    role,
                    two_roles,
                    common,
                } => (
                    RotatorKind::Postgres {
                        dsn_secret,
                        role,
                        two_roles,
                    },
                    common,
                ),
                KindArgs::AwsIam {
                    user,
                    endpoint,
                    region,
                    common,
                } => (
                    RotatorKind::AwsIam {
                        user,
                        endpoint,
                        region,
                    },
                    common,
                ),
                KindArgs::Exec { command, common } => {
                    let path = std::fs::canonicalize(&command).map_err(|e| {
                        RotateError::Invalid(format!(
                            "--command {}: {e}; give the path of an executable file",
                            command.display()
                        ))
                    })?;
                    (
                        RotatorKind::Exec {
                            command: path.to_string_lossy().into_owned(),
                        },
                        common,
                    )
                }
            };
            let every = common
                .every
                .as_deref()
                .map(parse_duration)
                .transpose()
                .map_err(err)?;
            let grace = match (&common.grace, &kind) {
                (Some(g), _) => parse_duration(g).map_err(err)?,
                (None, RotatorKind::AwsIam { .. })
                | (
                    None,
                    RotatorKind::Postgres {
                        two_roles: true, ..
                    },
                ) => 3_600,
                _ => 0,
            };
            if common.hook.as_deref().is_some_and(|h| h.trim().is_empty()) {
                bail!(RotateError::Invalid("--hook is empty".into()));
            }
            let policy = ValuePolicy::new(common.length, &common.alphabet).map_err(err)?;
            let cfg = RotatorConfig {
                kind,
                every,
                grace,
                hook: common.hook,
                policy,
                since: 0,
            };
            r.set(&a.name, cfg.clone()).map_err(err)?;
            if common.out.json {
                output::json(out, &json!({"name": a.name, "rotator": cfg}))?;
            } else {
                writeln!(
                    out,
                    "{}: {} ({}){}",
                    a.name,
                    cfg.kind.name(),
                    cfg.kind.target(),
                    every
                        .map(|e| format!(", every {}", format_duration(e)))
                        .unwrap_or_default()
                )?;
            }
            Ok(ExitCode::SUCCESS)
        }
        RotatorCommand::List { out: j } => {
            let list = r.list().map_err(err)?;
            print_entries(out, &list, j.json)?;
            Ok(ExitCode::SUCCESS)
        }
        RotatorCommand::Rm { name, out: j } => {
            let removed = r.remove(&name).map_err(err)?;
            if j.json {
                output::json(out, &json!({"name": name, "removed": removed}))?;
            } else if removed {
                writeln!(out, "{name}: rotator removed")?;
            }
            if !removed {
                bail!(RotateError::NoRotator(name));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn print_entries(out: &mut dyn Write, list: &[RotatorEntry], json: bool) -> Result<()> {
    if json {
        output::json(out, &serde_json::to_value(list)?)?;
        return Ok(());
    }
    for e in list {
        let next = match e.due_at {
            Some(_) if e.due => "due now".to_owned(),
            Some(t) => format!("next {}", output::date(t)),
            None => "no schedule".to_owned(),
        };
        let last = match e.journal.last_rotated {
            Some(t) => format!("last {}", output::date(t)),
            None => "never rotated".into(),
        };
        let phase = match e.journal.phase {
            tresor_rotate::Phase::Idle => String::new(),
            tresor_rotate::Phase::Failed => format!(
                ", FAILED at {}",
                e.journal.failed_step.map(|s| s.as_str()).unwrap_or("?")
            ),
            p => format!(", unfinished ({})", p.as_str()),
        };
        writeln!(
            out,
            "{}  {} ({})  v{}  {next}, {last}{phase}",
            e.name,
            e.config.kind.name(),
            e.config.kind.target(),
            e.current_version
        )?;
    }
    Ok(())
}

/// `tresor list --due`.
pub fn list_due(v: &Vault, json: bool, out: &mut dyn Write) -> Result<ExitCode> {
    let due = rotations(v)?.due().map_err(err)?;
    print_entries(out, &due, json)?;
    Ok(ExitCode::SUCCESS)
}

fn print_outcome(out: &mut dyn Write, o: &Outcome) -> Result<()> {
    if o.from_version != o.to_version {
        write!(
            out,
            "rotated {} ({}): v{} -> v{}",
            o.name, o.rotator, o.from_version, o.to_version
        )?;
    } else {
        write!(out, "{} ({}): nothing to rotate", o.name, o.rotator)?;
    }
    if let Some(r) = o.retired {
        write!(out, ", retired v{r}")?;
    }
    if o.hook_ran {
        write!(out, ", hook ran")?;
    }
    writeln!(out)?;
    Ok(())
}

/// `tresor rotate NAME | --resume [NAME] | --due`.
pub fn rotate(v: &Vault, a: RotateArgs, out: &mut dyn Write) -> Result<ExitCode> {
    let r = rotations(v)?;
    let results: Vec<(String, tresor_rotate::Result<Outcome>)> = match (&a.name, a.resume, a.due) {
        (Some(n), false, _) => {
            let o = r.rotate(n).map_err(err)?;
            if a.out.json {
                output::json(out, &serde_json::to_value(&o)?)?;
            } else {
                print_outcome(out, &o)?;
            }
            return Ok(ExitCode::SUCCESS);
        }
        (Some(n), true, _) => vec![(n.clone(), r.resume(n))],
        (None, true, _) => r.resume_all().map_err(err)?,
        (None, _, _) => r.rotate_due().map_err(err)?,
    };
    report(out, results, a.out.json)
}

/// Prints what each rotation did; errors go to stderr, and make the exit code 2.
fn report(
    out: &mut dyn Write,
    results: Vec<(String, tresor_rotate::Result<Outcome>)>,
    json: bool,
) -> Result<ExitCode> {
    let mut failed = 0;
    let mut rows = Vec::new();
    for (name, r) in results {
        match r {
            Ok(o) => {
                if !json {
                    print_outcome(out, &o)?;
                }
                rows.push(json!({"name": name, "ok": true, "outcome": o}));
            }
            Err(e) => {
                failed += 1;
                eprintln!("error: {e}");
                if let Some(h) = e.hint() {
                    eprintln!("hint: {h}");
                }
                rows.push(json!({"name": name, "ok": false, "error": e.to_string()}));
            }
        }
    }
    if json {
        output::json(out, &serde_json::Value::Array(rows))?;
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// `tresor kmip serve --rotate-due-every DURATION`: a thread rotating due secrets (and
/// retiring old values whose grace ended) every DURATION, for as long as the server runs.
/// Acts as the store's actor, the server's local owner: rotators owned by anyone else
/// (a KMIP client) are refused by tresor-rotate.
///
/// # Errors
/// An invalid DURATION.
pub fn spawn_due_rotation(store: Arc<tresor_store::Store>, every: &str) -> Result<()> {
    let secs = parse_duration(every).map_err(err)?;
    if secs == 0 {
        bail!(RotateError::Invalid(
            "--rotate-due-every must be at least 1s".into()
        ));
    }
    eprintln!("kmip: rotating due secrets every {}", format_duration(secs));
    std::thread::Builder::new()
        .name("rotate-due".into())
        .spawn(move || {
            loop {
                std::thread::sleep(Duration::from_secs(secs));
                let clock = match clock() {
                    Ok(c) => c,
                    Err(e) => {
                        eprintln!("rotate: {e}");
                        continue;
                    }
                };
                let r = Rotations::new(&store).with_clock(clock);
                match r.rotate_due() {
                    Ok(results) => {
                        for (name, r) in results {
                            match r {
                                Ok(o) => eprintln!(
                                    "rotate: {name} ({}): v{} -> v{}",
                                    o.rotator, o.from_version, o.to_version
                                ),
                                Err(e) => eprintln!("rotate: error: {e}"),
                            }
                        }
                    }
                    Err(e) => eprintln!("rotate: error: {e}"),
                }
            }
        })?;
    Ok(())
}
