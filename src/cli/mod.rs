//! The command line. Doc comments here and in the submodules are the `--help` text. Each
//! subcommand's arguments live in their own file with the conversion into the request its
//! command takes; the enums here mirror the domain's, so the domain does not depend on clap.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use crate::commands;
use crate::env::Env;
use crate::error::Outcome;
use crate::output::Sink;

pub mod badge;
pub mod check;
pub mod config;
pub mod demo;
pub mod history;
pub mod kpi;
pub mod notify;
pub mod plan;
pub mod policy;
pub mod publish;
pub mod run;
pub mod site;

/// Proves on a schedule that backups are real: dry-run and full-restore checks, a
/// green/amber/red KPI, a committed badge, and alerts when checks fail.
///
/// Exit codes: 0 ok, 1 checks ran and something failed, 2 the tool could not do its job.
#[derive(Debug, Parser)]
#[command(name = "dr-action", version, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// The config file (default: .github/dr.yml, then dr.yml).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Where reports and the KPI are written.
    #[arg(long, global = true, value_name = "DIR", default_value = "out")]
    pub out_dir: PathBuf,
    /// More log output (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the checks of a schedule and write the report.
    Check(check::CheckArgs),
    /// Compute the green/amber/red KPI from the reports.
    Kpi(kpi::KpiArgs),
    /// Render the status badge from the KPI.
    Badge(badge::BadgeArgs),
    /// Validate a config, or print its JSON Schema.
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Commit the badge, PNG, KPI state, history and trend to the repository in one commit.
    Publish(publish::PublishArgs),
    /// Open, update or close the alert issue and send the Slack message for a report.
    Notify(notify::NotifyArgs),
    /// The whole pipeline the action runs: check, KPI, badge, publish, notify, outputs.
    Run(run::RunArgs),
    /// Build a local store of sample backups and run the whole pipeline on it (no cloud).
    Demo(demo::DemoArgs),
    /// Render the static status page (index.html and a page per target) from the kept state,
    /// history and matrix.
    Site(site::SiteArgs),
    /// Check the run history's hash chain.
    #[command(subcommand)]
    History(history::HistoryCommand),
    /// Print the configured targets as a GitHub Actions matrix (JSON), for fan-out.
    Plan(plan::PlanArgs),
    /// Render the AWS policies of `policies/` for your bucket, key and repository, or audit a
    /// live bucket against them.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
}

/// Which schedule (mirrors [`crate::report::Schedule`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ScheduleArg {
    Weekly,
    Monthly,
    Quarterly,
}

impl From<ScheduleArg> for crate::report::Schedule {
    fn from(s: ScheduleArg) -> Self {
        match s {
            ScheduleArg::Weekly => Self::Weekly,
            ScheduleArg::Monthly => Self::Monthly,
            ScheduleArg::Quarterly => Self::Quarterly,
        }
    }
}

/// Which kind of check (mirrors [`crate::report::Mode`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ModeArg {
    DryRun,
    FullRestore,
}

impl From<ModeArg> for crate::report::Mode {
    fn from(m: ModeArg) -> Self {
        match m {
            ModeArg::DryRun => Self::DryRun,
            ModeArg::FullRestore => Self::FullRestore,
        }
    }
}

/// The badge style (mirrors [`crate::badge::Style`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum StyleArg {
    Flat,
    FlatSquare,
}

impl From<StyleArg> for crate::badge::Style {
    fn from(s: StyleArg) -> Self {
        match s {
            StyleArg::Flat => Self::Flat,
            StyleArg::FlatSquare => Self::FlatSquare,
        }
    }
}

/// Runs the parsed command line with the environment read once by the binary; its lines go to
/// `out` as they are produced.
pub fn dispatch(cli: Cli, env: &Env, out: &dyn Sink) -> Result<Outcome> {
    let g = cli.global;
    match cli.command {
        Command::Check(a) => block_on(commands::check::run(a.into_request(&g, env), env, out)),
        Command::Kpi(a) => commands::kpi::run(a.into_request(&g), out),
        Command::Badge(a) => commands::badge::run(a.into_request(&g), out),
        Command::Config(c) => commands::config::run(c.into_request(&g), out),
        Command::Demo(a) => block_on(commands::demo::run(a.into_request(), env, out)),
        Command::History(history::HistoryCommand::Verify(a)) => {
            commands::history::verify(a.into_request(), out)
        }
        Command::Site(a) => commands::site::run(a.into_request(), out),
        Command::Plan(a) => commands::plan::run(a.into_request(&g), env, out),
        Command::Policy(policy::PolicyCommand::Render(a)) => {
            commands::policy::render(a.into_request(&g), out)
        }
        Command::Policy(policy::PolicyCommand::Audit(a)) => {
            block_on(commands::policy::audit::run(a.into_request(&g), env, out))
        }
        Command::Publish(a) => block_on(commands::publish::run(a.into_request(&g, env), env, out)),
        Command::Notify(a) => block_on(commands::notify::run(a.into_request(&g), env, out)),
        Command::Run(a) => block_on(commands::run::run(a.into_request(&g, env), env, out)),
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
