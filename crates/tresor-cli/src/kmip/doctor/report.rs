//! The doctor's report: one row per check (ok, FAIL with a hint, or skip), printed as a
//! table or as JSON.

use serde_json::json;

/// One checked step.
#[derive(Debug, Clone)]
struct Row {
    check: &'static str,
    status: Status,
    detail: String,
    hint: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Ok,
    Fail,
    Skip,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Fail => "FAIL",
            Status::Skip => "skip",
        }
    }
}

#[derive(Default)]
pub(super) struct Report {
    rows: Vec<Row>,
}

impl Report {
    pub(super) fn ok(&mut self, check: &'static str, detail: impl Into<String>) {
        self.rows.push(Row {
            check,
            status: Status::Ok,
            detail: detail.into(),
            hint: None,
        });
    }
    pub(super) fn fail(
        &mut self,
        check: &'static str,
        detail: impl Into<String>,
        hint: impl Into<String>,
    ) {
        self.rows.push(Row {
            check,
            status: Status::Fail,
            detail: detail.into(),
            hint: Some(hint.into()),
        });
    }
    pub(super) fn skip(&mut self, checks: &[&'static str], why: &str) {
        for c in checks {
            self.rows.push(Row {
                check: c,
                status: Status::Skip,
                detail: format!("not run: {why}"),
                hint: None,
            });
        }
    }
    pub(super) fn failed(&self) -> bool {
        self.rows.iter().any(|r| r.status == Status::Fail)
    }
}

pub(super) fn print(r: &Report, as_json: bool) {
    if as_json {
        let rows: Vec<_> = r
            .rows
            .iter()
            .map(|x| {
                json!({
                    "check": x.check,
                    "status": x.status.as_str().to_ascii_lowercase(),
                    "detail": x.detail,
                    "hint": x.hint,
                })
            })
            .collect();
        println!("{}", json!({"ok": !r.failed(), "checks": rows}));
        return;
    }
    let w = r
        .rows
        .iter()
        .map(|x| x.check.len())
        .max()
        .unwrap_or(5)
        .max(5);
    println!("{:w$}  {:6}  DETAIL", "CHECK", "RESULT");
    for x in &r.rows {
        println!("{:w$}  {:6}  {}", x.check, x.status.as_str(), x.detail);
        if let Some(h) = &x.hint {
            println!("{:w$}  {:6}  hint: {h}", "", "");
        }
    }
}
