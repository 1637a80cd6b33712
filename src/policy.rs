//! The AWS policies of `policies/`: templates with `${BUCKET}`-style placeholders, filled by
//! `policy render` after each value is checked, so a typo cannot produce a policy that grants
//! more than intended (a `*` in a prefix, a quote breaking out of a JSON string). [`audit`]
//! compares a live bucket with them.

/// `policy audit`: the live bucket's settings and policy against the templates.
pub mod audit;
mod statement;

use crate::aws::arn::KmsKeyArn;

/// The templates, embedded so the binary renders them anywhere.
pub const TEMPLATES: [(&str, &str); 3] = [
    (
        "s3_enforce_sse_kms.json",
        include_str!("../policies/s3_enforce_sse_kms.json"),
    ),
    (
        "iam_role_policy.json",
        include_str!("../policies/iam_role_policy.json"),
    ),
    (
        "oidc_trust_policy.json",
        include_str!("../policies/oidc_trust_policy.json"),
    ),
];

/// The values that fill the placeholders.
#[derive(Clone, Debug)]
pub struct PolicyValues {
    pub bucket: String,
    pub prefix: String,
    pub kms_key_arn: String,
    pub account: String,
    pub repo: String,
    pub branch: String,
    /// The role may also ask S3 for readable copies of archived backups under the prefix
    /// (`s3:RestoreObject`, for targets with `restore-request`).
    pub restore_request: bool,
}

/// A value that cannot go into a policy, and why.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("--{flag} `{value}`: {reason}")]
pub struct BadValue {
    pub flag: &'static str,
    pub value: String,
    pub reason: String,
}

fn bad(flag: &'static str, value: &str, reason: &str) -> BadValue {
    BadValue {
        flag,
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

impl PolicyValues {
    /// Checks every value against AWS's and GitHub's rules.
    pub fn validate(&self) -> Result<(), BadValue> {
        let b = &self.bucket;
        let bucket_chars = b
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-');
        let ends_ok =
            |c: Option<u8>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        let ip_like = b.split('.').count() == 4 && b.split('.').all(|p| p.parse::<u8>().is_ok());
        if !(3..=63).contains(&b.len())
            || !bucket_chars
            || !ends_ok(b.bytes().next())
            || !ends_ok(b.bytes().last())
            || b.contains("..")
            || ip_like
        {
            return Err(bad(
                "bucket",
                b,
                "not a valid S3 bucket name (3-63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit)",
            ));
        }
        let p = &self.prefix;
        if p.starts_with('/')
            || p.contains(['*', '?', '"', '\\', '$'])
            || p.chars().any(char::is_control)
            || p.is_empty()
        {
            return Err(bad(
                "prefix",
                p,
                "must be a non-empty key prefix without a leading `/`, wildcards, quotes or `$`",
            ));
        }
        if KmsKeyArn::parse_arn(&self.kms_key_arn).is_err() {
            return Err(bad(
                "kms-key-arn",
                &self.kms_key_arn,
                "not a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID; aliases are not accepted)",
            ));
        }
        if self.account.len() != 12 || !self.account.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad(
                "account",
                &self.account,
                "an AWS account id is 12 digits",
            ));
        }
        let repo_part = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(&c))
        };
        match self.repo.split_once('/') {
            Some((owner, name)) if repo_part(owner) && repo_part(name) => {}
            _ => return Err(bad("repo", &self.repo, "must be OWNER/REPO")),
        }
        let br = &self.branch;
        if br.is_empty()
            || br.contains(['"', '\\', '*', '?', ' ', '$'])
            || br.chars().any(char::is_control)
        {
            return Err(bad("branch", br, "not a plain branch name"));
        }
        Ok(())
    }

    fn substitute(&self, template: &str) -> String {
        template
            .replace("${BUCKET}", &self.bucket)
            .replace("${PREFIX}", &self.prefix)
            .replace("${KMS_KEY_ARN}", &self.kms_key_arn)
            .replace("${ACCOUNT_ID}", &self.account)
            .replace("${REPO}", &self.repo)
            .replace("${BRANCH}", &self.branch)
    }
}

/// Fills every template: `(file name, pretty JSON)`. Fails on a bad value or a template that
/// does not come out as valid JSON with every placeholder filled.
pub fn render(values: &PolicyValues) -> Result<Vec<(&'static str, String)>, String> {
    values.validate().map_err(|e| e.to_string())?;
    TEMPLATES
        .iter()
        .map(|(name, template)| {
            let text = values.substitute(template);
            if let Some(i) = text.find("${") {
                let rest: String = text[i..].chars().take(20).collect();
                return Err(format!("{name}: placeholder left unfilled: {rest}"));
            }
            let mut json: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| format!("{name}: not valid JSON after filling: {e}"))?;
            if *name == "iam_role_policy.json" && values.restore_request {
                let statements = json["Statement"]
                    .as_array_mut()
                    .ok_or_else(|| format!("{name}: no Statement array"))?;
                statements.push(serde_json::json!({
                    "Sid": "RequestReadableCopiesOfArchivedBackups",
                    "Effect": "Allow",
                    "Action": "s3:RestoreObject",
                    "Resource": format!("arn:aws:s3:::{}/{}*", values.bucket, values.prefix),
                }));
            }
            let mut pretty = serde_json::to_string_pretty(&json).map_err(|e| e.to_string())?;
            pretty.push('\n');
            Ok((*name, pretty))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> PolicyValues {
        PolicyValues {
            bucket: "acme-backups-prod".into(),
            prefix: "pwm/".into(),
            kms_key_arn:
                "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab".into(),
            account: "123456789012".into(),
            repo: "acme/app".into(),
            branch: "main".into(),
            restore_request: false,
        }
    }

    #[test]
    fn restore_request_alone_lets_the_role_restore_archived_objects_under_the_prefix() {
        let restoring = |on: bool| -> Vec<serde_json::Value> {
            let values = PolicyValues {
                restore_request: on,
                ..good()
            };
            let out = render(&values).unwrap();
            let iam = &out
                .iter()
                .find(|(name, _)| *name == "iam_role_policy.json")
                .unwrap()
                .1;
            let iam: serde_json::Value = serde_json::from_str(iam).unwrap();
            iam["Statement"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|s| s.to_string().contains("s3:RestoreObject"))
                .cloned()
                .collect()
        };
        assert_eq!(restoring(false), Vec::<serde_json::Value>::new());
        assert_eq!(
            restoring(true),
            vec![serde_json::json!({
                "Sid": "RequestReadableCopiesOfArchivedBackups",
                "Effect": "Allow",
                "Action": "s3:RestoreObject",
                "Resource": "arn:aws:s3:::acme-backups-prod/pwm/*",
            })]
        );
    }

    #[test]
    fn every_template_renders_to_json_with_the_values() {
        let out = render(&good()).unwrap();
        assert_eq!(out.len(), 3);
        let by_name = |n: &str| -> serde_json::Value {
            serde_json::from_str(&out.iter().find(|(name, _)| *name == n).unwrap().1).unwrap()
        };
        let s3 = by_name("s3_enforce_sse_kms.json");
        let text = s3.to_string();
        assert!(
            text.contains("arn:aws:s3:::acme-backups-prod/pwm/*"),
            "{text}"
        );
        assert!(text.contains("aws:SecureTransport"));
        assert!(text.contains(&good().kms_key_arn));
        let trust = by_name("oidc_trust_policy.json").to_string();
        assert!(
            trust.contains("repo:acme/app:ref:refs/heads/main"),
            "{trust}"
        );
        assert!(trust.contains(
            "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
        ));
        let iam = by_name("iam_role_policy.json").to_string();
        assert!(iam.contains("\"pwm/*\""), "{iam}");
    }

    #[test]
    fn malformed_values_are_refused() {
        type Mutation = fn(&mut PolicyValues);
        let cases: Vec<(Mutation, &str)> = vec![
            (|v| v.bucket = "Acme_Backups".into(), "bucket"),
            (|v| v.bucket = "ab".into(), "bucket"),
            (|v| v.bucket = "192.168.1.1".into(), "bucket"),
            (|v| v.prefix = "pwm/*".into(), "prefix"),
            (|v| v.prefix = "pwm\",\"x".into(), "prefix"),
            (
                |v| v.kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:alias/backups".into(),
                "kms-key-arn",
            ),
            (|v| v.kms_key_arn = "not-an-arn".into(), "kms-key-arn"),
            (|v| v.account = "1234".into(), "account"),
            (|v| v.repo = "acme".into(), "repo"),
            (|v| v.repo = "acme/app\"".into(), "repo"),
            (|v| v.branch = "main\"".into(), "branch"),
        ];
        for (mutate, flag) in cases {
            let mut v = good();
            mutate(&mut v);
            let err = v.validate().unwrap_err();
            assert_eq!(err.flag, flag, "{err}");
            assert!(render(&v).unwrap_err().starts_with(&format!("--{flag} ")));
        }
    }
}
