//! `dr-action site`: renders the static status page (an `index.html` and a page per target)
//! from the kept KPI state, history and matrix, and says where it went.

use std::path::PathBuf;

use anyhow::Result;
use chrono::Utc;

use crate::error::Outcome;
use crate::output::Sink;

/// What `site` is asked to render.
#[derive(Debug)]
pub struct Request {
    /// The repository root holding `badges/`.
    pub from: PathBuf,
    /// The folder the pages go to.
    pub out: PathBuf,
}

pub fn run(req: Request, out: &dyn Sink) -> Result<Outcome> {
    let started = std::time::Instant::now();
    let written = crate::state::write_site_from(&req.from, &req.out, Utc::now())?;
    out.line(&format!(
        "site: {} ({} pages, {:.2}s)",
        req.out.join("index.html").display(),
        written.len(),
        started.elapsed().as_secs_f64()
    ));
    Ok(Outcome::ok())
}
