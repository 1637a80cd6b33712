//! Shared-key access without shared-key signing: Microsoft's blob SDK authenticates with Entra ID
//! tokens or a SAS URL only, so an account key (given directly or in a connection string) is
//! turned here into a short-lived, read-and-list-only account SAS, which the SDK then carries on
//! every request. The account SAS string-to-sign is a fixed list of fields joined by newlines
//! (no request canonicalisation), signed with HMAC-SHA256 under the decoded key. Pure: the time
//! is passed in.
//!
//! Also the connection-string parser (`Key=Value;…`, the format the Azure portal and Azurite
//! print).

use base64::Engine as _;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};

/// The service version the SAS is signed for (the string-to-sign's layout depends on it).
pub const SAS_VERSION: &str = "2021-08-06";

/// The well-known key of the storage emulator's `devstoreaccount1` (public, documented).
pub const DEV_STORE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const DEV_STORE_ACCOUNT: &str = "devstoreaccount1";
const DEV_STORE_ENDPOINT: &str = "http://127.0.0.1:10000/devstoreaccount1";

/// What a connection string says, secrets wrapped.
#[derive(Debug)]
pub struct ConnectionString {
    pub account: Option<String>,
    pub key: Option<SecretString>,
    /// A SAS token (`sv=…&sig=…`), without the leading `?`.
    pub sas: Option<SecretString>,
    pub blob_endpoint: Option<String>,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SasError {
    #[error("the connection string has no AccountKey nor SharedAccessSignature")]
    NoKey,
    #[error("the connection string's part {0} is not `Key=Value`")]
    Malformed(usize),
    #[error("the account key is not base64")]
    KeyNotBase64,
}

/// Parses `DefaultEndpointsProtocol=https;AccountName=…;AccountKey=…;EndpointSuffix=…` (or with
/// `BlobEndpoint=` / `SharedAccessSignature=`, or `UseDevelopmentStorage=true`). Unknown keys
/// are ignored, as every Azure tool does; error messages never quote a value.
pub fn parse_connection_string(text: &SecretString) -> Result<ConnectionString, SasError> {
    let mut account = None;
    let mut key = None;
    let mut sas = None;
    let mut blob_endpoint = None;
    let mut protocol = "https".to_string();
    let mut suffix = "core.windows.net".to_string();
    let mut development = false;
    for (i, part) in text
        .expose_secret()
        .split(';')
        .map(str::trim)
        .enumerate()
        .filter(|(_, p)| !p.is_empty())
    {
        let (k, v) = part.split_once('=').ok_or(SasError::Malformed(i + 1))?;
        match k.trim().to_ascii_lowercase().as_str() {
            "accountname" => account = Some(v.trim().to_string()),
            "accountkey" => key = Some(SecretString::from(v.trim().to_string())),
            "sharedaccesssignature" => {
                sas = Some(SecretString::from(
                    v.trim().trim_start_matches('?').to_string(),
                ))
            }
            "blobendpoint" => blob_endpoint = Some(v.trim().trim_end_matches('/').to_string()),
            "defaultendpointsprotocol" => protocol = v.trim().to_string(),
            "endpointsuffix" => suffix = v.trim().to_string(),
            "usedevelopmentstorage" => development = v.trim().eq_ignore_ascii_case("true"),
            _ => {}
        }
    }
    if development {
        account.get_or_insert_with(|| DEV_STORE_ACCOUNT.to_string());
        key.get_or_insert_with(|| SecretString::from(DEV_STORE_KEY));
        blob_endpoint.get_or_insert_with(|| DEV_STORE_ENDPOINT.to_string());
    }
    if key.is_none() && sas.is_none() {
        return Err(SasError::NoKey);
    }
    if blob_endpoint.is_none()
        && let Some(a) = &account
    {
        blob_endpoint = Some(format!("{protocol}://{a}.blob.{suffix}"));
    }
    Ok(ConnectionString {
        account,
        key,
        sas,
        blob_endpoint,
    })
}

/// The permissions dr-action asks for: read (`r`) and list (`l`), nothing that writes.
pub const READ_LIST: &str = "rl";

/// An account SAS for the blob service with `permissions` ([`READ_LIST`] for dr-action itself),
/// on containers and objects, valid from five minutes before `now` (clock skew) until
/// `expiry`, for https and http (the emulator). Returns the query string without `?`.
pub fn account_sas(
    account: &str,
    key: &SecretString,
    permissions: &str,
    now: DateTime<Utc>,
    expiry: DateTime<Utc>,
) -> Result<SecretString, SasError> {
    let key = base64::engine::general_purpose::STANDARD
        .decode(key.expose_secret().trim())
        .map_err(|_| SasError::KeyNotBase64)?;
    let fmt = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let (services, resource_types, protocol) = ("b", "co", "https,http");
    let start = fmt(now - chrono::Duration::minutes(5));
    let expiry = fmt(expiry);
    // Account name, permissions, services, resource types, start, expiry, IP, protocol,
    // version, encryption scope, each followed by a newline.
    let to_sign = format!(
        "{account}\n{permissions}\n{services}\n{resource_types}\n{start}\n{expiry}\n\n{protocol}\n{SAS_VERSION}\n\n"
    );
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).map_err(|_| SasError::KeyNotBase64)?;
    mac.update(to_sign.as_bytes());
    let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("sv", SAS_VERSION)
        .append_pair("ss", services)
        .append_pair("srt", resource_types)
        .append_pair("sp", permissions)
        .append_pair("st", &start)
        .append_pair("se", &expiry)
        .append_pair("spr", protocol)
        .append_pair("sig", &sig)
        .finish();
    Ok(SecretString::from(query))
}

/// The `sig` value of a SAS query, for masking.
pub fn signature_of(sas: &SecretString) -> Option<String> {
    url::form_urlencoded::parse(sas.expose_secret().as_bytes())
        .find(|(k, _)| k == "sig")
        .map(|(_, v)| v.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_string())
    }

    #[test]
    fn a_connection_string_with_a_key_names_the_account_and_its_endpoint() {
        let c = parse_connection_string(&secret(
            "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=a2V5;EndpointSuffix=core.windows.net",
        ))
        .unwrap();
        assert_eq!(c.account.as_deref(), Some("acme"));
        assert_eq!(c.key.unwrap().expose_secret(), "a2V5");
        assert_eq!(
            c.blob_endpoint.as_deref(),
            Some("https://acme.blob.core.windows.net")
        );
        let dev = parse_connection_string(&secret("UseDevelopmentStorage=true")).unwrap();
        assert_eq!(dev.blob_endpoint.as_deref(), Some(DEV_STORE_ENDPOINT));
        let sas = parse_connection_string(&secret(
            "BlobEndpoint=https://x.example/;SharedAccessSignature=?sv=1&sig=abc",
        ))
        .unwrap();
        assert_eq!(sas.sas.unwrap().expose_secret(), "sv=1&sig=abc");
        assert_eq!(sas.blob_endpoint.as_deref(), Some("https://x.example"));
    }

    #[test]
    fn a_connection_string_without_a_credential_is_refused_without_quoting_it() {
        let err =
            parse_connection_string(&secret("AccountName=acme;Password=hunter2")).unwrap_err();
        assert_eq!(err, SasError::NoKey);
        assert!(!err.to_string().contains("hunter2"));
        assert_eq!(
            parse_connection_string(&secret("AccountName=acme;garbage")).unwrap_err(),
            SasError::Malformed(2)
        );
    }

    /// The signature of a fixed string-to-sign, computed independently with
    /// `printf 'devstoreaccount1\nrl\nb\nco\n2026-01-01T00:00:00Z\n2026-01-02T00:05:00Z\n\nhttps,http\n2021-08-06\n\n' | openssl dgst -sha256 -mac HMAC -macopt hexkey:$(echo KEY | base64 -d | xxd -p -c 256) -binary | base64`.
    #[test]
    fn the_account_sas_signs_the_documented_fields() {
        let now = DateTime::parse_from_rfc3339("2026-01-01T00:05:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let expiry = now + chrono::Duration::days(1);
        let sas = account_sas(
            DEV_STORE_ACCOUNT,
            &secret(DEV_STORE_KEY),
            READ_LIST,
            now,
            expiry,
        )
        .unwrap();
        let q = sas.expose_secret();
        assert!(q.starts_with("sv=2021-08-06&ss=b&srt=co&sp=rl&st=2026-01-01T00%3A00%3A00Z&se=2026-01-02T00%3A05%3A00Z&spr=https%2Chttp&sig="), "{q}");
        assert_eq!(signature_of(&sas).as_deref(), Some(EXPECTED_SIG));
        assert_eq!(
            account_sas("a", &secret("not base64!"), READ_LIST, now, expiry).unwrap_err(),
            SasError::KeyNotBase64
        );
    }

    const EXPECTED_SIG: &str = "1keVr+ot332DmvUx12vSQoD/HWc1WcWhuh2eG9CE7N0=";
}
