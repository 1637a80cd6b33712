//! The GitHub Actions OIDC token: a JWT the runner issues to a job that has
//! `permissions: id-token: write`, fetched from `ACTIONS_ID_TOKEN_REQUEST_URL` with the bearer
//! `ACTIONS_ID_TOKEN_REQUEST_TOKEN` and the audience the cloud expects. [`crate::aws::sts`]
//! trades it for AWS credentials, [`crate::azure::federated`] for an Entra ID token. Both the
//! request token and the JWT are secrets and stay wrapped.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use crate::retry::{self, RetryPolicy, Verdict};

/// The audience AWS STS accepts for GitHub's OIDC provider.
pub const AUDIENCE: &str = "sts.amazonaws.com";

/// A token request that got no answer or a 5xx is made 3 times in all, 0.5 s then 1 s apart.
pub const RETRY: RetryPolicy = RetryPolicy::new(3, Duration::from_millis(500));

/// Where to ask for the token, as the runner gives it.
#[derive(Clone, Debug)]
pub struct OidcRequest {
    pub url: String,
    pub token: SecretString,
}

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("ACTIONS_ID_TOKEN_REQUEST_URL is not a URL: {0}")]
    BadUrl(String),
    #[error("requesting the GitHub OIDC token failed after {n} attempts: {0}", n = RETRY.attempts)]
    Unreachable(String),
    #[error(
        "the GitHub OIDC token endpoint answered HTTP {status}: {body} (does the job have `permissions: id-token: write`?)"
    )]
    Refused { status: u16, body: String },
    #[error("the GitHub OIDC token endpoint answered without a token (`value`): {0}")]
    NoToken(String),
}

/// The request URL with `audience` added to its query.
pub fn token_url(base: &str, audience: &str) -> Result<reqwest::Url, OidcError> {
    let mut url = reqwest::Url::parse(base).map_err(|e| OidcError::BadUrl(e.to_string()))?;
    url.query_pairs_mut().append_pair("audience", audience);
    Ok(url)
}

#[derive(serde::Deserialize)]
struct TokenResponse {
    value: Option<String>,
}

/// Fetches the job's OIDC token for `audience`, retrying briefly ([`RETRY`]) when the runner's
/// service does not answer or answers 5xx.
pub async fn fetch_token(
    http: &reqwest::Client,
    request: &OidcRequest,
    audience: &str,
) -> Result<SecretString, OidcError> {
    let url = token_url(&request.url, audience)?;
    /// Why an attempt failed: no answer or a 5xx (worth another try), or a final error.
    enum Attempt {
        Unanswered(String),
        Final(OidcError),
    }
    impl std::fmt::Display for Attempt {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            match self {
                Attempt::Unanswered(why) => f.write_str(why),
                Attempt::Final(e) => e.fmt(f),
            }
        }
    }
    let attempt = || async {
        let response = http
            .get(url.clone())
            .bearer_auth(request.token.expose_secret())
            .header(reqwest::header::ACCEPT, "application/json")
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| Attempt::Unanswered(e.to_string()))?;
        let status = response.status();
        if status.is_server_error() {
            return Err(Attempt::Unanswered(format!("HTTP {status}")));
        }
        let body = response
            .text()
            .await
            .map_err(|e| Attempt::Final(OidcError::Unreachable(e.to_string())))?;
        if !status.is_success() {
            return Err(Attempt::Final(OidcError::Refused {
                status: status.as_u16(),
                body: body.chars().take(300).collect(),
            }));
        }
        let parsed: TokenResponse = serde_json::from_str(&body)
            .map_err(|e| Attempt::Final(OidcError::NoToken(format!("not JSON: {e}"))))?;
        match parsed.value {
            Some(v) if !v.is_empty() => Ok(SecretString::from(v)),
            _ => Err(Attempt::Final(OidcError::NoToken(
                "`value` is missing or empty".into(),
            ))),
        }
    };
    let verdict = |a: &Attempt| match a {
        Attempt::Unanswered(_) => Verdict::Retry,
        Attempt::Final(_) => Verdict::GiveUp,
    };
    retry::run(&RETRY, "the GitHub OIDC token request", attempt, verdict)
        .await
        .map_err(|failure| match failure.error {
            Attempt::Unanswered(last) => OidcError::Unreachable(last),
            Attempt::Final(e) => e,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_audience_joins_the_runners_query() {
        let url = token_url("https://pipelines.example/token?api-version=2.0", AUDIENCE).unwrap();
        assert_eq!(
            url.as_str(),
            "https://pipelines.example/token?api-version=2.0&audience=sts.amazonaws.com"
        );
        let bare = token_url("http://127.0.0.1:9/t", AUDIENCE).unwrap();
        assert_eq!(bare.query(), Some("audience=sts.amazonaws.com"));
        assert!(token_url("not a url", AUDIENCE).is_err());
    }
}
