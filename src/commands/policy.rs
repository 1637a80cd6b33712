//! `dr-action policy render`: fills the templates of `policies/` and writes them, validated.
//! `dr-action policy audit` ([`audit`]): compares the live bucket with them.

use std::path::PathBuf;

use anyhow::Result;

use crate::error::Outcome;
use crate::output::Sink;
use crate::policy::{self, PolicyValues};

pub mod audit;

/// What `policy render` is asked to fill in, and where the files go.
#[derive(Debug)]
pub struct RenderRequest {
    pub values: PolicyValues,
    /// The folder the rendered policies are written to.
    pub dir: PathBuf,
}

pub fn render(req: RenderRequest, out: &dyn Sink) -> Result<Outcome> {
    let rendered = policy::render(&req.values).map_err(anyhow::Error::msg)?;
    for (name, text) in rendered {
        let path = req.dir.join(name);
        crate::atomic::write(&path, text.as_bytes())?;
        out.line(&format!("wrote {}", path.display()));
    }
    Ok(Outcome::ok())
}
