//! The command line. Doc comments here are the `--help` text. Each subcommand's own arguments
//! live beside its implementation in `commands/`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::commands;

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
    Check(commands::check::CheckArgs),
    /// Compute the green/amber/red KPI from the reports.
    Kpi(commands::kpi::KpiArgs),
    /// Render the status badge from the KPI.
    Badge(commands::badge::BadgeArgs),
    /// Validate a config, or print its JSON Schema.
    #[command(subcommand)]
    Config(commands::config_cmd::ConfigCommand),
    /// Commit the badge, PNG, KPI state, history and trend to the repository in one commit.
    Publish(commands::publish::PublishArgs),
    /// Open, update or close the alert issue and send the Slack message for a report.
    Notify(commands::notify::NotifyArgs),
    /// The whole pipeline the action runs: check, KPI, badge, publish, notify, outputs.
    Run(commands::run::RunArgs),
    /// Build a local store of sample backups and run the whole pipeline on it (no cloud).
    Demo(commands::demo::DemoArgs),
    /// Print the configured targets as a GitHub Actions matrix (JSON), for fan-out.
    Plan(commands::plan::PlanArgs),
    /// Render the AWS policies of `policies/` for your bucket, key and repository, or audit a
    /// live bucket against them.
    #[command(subcommand)]
    Policy(commands::policy::PolicyCommand),
}
