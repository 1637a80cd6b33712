//! `dr-action history verify`: reads the history file and checks its hash chain (and, given the
//! KPI state committed with it, that it ends at the line the state records). Exit 0 when
//! the chain is intact (or the file is empty), 1 when a line breaks it (named, with why) or no
//! line is chained yet, 2 when the file cannot be read.

use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::error::Outcome;
use crate::history::{self, Chain};
use crate::output::Sink;

/// What `history verify` is asked to check.
#[derive(Debug)]
pub struct VerifyRequest {
    pub file: PathBuf,
    /// A KPI state whose `history_head` the history must end at.
    pub state: Option<PathBuf>,
}

pub fn verify(req: VerifyRequest, out: &dyn Sink) -> Result<Outcome> {
    let path = req.file.display();
    let bytes = std::fs::read(&req.file).with_context(|| format!("reading {path}"))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "{path}: byte {} is not UTF-8: the history was changed after it was written",
            e.utf8_error().valid_up_to()
        )
    });
    let text = match text {
        Ok(t) => t,
        Err(e) => {
            out.line(&format!("broken: {e}"));
            return Ok(Outcome::checked(false));
        }
    };
    let head = match &req.state {
        Some(p) => {
            crate::kpi::read_state(p)?
                .ok_or_else(|| anyhow::anyhow!("{}: no such KPI state", p.display()))?
                .history_head
        }
        None => None,
    };
    let verdict = history::verify(&text).and_then(|chain| match &head {
        Some(h) => history::check_head(&text, &chain, h).map(|()| chain),
        None => Ok(chain),
    });
    let (ok, line) = match verdict {
        Ok(Chain::Empty) => (true, format!("ok: {path} is empty")),
        Ok(Chain::Unchained { lines }) => (
            false,
            format!(
                "not chained: {path} has {} and no genesis entry; the next `dr-action run` adopts them",
                crate::units::count(lines as u64, "line")
            ),
        ),
        Ok(Chain::Intact {
            lines,
            genesis_line,
            head,
        }) => (
            true,
            format!(
                "ok: {path}: {} chained from the genesis entry on line {genesis_line}{}; the last line's sha256 is {head}",
                crate::units::count((lines - genesis_line) as u64, "run"),
                match genesis_line {
                    1 => String::new(),
                    n => format!(
                        " ({} before it adopted by their digest)",
                        crate::units::count(n as u64 - 1, "line")
                    ),
                }
            ),
        ),
        Err(broken) => (false, format!("broken: {path} {broken}")),
    };
    out.line(&line);
    Ok(Outcome::checked(ok))
}
