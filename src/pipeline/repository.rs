//! The repository a run keeps its state in: the GitHub client (or why there is none), the
//! default branch, the kept KPI state and history read from it, and the history's chain
//! checked once, before anything is appended to it.

use crate::env::Env;
use crate::github::{self, GitHub};
use crate::history::{self, Broken};
use crate::state::{self, Kept, STATE_PATH};

use super::Journal;

/// The kept files of the repository, as this run found them.
pub struct Repository {
    /// The client, or why there is none (no `GITHUB_TOKEN`, no repository).
    pub gh: Result<GitHub, String>,
    /// The default branch, when the client could learn it.
    pub branch: Option<String>,
    /// The kept state and history; `None` when they could not be read, and then nothing may be
    /// published (it would overwrite the state).
    pub kept: Option<Kept>,
    /// The kept history's chain, checked.
    pub chain: Option<Result<history::Chain, Broken>>,
}

impl Repository {
    /// Reads the kept state and history through the API from the default branch, or from the
    /// working tree without a client; notes a first run and errors in `journal`.
    pub async fn open(env: &Env, journal: &mut Journal) -> Repository {
        let gh = GitHub::from_env(env);
        let branch = match &gh {
            Ok(gh) => github::default_branch(&env.workflow, gh)
                .await
                .map_err(|e| {
                    journal
                        .errors
                        .push(format!("could not learn the default branch: {e:#}"))
                })
                .ok(),
            Err(_) => None,
        };
        let gh_ref = gh.as_ref().ok().zip(branch.as_deref());
        let kept = state::read_kept(gh_ref)
            .await
            .map_err(|e| {
                journal
                    .errors
                    .push(format!("could not read the kept KPI state: {e:#}"))
            })
            .ok();
        if gh_ref.is_some() && kept.as_ref().is_some_and(|k| k.state.is_none()) {
            journal.notes.push(format!(
                "no {STATE_PATH} on the default branch yet: first run"
            ));
        }
        let chain = kept.as_ref().map(state::verify_kept);
        Repository {
            gh,
            branch,
            kept,
            chain,
        }
    }

    /// Where the kept history's chain breaks, if it does.
    pub fn broken(&self) -> Option<&Broken> {
        self.chain.as_ref().and_then(|c| c.as_ref().err())
    }

    /// The kept history's text (empty when there is none or it could not be read).
    pub fn history(&self) -> &str {
        self.kept.as_ref().map_or("", |k| k.history.as_str())
    }

    /// The kept KPI state, when there is one.
    pub fn state(&self) -> Option<&crate::kpi::Kpi> {
        self.kept.as_ref().and_then(|k| k.state.as_ref())
    }
}
