//! `sts:AssumeRoleWithWebIdentity`: trades the job's OIDC token for an hour of credentials of the
//! configured role. STS throttles, and its call to GitHub's OIDC provider sometimes fails
//! (`IDPCommunicationError`); both pass, so those and 5xx answers are retried with exponential
//! backoff, bounded in attempts and in total time ([`RETRY`], run by [`crate::retry`]). Anything
//! else (a trust policy that refuses the repository, a token STS rejects) fails at once with what
//! to check.

use std::time::{Duration, SystemTime};

use aws_sdk_sts::Client;
use aws_sdk_sts::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use secrecy::{ExposeSecret, SecretString};

use crate::retry::{self, RetryPolicy, Verdict};

/// How long the assumed credentials last (the check, and a monthly full read, fit in it).
pub const SESSION_SECONDS: i32 = 3600;

/// 5 attempts, waits doubling from 1 s up to 8 s, none ending later than 60 s after the first.
pub const RETRY: RetryPolicy = RetryPolicy::new(5, Duration::from_secs(1))
    .with_max_backoff(Duration::from_secs(8))
    .with_deadline(Duration::from_secs(60));

/// Credentials of the assumed role. The secret parts stay wrapped until the S3 client takes them.
#[derive(Clone, Debug)]
pub struct AssumedRole {
    pub access_key_id: String,
    pub secret_access_key: SecretString,
    pub session_token: SecretString,
    pub expiration: Option<SystemTime>,
}

#[derive(Debug, thiserror::Error)]
pub enum StsError {
    #[error(
        "AccessDenied: STS refused to let this workflow assume {role}: {message}. Check the role's trust policy: the principal must be the OIDC provider token.actions.githubusercontent.com, `token.actions.githubusercontent.com:aud` must be sts.amazonaws.com and `:sub` must match this repository and ref ({subject}) (see policies/oidc_trust_policy.json)"
    )]
    AccessDenied {
        role: String,
        subject: String,
        message: String,
    },
    #[error(
        "{code}: STS rejected the GitHub OIDC token for {role}: {message}. Check that the account has an IAM OIDC provider for token.actions.githubusercontent.com with audience sts.amazonaws.com"
    )]
    BadToken {
        code: String,
        role: String,
        message: String,
    },
    #[error("{code}: assuming {role} failed after {attempts} attempt(s): {message}")]
    Failed {
        code: String,
        role: String,
        attempts: u32,
        message: String,
    },
    #[error("STS answered without credentials when assuming {role}")]
    NoCredentials { role: String },
}

/// Whether a failed call is worth another attempt: throttling, the IdP call STS makes, 5xx, or
/// no answer at all.
pub fn is_retryable(code: Option<&str>, status: Option<u16>) -> bool {
    let throttled = matches!(
        code,
        Some(
            "Throttling"
                | "ThrottlingException"
                | "RequestLimitExceeded"
                | "TooManyRequestsException"
                | "IDPCommunicationError"
        )
    );
    throttled || status.is_none_or(|s| s >= 500 || s == 429)
}

/// `dr-action-<run id>`, within the characters and the 64 characters STS allows.
pub fn session_name(run_id: Option<&str>) -> String {
    let id: String = run_id
        .unwrap_or("local")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "+=,.@-_".contains(*c))
        .collect();
    let mut name = format!("dr-action-{id}");
    name.truncate(64);
    name
}

/// One failed call, with what the message and the retry decision need.
struct Attempt {
    code: Option<String>,
    status: Option<u16>,
    message: String,
    no_answer: bool,
}

impl std::fmt::Display for Attempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.code, self.status) {
            (Some(code), Some(status)) => write!(f, "{code} (HTTP {status})")?,
            (Some(code), None) => f.write_str(code)?,
            (None, Some(status)) => write!(f, "HTTP {status}")?,
            (None, None) => f.write_str("no answer")?,
        }
        write!(f, ": {}", self.message)
    }
}

/// Assumes `role_arn` with the OIDC `token`, retrying as `policy` says. `subject` describes the
/// repository for messages (`repo:OWNER/REPO:…`).
pub async fn assume_role_with_web_identity(
    client: &Client,
    role_arn: &str,
    session: &str,
    token: &SecretString,
    subject: &str,
    policy: &RetryPolicy,
) -> Result<AssumedRole, StsError> {
    let attempt = || async {
        let sent = client
            .assume_role_with_web_identity()
            .role_arn(role_arn)
            .role_session_name(session)
            .web_identity_token(token.expose_secret())
            .duration_seconds(SESSION_SECONDS)
            .send()
            .await;
        sent.map_err(|err| Attempt {
            status: err.raw_response().map(|r| r.status().as_u16()),
            code: err.code().map(str::to_string),
            message: err
                .message()
                .map(str::to_string)
                .unwrap_or_else(|| DisplayErrorContext(&err).to_string()),
            no_answer: matches!(
                err,
                SdkError::DispatchFailure(_) | SdkError::TimeoutError(_)
            ),
        })
    };
    // A refused role or token is final whatever the status; see the error mapping below.
    let verdict = |a: &Attempt| match a.code.as_deref() {
        Some("AccessDenied" | "InvalidIdentityToken" | "ExpiredToken") => Verdict::GiveUp,
        code if is_retryable(code, a.status) => Verdict::Retry,
        _ => Verdict::GiveUp,
    };
    let role = || role_arn.to_string();
    let out = retry::run(policy, "AssumeRoleWithWebIdentity", attempt, verdict)
        .await
        .map_err(|failure| {
            let Attempt {
                code,
                status,
                message,
                no_answer,
            } = failure.error;
            match code.as_deref() {
                Some("AccessDenied") => StsError::AccessDenied {
                    role: role(),
                    subject: subject.to_string(),
                    message,
                },
                Some(c @ ("InvalidIdentityToken" | "ExpiredToken")) => StsError::BadToken {
                    code: c.to_string(),
                    role: role(),
                    message,
                },
                _ => StsError::Failed {
                    code: code.unwrap_or_else(|| match (no_answer, status) {
                        (true, _) => "Unreachable".into(),
                        (false, Some(s)) => format!("HTTP {s}"),
                        (false, None) => "Unknown".into(),
                    }),
                    role: role(),
                    attempts: failure.attempts,
                    message,
                },
            }
        })?;
    let creds = out
        .credentials
        .ok_or_else(|| StsError::NoCredentials { role: role() })?;
    Ok(AssumedRole {
        access_key_id: creds.access_key_id,
        secret_access_key: SecretString::from(creds.secret_access_key),
        session_token: SecretString::from(creds.session_token),
        expiration: SystemTime::try_from(creds.expiration).ok(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_idp_errors_and_5xx_are_retried_the_rest_is_not() {
        assert!(is_retryable(Some("Throttling"), Some(400)));
        assert!(is_retryable(Some("IDPCommunicationError"), Some(400)));
        assert!(is_retryable(Some("InternalFailure"), Some(500)));
        assert!(is_retryable(None, Some(503)));
        assert!(is_retryable(None, None));
        assert!(!is_retryable(Some("AccessDenied"), Some(403)));
        assert!(!is_retryable(Some("InvalidIdentityToken"), Some(400)));
        assert!(!is_retryable(Some("ValidationError"), Some(400)));
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let waits: Vec<u64> = RETRY
            .with_attempts(7)
            .waits()
            .map(|d| d.as_secs())
            .collect();
        assert_eq!(waits, [1, 2, 4, 8, 8, 8]);
        assert_eq!(RETRY.waits().count(), 4, "five attempts in all");
        assert_eq!(RETRY.deadline, Some(Duration::from_secs(60)));
    }

    #[test]
    fn the_session_name_carries_the_run_id_and_only_allowed_characters() {
        assert_eq!(session_name(Some("123")), "dr-action-123");
        assert_eq!(session_name(None), "dr-action-local");
        assert_eq!(session_name(Some("a b/c")), "dr-action-abc");
        assert_eq!(session_name(Some(&"9".repeat(100))).len(), 64);
    }
}
