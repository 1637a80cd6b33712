//! `policy audit`'s rules: what the live bucket said (a [`BucketState`], fetched by the command
//! layer) against what `policies/` asks for, as one finding per requirement. Pure: no I/O.
//!
//! The bucket policy is compared by meaning, not by text: the statements of
//! `s3_enforce_sse_kms.json`, filled with the bucket, each target's prefix and the key, are each
//! looked for among the live statements. A live statement *covers* a template statement when it
//! denies at least everything the template statement denies: the same effect, a principal of
//! everyone, actions and resources whose wildcards include the template's, and no condition that
//! the template's conditions do not imply (an extra condition narrows a Deny). `Action` and
//! `Resource` may be a string or an array, condition values a string, a boolean or an array.
//! Anything this cannot reason about (`NotAction`, `NotResource`, `NotPrincipal`, `Like`
//! operators, `ForAnyValue:`) does not count as covering: a false alarm is better than a false ok.

use serde::Serialize;
use serde_json::Value;

use super::statement::{Statement, find_cover, statements};
use crate::aws::arn::KmsKeyArn;
use crate::report::Check;
use crate::store::{StoreError, StoreErrorKind};

/// The version of the JSON `policy audit` writes.
pub const AUDIT_SCHEMA: u32 = 1;

const ENFORCE_TEMPLATE: &str = include_str!("../../policies/s3_enforce_sse_kms.json");
const ENFORCE_FILE: &str = "s3_enforce_sse_kms.json";

/// One read of the bucket's configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fetched<T> {
    Found(T),
    /// The bucket has no such configuration (`NoSuchBucketPolicy`…).
    Missing,
    /// The call failed: its kind, S3's code and S3's own message.
    Failed(StoreError),
}

/// The default encryption's first rule.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DefaultEncryption {
    /// `aws:kms`, `aws:kms:dsse` or `AES256`.
    pub algorithm: String,
    /// `KMSMasterKeyID`: a key ARN, a key id or an alias; none means the AWS managed key.
    pub kms_key: Option<String>,
    pub bucket_key: bool,
}

/// The four flags of a public access block.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PublicAccessBlock {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

/// What the live bucket said, one field per call.
#[derive(Clone, Debug)]
pub struct BucketState {
    pub encryption: Fetched<DefaultEncryption>,
    /// The versioning status; `None` when versioning was never turned on.
    pub versioning: Fetched<Option<String>>,
    pub public_access_block: Fetched<PublicAccessBlock>,
    /// The bucket policy document, as S3 returns it.
    pub policy: Fetched<String>,
}

/// What the bucket should be: from the config (and `--bucket`).
#[derive(Clone, Debug)]
pub struct Expected {
    pub bucket: String,
    /// `storage.kms-key-arn`.
    pub kms_key_arn: Option<String>,
    /// The targets' prefixes: the policy must guard every one.
    pub prefixes: Vec<String>,
}

/// The JSON `policy audit` writes.
#[derive(Clone, Debug, Serialize)]
pub struct AuditReport {
    pub schema: u32,
    pub bucket: String,
    pub ok: bool,
    pub findings: Vec<Check>,
}

/// Every finding for the bucket, in a fixed order and with fixed names, so reports compare.
pub fn audit(expected: &Expected, state: &BucketState) -> AuditReport {
    let b = &expected.bucket;
    let mut findings = encryption_findings(expected, &state.encryption);
    findings.push(versioning_finding(b, &state.versioning));
    findings.push(public_access_block_finding(b, &state.public_access_block));
    findings.extend(policy_findings(expected, &state.policy));
    AuditReport {
        schema: AUDIT_SCHEMA,
        bucket: b.clone(),
        ok: findings.iter().all(|f| f.ok),
        findings,
    }
}

/// The permission each read needs, for an AccessDenied finding.
fn refused(call: &str, permission: &str, bucket: &str, err: &StoreError) -> String {
    if err.kind == StoreErrorKind::AccessDenied {
        format!(
            "{call} was refused: the credentials need {permission} on arn:aws:s3:::{bucket} to audit it"
        )
    } else {
        format!("{call} failed ({}): {}", err.label(), err.message)
    }
}

fn encryption_findings(e: &Expected, fetched: &Fetched<DefaultEncryption>) -> Vec<Check> {
    let b = &e.bucket;
    let key = e.kms_key_arn.as_deref();
    let fix = format!(
        "aws s3api put-bucket-encryption --bucket {b} --server-side-encryption-configuration '{{\"Rules\":[{{\"ApplyServerSideEncryptionByDefault\":{{\"SSEAlgorithm\":\"aws:kms\",\"KMSMasterKeyID\":\"{}\"}},\"BucketKeyEnabled\":true}}]}}'",
        key.unwrap_or("KEY_ARN")
    );
    let enc = match fetched {
        Fetched::Found(enc) => enc,
        Fetched::Missing => {
            return vec![
                Check::fail(
                    "encryption",
                    format!("no default encryption configured: {fix}"),
                ),
                Check::pass("bucket-key", "not applicable: no default encryption"),
            ];
        }
        Fetched::Failed(err) => {
            let detail = refused(
                "GetBucketEncryption",
                "s3:GetEncryptionConfiguration",
                b,
                err,
            );
            return vec![
                Check::fail("encryption", detail),
                Check::pass("bucket-key", "unknown: the encryption could not be read"),
            ];
        }
    };
    let is_kms = matches!(enc.algorithm.as_str(), "aws:kms" | "aws:kms:dsse");
    let encryption = match (is_kms, key, enc.kms_key.as_deref()) {
        (false, _, _) => Check::fail(
            "encryption",
            format!(
                "default encryption is {}, not SSE-KMS: {fix}",
                enc.algorithm
            ),
        ),
        (true, None, k) => Check::pass(
            "encryption",
            format!(
                "{} with {} (storage.kms-key-arn is not set, so any key is accepted)",
                enc.algorithm,
                k.unwrap_or("the AWS managed key aws/s3")
            ),
        ),
        (true, Some(want), Some(k))
            if KmsKeyArn::parse(want).is_ok_and(|want| want.is_named_by(k)) =>
        {
            Check::pass(
                "encryption",
                format!("{} with the expected key {want}", enc.algorithm),
            )
        }
        (true, Some(want), k) => Check::fail(
            "encryption",
            format!(
                "{} with {}, expected {want}: {fix}",
                enc.algorithm,
                k.map(|k| format!("key {k}"))
                    .unwrap_or_else(|| "the AWS managed key aws/s3".into())
            ),
        ),
    };
    let bucket_key = if !is_kms {
        Check::pass("bucket-key", "not applicable: not SSE-KMS")
    } else if enc.bucket_key {
        Check::pass("bucket-key", "enabled")
    } else {
        Check::pass(
            "bucket-key",
            "not enabled (informational: every object write calls KMS; BucketKeyEnabled=true cuts those calls and their cost)",
        )
    };
    vec![encryption, bucket_key]
}

fn versioning_finding(b: &str, fetched: &Fetched<Option<String>>) -> Check {
    let fix = format!(
        "aws s3api put-bucket-versioning --bucket {b} --versioning-configuration Status=Enabled"
    );
    match fetched {
        Fetched::Found(Some(s)) if s == "Enabled" => Check::pass("versioning", "Enabled"),
        Fetched::Found(Some(s)) => Check::fail("versioning", format!("versioning is {s}: {fix}")),
        Fetched::Found(None) | Fetched::Missing => {
            Check::fail("versioning", format!("versioning was never enabled: {fix}"))
        }
        Fetched::Failed(err) => Check::fail(
            "versioning",
            refused("GetBucketVersioning", "s3:GetBucketVersioning", b, err),
        ),
    }
}

fn public_access_block_finding(b: &str, fetched: &Fetched<PublicAccessBlock>) -> Check {
    let fix = format!(
        "aws s3api put-public-access-block --bucket {b} --public-access-block-configuration BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true"
    );
    let name = "public-access-block";
    match fetched {
        Fetched::Found(p) => {
            let off: Vec<&str> = [
                ("BlockPublicAcls", p.block_public_acls),
                ("IgnorePublicAcls", p.ignore_public_acls),
                ("BlockPublicPolicy", p.block_public_policy),
                ("RestrictPublicBuckets", p.restrict_public_buckets),
            ]
            .into_iter()
            .filter(|(_, on)| !on)
            .map(|(flag, _)| flag)
            .collect();
            if off.is_empty() {
                Check::pass(name, "all four flags on")
            } else {
                Check::fail(name, format!("{} off: {fix}", off.join(", ")))
            }
        }
        Fetched::Missing => {
            Check::fail(name, format!("no public access block on the bucket: {fix}"))
        }
        Fetched::Failed(err) => Check::fail(
            name,
            refused(
                "GetPublicAccessBlock",
                "s3:GetBucketPublicAccessBlock",
                b,
                err,
            ),
        ),
    }
}

/// One finding per statement of the template, named `policy:<Sid>`.
fn policy_findings(e: &Expected, fetched: &Fetched<String>) -> Vec<Check> {
    let b = &e.bucket;
    let apply = format!(
        "render it with `dr-action policy render` and apply it with `aws s3api put-bucket-policy --bucket {b} --policy file://out/policies/{ENFORCE_FILE}`"
    );
    let prefixes: Vec<&str> = if e.prefixes.is_empty() {
        vec![""]
    } else {
        let mut p: Vec<&str> = e.prefixes.iter().map(String::as_str).collect();
        p.sort_unstable();
        p.dedup();
        p
    };
    let live: Result<Vec<Statement>, String> = match fetched {
        Fetched::Found(text) => serde_json::from_str::<Value>(text)
            .map_err(|err| format!("the bucket policy is not valid JSON ({err})"))
            .map(|doc| statements(&doc)),
        Fetched::Missing => Err(format!("the bucket has no policy: {apply}")),
        Fetched::Failed(err) => Err(refused("GetBucketPolicy", "s3:GetBucketPolicy", b, err)),
    };
    let template: Value = match serde_json::from_str(ENFORCE_TEMPLATE) {
        Ok(v) => v,
        Err(err) => {
            return vec![Check::fail(
                "policy",
                format!("policies/{ENFORCE_FILE} is not JSON: {err}"),
            )];
        }
    };
    let raw_statements = match &template["Statement"] {
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    };
    raw_statements
        .iter()
        .enumerate()
        .map(|(i, raw)| {
            let sid = raw["Sid"].as_str().map_or_else(|| format!("{i}"), str::to_string);
            let name = format!("policy:{sid}");
            let text = raw.to_string();
            if text.contains("${KMS_KEY_ARN}") && e.kms_key_arn.is_none() {
                return Check::pass(
                    &name,
                    "not checked: storage.kms-key-arn is not set, so no single key is required",
                );
            }
            let live = match &live {
                Ok(live) => live,
                Err(why) => return Check::fail(&name, why.clone()),
            };
            let mut covered_by = Vec::new();
            for prefix in &prefixes {
                let filled = fill(&text, b, prefix, e.kms_key_arn.as_deref().unwrap_or(""));
                let wanted = match serde_json::from_str::<Value>(&filled) {
                    Ok(v) => Statement::parse(&v),
                    Err(err) => {
                        return Check::fail(
                            &name,
                            format!("policies/{ENFORCE_FILE} statement {sid} does not fill to JSON: {err}"),
                        );
                    }
                };
                match find_cover(live, &wanted) {
                    Ok(by) => covered_by.push(by),
                    Err(why) => {
                        return Check::fail(
                            &name,
                            format!("{why}; add statement {sid} of {ENFORCE_FILE}: {apply}"),
                        );
                    }
                }
            }
            covered_by.dedup();
            Check::pass(&name, format!("covered by {}", covered_by.join(", ")))
        })
        .collect()
}

fn fill(template: &str, bucket: &str, prefix: &str, key: &str) -> String {
    // The values go inside JSON strings: escape them as JSON would.
    let esc = |s: &str| {
        let quoted = Value::String(s.to_string()).to_string();
        quoted[1..quoted.len() - 1].to_string()
    };
    template
        .replace("${BUCKET}", &esc(bucket))
        .replace("${PREFIX}", &esc(prefix))
        .replace("${KMS_KEY_ARN}", &esc(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    fn expected() -> Expected {
        Expected {
            bucket: "acme-backups".into(),
            kms_key_arn: Some(KEY.into()),
            prefixes: vec!["pwm/orders/".into(), "pwm/users/".into()],
        }
    }

    /// The policy `policy render` writes for the bucket, prefix `pwm/` and the key.
    fn rendered() -> String {
        fill(ENFORCE_TEMPLATE, "acme-backups", "pwm/", KEY)
    }

    fn good_state() -> BucketState {
        BucketState {
            encryption: Fetched::Found(DefaultEncryption {
                algorithm: "aws:kms".into(),
                kms_key: Some(KEY.into()),
                bucket_key: true,
            }),
            versioning: Fetched::Found(Some("Enabled".into())),
            public_access_block: Fetched::Found(PublicAccessBlock {
                block_public_acls: true,
                ignore_public_acls: true,
                block_public_policy: true,
                restrict_public_buckets: true,
            }),
            policy: Fetched::Found(rendered()),
        }
    }

    fn failed(report: &AuditReport) -> Vec<&str> {
        report
            .findings
            .iter()
            .filter(|f| !f.ok)
            .map(|f| f.name.as_str())
            .collect()
    }

    fn detail<'a>(report: &'a AuditReport, name: &str) -> &'a str {
        &report
            .findings
            .iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("no finding {name}: {report:#?}"))
            .detail
    }

    fn with_policy(policy: serde_json::Value) -> BucketState {
        BucketState {
            policy: Fetched::Found(policy.to_string()),
            ..good_state()
        }
    }

    #[test]
    fn the_rendered_policy_on_a_compliant_bucket_passes_every_finding() {
        let report = audit(&expected(), &good_state());
        assert!(report.ok, "{report:#?}");
        let names: Vec<&str> = report.findings.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "encryption",
                "bucket-key",
                "versioning",
                "public-access-block",
                "policy:DenyInsecureTransport",
                "policy:DenyPutWithoutSseKms",
                "policy:DenyPutWithAnotherKmsKey"
            ]
        );
        assert_eq!(
            detail(&report, "policy:DenyInsecureTransport"),
            "covered by statement DenyInsecureTransport"
        );
    }

    #[test]
    fn an_equivalent_policy_written_differently_passes() {
        // One statement object, arrays where the template has strings, wider wildcards, a
        // boolean instead of "false", other Sids, `{"AWS": "*"}`, StringNotEquals for IfExists.
        let policy = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "A", "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": ["*"],
                 "Resource": ["arn:aws:s3:::acme-backups", "arn:aws:s3:::acme-backups/*"],
                 "Condition": {"BoolIfExists": {"AWS:SecureTransport": false}}},
                {"Sid": "B", "Effect": "Deny", "Principal": "*", "Action": ["s3:Put*"],
                 "Resource": "arn:aws:s3:::acme-backups/*",
                 "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": ["aws:kms"]}}},
                {"Sid": "C", "Effect": "Deny", "Principal": "*", "Action": "S3:PutObject",
                 "Resource": "arn:aws:s3:::acme-backups/pwm/*",
                 "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": KEY}}}
            ]
        });
        let report = audit(&expected(), &with_policy(policy));
        assert!(report.ok, "{report:#?}");
    }

    #[test]
    fn a_policy_without_the_tls_statement_fails_only_that_finding() {
        let mut doc: Value = serde_json::from_str(&rendered()).unwrap();
        doc["Statement"].as_array_mut().unwrap().remove(0);
        let report = audit(&expected(), &with_policy(doc));
        assert_eq!(failed(&report), ["policy:DenyInsecureTransport"]);
        let d = detail(&report, "policy:DenyInsecureTransport");
        assert!(
            d.contains("no statement covers `Deny s3:* on arn:aws:s3:::acme-backups"),
            "{d}"
        );
        assert!(d.contains("Bool aws:securetransport = false"), "{d}");
        assert!(d.contains("put-bucket-policy --bucket acme-backups"), "{d}");
    }

    #[test]
    fn statements_that_deny_less_do_not_count() {
        type Mutation = fn(&mut Value);
        let cases: Vec<(Mutation, &str, &str)> = vec![
            (
                |s| s[0]["Effect"] = "Allow".into(),
                "DenyInsecureTransport",
                "has Effect Allow",
            ),
            (
                |s| s[0]["Principal"] = serde_json::json!({"AWS": "arn:aws:iam::1:root"}),
                "DenyInsecureTransport",
                "every principal",
            ),
            (
                |s| s[0]["Resource"] = "arn:aws:s3:::acme-backups/*".into(),
                "DenyInsecureTransport",
                "resource arn:aws:s3:::acme-backups",
            ),
            (
                |s| s[0]["Action"] = "s3:GetObject".into(),
                "DenyInsecureTransport",
                "action s3:*",
            ),
            (
                |s| s[1]["Resource"] = "arn:aws:s3:::acme-backups/pwm/orders/*".into(),
                "DenyPutWithoutSseKms",
                "resource arn:aws:s3:::acme-backups/pwm/users/*",
            ),
            (
                |s| {
                    s[1]["Condition"]["StringNotEquals"]["s3:x-amz-server-side-encryption"] =
                        serde_json::json!(["aws:kms", "AES256"])
                },
                "DenyPutWithoutSseKms",
                "narrows the Deny",
            ),
            (
                |s| s[1]["Condition"]["StringEquals"] = serde_json::json!({"aws:username": "x"}),
                "DenyPutWithoutSseKms",
                "StringEquals aws:username",
            ),
            (
                |s| {
                    s[2]["Condition"]["StringNotEqualsIfExists"]["s3:x-amz-server-side-encryption-aws-kms-key-id"] =
                        "arn:aws:kms:eu-west-1:123456789012:key/other".into()
                },
                "DenyPutWithAnotherKmsKey",
                "narrows the Deny",
            ),
            (
                |s| {
                    let a = s[0]["Action"].take();
                    s[0]["NotAction"] = a;
                },
                "DenyInsecureTransport",
                "NotAction",
            ),
        ];
        for (mutate, sid, why) in cases {
            let mut doc: Value = serde_json::from_str(&rendered()).unwrap();
            mutate(&mut doc["Statement"]);
            let report = audit(&expected(), &with_policy(doc));
            let name = format!("policy:{sid}");
            assert_eq!(failed(&report), [name.as_str()], "{why}");
            let d = detail(&report, &name);
            assert!(d.contains(why), "{why}: {d}");
        }
    }

    #[test]
    fn a_non_compliant_bucket_says_how_to_fix_each_shortfall() {
        let state = BucketState {
            encryption: Fetched::Found(DefaultEncryption {
                algorithm: "AES256".into(),
                kms_key: None,
                bucket_key: false,
            }),
            versioning: Fetched::Found(Some("Suspended".into())),
            public_access_block: Fetched::Missing,
            policy: Fetched::Missing,
        };
        let report = audit(&expected(), &state);
        assert!(!report.ok);
        assert_eq!(
            failed(&report),
            [
                "encryption",
                "versioning",
                "public-access-block",
                "policy:DenyInsecureTransport",
                "policy:DenyPutWithoutSseKms",
                "policy:DenyPutWithAnotherKmsKey"
            ]
        );
        assert!(detail(&report, "encryption").starts_with("default encryption is AES256, not SSE-KMS: aws s3api put-bucket-encryption --bucket acme-backups"));
        assert_eq!(
            detail(&report, "versioning"),
            "versioning is Suspended: aws s3api put-bucket-versioning --bucket acme-backups --versioning-configuration Status=Enabled"
        );
        assert!(detail(&report, "public-access-block").contains("BlockPublicAcls=true"));
        assert!(
            detail(&report, "policy:DenyPutWithoutSseKms").starts_with("the bucket has no policy")
        );
    }

    #[test]
    fn encryption_compares_the_key_and_accepts_a_bare_key_id() {
        let enc = |key: Option<&str>| BucketState {
            encryption: Fetched::Found(DefaultEncryption {
                algorithm: "aws:kms".into(),
                kms_key: key.map(str::to_string),
                bucket_key: false,
            }),
            ..good_state()
        };
        let bare = KEY.rsplit('/').next().unwrap();
        let report = audit(&expected(), &enc(Some(bare)));
        assert!(report.ok, "{report:#?}");
        assert!(detail(&report, "bucket-key").starts_with("not enabled (informational"));
        let other = "arn:aws:kms:eu-west-1:123456789012:key/other";
        let report = audit(&expected(), &enc(Some(other)));
        assert_eq!(failed(&report), ["encryption"]);
        assert!(detail(&report, "encryption").contains(&format!("key {other}, expected {KEY}")));
        let report = audit(&expected(), &enc(None));
        assert!(detail(&report, "encryption").contains("AWS managed key aws/s3, expected"));
        let any_key = Expected {
            kms_key_arn: None,
            ..expected()
        };
        let report = audit(&any_key, &enc(Some(other)));
        assert!(report.ok, "{report:#?}");
        assert!(detail(&report, "policy:DenyPutWithAnotherKmsKey").starts_with("not checked"));
    }

    #[test]
    fn a_refused_read_is_a_failed_finding_naming_the_permission() {
        fn denied<T>() -> Fetched<T> {
            let err = StoreError::new(StoreErrorKind::AccessDenied, "Access Denied");
            Fetched::Failed(err.with_code("AccessDenied"))
        }
        let state = BucketState {
            encryption: denied(),
            versioning: denied(),
            public_access_block: denied(),
            policy: denied(),
        };
        let report = audit(&expected(), &state);
        for (name, permission) in [
            ("encryption", "s3:GetEncryptionConfiguration"),
            ("versioning", "s3:GetBucketVersioning"),
            ("public-access-block", "s3:GetBucketPublicAccessBlock"),
            ("policy:DenyInsecureTransport", "s3:GetBucketPolicy"),
        ] {
            let d = detail(&report, name);
            assert!(
                d.contains(&format!("need {permission} on arn:aws:s3:::acme-backups")),
                "{d}"
            );
        }
        assert!(!report.ok);
    }
}
