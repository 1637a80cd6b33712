//! The `command` engine: the decompressed backup is piped into the user's command (through
//! [`process::run`], so in bounded memory); the exit code decides. The command gets a cleared
//! environment plus what it inherits from dr-action's own (`env::INHERITED`), so a restore script never sees the
//! runner's tokens.

use std::path::Path;

use super::engine::{EngineOutcome, Restored};
use crate::checks::stream::ContentReader;
use crate::process::{self, Program};
use crate::report::Check;
use crate::units::short_size;

/// What the `command` engine leaves: nothing to query, as the command consumed the stream.
pub struct Consumed;

impl Restored for Consumed {
    fn command_env(&self) -> Vec<(String, String)> {
        Vec::new()
    }
}

/// The `command` engine: the stream goes into the user's command; exit 0 is a restore.
pub async fn restore(
    argv: Option<&[String]>,
    cwd: &Path,
    inherited: &[(String, String)],
    content: &mut ContentReader,
) -> EngineOutcome {
    let Some(argv) = argv.filter(|a| !a.is_empty()) else {
        return EngineOutcome::failed(
            "engine: command needs `restore.command`, e.g. [\"./scripts/restore.sh\"]",
        );
    };
    let program = Program {
        cwd: Some(cwd),
        ..Program::new(argv, inherited.to_vec())
    };
    let shown = argv.join(" ");
    let check = match process::run(&program, Some(content)).await {
        Err(e) => Check::fail("restore", e),
        Ok(ran) if ran.status.success() => {
            let note = if ran.stopped_reading {
                " (it stopped reading early)"
            } else {
                ""
            };
            Check::pass(
                "restore",
                format!("`{shown}` read {} and exited 0{note}", short_size(ran.fed)),
            )
        }
        Ok(ran) => Check::fail(
            "restore",
            format!(
                "`{shown}` failed after reading {}: {}",
                short_size(ran.fed),
                ran.describe()
            ),
        ),
    };
    let restored = check.ok.then(|| Box::new(Consumed) as Box<dyn Restored>);
    EngineOutcome {
        checks: vec![check],
        restored,
    }
}
