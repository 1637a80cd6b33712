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
/// Exit codes: 0 ok, 1 checks ran and something failed, 2 the tool could not do its job,
/// 130/143 cancelled by SIGINT/SIGTERM (after cleaning up and writing the report).
#[derive(Debug, Parser)]
#[command(name = "dr-action", version, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
    /// Whether `--out-dir` was on the command line (else its default, under the config's
    /// folder).
    #[arg(skip)]
    pub out_dir_given: bool,
}

#[derive(Debug, Args)]
pub struct Global {
    /// The config file (default: .github/dr.yml, then dr.yml).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Where reports and the KPI are written (default: out/ in the config's folder).
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        default_value = "out",
        hide_default_value = true
    )]
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
    /// Send the alerts for a report: the issue, Slack, email, the webhook and the heartbeat.
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

/// The global options `demo` does not use: it builds its own config and output folder under
/// `--dir`, so they are hidden from its help and refused on its command line.
const NOT_FOR_DEMO: [&str; 2] = ["config", "out_dir"];

/// The command line's definition, as `--help` shows it.
pub fn command() -> clap::Command {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    // Global options reach the subcommands only when the command is built.
    cmd.build();
    cmd.mut_subcommand("demo", |demo| {
        // In place: the built command indexes its arguments by position.
        demo.mut_args(|a| {
            if NOT_FOR_DEMO.contains(&a.get_id().as_str()) {
                a.hide(true)
            } else {
                a
            }
        })
    })
}

/// Parses the process's arguments; a usage error or `--help` exits here, as clap does.
pub fn parse() -> Cli {
    use clap::FromArgMatches;
    let mut cmd = command();
    let matches = cmd.clone().get_matches();
    if let Some(("demo", demo)) = matches.subcommand() {
        for id in NOT_FOR_DEMO {
            if demo.value_source(id) == Some(clap::parser::ValueSource::CommandLine) {
                let flag = format!("--{}", id.replace('_', "-"));
                cmd.error(
                    clap::error::ErrorKind::ArgumentConflict,
                    format!(
                        "`demo` does not take {flag}: it writes its own config and reports under --dir"
                    ),
                )
                .exit();
            }
        }
    }
    let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    cli.out_dir_given =
        matches.value_source("out_dir") == Some(clap::parser::ValueSource::CommandLine);
    cli
}

/// Makes the config's base folder ([`crate::config::base_dir_of`]: the config's folder, or the
/// repository root for `.github/dr.yml`) the working folder, so that everything relative —
/// `storage.local`, `badge.path`, the `badges/` state, the default `out/` — resolves from that
/// one place wherever the command was started. Paths given on the command line keep meaning
/// what they meant where it was typed: they are made absolute first. `publish --file` paths are
/// repository paths and stay relative. No config (or one in the working folder): nothing moves.
pub fn settle_base(cli: &mut Cli) -> Result<()> {
    if matches!(cli.command, Command::Demo(_)) {
        return Ok(());
    }
    // A config that cannot be found is the command's own error to report, in its own words.
    let Ok(Some(path)) = crate::config::locate(cli.global.config.as_deref()) else {
        return Ok(());
    };
    let base = crate::config::base_dir_of(&path);
    if base == std::path::Path::new(".") {
        return Ok(());
    }
    let cwd = std::env::current_dir().context("reading the working folder")?;
    let anchor = |p: &mut PathBuf| {
        if p.is_relative() {
            *p = cwd.join(&*p);
        }
    };
    let anchor_opt = |p: &mut Option<PathBuf>| {
        if let Some(p) = p {
            anchor(p);
        }
    };
    if cli.out_dir_given {
        anchor(&mut cli.global.out_dir);
    } else {
        // The default out/ of the base, named absolutely: the `report` and `kpi` outputs of a
        // workflow step are read from the folder the step started in.
        cli.global.out_dir = cwd.join(&base).join(&cli.global.out_dir);
    }
    match &mut cli.command {
        Command::Check(a) => {
            anchor_opt(&mut a.out);
            anchor_opt(&mut a.files.junit);
            anchor_opt(&mut a.files.metrics);
        }
        Command::Run(a) => {
            anchor_opt(&mut a.files.junit);
            anchor_opt(&mut a.files.metrics);
        }
        Command::Kpi(a) => {
            for p in a
                .weekly
                .iter_mut()
                .chain(&mut a.monthly)
                .chain(&mut a.quarterly)
            {
                anchor(p);
            }
            anchor_opt(&mut a.state);
            anchor_opt(&mut a.out);
        }
        Command::Badge(a) => {
            anchor_opt(&mut a.input);
            anchor_opt(&mut a.out);
            anchor_opt(&mut a.png);
            anchor_opt(&mut a.endpoint_json);
        }
        Command::Notify(a) => {
            anchor(&mut a.report);
            anchor_opt(&mut a.kpi);
        }
        Command::Policy(policy::PolicyCommand::Audit(a)) => {
            anchor_opt(&mut a.out);
            anchor_opt(&mut a.sarif);
        }
        Command::Site(a) => {
            anchor_opt(&mut a.out);
            anchor_opt(&mut a.from);
        }
        Command::History(history::HistoryCommand::Verify(a)) => {
            anchor_opt(&mut a.file);
            anchor_opt(&mut a.state);
        }
        Command::Policy(policy::PolicyCommand::Render(_))
        | Command::Config(_)
        | Command::Publish(_)
        | Command::Plan(_)
        | Command::Demo(_) => {}
    }
    // The config by full path: a name relative to the base would not be the one typed.
    let mut config = path;
    anchor(&mut config);
    std::env::set_current_dir(&base)
        .with_context(|| format!("entering the config's folder {}", base.display()))?;
    cli.global.config = Some(config);
    Ok(())
}

/// Runs the parsed command line with the environment read once by the binary; its lines go to
/// `out` as they are produced.
pub fn dispatch(mut cli: Cli, env: &Env, out: &dyn Sink) -> Result<Outcome> {
    settle_base(&mut cli)?;
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

/// `--junit` and `--metrics`, the same on `check` and `run`.
#[derive(Debug, Args)]
pub struct ResultFileArgs {
    /// Also write the results as JUnit XML (a test case per check of each target).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Also write the figures as OpenMetrics text (for node-exporter's textfile collector).
    #[arg(long, value_name = "FILE")]
    pub metrics: Option<PathBuf>,
}

impl ResultFileArgs {
    fn into_files(self) -> crate::formats::RunFiles {
        crate::formats::RunFiles {
            junit: self.junit,
            metrics: self.metrics,
        }
    }
}

/// Where a schedule's report (and `run`'s KPI) go: OUT_DIR, or OUT_DIR/chaos/ for a drill, so
/// a drill's files land beside the real ones, never over them.
fn out_dir_for(global: &Global, chaos: bool) -> PathBuf {
    if chaos {
        global.out_dir.join("chaos")
    } else {
        global.out_dir.clone()
    }
}
