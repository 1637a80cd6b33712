//! Checks turn a target and a store into named results `{name, ok, detail}`. A check that
//! cannot run (store unreachable, access denied) is a failed check with the error in its
//! detail — never a crash — so the report is always written.

pub mod dry_run;
pub mod format;
pub mod listing;
pub mod restore;
pub mod retention;
pub mod sidecar;
pub mod stream;
pub mod verdicts;

// The check type is owned by the report; the old name stays for the commands that still use it.
pub use crate::report::Check as CheckResult;
