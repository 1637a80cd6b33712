//! The `dr-action` binary: parse arguments, set up logging, dispatch, map errors to exit codes.

use std::process::ExitCode;

use clap::Parser;
use dr_action::cli::Cli;
use dr_action::error::exit_code_for;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.global.verbose, cli.global.quiet);
    match dr_action::commands::dispatch(cli) {
        Ok(outcome) => {
            for line in &outcome.stdout {
                println!("{line}");
            }
            ExitCode::from(outcome.code)
        }
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(exit_code_for(&err))
        }
    }
}

fn init_tracing(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, _) => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("DR_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("dr_action={level}")));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .init();
}
