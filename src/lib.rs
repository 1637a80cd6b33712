//! dr-action: proves on a schedule that backups are real.
//!
//! Data flows one way: [`config`] → [`store`] → [`checks`] → [`report`] → [`kpi`] → [`badge`].
//! The pure parts (KPI rule, badge layout, retention slots) take values and return values; the
//! I/O sits at the edges, in [`store`] and [`commands`], which build their clients once and pass
//! them in. Nothing in the library prints: commands write lines to an [`output::Sink`], and only
//! `main.rs` puts them on the terminal.
#![warn(clippy::print_stdout, clippy::print_stderr)]

/// Writing files atomically (temporary file + rename), the only way this tool writes.
pub mod atomic;
/// The in-toto statement of a report: the backups checked and the report, as evidence.
pub mod attest;
/// AWS access: region, endpoint, retries and timeouts, and credentials through GitHub OIDC.
pub mod aws;
/// Azure Blob access: endpoint, retries and timeouts, and credentials (account key as a SAS,
/// GitHub OIDC federated credentials, the Azure CLI).
pub mod azure;
/// SVG, PNG and shields-endpoint badges from a KPI.
pub mod badge;
/// SIGINT/SIGTERM turned into a cancellation the checks carry, so a stopped run still cleans up.
pub mod cancel;
/// Charts as inline SVG with axes, legends and accessible names: the status page's and the
/// trend picture's.
pub mod chart;
/// The dry-run and full-restore checks that turn a target and a store into a target report.
pub mod checks;
/// The command-line model (clap types; doc comments are the `--help` text).
pub mod cli;
/// One function per subcommand: loads what it needs, calls the library, writes the outputs.
pub mod commands;
/// The `dr.yml` model: strict loading, validation, JSON Schema.
pub mod config;
/// Opening the store the config names, with the access each cloud needs.
pub mod connect;
/// Client-side encryption of backups: recognising it and decrypting in the stream.
pub mod crypt;
/// The embedded default: a local store of sample backups, checked end to end.
pub mod demo;
/// The process environment, read once: run info, switches, settings, named secrets.
pub mod env;
/// Errors a caller branches on, and the exit codes they map to.
pub mod error;
/// The results in other systems' formats: JUnit XML, SARIF, OpenMetrics text.
pub mod formats;
/// The GitHub REST client: one-commit publishing and the alert issue.
pub mod github;
/// The run history as a hash chain: entries, appending, verifying.
pub mod history;
/// The KPI rule: pure functions from reports to a status.
pub mod kpi;
/// What the monthly runs have proven, backup by backup, and what to read next.
pub mod ledger;
/// What dr-action accepts of the short texts it is given: badge texts, part names.
pub mod limits;
/// Escaping text for XML and HTML, the one escaper for markup.
pub mod markup;
/// The per-target matrix of objectives, results and storage, with a health score.
pub mod matrix;
/// Alert delivery: the GitHub issue and the Slack message for a report.
pub mod notify;
/// The GitHub Actions OIDC token, for AWS STS and Azure federated credentials.
pub mod oidc;
/// The output sink: the lines a command writes as it goes, streamed by the binary.
pub mod output;
/// The steps of a scheduled run after its checks, which `run` composes.
pub mod pipeline;
/// The AWS policy templates, their validated rendering, and the audit of a live bucket.
pub mod policy;
/// Running another program: cleared environment, own process group, bounded output.
pub mod process;
/// The report JSON written by `check` and read by `kpi` and `notify`.
pub mod report;
/// The one retry policy (attempts, doubling waits, a deadline) of GitHub, Slack, OIDC and STS.
pub mod retry;
/// The static status page rendered from the kept state and history, and the trend picture.
pub mod site;
/// The files kept in the repository: badge, PNG, KPI state, history, trend.
pub mod state;
/// Where backups live: the `BackupStore` trait and its implementations.
pub mod store;
/// How a report reads to people: the job summary, the matrix table, the log's verdict lines.
pub mod summary;
/// Short human forms of durations and sizes used in check details.
pub mod units;
/// The GitHub Actions runtime: the `GITHUB_*` variables, outputs, job summary file, workflow
/// commands and masks.
pub mod workflow;
