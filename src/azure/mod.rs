//! Azure Blob access: which endpoint, which credential, and the one container client of the run,
//! built with bounded retries and timeouts. [`crate::store::azure`] reads through it.
//!
//! Credentials, first match wins:
//! 1. `storage.azure.connection-string-env` / `account-key-env`: the account key is turned into a
//!    short-lived read-and-list account SAS ([`sas`]); a connection string's own SAS is used as
//!    it is.
//! 2. In GitHub Actions with `AZURE_CLIENT_ID` and `AZURE_TENANT_ID`: OIDC federated credentials
//!    ([`federated`]); without `permissions: id-token: write` this is an error that says so.
//! 3. `AZURE_CLIENT_ID`, `AZURE_TENANT_ID` and `AZURE_CLIENT_SECRET`: a service principal.
//! 4. Otherwise the developer tools' login (Azure CLI, Azure Developer CLI).
//!
//! Every value comes from the [`Env`] snapshot; `AZURE_AUTHORITY_HOST` moves the Entra ID token
//! endpoint (sovereign clouds, tests). Keys, SAS signatures and the client secret are returned as
//! `::add-mask::` lines before anything else is printed.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use azure_core::credentials::TokenCredential;
use azure_core::http::{ClientOptions, ExponentialRetryOptions, RetryOptions, Transport, Url};
use azure_storage_blob::{BlobContainerClient, BlobContainerClientOptions};
use secrecy::{ExposeSecret, SecretString};

use crate::config::AzureStorage;
use crate::env::Env;
use crate::oidc::OidcRequest;
use crate::store::azure::AzureStore;

pub mod federated;
pub mod sas;

pub use crate::store::azure::MAX_RETRIES;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Between two reads of a response body; a stalled download fails instead of hanging.
const READ_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a SAS minted from the account key is valid: a full restore must finish within it.
const SAS_LIFETIME: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// How requests are authorised.
pub enum Access {
    /// A SAS query appended to the container URL.
    Sas(SecretString),
    /// An Entra ID token credential (requires https).
    Token(Arc<dyn TokenCredential>, &'static str),
}

/// The container client, how it authenticates (for messages), and the mask lines.
pub struct Connected {
    pub store: AzureStore,
    pub masks: Vec<String>,
}

/// The blob service URL: the config's endpoint, else the connection string's, else the public
/// cloud's for the account.
pub fn service_url(azure: &AzureStorage, from_connection_string: Option<&str>) -> String {
    azure
        .endpoint
        .clone()
        .or_else(|| from_connection_string.map(str::to_string))
        .unwrap_or_else(|| format!("https://{}.blob.core.windows.net", azure.account))
        .trim_end_matches('/')
        .to_string()
}

/// Resolves the credential the config and the environment name (see the module header).
pub fn resolve_access(
    azure: &AzureStorage,
    env: &Env,
    http: &reqwest::Client,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(Access, Option<String>, Vec<String>)> {
    let secret = |name: &str, key: &str| {
        env.secret(name).with_context(|| {
            format!("storage.azure.{key} names the variable {name}, which is not set or empty")
        })
    };
    if let Some(name) = &azure.connection_string_env {
        let text = secret(name, "connection-string-env")?;
        let parsed = sas::parse_connection_string(&text)
            .with_context(|| format!("the connection string in {name}"))?;
        if let (Some(a), None) = (&parsed.account, &azure.endpoint)
            && a != &azure.account
        {
            bail!(
                "the connection string in {name} is for account `{a}`, but storage.azure.account is `{}`",
                azure.account
            );
        }
        let (access, masks) = match (&parsed.sas, &parsed.key) {
            (Some(token), _) => (
                Access::Sas(token.clone()),
                crate::aws::mask_lines(sas::signature_of(token).as_deref()),
            ),
            (None, Some(key)) => key_access(&azure.account, key, now)?,
            (None, None) => unreachable!("parse_connection_string requires a key or a SAS"),
        };
        return Ok((access, parsed.blob_endpoint, masks));
    }
    if let Some(name) = &azure.account_key_env {
        let key = secret(name, "account-key-env")?;
        let (access, masks) = key_access(&azure.account, &key, now)?;
        return Ok((access, None, masks));
    }
    let client_id = env
        .setting("AZURE_CLIENT_ID")
        .filter(|v| !v.trim().is_empty());
    let tenant_id = env
        .setting("AZURE_TENANT_ID")
        .filter(|v| !v.trim().is_empty());
    let in_actions = env.setting("GITHUB_ACTIONS").is_some_and(|v| v == "true");
    let oidc = match (
        env.setting("ACTIONS_ID_TOKEN_REQUEST_URL"),
        env.secret("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
    ) {
        (Some(url), Some(token)) if !url.trim().is_empty() => Some(OidcRequest { url, token }),
        _ => None,
    };
    let options = || ClientOptions {
        cloud: env.setting("AZURE_AUTHORITY_HOST").map(|host| {
            let mut custom = CustomConfiguration::default();
            custom.authority_host = host;
            Arc::new(CloudConfiguration::Custom(custom))
        }),
        transport: Some(Transport::new(Arc::new(http.clone()))),
        ..ClientOptions::default()
    };
    let secret_var = env.secret("AZURE_CLIENT_SECRET");
    match (client_id, tenant_id) {
        (Some(client), Some(tenant)) if in_actions || oidc.is_some() => {
            let Some(request) = oidc else {
                bail!(
                    "AZURE_CLIENT_ID is set but this job cannot request a GitHub OIDC token: add `permissions: id-token: write` to the job (and a federated credential for this repository to the app registration {client})"
                );
            };
            let assertion = federated::GitHubAssertion {
                http: http.clone(),
                request,
            };
            let credential = azure_identity::ClientAssertionCredential::new(
                tenant,
                client,
                assertion,
                Some(azure_identity::ClientAssertionCredentialOptions {
                    client_options: options(),
                }),
            )
            .context("building the federated credential (AZURE_TENANT_ID, AZURE_CLIENT_ID)")?;
            Ok((
                Access::Token(credential, "GitHub OIDC federated credential"),
                None,
                Vec::new(),
            ))
        }
        (Some(client), Some(tenant)) if secret_var.is_some() => {
            let value = secret_var
                .map(|s| s.expose_secret().to_string())
                .unwrap_or_default();
            let masks = crate::aws::mask_lines([value.as_str()]);
            let credential = azure_identity::ClientSecretCredential::new(
                &tenant,
                client,
                value.into(),
                Some(azure_identity::ClientSecretCredentialOptions {
                    client_options: options(),
                }),
            )
            .context("building the service principal credential (AZURE_CLIENT_SECRET)")?;
            Ok((
                Access::Token(credential, "service principal (AZURE_CLIENT_SECRET)"),
                None,
                masks,
            ))
        }
        _ => {
            let credential = azure_identity::DeveloperToolsCredential::new(None)
                .context("building the Azure CLI credential")?;
            Ok((
                Access::Token(credential, "Azure CLI login"),
                None,
                Vec::new(),
            ))
        }
    }
}

fn key_access(
    account: &str,
    key: &SecretString,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(Access, Vec<String>)> {
    let token = sas::account_sas(account, key, sas::READ_LIST, now, now + SAS_LIFETIME)
        .context("signing a SAS with the account key")?;
    let sig = sas::signature_of(&token);
    let masks = crate::aws::mask_lines(
        [Some(key.expose_secret()), sig.as_deref()]
            .into_iter()
            .flatten(),
    );
    Ok((Access::Sas(token), masks))
}

/// The HTTP client every Azure request goes through: bounded connect and read times, no
/// transparent decompression (a backup's bytes are read as stored).
pub fn http_client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(READ_TIMEOUT)
        .build()
        .context("building the HTTP client")
}

/// The retry policy: exponential from 200 ms, at most [`MAX_RETRIES`] retries within 60 s.
pub fn retry_options() -> RetryOptions {
    RetryOptions::exponential(ExponentialRetryOptions {
        initial_delay: azure_core::time::Duration::milliseconds(200),
        max_retries: MAX_RETRIES,
        max_total_elapsed: azure_core::time::Duration::seconds(60),
        max_delay: azure_core::time::Duration::seconds(4),
    })
}

/// Builds the container client for `storage.azure` with the credential the environment gives.
pub async fn connect(azure: &AzureStorage, env: &Env) -> Result<Connected> {
    let http = http_client()?;
    let (access, endpoint, masks) = resolve_access(azure, env, &http, chrono::Utc::now())?;
    let service = service_url(azure, endpoint.as_deref());
    let mut url = Url::parse(&format!("{service}/"))
        .with_context(|| format!("storage.azure.endpoint `{service}` is not a URL"))?;
    url.path_segments_mut()
        .map_err(|()| anyhow::anyhow!("storage.azure.endpoint `{service}` cannot hold a path"))?
        .pop_if_empty()
        .push(&azure.container);
    let (credential, how) = match access {
        Access::Sas(token) => {
            url.set_query(Some(token.expose_secret()));
            (None, crate::store::azure::SAS)
        }
        Access::Token(c, how) => {
            if url.scheme() != "https" {
                bail!(
                    "storage.azure.endpoint `{service}` is http: Entra ID tokens ({how}) are only sent over https; use https, or a connection string / account key (connection-string-env, account-key-env) for an emulator"
                );
            }
            (Some(c), how)
        }
    };
    let options = BlobContainerClientOptions {
        client_options: ClientOptions {
            retry: retry_options(),
            transport: Some(Transport::new(Arc::new(http))),
            ..ClientOptions::default()
        },
        ..BlobContainerClientOptions::default()
    };
    let client = BlobContainerClient::new(url, credential, Some(options))
        .context("building the Azure Blob container client")?;
    Ok(Connected {
        store: AzureStore::new(client, &azure.account, &azure.container, &service, how),
        masks,
    })
}
