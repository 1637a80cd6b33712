//! The repository a run keeps its state in: the GitHub client (or why there is none), the
//! default branch, the kept verification ledger (read before a monthly run's checks), the kept
//! KPI state and history (read after the checks), and the history's chain checked once, before
//! anything is appended to it.

use crate::checks::CheckRequest;
use crate::config::Loaded;
use crate::env::Env;
use crate::github::{self, GitHub};
use crate::history::{self, Broken};
use crate::ledger::Ledger;
use crate::report::Schedule;
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
    /// The client and the default branch (errors noted in `journal`); nothing is read yet.
    pub async fn connect(env: &Env, journal: &mut Journal) -> Repository {
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
        Repository {
            gh,
            branch,
            kept: None,
            chain: None,
        }
    }

    fn gh_ref(&self) -> Option<(&GitHub, &str)> {
        self.gh.as_ref().ok().zip(self.branch.as_deref())
    }

    /// The kept verification ledger a monthly run's deep reads start from (what earlier runs
    /// proved); `None` for other runs, and when it cannot be read (noted in `journal`).
    pub async fn ledger_for(
        &self,
        loaded: &Loaded,
        request: &CheckRequest,
        journal: &mut Journal,
    ) -> Option<Ledger> {
        if request.schedule != Schedule::Monthly || request.chaos || !loaded.config.verifies() {
            return None;
        }
        match state::read_ledger(self.gh_ref()).await {
            Ok(ledger) => Some(ledger.unwrap_or_default()),
            Err(e) => {
                journal
                    .errors
                    .push(format!("could not read the kept ledger: {e:#}"));
                None
            }
        }
    }

    /// Reads the kept state, history and ledger through the API from the default branch, or
    /// from the working tree without a client, and checks the history's chain; notes a first
    /// run and errors in `journal`. Read after the checks, so that what is appended to is what
    /// the branch holds when the run ends.
    pub async fn read_kept(&mut self, journal: &mut Journal) {
        let gh_ref = self.gh_ref();
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
        self.chain = kept.as_ref().map(state::verify_kept);
        self.kept = kept;
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
