//! Email alerts through an SMTP server (lettre, on tokio with rustls): one multipart message,
//! plain text and HTML, per alert.
//!
//! The server is a URL held in a secret variable, with the login in it when the server wants
//! one (`AUTH PLAIN`/`LOGIN` with the URL's user and password, percent-decoded):
//!
//! | scheme             | connection                                         | default port |
//! |--------------------|----------------------------------------------------|--------------|
//! | `smtp://`          | STARTTLS when the server offers it, else plain     | 587          |
//! | `smtp+starttls://` | STARTTLS required: fails if the server lacks it    | 587          |
//! | `smtps://`         | implicit TLS from the first byte                   | 465          |
//!
//! Certificates are checked against the platform's roots. Delivery is bounded like every
//! channel's: a connection error or a `4xx` answer (temporary) is retried after 1 s, 2 s, 4 s,
//! within 30 s; a `5xx` answer (permanent), a failed TLS handshake or a missing STARTTLS is
//! final. The URL, and so the password, never
//! appears in an error: errors are built from the server's answer and lettre's kind of failure.

use std::time::{Duration, Instant};

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};

use crate::retry::{self, RetryPolicy, Verdict};

/// 4 attempts, waits doubling from 1 s, all within 30 s.
pub const RETRY: RetryPolicy =
    RetryPolicy::new(4, Duration::from_secs(1)).with_deadline(Duration::from_secs(30));

/// How long one SMTP command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// How the connection is secured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Security {
    Opportunistic,
    StartTls,
    Implicit,
}

/// The server a URL names, without the login.
#[derive(Debug)]
pub struct Server {
    pub host: String,
    pub port: u16,
    pub security: Security,
    credentials: Option<Credentials>,
}

impl Server {
    /// Whether the URL carried a login.
    pub fn authenticates(&self) -> bool {
        self.credentials.is_some()
    }
}

/// Parses the SMTP URL. The error never quotes the URL (it holds the password).
pub fn parse_url(url: &SecretString) -> Result<Server, String> {
    let parsed = url::Url::parse(url.expose_secret().trim())
        .map_err(|e| format!("the SMTP URL does not parse: {e}"))?;
    let (security, default_port) = match parsed.scheme() {
        "smtp" => (Security::Opportunistic, 587),
        "smtp+starttls" => (Security::StartTls, 587),
        "smtps" => (Security::Implicit, 465),
        other => {
            return Err(format!(
                "the SMTP URL's scheme `{other}` is not one of smtp://, smtp+starttls://, smtps://"
            ));
        }
    };
    let host = parsed
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or("the SMTP URL has no host")?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| "the SMTP URL's login is not UTF-8 once decoded".to_string())
    };
    let credentials = match (parsed.username(), parsed.password()) {
        ("", None) => None,
        (user, Some(password)) => Some(Credentials::new(decode(user)?, decode(password)?)),
        (_, None) => return Err("the SMTP URL has a user but no password".to_string()),
    };
    Ok(Server {
        host,
        port: parsed.port().unwrap_or(default_port),
        security,
        credentials,
    })
}

/// The multipart message.
pub fn message(
    from: &str,
    to: &[String],
    subject: &str,
    plain: String,
    html: String,
) -> Result<Message, String> {
    let mut builder = Message::builder()
        .from(
            from.parse::<Mailbox>()
                .map_err(|e| format!("notify.email.from: {e}"))?,
        )
        .subject(subject);
    for (i, addr) in to.iter().enumerate() {
        builder = builder.to(addr
            .parse::<Mailbox>()
            .map_err(|e| format!("notify.email.to[{i}]: {e}"))?);
    }
    builder
        .multipart(MultiPart::alternative_plain_html(plain, html))
        .map_err(|e| format!("building the message: {e}"))
}

/// An email that was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    /// A permanent (5xx) answer, a failed login, a TLS failure: trying again cannot help.
    #[error("it failed for good: {0}")]
    Final(String),
    #[error("the SMTP server did not accept it after {attempts} attempts in {}: {last}", crate::units::human_seconds(*.elapsed))]
    GaveUp {
        attempts: u32,
        elapsed: Duration,
        last: String,
    },
    #[error("{0}")]
    Setup(String),
}

fn transport(server: &Server) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let tls = |host: &str| {
        TlsParameters::new(host.to_string()).map_err(|e| format!("setting up TLS: {e}"))
    };
    let security = match server.security {
        Security::Opportunistic => Tls::Opportunistic(tls(&server.host)?),
        Security::StartTls => Tls::Required(tls(&server.host)?),
        Security::Implicit => Tls::Wrapper(tls(&server.host)?),
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&server.host)
        .port(server.port)
        .tls(security)
        .timeout(Some(COMMAND_TIMEOUT));
    if let Some(credentials) = &server.credentials {
        builder = builder.credentials(credentials.clone());
    }
    Ok(builder.build())
}

/// lettre's error in words, without anything of the URL: the server's answer when there was
/// one, else what failed (connection, TLS, timeout).
fn describe(e: &lettre::transport::smtp::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// One attempt that did not deliver: the text, and whether the server's answer was final.
struct Failed {
    permanent: bool,
    text: String,
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// Sends `message` to the server the URL names, as the module header describes.
pub async fn send(
    url: &SecretString,
    message: &Message,
    policy: RetryPolicy,
) -> Result<(), EmailError> {
    let server = parse_url(url).map_err(EmailError::Setup)?;
    let mailer = transport(&server).map_err(EmailError::Setup)?;
    let started = Instant::now();
    let attempt = || async {
        // No attempt may outlive the budget, however slowly the server answers (lettre's own
        // timeout does not bound every read).
        let remaining = policy.remaining(started);
        match tokio::time::timeout(remaining, mailer.send(message.clone())).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(Failed {
                // A 5xx, or a failure on this side (STARTTLS missing, a bad certificate).
                permanent: e.is_permanent() || e.is_client() || e.is_tls(),
                text: describe(&e),
            }),
            Err(_) => Err(Failed {
                permanent: false,
                text: format!("no answer within {} s", remaining.as_secs()),
            }),
        }
    };
    let verdict = |f: &Failed| {
        if f.permanent {
            Verdict::GiveUp
        } else {
            Verdict::Retry
        }
    };
    retry::run(&policy, "SMTP server", attempt, verdict)
        .await
        .map_err(|failure| {
            if failure.error.permanent {
                EmailError::Final(failure.error.text)
            } else {
                EmailError::GaveUp {
                    attempts: failure.attempts,
                    elapsed: failure.elapsed,
                    last: failure.error.text,
                }
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> Result<Server, String> {
        parse_url(&SecretString::from(url.to_string()))
    }

    #[test]
    fn the_three_schemes_choose_security_and_default_port() {
        let s = parse("smtp://mail.example").unwrap();
        assert_eq!(
            (s.security, s.port, s.authenticates()),
            (Security::Opportunistic, 587, false)
        );
        let s = parse("smtp+starttls://u:p@mail.example:2525").unwrap();
        assert_eq!(
            (s.security, s.port, s.authenticates()),
            (Security::StartTls, 2525, true)
        );
        let s = parse("smtps://u%40x:p%2Fw@mail.example").unwrap();
        assert_eq!((s.security, s.port), (Security::Implicit, 465));
        assert!(s.authenticates());
    }

    #[test]
    fn a_bad_url_is_refused_without_quoting_the_password() {
        for url in [
            "http://u:hunter2@mail.example",
            "smtp://u@mail.example",
            "smtp://:hunter2@",
            "not a url hunter2",
        ] {
            let e = parse(url).unwrap_err();
            assert!(!e.contains("hunter2"), "{e}");
        }
        assert!(
            parse("imap://u:hunter2@x")
                .unwrap_err()
                .contains("not one of smtp://")
        );
    }
}
