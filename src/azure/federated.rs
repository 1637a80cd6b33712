//! GitHub Actions OIDC as an Azure federated credential: the job's OIDC token, requested for the
//! audience Entra ID expects (`api://AzureADTokenExchange`), is the client assertion that
//! `azure_identity`'s `ClientAssertionCredential` trades at the tenant's token endpoint for a
//! storage token. The token request itself is the one the AWS path makes ([`crate::oidc`]).

use std::fmt;

use async_trait::async_trait;
use azure_core::http::ClientMethodOptions;
use secrecy::ExposeSecret;

use crate::oidc::{self, OidcRequest};

/// The audience Entra ID accepts for a GitHub federated credential.
pub const AUDIENCE: &str = "api://AzureADTokenExchange";

/// Supplies the GitHub OIDC token as the client assertion, fetched anew for each Entra token
/// request (the credential caches the storage token it gets, so that is once an hour at most).
pub struct GitHubAssertion {
    pub http: reqwest::Client,
    pub request: OidcRequest,
}

impl fmt::Debug for GitHubAssertion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitHubAssertion")
            .field("url", &self.request.url)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl azure_identity::ClientAssertion for GitHubAssertion {
    async fn secret(&self, _: Option<ClientMethodOptions<'_>>) -> azure_core::Result<String> {
        oidc::fetch_token(&self.http, &self.request, AUDIENCE)
            .await
            .map(|jwt| jwt.expose_secret().to_string())
            .map_err(|e| {
                azure_core::Error::with_message(
                    azure_core::error::ErrorKind::Credential,
                    e.to_string(),
                )
            })
    }
}
