//! `dr-action policy` subcommands.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::Global;
use crate::commands::policy::RenderRequest;
use crate::commands::policy::audit::Request as AuditRequest;
use crate::policy::PolicyValues;

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Fill the policy templates for your bucket, key and repository, and validate them.
    Render(RenderArgs),
    /// Read the live bucket (default encryption and key, versioning, public access block, bucket
    /// policy) and report what falls short of `policies/`.
    Audit(AuditArgs),
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
    /// Also let the role ask S3 for readable copies of archived backups under the prefix
    /// (s3:RestoreObject), for targets with `restore-request`.
    #[arg(long)]
    pub restore_request: bool,
}

impl RenderArgs {
    pub fn into_request(self, global: &Global) -> RenderRequest {
        RenderRequest {
            values: PolicyValues {
                bucket: self.bucket,
                prefix: self.prefix,
                kms_key_arn: self.kms_key_arn,
                account: self.account,
                repo: self.repo,
                branch: self.branch,
                restore_request: self.restore_request,
            },
            dir: global.out_dir.join("policies"),
        }
    }
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// The bucket to audit (default: storage.bucket of the config).
    #[arg(long)]
    pub bucket: Option<String>,
    /// The JSON result (default: OUT_DIR/policy_audit.json).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Also write the findings as SARIF 2.1.0 (for code scanning's upload-sarif).
    #[arg(long, value_name = "FILE")]
    pub sarif: Option<PathBuf>,
}

impl AuditArgs {
    pub fn into_request(self, global: &Global) -> AuditRequest {
        AuditRequest {
            config: global.config.clone(),
            bucket: self.bucket,
            out: self
                .out
                .unwrap_or_else(|| global.out_dir.join("policy_audit.json")),
            sarif: self.sarif,
        }
    }
}
