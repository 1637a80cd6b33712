//! The `dr-action` binary: parse arguments, set up logging, read the environment once, dispatch with the output streamed to
//! stdout as it is produced, and turn the result into the exit code (see `error.rs`).

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use dr_action::env::Env;
use dr_action::error::{conclude, exit_code_for};
use dr_action::output::{self, Console};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

fn main() -> ExitCode {
    let cli = dr_action::cli::parse();
    let env = Env::from_process();
    init_tracing(&env, cli.global.verbose, cli.global.quiet);
    // Progress lines (a long restore's rate, a deep read's count) go to stderr, none with -q.
    let progress = (!cli.global.quiet).then(std::io::stderr);
    let sink = Console::new(std::io::stdout().lock(), progress, env.workflow.in_actions);
    let result = dr_action::cli::dispatch(cli, &env, &sink);
    match conclude(result, sink.finish()) {
        Ok(outcome) => ExitCode::from(outcome.code),
        Err(err) => {
            // stderr may be gone too; there is nowhere left to say so.
            let _ = writeln!(std::io::stderr(), "error: {err:#}");
            ExitCode::from(exit_code_for(&err))
        }
    }
}

/// The crates whose own logs stay quieter than `DR_LOG` may ask, and how quiet. The AWS SDK
/// prints the resolved credentials (the access key id) in its debug and trace lines; the HTTP
/// and TLS stack prints request headers at trace. Targets match by prefix, so `aws_` covers
/// every AWS SDK crate.
const CAPPED: [(&str, LevelFilter); 8] = [
    ("aws_", LevelFilter::INFO),
    ("hyper", LevelFilter::DEBUG),
    ("h2", LevelFilter::DEBUG),
    ("rustls", LevelFilter::DEBUG),
    ("tokio_rustls", LevelFilter::DEBUG),
    ("reqwest", LevelFilter::DEBUG),
    ("octocrab", LevelFilter::DEBUG),
    ("tower", LevelFilter::DEBUG),
];

fn init_tracing(env: &Env, verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, _) => "debug",
    };
    let filter = env
        .log
        .as_deref()
        .ok_or(())
        .and_then(|d| tracing_subscriber::EnvFilter::try_new(d).map_err(drop))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("dr_action={level}")));
    // A second, fixed filter: an event is logged only when both let it through, so no DR_LOG
    // directive can lift these crates past their cap.
    let capped = CAPPED.iter().fold(
        Targets::new().with_default(LevelFilter::TRACE),
        |t, (name, most)| t.with_target(*name, *most),
    );
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(output::colour(
            std::io::stderr().is_terminal(),
            env.no_color.as_deref().map(std::ffi::OsStr::new),
        ))
        .with_target(false)
        .without_time()
        // Its fallback for a failed log write is eprintln!, which panics when stderr is the
        // thing that failed; a lost log line must not end the run.
        .log_internal_errors(false);
    tracing_subscriber::registry()
        .with(filter)
        .with(capped)
        .with(fmt)
        .init();
}
