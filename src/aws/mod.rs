//! AWS access for the S3 store: where (region, endpoint) and who (credentials). The command layer
//! resolves [`AwsSettings`] from `dr.yml` and the environment, then [`connect`] builds one
//! `SdkConfig`. Inside GitHub Actions with `aws.role-arn` set, the job's OIDC token
//! ([`oidc`]) is traded for the role's credentials ([`sts`]); the caller prints the
//! `::add-mask::` lines [`connect`] returns before anything else. Everywhere else the standard
//! credential chain applies (`AWS_PROFILE`, env keys, `AWS_WEB_IDENTITY_TOKEN_FILE`…).
//!
//! Retries and timeouts are set here, explicitly and bounded, so an endpoint that does not
//! answer fails a check within seconds instead of hanging a scheduled job.

use std::time::Duration;

use aws_config::meta::region::ProvideRegion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::config::Credentials;
use schemars::JsonSchema;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

pub mod arn;
pub use crate::oidc;
pub mod sts;

/// The config's `aws:` section: where the bucket is and the role to assume.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Aws {
    /// The AWS region of the bucket, e.g. `eu-west-1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The role assumed through GitHub OIDC when running in Actions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// An S3-compatible endpoint (MinIO, R2, tests); path-style addressing is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}

/// Attempts per S3 request (the first and two retries).
pub const MAX_ATTEMPTS: u32 = 3;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Time to the first byte of an answer.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(15);
/// One request with all its retries. A streamed body is read after the operation returns, so a
/// monthly full read of a large backup is not cut short by it.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(30);

/// Where AWS is and who to be, from `dr.yml` and the environment.
#[derive(Clone, Debug, Default)]
pub struct AwsSettings {
    pub region: Option<String>,
    /// `aws.endpoint`, else `AWS_ENDPOINT_URL`.
    pub endpoint: Option<String>,
    /// Path-style addressing: on whenever a custom endpoint is set (here or in
    /// `AWS_ENDPOINT_URL_S3`), since MinIO, moto, R2 and most S3-compatible stores do not serve
    /// bucket subdomains.
    pub path_style: bool,
    /// `DR_AWS_ROLE_ARN`, else `aws.role-arn`.
    pub role_arn: Option<String>,
    /// `GITHUB_ACTIONS=true`.
    pub in_actions: bool,
    /// Both `ACTIONS_ID_TOKEN_REQUEST_*` variables, present only with `id-token: write`.
    pub oidc: Option<oidc::OidcRequest>,
    pub run_id: Option<String>,
    /// `repo:OWNER/REPO:ref:REF`, the OIDC subject, for messages.
    pub subject: String,
}

impl AwsSettings {
    /// Resolves the settings; `env` reads a variable (empty counts as unset).
    pub fn resolve(aws: Option<&Aws>, env: impl Fn(&str) -> Option<String>) -> Self {
        let env = |k: &str| env(k).filter(|v| !v.trim().is_empty());
        let region = aws
            .and_then(|a| a.region.clone())
            .or_else(|| env("DR_AWS_REGION"))
            .or_else(|| env("AWS_REGION"))
            .or_else(|| env("AWS_DEFAULT_REGION"));
        let endpoint = aws
            .and_then(|a| a.endpoint.clone())
            .or_else(|| env("AWS_ENDPOINT_URL"));
        let role_arn = env("DR_AWS_ROLE_ARN").or_else(|| aws.and_then(|a| a.role_arn.clone()));
        let oidc = match (
            env("ACTIONS_ID_TOKEN_REQUEST_URL"),
            env("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
        ) {
            (Some(url), Some(token)) => Some(oidc::OidcRequest {
                url,
                token: SecretString::from(token),
            }),
            _ => None,
        };
        let subject = format!(
            "repo:{}:ref:{}",
            env("GITHUB_REPOSITORY").unwrap_or_else(|| "OWNER/REPO".into()),
            env("GITHUB_REF").unwrap_or_else(|| "REF".into())
        );
        AwsSettings {
            region,
            path_style: endpoint.is_some() || env("AWS_ENDPOINT_URL_S3").is_some(),
            endpoint,
            role_arn,
            in_actions: env("GITHUB_ACTIONS").is_some_and(|v| v == "true"),
            oidc,
            run_id: env("GITHUB_RUN_ID"),
            subject,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(
        "no AWS region: set `aws.region` in the config, or the DR_AWS_REGION or AWS_REGION variable (e.g. eu-west-1)"
    )]
    NoRegion,
    #[error(
        "aws.role-arn is {role}, but this job cannot get a GitHub OIDC token (ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set): give the workflow or job `permissions: id-token: write`"
    )]
    NoIdTokenPermission { role: String },
    #[error(transparent)]
    Oidc(#[from] oidc::OidcError),
    #[error(transparent)]
    Sts(#[from] sts::StsError),
}

/// A ready AWS configuration, and the mask lines to print before anything else.
pub struct Connection {
    pub sdk: SdkConfig,
    pub endpoint: Option<String>,
    pub path_style: bool,
    /// `::add-mask::` lines for every credential obtained (empty outside the OIDC flow).
    pub masks: Vec<String>,
}

pub fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(MAX_ATTEMPTS)
        .with_initial_backoff(Duration::from_millis(200))
        .with_max_backoff(Duration::from_secs(2))
}

pub fn timeout_config() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(READ_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
}

/// The workflow commands that hide `values` in the job's log from here on.
pub fn mask_lines<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    values
        .into_iter()
        .filter(|v| !v.is_empty())
        .map(|v| {
            let escaped = v
                .replace('%', "%25")
                .replace('\r', "%0D")
                .replace('\n', "%0A");
            format!("::add-mask::{escaped}")
        })
        .collect()
}

/// Resolves the region, then the credentials (OIDC + STS inside Actions when a role is set, the
/// default chain otherwise), and returns the configuration every AWS client is built from.
pub async fn connect(
    settings: &AwsSettings,
    http: &reqwest::Client,
) -> Result<Connection, AuthError> {
    let region = match &settings.region {
        Some(r) => r.clone(),
        // Profiles (`AWS_PROFILE`, ~/.aws/config) but not the instance metadata service, which
        // would stall for seconds off EC2.
        None => aws_config::profile::ProfileFileRegionProvider::new()
            .region()
            .await
            .map(|r| r.to_string())
            .ok_or(AuthError::NoRegion)?,
    };
    let base = || {
        let loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region.clone()))
            .retry_config(retry_config())
            .timeout_config(timeout_config());
        match &settings.endpoint {
            Some(endpoint) => loader.endpoint_url(endpoint),
            None => loader,
        }
    };
    let mut loader = base();
    let mut masks = Vec::new();
    match (&settings.role_arn, &settings.oidc) {
        (Some(role), Some(request)) => {
            let jwt = oidc::fetch_token(http, request, oidc::AUDIENCE).await?;
            // AssumeRoleWithWebIdentity is unsigned: no credentials are looked up for it.
            let sts_config = base().no_credentials().load().await;
            let sts_config = aws_sdk_sts::config::Builder::from(&sts_config)
                .retry_config(RetryConfig::disabled())
                .build();
            let client = aws_sdk_sts::Client::from_conf(sts_config);
            let session = sts::session_name(settings.run_id.as_deref());
            let role = sts::assume_role_with_web_identity(
                &client,
                role,
                &session,
                &jwt,
                &settings.subject,
                &sts::RETRY,
            )
            .await?;
            masks = mask_lines([
                role.access_key_id.as_str(),
                role.secret_access_key.expose_secret(),
                role.session_token.expose_secret(),
            ]);
            let credentials = Credentials::new(
                role.access_key_id.clone(),
                role.secret_access_key.expose_secret().to_string(),
                Some(role.session_token.expose_secret().to_string()),
                role.expiration,
                "dr-action-oidc",
            );
            loader = loader.credentials_provider(credentials);
        }
        (Some(role), None) if settings.in_actions => {
            return Err(AuthError::NoIdTokenPermission { role: role.clone() });
        }
        (Some(role), None) => {
            tracing::info!(
                role,
                "not in GitHub Actions: using the default AWS credential chain, not the role"
            );
        }
        (None, _) => {}
    }
    Ok(Connection {
        sdk: loader.load().await,
        endpoint: settings.endpoint.clone(),
        path_style: settings.path_style,
        masks,
    })
}

/// The S3 client of the run.
pub fn s3_client(conn: &Connection) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(&conn.sdk)
        .force_path_style(conn.path_style)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

impl AwsSettings {
    /// The AWS access the config and the environment snapshot describe. The OIDC request
    /// token is the one secret handed over here: `AwsSettings` keeps it as a secret in turn.
    pub fn from_env(aws: Option<&Aws>, env: &crate::env::Env) -> Self {
        use secrecy::ExposeSecret;
        AwsSettings::resolve(aws, |k| match k {
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN" => {
                env.secret(k).map(|s| s.expose_secret().to_string())
            }
            _ => env.setting(k),
        })
    }
}

/// Resolves AWS access from the config and the environment (region, endpoint, credentials
/// through GitHub OIDC inside Actions) and builds the S3 client of the run for `bucket`.
pub async fn connect_s3(
    aws: Option<&Aws>,
    bucket: &str,
    env: &crate::env::Env,
) -> anyhow::Result<(aws_sdk_s3::Client, Connection)> {
    use anyhow::Context;
    let settings = AwsSettings::from_env(aws, env);
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(3))
        .build()
        .context("building the HTTP client")?;
    let conn = connect(&settings, &http)
        .await
        .with_context(|| format!("getting AWS access for bucket `{bucket}`"))?;
    Ok((s3_client(&conn), conn))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    #[test]
    fn the_config_wins_for_region_and_endpoint_the_env_for_the_role() {
        let aws = Aws {
            region: Some("eu-west-1".into()),
            role_arn: Some("arn:aws:iam::1:role/file".into()),
            endpoint: Some("http://127.0.0.1:9000".into()),
        };
        let env = env_of(&[
            ("AWS_REGION", "us-east-2"),
            ("AWS_ENDPOINT_URL", "http://elsewhere"),
            ("DR_AWS_ROLE_ARN", "arn:aws:iam::1:role/env"),
        ]);
        let s = AwsSettings::resolve(Some(&aws), env);
        assert_eq!(s.region.as_deref(), Some("eu-west-1"));
        assert_eq!(s.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(s.role_arn.as_deref(), Some("arn:aws:iam::1:role/env"));
        assert!(s.oidc.is_none() && !s.in_actions);
    }

    #[test]
    fn the_environment_fills_what_the_config_leaves_out() {
        let env = env_of(&[
            ("DR_AWS_REGION", "eu-central-1"),
            ("AWS_REGION", "us-east-2"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
            ("GITHUB_ACTIONS", "true"),
            ("ACTIONS_ID_TOKEN_REQUEST_URL", "http://t/?x=1"),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "tok"),
            ("GITHUB_RUN_ID", "77"),
            ("GITHUB_REPOSITORY", "acme/app"),
            ("GITHUB_REF", "refs/heads/main"),
        ]);
        let s = AwsSettings::resolve(None, env);
        assert_eq!(s.region.as_deref(), Some("eu-central-1"));
        assert_eq!(s.endpoint.as_deref(), Some("http://127.0.0.1:5000"));
        assert!(s.path_style);
        assert!(s.in_actions && s.oidc.is_some());
        assert_eq!(s.subject, "repo:acme/app:ref:refs/heads/main");
        let only_url = AwsSettings::resolve(None, env_of(&[("ACTIONS_ID_TOKEN_REQUEST_URL", "u")]));
        assert!(only_url.oidc.is_none() && !only_url.path_style);
        let s3_only = AwsSettings::resolve(None, env_of(&[("AWS_ENDPOINT_URL_S3", "http://m")]));
        assert!(s3_only.path_style && s3_only.endpoint.is_none());
    }

    #[test]
    fn mask_lines_escape_what_would_break_the_command() {
        assert_eq!(
            mask_lines(["AKIA1", "a%b\nc", ""]),
            ["::add-mask::AKIA1", "::add-mask::a%25b%0Ac"]
        );
    }

    #[tokio::test]
    async fn a_role_without_the_id_token_permission_says_what_to_add() {
        let settings = AwsSettings {
            region: Some("eu-west-1".into()),
            role_arn: Some("arn:aws:iam::1:role/dr".into()),
            in_actions: true,
            ..AwsSettings::default()
        };
        let err = connect(&settings, &reqwest::Client::new())
            .await
            .err()
            .unwrap();
        assert!(
            err.to_string().contains("permissions: id-token: write"),
            "{err}"
        );
    }
}
