//! Exit codes are a contract: 0 ok, 1 checks ran and something failed, 2 the tool could not do
//! its job. Errors that mean "checks failed" never travel as `Err`: they are an `Outcome` with
//! code 1. Every `Err` reaching `main` is therefore a code-2 error unless it says otherwise.

/// Checks ran and at least one failed.
pub const EXIT_FAILED: u8 = 1;
/// The tool could not do its job: bad usage, bad config, unreadable input.
pub const EXIT_ERROR: u8 = 2;

/// What a command produced when it did its job: lines for stdout and the exit code.
#[derive(Debug, Default)]
pub struct Outcome {
    pub stdout: Vec<String>,
    pub code: u8,
}

impl Outcome {
    pub fn ok(stdout: Vec<String>) -> Self {
        Outcome { stdout, code: 0 }
    }

    pub fn with_code(stdout: Vec<String>, ok: bool) -> Self {
        Outcome {
            stdout,
            code: if ok { 0 } else { EXIT_FAILED },
        }
    }
}

/// The exit code for an error that stopped a command.
pub fn exit_code_for(_err: &anyhow::Error) -> u8 {
    EXIT_ERROR
}
