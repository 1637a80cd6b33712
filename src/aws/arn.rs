//! A KMS key as configured, rendered into a policy, or reported by S3: either its ARN
//! (`arn:aws:kms:REGION:ACCOUNT:key/ID`) or the bare key id S3 sometimes reports instead. One
//! grammar for all of them, and one comparison: the same key in ARN or bare-id form is the same
//! key, two ARNs are the same key only with the same partition, region and account.
//!
//! Aliases are refused: S3 reports the key an object is encrypted with, never the alias that
//! pointed at it, so an alias could never match.

use std::fmt;
use std::str::FromStr;

/// Where a key lives, the part of its ARN before `:key/`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct KeyHome {
    partition: String,
    region: String,
    account: String,
}

/// A KMS key, by ARN or by bare key id.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KmsKeyArn {
    /// `None` for a bare key id.
    home: Option<KeyHome>,
    id: String,
}

/// Why a text is not a KMS key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KmsKeyError {
    #[error(
        "is an alias; S3 reports the key ARN, so give the key's ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)"
    )]
    Alias,
    #[error("is not a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)")]
    NotAKey,
}

/// A key id: `1234abcd-12ab-…`, or a multi-Region key's `mrk-…`.
fn is_key_id(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
}

impl KmsKeyArn {
    /// Parses a key ARN or a bare key id.
    pub fn parse(text: &str) -> Result<KmsKeyArn, KmsKeyError> {
        if text.starts_with("alias/") {
            return Err(KmsKeyError::Alias);
        }
        if !text.starts_with("arn:") {
            return match is_key_id(text) {
                true => Ok(KmsKeyArn {
                    home: None,
                    id: text.to_string(),
                }),
                false => Err(KmsKeyError::NotAKey),
            };
        }
        let parts: Vec<&str> = text.splitn(6, ':').collect();
        let [_, partition, service, region, account, resource] = parts.as_slice() else {
            return Err(KmsKeyError::NotAKey);
        };
        if resource.starts_with("alias/") {
            return Err(KmsKeyError::Alias);
        }
        let id = resource.strip_prefix("key/").unwrap_or_default();
        let valid = partition.starts_with("aws")
            && *service == "kms"
            && !region.is_empty()
            && account.len() == 12
            && account.bytes().all(|c| c.is_ascii_digit())
            && is_key_id(id);
        if !valid {
            return Err(KmsKeyError::NotAKey);
        }
        Ok(KmsKeyArn {
            home: Some(KeyHome {
                partition: partition.to_string(),
                region: region.to_string(),
                account: account.to_string(),
            }),
            id: id.to_string(),
        })
    }

    /// Parses a key ARN, refusing a bare key id: a config or a policy must say where the key is.
    pub fn parse_arn(text: &str) -> Result<KmsKeyArn, KmsKeyError> {
        let key = KmsKeyArn::parse(text)?;
        match key.is_arn() {
            true => Ok(key),
            false => Err(KmsKeyError::NotAKey),
        }
    }

    pub fn is_arn(&self) -> bool {
        self.home.is_some()
    }

    /// The key id, the ARN's `key/ID` part.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Whether both name the same key: equal ids, and equal partition, region and account when
    /// both are ARNs.
    pub fn same_key(&self, other: &KmsKeyArn) -> bool {
        self.id == other.id
            && match (&self.home, &other.home) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }

    /// Whether `reported` (what S3 or the bucket says, not checked) names this key; text that
    /// is no key (an alias) never does.
    pub fn is_named_by(&self, reported: &str) -> bool {
        KmsKeyArn::parse(reported).is_ok_and(|k| self.same_key(&k))
    }
}

impl FromStr for KmsKeyArn {
    type Err = KmsKeyError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        KmsKeyArn::parse(text)
    }
}

/// The text it was parsed from: the ARN, or the bare id.
impl fmt::Display for KmsKeyArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.home {
            Some(h) => write!(
                f,
                "arn:{}:kms:{}:{}:key/{}",
                h.partition, h.region, h.account, self.id
            ),
            None => f.write_str(&self.id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:kms:eu-west-1:123456789012:key/1111-2222";

    fn key(text: &str) -> KmsKeyArn {
        KmsKeyArn::parse(text).unwrap()
    }

    #[test]
    fn an_arn_and_a_bare_id_parse_and_display_as_given() {
        let arn = key(ARN);
        assert!(arn.is_arn());
        assert_eq!(arn.id(), "1111-2222");
        assert_eq!(arn.to_string(), ARN);
        let gov = "arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/mrk-0a1b";
        assert_eq!(key(gov).to_string(), gov);
        let bare = key("1111-2222");
        assert!(!bare.is_arn());
        assert_eq!(bare.to_string(), "1111-2222");
        assert_eq!("1111-2222".parse::<KmsKeyArn>(), Ok(bare));
    }

    #[test]
    fn aliases_are_refused_with_the_reason() {
        for alias in [
            "arn:aws:kms:eu-west-1:123456789012:alias/backups",
            "arn:aws:kms:eu-west-1:1:alias/backups",
            "alias/backups",
        ] {
            let err = KmsKeyArn::parse(alias).unwrap_err();
            assert_eq!(err, KmsKeyError::Alias, "{alias}");
            assert!(
                err.to_string()
                    .starts_with("is an alias; S3 reports the key ARN")
            );
        }
    }

    #[test]
    fn what_is_not_a_key_is_refused() {
        for text in [
            "",
            "not-an-arn!",
            "arn:aws:kms:eu-west-1:123456789012:key/",
            "arn:aws:kms:eu-west-1:1234:key/1111",
            "arn:aws:kms::123456789012:key/1111",
            "arn:aws:s3:eu-west-1:123456789012:key/1111",
            "arn:other:kms:eu-west-1:123456789012:key/1111",
            "arn:aws:kms:eu-west-1:123456789012:key/11\"11",
            "arn:aws:kms:eu-west-1:123456789012",
        ] {
            assert_eq!(KmsKeyArn::parse(text), Err(KmsKeyError::NotAKey), "{text}");
        }
        assert_eq!(KmsKeyArn::parse_arn("1111-2222"), Err(KmsKeyError::NotAKey));
        assert!(KmsKeyArn::parse_arn(ARN).is_ok());
    }

    #[test]
    fn the_same_key_matches_as_an_arn_or_a_bare_id_in_the_same_home_only() {
        let want = key(ARN);
        assert!(want.is_named_by(ARN));
        assert!(want.is_named_by("1111-2222"));
        assert!(!want.is_named_by("arn:aws:kms:eu-west-1:123456789012:key/9999"));
        assert!(!want.is_named_by("arn:aws:kms:eu-west-1:999999999999:key/1111-2222"));
        assert!(!want.is_named_by("arn:aws:kms:us-east-1:123456789012:key/1111-2222"));
        assert!(!want.is_named_by("arn:aws:kms:eu-west-1:123456789012:alias/1111-2222"));
        assert!(!want.is_named_by("9999"));
        assert!(key("1111-2222").same_key(&want));
    }
}
