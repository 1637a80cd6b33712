//! One HTTP `POST` to a secret URL (the webhook, the heartbeat), bounded in attempts and in
//! time like every delivery of the tool ([`RETRY`], run by [`crate::retry`]): `429` waits for
//! `Retry-After`, `5xx` and connection errors back off (1 s, 2 s, 4 s); any other answer but
//! `2xx` is final. The URL never appears in an error (`reqwest::Error::without_url`).

use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};

use crate::retry::{self, RetryPolicy, Verdict};

/// 4 attempts, waits doubling from 1 s, all within 30 s.
pub const RETRY: RetryPolicy =
    RetryPolicy::new(4, Duration::from_secs(1)).with_deadline(Duration::from_secs(30));

/// A request to send.
pub struct Post<'a> {
    /// What is posted to, for errors and the log (`webhook`, `heartbeat`).
    pub what: &'a str,
    pub url: &'a SecretString,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    pub headers: Vec<(&'static str, String)>,
}

/// A post that was not accepted. Never contains the URL.
#[derive(Debug, thiserror::Error)]
pub enum PostError {
    #[error("the {what} refused it: {status} {text}")]
    Refused {
        what: String,
        status: u16,
        text: String,
    },
    #[error("the {what} did not accept it after {attempts} attempts in {}: {last}", crate::units::human_seconds(*.elapsed))]
    GaveUp {
        what: String,
        attempts: u32,
        elapsed: Duration,
        last: String,
    },
}

enum Attempt {
    RateLimited { text: String, wait: Duration },
    Failed(String),
    Refused { status: u16, text: String },
}

impl std::fmt::Display for Attempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Attempt::RateLimited { text, .. } => write!(f, "429 rate limited {text}"),
            Attempt::Failed(text) => f.write_str(text),
            Attempt::Refused { status, text } => write!(f, "{status} {text}"),
        }
    }
}

/// The client deliveries use: 10 s per request unless the budget is shorter.
pub fn client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| format!("building the HTTP client: {}", e.without_url()))
}

/// Sends `post` as the module header describes.
pub async fn send(
    client: &reqwest::Client,
    post: &Post<'_>,
    policy: RetryPolicy,
) -> Result<(), PostError> {
    let started = Instant::now();
    let attempt = || async {
        let remaining = policy.remaining(started);
        let mut request = client
            .post(post.url.expose_secret())
            .timeout(remaining)
            .header(reqwest::header::CONTENT_TYPE, post.content_type)
            .body(post.body.clone());
        for (name, value) in &post.headers {
            request = request.header(*name, value);
        }
        let resp = request
            .send()
            .await
            .map_err(|e| Attempt::Failed(e.without_url().to_string()))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let text: String = resp
            .text()
            .await
            .unwrap_or_default()
            .trim()
            .chars()
            .take(300)
            .collect();
        Err(match status.as_u16() {
            429 => Attempt::RateLimited {
                text,
                wait: Duration::from_secs(retry_after.unwrap_or(1)),
            },
            s if status.is_server_error() => Attempt::Failed(format!("{s} {text}")),
            s => Attempt::Refused { status: s, text },
        })
    };
    let verdict = |a: &Attempt| match a {
        Attempt::RateLimited { wait, .. } => Verdict::RetryAfter(*wait),
        Attempt::Failed(_) => Verdict::Retry,
        Attempt::Refused { .. } => Verdict::GiveUp,
    };
    retry::run(&policy, post.what, attempt, verdict)
        .await
        .map_err(|failure| match failure.error {
            Attempt::Refused { status, text } => PostError::Refused {
                what: post.what.to_string(),
                status,
                text,
            },
            last => PostError::GaveUp {
                what: post.what.to_string(),
                attempts: failure.attempts,
                elapsed: failure.elapsed,
                last: last.to_string(),
            },
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn giving_up_said_after_4_attempts_in_7_009025259s() {
        let err = PostError::GaveUp {
            what: "Slack webhook".into(),
            attempts: 4,
            elapsed: Duration::from_nanos(7_009_025_259),
            last: "502 Bad Gateway".into(),
        };
        assert_eq!(
            err.to_string(),
            "the Slack webhook did not accept it after 4 attempts in 7.01s: 502 Bad Gateway"
        );
    }
}
