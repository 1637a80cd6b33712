//! Exit codes are a contract, decided here and nowhere else: 0 ok, 1 checks ran and something
//! failed, 2 the tool could not do its job, 128 + the signal's number (130 SIGINT, 143 SIGTERM)
//! a run a signal cancelled, once it cleaned up and wrote its report. Errors that mean "checks
//! failed" never travel as `Err`: they are an `Outcome` with code 1. Every `Err` reaching
//! `main` is a code-2 error, and so is output that could not be written — except to a closed
//! pipe: `dr-action plan | head -1` got what it asked for, so the run ends as the command
//! decided, quietly.

use std::io;

/// The command did its job and every check passed.
pub const EXIT_OK: u8 = 0;
/// Checks ran and at least one failed.
pub const EXIT_FAILED: u8 = 1;
/// The tool could not do its job: bad usage, bad config, unreadable input, unwritable output.
pub const EXIT_ERROR: u8 = 2;

/// What a command decided when it did its job; its lines went to the [`crate::output::Sink`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub code: u8,
}

impl Outcome {
    /// Done, nothing failed.
    pub fn ok() -> Self {
        Outcome { code: EXIT_OK }
    }

    /// Done; `ok` says whether the checks passed.
    pub fn checked(ok: bool) -> Self {
        Outcome {
            code: if ok { EXIT_OK } else { EXIT_FAILED },
        }
    }

    /// Done, but a step that was attempted failed (an alert not delivered): the tool did not
    /// fully do its job, which outranks failed checks.
    pub fn step_failed() -> Self {
        Outcome { code: EXIT_ERROR }
    }

    /// Cancelled by a signal, after the cleanup and the report: `code` is 128 + its number.
    pub fn cancelled(code: u8) -> Self {
        Outcome { code }
    }
}

/// Output that could not be written (a full disk, a closed file): the run's lines are lost, so
/// the tool did not do its job even when the command did.
#[derive(Debug, thiserror::Error)]
#[error("writing the output to stdout failed")]
pub struct OutputError(#[source] pub io::Error);

/// The exit code for an error that stopped a command. Every error is "could not do its job";
/// checks that failed are an [`Outcome`], never an error.
pub fn exit_code_for(_err: &anyhow::Error) -> u8 {
    EXIT_ERROR
}

/// How a run ends, from the command's result and the first error writing its output. A closed
/// pipe is not an error: the reader took what it wanted, and the command's own verdict stands.
/// Any other write error turns a finished command into an [`OutputError`]; an error the
/// command returned is the one worth reporting.
pub fn conclude(
    result: anyhow::Result<Outcome>,
    write_error: Option<io::Error>,
) -> anyhow::Result<Outcome> {
    match (result, write_error) {
        (Ok(_), Some(e)) if e.kind() != io::ErrorKind::BrokenPipe => Err(OutputError(e).into()),
        (result, _) => result,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn broken_pipe() -> io::Error {
        io::Error::from(io::ErrorKind::BrokenPipe)
    }

    fn disk_full() -> io::Error {
        io::Error::from_raw_os_error(28)
    }

    #[test]
    fn a_closed_pipe_keeps_the_commands_code() {
        let ok = conclude(Ok(Outcome::ok()), Some(broken_pipe())).unwrap();
        assert_eq!(ok.code, EXIT_OK);
        let failed = conclude(Ok(Outcome::checked(false)), Some(broken_pipe())).unwrap();
        assert_eq!(failed.code, EXIT_FAILED);
    }

    #[test]
    fn a_full_disk_on_stdout_is_exit_2_with_a_message() {
        let err = conclude(Ok(Outcome::checked(false)), Some(disk_full())).unwrap_err();
        assert_eq!(exit_code_for(&err), EXIT_ERROR);
        let message = format!("{err:#}");
        assert!(
            message.starts_with("writing the output to stdout failed: "),
            "{message}"
        );
        assert!(err.downcast_ref::<OutputError>().is_some());
    }

    #[test]
    fn the_commands_error_wins_over_a_write_error() {
        let err = conclude(Err(anyhow::anyhow!("no config found")), Some(disk_full())).unwrap_err();
        assert_eq!(format!("{err:#}"), "no config found");
        assert_eq!(exit_code_for(&err), EXIT_ERROR);
    }
}
