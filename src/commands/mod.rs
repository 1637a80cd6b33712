//! The command layer: one use case per subcommand. Each takes its request (built from the
//! command line in `cli`), the environment snapshot and the output [`Sink`](crate::output::Sink);
//! it loads the config, calls the library, writes its files atomically, writes its lines as
//! they happen and returns an [`Outcome`](crate::error::Outcome) (the exit code). Clients are
//! built here, once, and passed down. No command calls another: what two share lives in the
//! library.

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
