//! The command layer: one module per subcommand. Each loads what it needs (config, files,
//! clients), calls the library, writes its files atomically, writes its lines to the
//! [`Sink`] as they happen and returns an [`Outcome`] (the exit code). Clients are built here,
//! once, and passed down.

use anyhow::{Context, Result};

use crate::cli::{Cli, Command, Global};
use crate::config::{self, Loaded};
use crate::error::Outcome;
use crate::output::Sink;

pub mod badge;
pub mod check;
pub mod config_cmd;
pub mod demo;
pub mod kpi;
pub mod notify;
pub mod plan;
pub mod policy;
pub mod publish;
pub mod run;

/// Runs the parsed command line; its lines go to `out` as they are produced.
pub fn dispatch(cli: Cli, out: &dyn Sink) -> Result<Outcome> {
    let global = cli.global;
    match cli.command {
        Command::Check(args) => block_on(check::run(&global, args, out)),
        Command::Kpi(args) => kpi::run(&global, args, out),
        Command::Badge(args) => badge::run(&global, args, out),
        Command::Config(cmd) => config_cmd::run(&global, cmd, out),
        Command::Demo(args) => block_on(demo::run(&global, args, out)),
        Command::Plan(args) => plan::run(&global, args, out),
        Command::Policy(cmd) => policy::run(&global, cmd, out),
        Command::Publish(args) => block_on(publish::run(&global, args, out)),
        Command::Notify(args) => block_on(notify::run(&global, args, out)),
        Command::Run(args) => block_on(run::run(&global, args, out)),
    }
}

fn block_on<F: std::future::Future<Output = Result<Outcome>>>(f: F) -> Result<Outcome> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let outcome = runtime.block_on(f);
    // Dropping a runtime waits for its blocking threads; one stuck in a call that cannot be
    // interrupted must not keep the process from exiting once the outputs are written.
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    outcome
}

/// The config named by `--config`, or found at the default paths; an error when there is none.
pub fn require_config(global: &Global) -> Result<Loaded> {
    match config::locate(global.config.as_deref())? {
        Some(path) => config::load(&path),
        None => anyhow::bail!(
            "no config found: looked for {}; pass --config PATH",
            config::DEFAULT_PATHS.join(" and ")
        ),
    }
}

/// The config when one exists (commands that work without one use defaults).
pub fn optional_config(global: &Global) -> Result<Option<Loaded>> {
    config::locate(global.config.as_deref())?
        .map(|p| config::load(&p))
        .transpose()
}
