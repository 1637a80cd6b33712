//! `policy audit` against a real moto server: buckets set up with the real aws-sdk-s3 client
//! (default encryption, versioning, public access block, and the policy `policy render` writes),
//! then audited by the binary through the same S3 client code `check` uses. moto stores and
//! returns every one of these settings; it does not enforce the bucket policy, which the audit
//! only reads.
//!
//! One moto bug stands in the way: moto 5.2.5 (the newest) answers GetBucketVersioning with the
//! root element `<GetBucketVersioningResponse>` instead of S3's `<VersioningConfiguration>`.
//! botocore does not look at the root; the Rust SDK does, and fails to parse. So the binary
//! talks to moto through [`fix_versioning_proxy`], which forwards every request unchanged and
//! renames that one root element, nothing else.

use aws_sdk_s3::types::{
    BucketVersioningStatus, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    VersioningConfiguration,
};

use crate::moto::Moto;
use crate::s3::s3_command;
use crate::util::{Dir, Run};

const BUCKET: &str = "audit-backups";
const REPORT: &str = "out/policy_audit.json";

/// A loopback proxy to `upstream` that renames moto's GetBucketVersioning root element to S3's;
/// returns its base URL. Runs on a thread of its own for the rest of the test process.
fn fix_versioning_proxy(upstream: String) -> String {
    use http_body_util::{BodyExt, Full};
    use hyper::body::Bytes;

    let client = reqwest::Client::new();
    let addr = crate::util::spawn_loopback(move |stream| {
        let (client, upstream) = (client.clone(), upstream.clone());
        async move {
            let service =
                hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let (client, upstream) = (client.clone(), upstream.clone());
                    async move {
                        let (parts, body) = req.into_parts();
                        let body = body.collect().await?.to_bytes();
                        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
                        let versioning = parts.method == hyper::Method::GET
                            && parts.uri.query() == Some("versioning");
                        let mut forward =
                            client.request(parts.method.clone(), format!("{upstream}{path}"));
                        for (name, value) in &parts.headers {
                            if name != hyper::header::HOST {
                                forward = forward.header(name, value);
                            }
                        }
                        let answer = forward.body(body).send().await.unwrap();
                        let status = answer.status();
                        let headers = answer.headers().clone();
                        let mut bytes = answer.bytes().await.unwrap().to_vec();
                        if versioning {
                            let text = String::from_utf8(bytes).unwrap();
                            bytes = text
                                .replace("GetBucketVersioningResponse", "VersioningConfiguration")
                                .into_bytes();
                        }
                        let mut resp = hyper::Response::builder().status(status);
                        for (name, value) in &headers {
                            if name != hyper::header::CONTENT_LENGTH
                                && name != hyper::header::TRANSFER_ENCODING
                            {
                                resp = resp.header(name, value);
                            }
                        }
                        Ok::<_, hyper::Error>(resp.body(Full::new(Bytes::from(bytes))).unwrap())
                    }
                });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        }
    });
    format!("http://{addr}")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().unwrap()
}

fn config(endpoint: &str, kms: &str) -> String {
    format!(
        "version: 1\naws:\n  region: eu-west-1\n  endpoint: {endpoint}\nstorage:\n  bucket: {BUCKET}\n  kms-key-arn: {kms}\ntargets:\n  - name: orders-db\n    prefix: pwm/orders/\n    match: \"*.dump.gz\"\n    format: pg-dump\n    rpo: 24h\n"
    )
}

/// The S3 policy `policy render` writes for the bucket, prefix `pwm/` and `kms`.
fn rendered_policy(dir: &Dir, kms: &str) -> serde_json::Value {
    dir.command()
        .args([
            "policy",
            "render",
            "--bucket",
            BUCKET,
            "--prefix",
            "pwm/",
            "--kms-key-arn",
            kms,
            "--account",
            "123456789012",
            "--repo",
            "acme/app",
        ])
        .output()
        .expect_code(0);
    dir.json("out/policies/s3_enforce_sse_kms.json")
}

/// How to set the bucket up; `None` leaves a setting unset.
struct Setup {
    encryption: Option<ServerSideEncryptionByDefault>,
    versioning: Option<BucketVersioningStatus>,
    public_access_block: bool,
    policy: Option<serde_json::Value>,
}

/// The configured key and another one.
struct Keys {
    kms: String,
    other: String,
}

fn kms_default(key: &str) -> ServerSideEncryptionByDefault {
    ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::AwsKms)
        .kms_master_key_id(key)
        .build()
        .unwrap()
}

async fn set_up(moto: &Moto, setup: Setup) {
    let s3 = moto.s3();
    if let Some(default) = setup.encryption {
        let rule = ServerSideEncryptionRule::builder()
            .apply_server_side_encryption_by_default(default)
            .bucket_key_enabled(true)
            .build();
        s3.put_bucket_encryption()
            .bucket(BUCKET)
            .server_side_encryption_configuration(
                ServerSideEncryptionConfiguration::builder()
                    .rules(rule)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .expect("PutBucketEncryption");
    }
    if let Some(status) = setup.versioning {
        s3.put_bucket_versioning()
            .bucket(BUCKET)
            .versioning_configuration(VersioningConfiguration::builder().status(status).build())
            .send()
            .await
            .expect("PutBucketVersioning");
    }
    if setup.public_access_block {
        s3.put_public_access_block()
            .bucket(BUCKET)
            .public_access_block_configuration(
                PublicAccessBlockConfiguration::builder()
                    .block_public_acls(true)
                    .ignore_public_acls(true)
                    .block_public_policy(true)
                    .restrict_public_buckets(true)
                    .build(),
            )
            .send()
            .await
            .expect("PutPublicAccessBlock");
    }
    if let Some(policy) = &setup.policy {
        s3.put_bucket_policy()
            .bucket(BUCKET)
            .policy(policy.to_string())
            .send()
            .await
            .expect("PutBucketPolicy");
    }
}

/// A compliant bucket (the rendered policy included) except for what `change` alters.
fn compliant_bucket_but(moto: &Moto, dir: &Dir, change: impl FnOnce(&mut Setup, &Keys)) -> Keys {
    let rt = runtime();
    let keys = rt.block_on(async {
        moto.create_bucket(BUCKET).await;
        Keys {
            kms: moto.create_kms_key().await,
            other: moto.create_kms_key().await,
        }
    });
    let mut setup = Setup {
        encryption: Some(kms_default(&keys.kms)),
        versioning: Some(BucketVersioningStatus::Enabled),
        public_access_block: true,
        policy: Some(rendered_policy(dir, &keys.kms)),
    };
    change(&mut setup, &keys);
    rt.block_on(set_up(moto, setup));
    dir.write(
        "dr.yml",
        config(&fix_versioning_proxy(moto.endpoint()), &keys.kms),
    );
    keys
}

fn audit(dir: &Dir) -> Run {
    s3_command(dir).args(["policy", "audit"]).output()
}

/// `name → (ok, detail)` of the findings.
fn findings(report: &serde_json::Value) -> Vec<(String, bool, String)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_string(),
                f["ok"].as_bool().unwrap(),
                f["detail"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn failed(report: &serde_json::Value) -> Vec<String> {
    findings(report)
        .into_iter()
        .filter(|(_, ok, _)| !ok)
        .map(|(n, _, _)| n)
        .collect()
}

fn detail(report: &serde_json::Value, name: &str) -> String {
    findings(report)
        .into_iter()
        .find(|(n, _, _)| n == name)
        .unwrap_or_else(|| panic!("no finding {name} in {report:#}"))
        .2
}

#[test]
fn audit_passes_on_a_compliant_bucket_with_the_rendered_policy() {
    let moto = Moto::start();
    let dir = Dir::new();
    let keys = compliant_bucket_but(&moto, &dir, |_, _| {});
    let run = audit(&dir).expect_code(0);
    assert!(
        run.stdout()
            .starts_with("policy audit of s3://audit-backups: ok — report out/policy_audit.json"),
        "{}",
        run.stdout()
    );
    let report = dir.json(REPORT);
    assert_eq!(report["schema"], 1);
    assert_eq!(report["bucket"], BUCKET);
    assert_eq!(report["ok"], true, "{report:#}");
    let names: Vec<String> = findings(&report).into_iter().map(|(n, _, _)| n).collect();
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
        detail(&report, "encryption"),
        format!("aws:kms with the expected key {}", keys.kms)
    );
    assert_eq!(detail(&report, "bucket-key"), "enabled");

    // --bucket names the bucket, --out the file.
    s3_command(&dir)
        .args([
            "policy",
            "audit",
            "--bucket",
            BUCKET,
            "--out",
            "custom/audit.json",
        ])
        .output()
        .expect_code(0);
    assert_eq!(dir.json("custom/audit.json")["ok"], true);
}

#[test]
fn audit_lists_each_shortfall_of_a_non_compliant_bucket() {
    let moto = Moto::start();
    let dir = Dir::new();
    compliant_bucket_but(&moto, &dir, |setup, _| {
        *setup = Setup {
            encryption: Some(
                ServerSideEncryptionByDefault::builder()
                    .sse_algorithm(ServerSideEncryption::Aes256)
                    .build()
                    .unwrap(),
            ),
            versioning: None,
            public_access_block: false,
            policy: None,
        };
    });
    let run = audit(&dir).expect_code(1);
    let report = dir.json(REPORT);
    assert_eq!(report["ok"], false);
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
    let out = run.stdout();
    assert!(out.contains("6 of 7 findings fall short"), "{out}");
    for fix in [
        "default encryption is AES256, not SSE-KMS: aws s3api put-bucket-encryption --bucket audit-backups",
        "versioning was never enabled: aws s3api put-bucket-versioning --bucket audit-backups --versioning-configuration Status=Enabled",
        "no public access block on the bucket: aws s3api put-public-access-block --bucket audit-backups",
        "the bucket has no policy: render it with `dr-action policy render`",
    ] {
        assert!(out.contains(fix), "{fix}\n{out}");
    }
}

#[test]
fn audit_of_a_bare_bucket_reports_each_missing_configuration_as_a_finding() {
    let moto = Moto::start();
    let dir = Dir::new();
    compliant_bucket_but(&moto, &dir, |setup, _| {
        *setup = Setup {
            encryption: None,
            versioning: None,
            public_access_block: false,
            policy: None,
        };
    });
    audit(&dir).expect_code(1);
    let report = dir.json(REPORT);
    assert_eq!(failed(&report).len(), 6, "{report:#}");
    assert!(
        detail(&report, "encryption")
            .starts_with("no default encryption configured: aws s3api put-bucket-encryption"),
        "{report:#}"
    );
    assert_eq!(
        detail(&report, "bucket-key"),
        "not applicable: no default encryption"
    );
}

#[test]
fn audit_reports_suspended_versioning_with_the_command_to_fix_it() {
    let moto = Moto::start();
    let dir = Dir::new();
    // Enabled first, then suspended: the only way a bucket becomes Suspended.
    compliant_bucket_but(&moto, &dir, |_, _| {});
    runtime().block_on(async {
        moto.s3()
            .put_bucket_versioning()
            .bucket(BUCKET)
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::Suspended)
                    .build(),
            )
            .send()
            .await
            .unwrap();
    });
    audit(&dir).expect_code(1);
    let report = dir.json(REPORT);
    assert_eq!(failed(&report), ["versioning"]);
    assert_eq!(
        detail(&report, "versioning"),
        "versioning is Suspended: aws s3api put-bucket-versioning --bucket audit-backups --versioning-configuration Status=Enabled"
    );
}

#[test]
fn audit_fails_only_the_tls_finding_when_the_policy_lacks_that_statement() {
    let moto = Moto::start();
    let dir = Dir::new();
    compliant_bucket_but(&moto, &dir, |setup, _| {
        let policy = setup.policy.as_mut().unwrap();
        policy["Statement"]
            .as_array_mut()
            .unwrap()
            .retain(|s| s["Sid"] != "DenyInsecureTransport");
    });
    audit(&dir).expect_code(1);
    let report = dir.json(REPORT);
    assert_eq!(failed(&report), ["policy:DenyInsecureTransport"]);
    let d = detail(&report, "policy:DenyInsecureTransport");
    assert!(
        d.contains("aws:securetransport = false")
            && d.contains("add statement DenyInsecureTransport"),
        "{d}"
    );
}

#[test]
fn audit_fails_the_encryption_finding_for_a_different_kms_key() {
    let moto = Moto::start();
    let dir = Dir::new();
    let keys = compliant_bucket_but(&moto, &dir, |setup, keys| {
        setup.encryption = Some(kms_default(&keys.other));
    });
    audit(&dir).expect_code(1);
    let report = dir.json(REPORT);
    assert_eq!(failed(&report), ["encryption"]);
    let d = detail(&report, "encryption");
    assert!(
        d.starts_with(&format!(
            "aws:kms with key {}, expected {}: aws s3api put-bucket-encryption",
            keys.other, keys.kms
        )),
        "{d}"
    );
}

#[test]
fn audit_of_a_local_store_has_nothing_to_audit() {
    let dir = Dir::new();
    dir.write(
        "dr.yml",
        "version: 1\nstorage:\n  local: backups\ntargets:\n  - name: db\n    format: sqlite\n    rpo: 24h\n",
    );
    let run = dir
        .command()
        .args(["policy", "audit"])
        .output()
        .expect_code(2);
    assert!(
        run.stderr()
            .contains("a local folder has no encryption, versioning or bucket policy to audit"),
        "{}",
        run.stderr()
    );
    assert!(!dir.join(REPORT).exists());
}

#[test]
fn audit_of_a_bucket_that_does_not_exist_cannot_run() {
    let moto = Moto::start();
    let dir = Dir::new();
    dir.write(
        "dr.yml",
        config(
            &moto.endpoint(),
            "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        ),
    );
    let run = audit(&dir).expect_code(2);
    assert!(
        run.stderr().contains("cannot audit bucket `audit-backups`")
            && run.stderr().contains("NoSuchBucket"),
        "{}",
        run.stderr()
    );
}

#[test]
fn audit_names_the_permission_each_refused_read_needs() {
    // An s3s server that checks signatures and refuses every call with AccessDenied.
    let store = Dir::new();
    store.write("audit-backups/.keep", "");
    let port = crate::s3::s3s_denying_server(store.path());
    let dir = Dir::new();
    dir.write(
        "dr.yml",
        config(
            &format!("http://127.0.0.1:{port}"),
            "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        ),
    );
    dir.command()
        .env("AWS_ACCESS_KEY_ID", "dr-test")
        .env("AWS_SECRET_ACCESS_KEY", "dr-secret")
        .env("AWS_CONFIG_FILE", "/nonexistent/aws-config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/aws-credentials",
        )
        .args(["policy", "audit"])
        .output()
        .expect_code(1);
    let report = dir.json(REPORT);
    for (name, permission) in [
        ("encryption", "s3:GetEncryptionConfiguration"),
        ("versioning", "s3:GetBucketVersioning"),
        ("public-access-block", "s3:GetBucketPublicAccessBlock"),
        ("policy:DenyInsecureTransport", "s3:GetBucketPolicy"),
    ] {
        let d = detail(&report, name);
        assert!(
            d.contains(&format!(
                "was refused: the credentials need {permission} on arn:aws:s3:::audit-backups"
            )),
            "{name}: {d}"
        );
    }
}

#[test]
fn audit_sarif_passes_the_sarif_schema_with_a_result_per_finding() {
    let moto = Moto::start();
    let dir = Dir::new();
    compliant_bucket_but(&moto, &dir, |setup, _| {
        setup.versioning = None;
        setup.public_access_block = false;
    });
    let run = s3_command(&dir)
        .args(["policy", "audit", "--sarif", "out/audit.sarif"])
        .output()
        .expect_code(1);
    assert!(
        run.stdout().contains("sarif: out/audit.sarif"),
        "{}",
        run.stdout()
    );
    crate::formats::check_sarif_schema(&dir.join("out/audit.sarif"));
    let report = dir.json(REPORT);
    let log = dir.json("out/audit.sarif");
    assert_eq!(log["version"], "2.1.0");
    let run = &log["runs"][0];
    let results = run["results"].as_array().unwrap();
    let found = findings(&report);
    assert_eq!(results.len(), found.len());
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    for (result, (name, ok, detail)) in results.iter().zip(&found) {
        assert_eq!(result["ruleId"], name.as_str());
        let rule = &rules[result["ruleIndex"].as_u64().unwrap() as usize];
        assert_eq!(rule["id"], name.as_str());
        assert!(!rule["help"]["text"].as_str().unwrap().is_empty(), "{rule}");
        assert_eq!(result["kind"], if *ok { "pass" } else { "fail" });
        assert_eq!(result["level"], if *ok { "none" } else { "error" });
        assert_eq!(
            result["message"]["text"],
            format!("s3://{BUCKET}: {detail}")
        );
        assert_eq!(
            result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "dr.yml"
        );
    }
    assert_eq!(failed(&report), ["versioning", "public-access-block"]);
}
