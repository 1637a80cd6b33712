//! What every restore engine hands back: its checks and, when the restore worked, what it left
//! behind ([`Restored`]) for the validations to query or point a command at. The validations
//! see an engine only through this trait, so they never depend on one engine's types.

use async_trait::async_trait;

use crate::report::Check;

/// The first column of the first row a query returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cell {
    NoRows,
    Null,
    Value(String),
}

/// What an engine leaves behind for the validations to look at.
#[async_trait]
pub trait Restored: Send + Sync {
    /// The first column of the first row of `sql`. Engines that leave no database refuse.
    async fn query_first(&self, _sql: &str) -> Result<Cell, String> {
        Err("`sql` validations need engine postgres or sqlite; use `command` here".to_string())
    }

    /// The variables a validation command gets on top of what it inherits (`env::INHERITED`) to find the restore.
    fn command_env(&self) -> Vec<(String, String)>;

    /// What must be redacted from a validation command's output.
    fn secrets(&self) -> Vec<String> {
        Vec::new()
    }
}

/// The engine's verdict: its checks (at least `restore`) and, when it worked, what it left.
pub struct EngineOutcome {
    pub checks: Vec<Check>,
    pub restored: Option<Box<dyn Restored>>,
}

impl EngineOutcome {
    pub fn failed(detail: impl Into<String>) -> Self {
        EngineOutcome {
            checks: vec![Check::fail("restore", detail)],
            restored: None,
        }
    }
}
