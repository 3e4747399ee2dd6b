//! Every vault command, driven through the real binary, one module per group of commands
//! (in `tests/vault/commands/`).

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

#[path = "commands/audit.rs"]
mod audit;
#[path = "commands/env.rs"]
mod env;
#[path = "commands/init.rs"]
mod init;
#[path = "commands/output.rs"]
mod output;
#[path = "commands/secrets.rs"]
mod secrets;
#[path = "commands/users.rs"]
mod users;
