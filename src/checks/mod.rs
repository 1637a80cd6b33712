//! Checks turn a target and a store into named results `{name, ok, detail}`. A check that
//! cannot run (store unreachable, access denied) is a failed check with the error in its
//! detail — never a crash — so the report is always written.

pub mod archive;
pub mod dry_run;
pub mod format;
pub mod layers;
pub mod listing;
pub mod orchestrate;
pub mod restore;
pub mod retention;
pub mod set;
pub mod sidecar;
pub mod stream;
pub mod verdicts;
pub mod verify;
pub mod whole;

pub use orchestrate::{CheckRequest, execute, run, secrets, select_targets};
