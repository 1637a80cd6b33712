//! The GitHub REST client this tool uses: octocrab pointed at `GITHUB_API_URL`, authenticated
//! with a token held as a [`SecretString`], sending `X-GitHub-Api-Version: 2022-11-28`.
//! [`publish`] commits files through the Git Data API; [`issues`] keeps the alert issue.
//!
//! Retries live here rather than in octocrab's middleware so that they back off and are
//! bounded like every other call of the tool ([`crate::retry`]): 5xx answers and transport
//! errors are retried after 0.5 s, 1 s, 2 s; any other answer is final. 401 / 403 / 404 become
//! an error naming the permission the workflow must grant, since that is nearly always the fix.

pub mod issues;
pub mod publish;

use std::future::Future;
use std::time::Duration;

use base64::Engine;
use octocrab::Octocrab;
use secrecy::SecretString;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::retry::{self, RetryPolicy, Verdict};

/// The REST API version every request asks for.
pub const API_VERSION: &str = "2022-11-28";

/// A request is sent at most 4 times when GitHub answers 5xx or the connection fails.
pub const RETRY: RetryPolicy = RetryPolicy::new(4, Duration::from_millis(500));

/// A repository, `owner/name`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repo {
    pub owner: String,
    pub name: String,
}

impl Repo {
    /// Parses `owner/name` (as in `GITHUB_REPOSITORY`).
    pub fn parse(text: &str) -> anyhow::Result<Repo> {
        match text.split_once('/') {
            Some((o, n)) if !o.is_empty() && !n.is_empty() && !n.contains('/') => Ok(Repo {
                owner: o.to_string(),
                name: n.to_string(),
            }),
            _ => anyhow::bail!("`{text}` is not a repository: expected OWNER/NAME"),
        }
    }

    /// The API path prefix of the repository: `/repos/OWNER/NAME`.
    pub fn path(&self) -> String {
        format!("/repos/{}/{}", self.owner, self.name)
    }
}

impl std::fmt::Display for Repo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// A request GitHub refused or that never got an answer.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(
        "GitHub answered {status} to {what}: {message}. The token cannot do this: grant the workflow `permissions: {permission}` (and use a token for {repo})"
    )]
    Permission {
        what: String,
        status: u16,
        message: String,
        permission: &'static str,
        repo: String,
    },
    #[error("GitHub answered {status} to {what}: {message}")]
    Status {
        what: String,
        status: u16,
        message: String,
    },
    #[error("{what} failed after {attempts} attempts: {message}")]
    Transport {
        what: String,
        attempts: u32,
        message: String,
    },
}

impl ApiError {
    /// Whether the request may have been applied although it failed (5xx, no answer).
    pub fn is_uncertain(&self) -> bool {
        match self {
            ApiError::Status { status, .. } => *status >= 500,
            ApiError::Transport { .. } => true,
            ApiError::Permission { .. } => false,
        }
    }

    /// The HTTP status GitHub answered, when it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Permission { status, .. } | ApiError::Status { status, .. } => Some(*status),
            ApiError::Transport { .. } => None,
        }
    }
}

/// An authenticated client for one repository.
pub struct GitHub {
    octo: Octocrab,
    pub repo: Repo,
}

impl GitHub {
    /// Builds the client. Must be called inside the async runtime.
    pub fn new(api_url: &str, token: SecretString, repo: Repo) -> anyhow::Result<GitHub> {
        use anyhow::Context;
        let octo = Octocrab::builder()
            .base_uri(api_url.trim_end_matches('/'))
            .with_context(|| format!("GITHUB_API_URL `{api_url}` is not a URL"))?
            .personal_token(token)
            .add_header(
                reqwest::header::HeaderName::from_static("x-github-api-version"),
                API_VERSION.to_string(),
            )
            .add_retry_config(octocrab::service::middleware::retry::RetryConfig::None)
            .set_connect_timeout(Some(Duration::from_secs(10)))
            .set_read_timeout(Some(Duration::from_secs(30)))
            .build()
            .context("building the GitHub client")?;
        Ok(GitHub { octo, repo })
    }

    /// `GET`, decoding the JSON answer.
    pub async fn get<R: DeserializeOwned>(
        &self,
        path: &str,
        permission: &'static str,
    ) -> Result<R, ApiError> {
        self.send(&format!("GET {path}"), permission, RETRY, || {
            self.octo.get::<R, _, ()>(path, None)
        })
        .await
    }

    /// `POST` with a JSON body.
    pub async fn post<B: Serialize, R: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        permission: &'static str,
    ) -> Result<R, ApiError> {
        self.send(&format!("POST {path}"), permission, RETRY, || {
            self.octo.post::<B, R>(path, Some(body))
        })
        .await
    }

    /// `POST` sent once: for requests that are not safe to repeat blindly (a 502 may still
    /// have created the issue), so the caller can look before trying again.
    pub async fn post_once<B: Serialize, R: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        permission: &'static str,
    ) -> Result<R, ApiError> {
        self.send(
            &format!("POST {path}"),
            permission,
            RETRY.with_attempts(1),
            || self.octo.post::<B, R>(path, Some(body)),
        )
        .await
    }

    /// `PATCH` with a JSON body.
    pub async fn patch<B: Serialize, R: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        permission: &'static str,
    ) -> Result<R, ApiError> {
        self.send(&format!("PATCH {path}"), permission, RETRY, || {
            self.octo.patch::<R, _, B>(path, Some(body))
        })
        .await
    }

    /// A file's bytes on `branch` through the contents API; `None` when it does not exist.
    /// The contents API leaves out the content of a file over 1 MiB (`"encoding": "none"`, as a
    /// large ledger or history is); such a file is read as its blob, by its SHA.
    pub async fn read_file(&self, branch: &str, path: &str) -> Result<Option<Vec<u8>>, ApiError> {
        let route = format!("{}/contents/{path}?ref={branch}", self.repo.path());
        let mut value: serde_json::Value = match self.get(&route, "contents: read").await {
            Ok(v) => v,
            Err(e) if e.status() == Some(404) => return Ok(None),
            Err(e) => return Err(e),
        };
        let sha = value
            .get("sha")
            .and_then(|s| s.as_str())
            .map(str::to_string);
        if let (Some("none"), Some(sha)) = (value.get("encoding").and_then(|e| e.as_str()), sha) {
            let blob = format!("{}/git/blobs/{sha}", self.repo.path());
            value = self.get(&blob, "contents: read").await?;
        }
        let encoded: String = value
            .get("content")
            .and_then(|c| c.as_str())
            .unwrap_or_default()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map(Some)
            .map_err(|e| ApiError::Status {
                what: format!("GET {route}"),
                status: 200,
                message: format!("the content is not base64: {e}"),
            })
    }

    /// The repository's default branch, asked of the API.
    pub async fn default_branch(&self) -> Result<String, ApiError> {
        let value: serde_json::Value = self.get(&self.repo.path(), "contents: read").await?;
        Ok(value
            .get("default_branch")
            .and_then(|b| b.as_str())
            .unwrap_or("main")
            .to_string())
    }

    /// Sends a request built by `call` as `policy` says, retrying 5xx answers and transport
    /// errors.
    async fn send<R, F, Fut>(
        &self,
        what: &str,
        permission: &'static str,
        policy: RetryPolicy,
        call: F,
    ) -> Result<R, ApiError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = octocrab::Result<R>>,
    {
        let verdict = |e: &octocrab::Error| match e {
            octocrab::Error::GitHub { source, .. } if source.status_code.is_server_error() => {
                Verdict::Retry
            }
            octocrab::Error::GitHub { .. } => Verdict::GiveUp,
            e if is_transport(e) => Verdict::Retry,
            _ => Verdict::GiveUp,
        };
        retry::run(&policy, what, call, verdict)
            .await
            .map_err(|failure| match failure.error {
                octocrab::Error::GitHub { source, .. } => {
                    let status = source.status_code.as_u16();
                    self.classify(what, status, &source.message, permission)
                }
                e => ApiError::Transport {
                    what: what.to_string(),
                    attempts: failure.attempts,
                    message: e.to_string(),
                },
            })
    }

    fn classify(
        &self,
        what: &str,
        status: u16,
        message: &str,
        permission: &'static str,
    ) -> ApiError {
        if matches!(status, 401 | 403 | 404) {
            ApiError::Permission {
                what: what.to_string(),
                status,
                message: message.to_string(),
                permission,
                repo: self.repo.to_string(),
            }
        } else {
            ApiError::Status {
                what: what.to_string(),
                status,
                message: message.to_string(),
            }
        }
    }
}

/// Errors where no answer came back: worth another try.
fn is_transport(e: &octocrab::Error) -> bool {
    matches!(
        e,
        octocrab::Error::Hyper { .. } | octocrab::Error::Service { .. }
    )
}

impl GitHub {
    /// The client for the current repository (`GITHUB_TOKEN`, `GITHUB_REPOSITORY`,
    /// `GITHUB_API_URL`), or why there is none.
    pub fn from_env(env: &crate::env::Env) -> Result<GitHub, String> {
        let token = env
            .github_token
            .clone()
            .ok_or_else(|| "GITHUB_TOKEN is not set".to_string())?;
        let repo = env
            .workflow
            .repository
            .as_deref()
            .ok_or_else(|| "GITHUB_REPOSITORY is not set".to_string())?;
        let repo = Repo::parse(repo).map_err(|e| e.to_string())?;
        GitHub::new(&env.workflow.api_url, token, repo).map_err(|e| format!("{e:#}"))
    }
}

/// The repository's default branch: from the event payload, else asked of the API.
pub async fn default_branch(wf: &crate::workflow::Workflow, gh: &GitHub) -> anyhow::Result<String> {
    match &wf.default_branch {
        Some(b) => Ok(b.clone()),
        None => Ok(gh.default_branch().await?),
    }
}
