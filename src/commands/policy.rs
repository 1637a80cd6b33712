//! `dr-action policy render`: fills the templates of `policies/` and writes them, validated.
//! `dr-action policy audit` ([`audit`]): compares the live bucket with them.

use anyhow::Result;
use clap::{Args, Subcommand};

use crate::cli::Global;
use crate::error::Outcome;
use crate::output::Sink;
use crate::policy::{self, PolicyValues};

pub mod audit;

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Fill the policy templates for your bucket, key and repository, and validate them.
    Render(RenderArgs),
    /// Read the live bucket (default encryption and key, versioning, public access block, bucket
    /// policy) and report what falls short of `policies/`.
    Audit(audit::AuditArgs),
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The backup bucket.
    #[arg(long)]
    pub bucket: String,
    /// The key prefix backups live under (e.g. `pwm/`).
    #[arg(long)]
    pub prefix: String,
    /// The KMS key ARN backups must be encrypted with.
    #[arg(long)]
    pub kms_key_arn: String,
    /// The AWS account id (12 digits) holding the GitHub OIDC provider.
    #[arg(long)]
    pub account: String,
    /// The repository allowed to assume the role, OWNER/REPO.
    #[arg(long)]
    pub repo: String,
    /// The branch allowed to assume the role.
    #[arg(long, default_value = "main")]
    pub branch: String,
}

pub fn run(global: &Global, cmd: PolicyCommand, out: &dyn Sink) -> Result<Outcome> {
    match cmd {
        PolicyCommand::Audit(a) => super::block_on(audit::run(global, a, out)),
        PolicyCommand::Render(a) => {
            let values = PolicyValues {
                bucket: a.bucket,
                prefix: a.prefix,
                kms_key_arn: a.kms_key_arn,
                account: a.account,
                repo: a.repo,
                branch: a.branch,
            };
            let rendered = policy::render(&values).map_err(anyhow::Error::msg)?;
            let dir = global.out_dir.join("policies");
            for (name, text) in rendered {
                let path = dir.join(name);
                crate::atomic::write(&path, text.as_bytes())?;
                out.line(&format!("wrote {}", path.display()));
            }
            Ok(Outcome::ok())
        }
    }
}
