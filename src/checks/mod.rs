//! Checks turn a target and a store into named results `{name, ok, detail}`. A check that
//! cannot run (store unreachable, access denied) is a failed check with the error in its
//! detail — never a crash — so the report is always written.

use serde::{Deserialize, Serialize};

pub mod dry_run;
pub mod format;
pub mod orchestrate;
pub mod restore;
pub mod retention;
pub mod stream;

pub use orchestrate::{CheckRequest, database_urls, execute, run, select_targets};

/// One named check of one target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

impl CheckResult {
    pub fn pass(name: &str, detail: impl Into<String>) -> Self {
        CheckResult {
            name: name.to_string(),
            ok: true,
            detail: detail.into(),
        }
    }

    pub fn fail(name: &str, detail: impl Into<String>) -> Self {
        CheckResult {
            name: name.to_string(),
            ok: false,
            detail: detail.into(),
        }
    }

    pub fn new(name: &str, ok: bool, detail: impl Into<String>) -> Self {
        CheckResult {
            name: name.to_string(),
            ok,
            detail: detail.into(),
        }
    }
}
