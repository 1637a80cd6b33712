//! The S3 store end to end: the binary against a real moto server (S3, KMS, STS), an in-process
//! s3s server that checks signatures and refuses access, and tiny loopback servers for what no
//! real server does on demand (a persistent 503 SlowDown, the GitHub OIDC token endpoint, an STS
//! that refuses the role). moto cannot backdate LastModified, so staleness is tested with a short
//! `rpo` and retention with slots before today; backdated histories are covered by the local-store
//! tests.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::Digest;

use crate::moto::{self, Moto, Sse, put};
use crate::util::{Dir, TestCommand};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().unwrap()
}

/// A gzipped pg_dump custom-format file of about `len` bytes.
fn dump(len: usize, seed: u8) -> Vec<u8> {
    let mut raw = b"PGDMP\x01\x0e\x00".to_vec();
    raw.extend((0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&raw).unwrap();
    gz.finish().unwrap()
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(data))
}

/// Puts a backup and (when `sidecar` is `Some`) its `KEY.sha256`, with the sidecar's hash
/// replaced by `sidecar` when it is not empty.
async fn backup(
    moto: &Moto,
    bucket: &str,
    key: &str,
    body: Vec<u8>,
    sse: Sse<'_>,
    s3_sha: bool,
    sidecar: Option<&str>,
) {
    let s3 = moto.s3();
    let hash = sha256_hex(&body);
    put(&s3, bucket, key, body, sse, s3_sha).await;
    if let Some(fake) = sidecar {
        let h = if fake.is_empty() {
            hash
        } else {
            fake.to_string()
        };
        let name = key.rsplit('/').next().unwrap();
        let line = format!("{h}  {name}\n").into_bytes();
        put(&s3, bucket, &format!("{key}.sha256"), line, sse, false).await;
    }
}

/// One target per `(name, prefix)`, all pg-dump with sidecars, rpo `rpo`.
fn config(
    endpoint: &str,
    bucket: &str,
    kms: Option<&str>,
    targets: &[(&str, &str)],
    extra: &str,
) -> String {
    let mut c = format!(
        "version: 1\naws:\n  region: eu-west-1\n  endpoint: {endpoint}\nstorage:\n  bucket: {bucket}\n"
    );
    if let Some(k) = kms {
        c.push_str(&format!("  kms-key-arn: {k}\n"));
    }
    c.push_str("targets:\n");
    for (name, prefix) in targets {
        c.push_str(&format!(
            "  - name: {name}\n    prefix: {prefix}\n    match: \"*.dump.gz\"\n    format: pg-dump\n    checksum: sidecar\n    rpo: 24h\n    min-size: 100B\n{extra}"
        ));
    }
    c
}

/// The binary with static test credentials and no AWS files from the host.
pub fn s3_command(dir: &Dir) -> TestCommand {
    TEST_AWS_ENV
        .iter()
        .fold(dir.command(), |cmd, (k, v)| cmd.env(k, v))
}

/// The test credentials, and no AWS files or instance metadata from the host.
pub const TEST_AWS_ENV: [(&str, &str); 5] = [
    ("AWS_ACCESS_KEY_ID", "testing"),
    ("AWS_SECRET_ACCESS_KEY", "testing"),
    ("AWS_CONFIG_FILE", "/nonexistent/aws-config"),
    (
        "AWS_SHARED_CREDENTIALS_FILE",
        "/nonexistent/aws-credentials",
    ),
    ("AWS_EC2_METADATA_DISABLED", "true"),
];

/// `(ok, detail)` of a target's check in a report.
fn check(report: &serde_json::Value, target: &str, name: &str) -> (bool, String) {
    let t = report["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == target)
        .unwrap_or_else(|| panic!("no target {target} in {report:#}"));
    let c = t["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {t:#}"));
    (
        c["ok"].as_bool().unwrap(),
        c["detail"].as_str().unwrap().to_string(),
    )
}

const WEEKLY: &str = "out/dr_dryrun_weekly.json";
const MONTHLY: &str = "out/dr_dryrun_result.json";

#[test]
fn s3_weekly_and_monthly_pass_on_good_kms_encrypted_backups() {
    let moto = Moto::start();
    let rt = runtime();
    let kms = rt.block_on(async {
        moto.create_bucket("good-backups").await;
        let kms = moto.create_kms_key().await;
        for day in 1..=3u8 {
            let key = format!("pwm/orders/2026-11-2{day}.dump.gz");
            // S3 names the key as it was given: a bare id here, an ARN in the config.
            let key_id = kms.rsplit('/').next().unwrap();
            backup(
                &moto,
                "good-backups",
                &key,
                dump(4000, day),
                Sse::Kms(key_id),
                true,
                Some(""),
            )
            .await;
        }
        kms
    });
    let dir = Dir::new();
    dir.write(
        "dr.yml",
        config(
            &moto.endpoint(),
            "good-backups",
            Some(&kms),
            &[("orders-db", "pwm/orders/")],
            "",
        ),
    );
    let run = s3_command(&dir)
        .args(["check", "--schedule", "weekly"])
        .output();
    let run = run.expect_code(0);
    assert!(
        run.stdout().contains("weekly dry-run: ok"),
        "{}",
        run.stdout()
    );
    let report = dir.json(WEEKLY);
    assert_eq!(report["ok"], true, "{report:#}");
    assert_eq!(
        report["targets"][0]["latest"]["key"],
        "pwm/orders/2026-11-23.dump.gz"
    );
    let (_, enc) = check(&report, "orders-db", "encryption");
    assert!(enc.contains("aws:kms with the expected key"), "{enc}");
    let (_, sum) = check(&report, "orders-db", "checksum");
    assert!(
        sum.contains("matches the sidecar (not downloaded)"),
        "{sum}"
    );
    let (_, fmt) = check(&report, "orders-db", "format");
    assert_eq!(fmt, "gzip, PostgreSQL custom-format dump");

    s3_command(&dir)
        .args(["check", "--schedule", "monthly"])
        .output()
        .expect_code(0);
    let report = dir.json(MONTHLY);
    let (_, sum) = check(&report, "orders-db", "checksum");
    assert!(
        sum.contains("matches the sidecar (whole object read"),
        "{sum}"
    );
    let (_, fmt) = check(&report, "orders-db", "format");
    assert!(fmt.contains("whole stream intact"), "{fmt}");
}

#[test]
fn s3_encryption_fails_for_aes256_and_for_a_different_kms_key() {
    let moto = Moto::start();
    let rt = runtime();
    let wanted = rt.block_on(async {
        moto.create_bucket("enc-backups").await;
        let wanted = moto.create_kms_key().await;
        let other = moto.create_kms_key().await;
        let b = "enc-backups";
        backup(
            &moto,
            b,
            "aes/1.dump.gz",
            dump(500, 1),
            Sse::Aes256,
            true,
            Some(""),
        )
        .await;
        backup(
            &moto,
            b,
            "other/1.dump.gz",
            dump(500, 2),
            Sse::Kms(&other),
            true,
            Some(""),
        )
        .await;
        backup(
            &moto,
            b,
            "plain/1.dump.gz",
            dump(500, 3),
            Sse::None,
            true,
            Some(""),
        )
        .await;
        backup(
            &moto,
            b,
            "right/1.dump.gz",
            dump(500, 4),
            Sse::Kms(&wanted),
            true,
            Some(""),
        )
        .await;
        wanted
    });
    let dir = Dir::new();
    let targets = [
        ("aes", "aes/"),
        ("other", "other/"),
        ("plain", "plain/"),
        ("right", "right/"),
    ];
    dir.write(
        "dr.yml",
        config(&moto.endpoint(), "enc-backups", Some(&wanted), &targets, ""),
    );
    s3_command(&dir)
        .args(["check", "--schedule", "weekly"])
        .output()
        .expect_code(1);
    let report = dir.json(WEEKLY);
    let (ok, d) = check(&report, "aes", "encryption");
    assert!(
        !ok && d == "ServerSideEncryption is AES256, expected aws:kms",
        "{d}"
    );
    let (ok, d) = check(&report, "other", "encryption");
    assert!(!ok && d.contains("expected") && d.contains(&wanted), "{d}");
    let (ok, d) = check(&report, "plain", "encryption");
    assert!(!ok, "{d}");
    let (ok, d) = check(&report, "right", "encryption");
    assert!(ok, "{d}");
}

#[test]
fn s3_checksum_mismatches_fail_weekly_without_download_and_monthly_by_hashing() {
    let moto = Moto::start();
    let rt = runtime();
    let wrong = "f".repeat(64);
    rt.block_on(async {
        moto.create_bucket("sum-backups").await;
        let b = "sum-backups";
        // S3 keeps the true SHA-256; the sidecar lies: weekly sees it from HEAD alone.
        backup(
            &moto,
            b,
            "stored/1.dump.gz",
            dump(500, 1),
            Sse::Kms("k"),
            true,
            Some(&wrong),
        )
        .await;
        // No stored SHA-256; the sidecar lies: only the monthly read can tell.
        backup(
            &moto,
            b,
            "sidecar/1.dump.gz",
            dump(500, 2),
            Sse::Kms("k"),
            false,
            Some(&wrong),
        )
        .await;
        // No sidecar at all.
        backup(
            &moto,
            b,
            "nosidecar/1.dump.gz",
            dump(500, 3),
            Sse::Kms("k"),
            true,
            None,
        )
        .await;
    });
    let dir = Dir::new();
    let targets = [
        ("stored", "stored/"),
        ("sidecar", "sidecar/"),
        ("nosidecar", "nosidecar/"),
    ];
    dir.write(
        "dr.yml",
        config(&moto.endpoint(), "sum-backups", None, &targets, ""),
    );
    s3_command(&dir)
        .args(["check", "--schedule", "weekly"])
        .output()
        .expect_code(1);
    let report = dir.json(WEEKLY);
    let (ok, d) = check(&report, "stored", "checksum");
    assert!(
        !ok && d.starts_with("the store's SHA-256 is ") && d.ends_with(&wrong),
        "{d}"
    );
    let (ok, d) = check(&report, "sidecar", "checksum");
    assert!(ok && d.contains("stored without a SHA-256 checksum"), "{d}");
    let (ok, d) = check(&report, "nosidecar", "checksum");
    assert!(
        !ok && d.contains("sidecar nosidecar/1.dump.gz.sha256 is missing"),
        "{d}"
    );

    s3_command(&dir)
        .args(["check", "--schedule", "monthly"])
        .output()
        .expect_code(1);
    let report = dir.json(MONTHLY);
    let (ok, d) = check(&report, "sidecar", "checksum");
    assert!(
        !ok && d.contains(&format!("the sidecar says {wrong}")),
        "{d}"
    );

    // `checksum: s3`: the stored SHA-256 is the reference, sidecars are not read.
    let text = config(
        &moto.endpoint(),
        "sum-backups",
        None,
        &[("stored", "stored/"), ("sidecar", "sidecar/")],
        "",
    )
    .replace("checksum: sidecar", "checksum: s3");
    dir.write("s3.yml", text);
    for (schedule, out) in [("weekly", "w.json"), ("monthly", "m.json")] {
        s3_command(&dir)
            .args([
                "check",
                "--config",
                "s3.yml",
                "--schedule",
                schedule,
                "--out",
                out,
            ])
            .output()
            .expect_code(1);
        let report = dir.json(out);
        let (ok, d) = check(&report, "stored", "checksum");
        assert!(ok, "{schedule}: {d}");
        let (ok, d) = check(&report, "sidecar", "checksum");
        assert!(
            !ok && d.contains("has no stored SHA-256: the object was stored without"),
            "{schedule}: {d}"
        );
    }
}

#[test]
fn s3_stale_backups_and_missing_retention_slots_fail() {
    let moto = Moto::start();
    let rt = runtime();
    rt.block_on(async {
        moto.create_bucket("old-backups").await;
        backup(
            &moto,
            "old-backups",
            "db/1.dump.gz",
            dump(500, 1),
            Sse::Kms("k"),
            true,
            Some(""),
        )
        .await;
    });
    let dir = Dir::new();
    let retention = "    retention: { daily: 3 }\n";
    let text = config(
        &moto.endpoint(),
        "old-backups",
        None,
        &[("db", "db/")],
        retention,
    )
    .replace("rpo: 24h", "rpo: 1s");
    dir.write("dr.yml", text);
    std::thread::sleep(Duration::from_millis(2100));
    s3_command(&dir)
        .args(["check", "--schedule", "weekly"])
        .output()
        .expect_code(1);
    let report = dir.json(WEEKLY);
    let (ok, d) = check(&report, "db", "freshness");
    assert!(!ok && d.contains("older than the rpo of 1s"), "{d}");
    // Everything was written today, so the three daily slots before today are empty.
    let (ok, d) = check(&report, "db", "retention");
    assert!(!ok && d.contains("missing"), "{d}");
}

#[test]
fn s3_empty_prefix_missing_bucket_and_chaos_fail_as_checks() {
    let moto = Moto::start();
    let rt = runtime();
    rt.block_on(async {
        moto.create_bucket("some-backups").await;
        backup(
            &moto,
            "some-backups",
            "db/1.dump.gz",
            dump(500, 1),
            Sse::Kms("k"),
            true,
            Some(""),
        )
        .await;
        put(
            &moto.s3(),
            "some-backups",
            "empty/readme.txt",
            b"x".to_vec(),
            Sse::None,
            false,
        )
        .await;
    });
    let dir = Dir::new();
    dir.write(
        "dr.yml",
        config(
            &moto.endpoint(),
            "some-backups",
            None,
            &[("empty", "empty/"), ("db", "db/")],
            "",
        ),
    );
    s3_command(&dir)
        .args(["check", "--schedule", "weekly"])
        .output()
        .expect_code(1);
    let report = dir.json(WEEKLY);
    let (ok, d) = check(&report, "empty", "listing");
    assert!(
        !ok && d.contains("no key matching `*.dump.gz`") && d.contains("(1 other objects)"),
        "{d}"
    );
    assert!(check(&report, "db", "listing").0);

    // Chaos: every prefix replaced, a controlled failure, marked in the report.
    let run = s3_command(&dir)
        .env("DR_CHAOS", "Yes")
        .env("GITHUB_RUN_ID", "4242")
        .env("GITHUB_REPOSITORY", "acme/app")
        .args(["check", "--schedule", "weekly"])
        .output()
        .expect_code(1);
    assert!(run.stdout().contains("[chaos drill]"), "{}", run.stdout());
    let report = dir.json("out/chaos/dr_dryrun_weekly.json");
    assert_eq!(report["chaos"], true);
    let (ok, d) = check(&report, "db", "listing");
    assert!(!ok && d.contains("`dr-chaos-4242/`"), "{d}");

    // The endpoint from the standard variable this time, not the config.
    let text = config(
        &moto.endpoint(),
        "no-such-backups",
        None,
        &[("db", "db/")],
        "",
    )
    .replace(&format!("  endpoint: {}\n", moto.endpoint()), "");
    assert!(!text.contains("endpoint"));
    dir.write("dr.yml", text);
    s3_command(&dir)
        .env("AWS_ENDPOINT_URL", moto.endpoint())
        .args(["check", "--schedule", "weekly"])
        .output()
        .expect_code(1);
    let (ok, d) = check(&dir.json(WEEKLY), "db", "listing");
    assert!(
        !ok && d.contains("NoSuchBucket: bucket `no-such-backups` does not exist"),
        "{d}"
    );
}

#[test]
fn s3_unreachable_endpoint_fails_the_check_within_seconds() {
    let port = moto::free_port();
    let dir = Dir::new();
    dir.write(
        "dr.yml",
        config(
            &format!("http://127.0.0.1:{port}"),
            "backups",
            None,
            &[("db", "db/")],
            "",
        ),
    );
    let started = Instant::now();
    s3_command(&dir)
        .args(["check", "--schedule", "weekly"])
        .output()
        .expect_code(1);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(15), "took {took:?}");
    let (ok, d) = check(&dir.json(WEEKLY), "db", "listing");
    assert!(
        !ok && d.contains("Unreachable: cannot connect to the S3 endpoint")
            && d.contains("Connection refused")
            && !d.contains("DispatchFailure {"),
        "{d}"
    );
}

/// A loopback HTTP server answering every request with `respond(n, request_head)`, where `n`
/// counts requests from 1. Returns the port and the request heads seen.
pub fn serve(
    respond: impl Fn(usize, &str) -> (u16, String) + Send + 'static,
) -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let count = AtomicUsize::new(0);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = String::new();
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                head.push_str(&line);
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let n = count.fetch_add(1, Ordering::SeqCst) + 1;
            let (status, text) = respond(n, &head);
            log.lock()
                .unwrap()
                .push(format!("{head}\r\n{}", String::from_utf8_lossy(&body)));
            let reply = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                text.len()
            );
            let _ = stream.write_all(reply.as_bytes());
        }
    });
    (port, seen)
}

#[test]
fn s3_a_persistent_503_slowdown_fails_the_check_after_bounded_retries() {
    let (port, seen) = serve(|_, _| {
        (
            503,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>1</RequestId></Error>".into(),
        )
    });
    let dir = Dir::new();
    dir.write(
        "dr.yml",
        config(
            &format!("http://127.0.0.1:{port}"),
            "backups",
            None,
            &[("db", "db/")],
            "",
        ),
    );
    let started = Instant::now();
    s3_command(&dir)
        .args(["check", "--schedule", "weekly"])
        .output()
        .expect_code(1);
    assert!(started.elapsed() < Duration::from_secs(20));
    let (ok, d) = check(&dir.json(WEEKLY), "db", "listing");
    assert!(
        !ok && d.contains("SlowDown: ListObjectsV2 s3://backups/db/"),
        "{d}"
    );
    let requests = seen.lock().unwrap();
    assert_eq!(
        requests.len(),
        3,
        "one request and two retries: {requests:#?}"
    );
    assert!(
        requests[0].starts_with("GET /backups/?list-type=2&prefix=db%2F "),
        "{}",
        requests[0]
    );
}

/// An s3s-fs server in-process on a loopback port, over the folder `root` (its buckets are the
/// folder's subfolders), checking signatures for `dr-test` / `dr-secret`, with `access` deciding
/// each authenticated request. Returns the port.
pub fn s3s_server(root: &std::path::Path, access: impl s3s::access::S3Access) -> u16 {
    let fs = s3s_fs::FileSystem::new(root).unwrap();
    let mut builder = s3s::service::S3ServiceBuilder::new(fs);
    builder.set_auth(s3s::auth::SimpleAuth::from_single("dr-test", "dr-secret"));
    builder.set_access(access);
    let service = builder.build();
    crate::util::spawn_loopback(move |socket| {
        let service = service.clone();
        async move {
            let builder =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
            let _ = builder
                .serve_connection(hyper_util::rt::TokioIo::new(socket), service)
                .await;
        }
    })
    .port()
}

/// An s3s-fs server refusing every operation after authentication.
pub fn s3s_denying_server(root: &std::path::Path) -> u16 {
    struct DenyAll;
    #[async_trait::async_trait]
    impl s3s::access::S3Access for DenyAll {
        async fn check(&self, _cx: &mut s3s::access::S3AccessContext<'_>) -> s3s::S3Result<()> {
            Err(s3s::s3_error!(AccessDenied, "Access Denied"))
        }
    }
    s3s_server(root, DenyAll)
}

#[test]
fn s3_access_denied_and_bad_signatures_fail_as_checks() {
    let store = Dir::new();
    store.write("backups/db/1.dump.gz", dump(500, 1));
    let port = s3s_denying_server(store.path());
    let dir = Dir::new();
    dir.write(
        "dr.yml",
        config(
            &format!("http://127.0.0.1:{port}"),
            "backups",
            None,
            &[("db", "db/")],
            "",
        ),
    );
    let base = |secret: &str| {
        dir.command()
            .env("AWS_ACCESS_KEY_ID", "dr-test")
            .env("AWS_SECRET_ACCESS_KEY", secret)
            .env("AWS_CONFIG_FILE", "/nonexistent/aws-config")
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                "/nonexistent/aws-credentials",
            )
            .args(["check", "--schedule", "weekly"])
    };
    base("dr-secret").output().expect_code(1);
    let (ok, d) = check(&dir.json(WEEKLY), "db", "listing");
    assert!(
        !ok && d.contains("AccessDenied: ListObjectsV2 s3://backups/db/ was refused")
            && d.contains("s3:ListBucket"),
        "{d}"
    );
    base("wrong-secret").output().expect_code(1);
    let (ok, d) = check(&dir.json(WEEKLY), "db", "listing");
    assert!(
        !ok && d.contains("(SignatureDoesNotMatch): the credentials are wrong"),
        "{d}"
    );
}

#[test]
fn oidc_token_to_moto_sts_to_s3_masks_the_credentials() {
    let moto = Moto::start();
    let rt = runtime();
    rt.block_on(async {
        moto.create_bucket("oidc-backups").await;
        backup(
            &moto,
            "oidc-backups",
            "db/1.dump.gz",
            dump(500, 1),
            Sse::Kms("k"),
            true,
            Some(""),
        )
        .await;
    });
    let (token_port, seen) = serve(|_, head| {
        let lower = head.to_ascii_lowercase();
        let good = head.starts_with("GET /token?api-version=2.0&audience=sts.amazonaws.com ")
            && lower.contains("\r\nauthorization: bearer request-token-123\r\n");
        if good {
            (
                200,
                r#"{"value":"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXBvOmFjbWUvYXBwIn0.c2ln"}"#.into(),
            )
        } else {
            (401, "{}".into())
        }
    });
    let dir = Dir::new();
    let text = config(&moto.endpoint(), "oidc-backups", None, &[("db", "db/")], "").replace(
        "  region: eu-west-1\n",
        "  region: eu-west-1\n  role-arn: arn:aws:iam::123456789012:role/dr-checks\n",
    );
    dir.write("dr.yml", text);
    let run = dir
        .command()
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_RUN_ID", "777")
        .env(
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            format!("http://127.0.0.1:{token_port}/token?api-version=2.0"),
        )
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "request-token-123")
        .env("AWS_CONFIG_FILE", "/nonexistent/aws-config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/aws-credentials",
        )
        .args(["check", "--schedule", "weekly"])
        .output()
        .expect_code(0);
    let stdout = run.stdout();
    let masks: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("::add-mask::"))
        .collect();
    assert_eq!(masks.len(), 3, "{stdout}");
    assert!(
        masks[0].starts_with("ASIA"),
        "an STS access key id: {stdout}"
    );
    assert!(masks.iter().all(|m| m.len() >= 16));
    assert!(
        stdout.starts_with("::add-mask::"),
        "masks come first: {stdout}"
    );
    assert_eq!(seen.lock().unwrap().len(), 1);
    assert!(dir.json(WEEKLY)["ok"].as_bool().unwrap());
    assert!(
        moto.log().contains("POST / HTTP/1.1"),
        "STS was called:\n{}",
        moto.log()
    );
}

#[test]
fn oidc_retries_idp_errors_then_explains_an_access_denied_role() {
    let (token_port, _) = serve(|_, _| (200, r#"{"value":"a.b.c"}"#.into()));
    let (sts_port, seen) = serve(|n, _| {
        let code = if n < 3 {
            "IDPCommunicationError"
        } else {
            "AccessDenied"
        };
        (
            if n < 3 { 400 } else { 403 },
            format!(
                "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>Not authorized to perform sts:AssumeRoleWithWebIdentity</Message></Error><RequestId>r{n}</RequestId></ErrorResponse>"
            ),
        )
    });
    let dir = Dir::new();
    let text = config(
        &format!("http://127.0.0.1:{sts_port}"),
        "b",
        None,
        &[("db", "db/")],
        "",
    )
    .replace(
        "  region: eu-west-1\n",
        "  region: eu-west-1\n  role-arn: arn:aws:iam::123456789012:role/file-role\n",
    );
    dir.write("dr.yml", text);
    let run = dir
        .command()
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_REPOSITORY", "acme/app")
        .env("GITHUB_REF", "refs/heads/main")
        .env("GITHUB_RUN_ID", "31337")
        .env("DR_AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/env-role")
        .env(
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            format!("http://127.0.0.1:{token_port}/t?v=1"),
        )
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "x")
        .args(["check", "--schedule", "weekly"])
        .output()
        .expect_code(1);
    // A refused role is a failed check (the alert path runs), with the reason in the report.
    let report = dir.json("out/dr_dryrun_weekly.json");
    assert_eq!(report["targets"][0]["checks"][0]["name"], "access");
    let err = report["targets"][0]["checks"][0]["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        run.stdout().contains("access: cannot open the store"),
        "{}",
        run.stdout()
    );
    assert!(err.contains("AccessDenied: STS refused to let this workflow assume arn:aws:iam::123456789012:role/env-role"), "{err}");
    assert!(
        err.contains("trust policy") && err.contains("repo:acme/app:ref:refs/heads/main"),
        "{err}"
    );
    let calls = seen.lock().unwrap();
    assert_eq!(calls.len(), 3, "two IDPCommunicationErrors retried");
    let body = calls[0].rsplit("\r\n").next().unwrap();
    for part in [
        "Action=AssumeRoleWithWebIdentity",
        "RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fenv-role",
        "RoleSessionName=dr-action-31337",
        "WebIdentityToken=a.b.c",
        "DurationSeconds=3600",
    ] {
        assert!(body.contains(part), "{part} in {body}");
    }
    assert!(!run.stdout().contains("::add-mask::"));
}

#[test]
fn oidc_a_token_endpoint_answering_503_is_asked_three_times_then_explained() {
    let (token_port, seen) = serve(|_, _| (503, "busy".into()));
    // STS must not be called without a token.
    let (sts_port, sts_seen) = serve(|_, _| (500, String::new()));
    let dir = Dir::new();
    let text = config(
        &format!("http://127.0.0.1:{sts_port}"),
        "b",
        None,
        &[("db", "db/")],
        "",
    )
    .replace(
        "  region: eu-west-1\n",
        "  region: eu-west-1\n  role-arn: arn:aws:iam::123456789012:role/dr\n",
    );
    dir.write("dr.yml", text);
    let started = Instant::now();
    dir.command()
        .env("GITHUB_ACTIONS", "true")
        .env(
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            format!("http://127.0.0.1:{token_port}/t"),
        )
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "x")
        .args(["check", "--schedule", "weekly"])
        .output()
        .expect_code(1);
    let report = dir.json("out/dr_dryrun_weekly.json");
    let d = report["targets"][0]["checks"][0]["detail"]
        .as_str()
        .unwrap();
    assert!(
        d.contains("requesting the GitHub OIDC token failed after 3 attempts: HTTP 503"),
        "{d}"
    );
    assert_eq!(seen.lock().unwrap().len(), 3, "one request and two retries");
    assert!(sts_seen.lock().unwrap().is_empty());
    // Waits of 0.5 s and 1 s between the three.
    assert!(started.elapsed() >= Duration::from_millis(1500));
}

#[test]
fn oidc_without_the_id_token_permission_or_a_region_says_what_to_set() {
    let dir = Dir::new();
    let text = config("http://127.0.0.1:9", "b", None, &[("db", "db/")], "").replace(
        "  region: eu-west-1\n",
        "  role-arn: arn:aws:iam::123456789012:role/dr\n",
    );
    dir.write("dr.yml", text);
    let cmd = || {
        dir.command()
            .env("AWS_CONFIG_FILE", "/nonexistent/aws-config")
            .args(["check", "--schedule", "weekly"])
    };
    // Each is a failed `access` check: the report is written and the alert path runs.
    let detail = || {
        let report = dir.json("out/dr_dryrun_weekly.json");
        assert_eq!(report["ok"], false);
        assert_eq!(report["targets"][0]["checks"][0]["name"], "access");
        report["targets"][0]["checks"][0]["detail"]
            .as_str()
            .unwrap()
            .to_string()
    };
    cmd().output().expect_code(1);
    let d = detail();
    assert!(d.contains("no AWS region: set `aws.region`"), "{d}");
    cmd()
        .env("DR_AWS_REGION", "eu-west-1")
        .env("GITHUB_ACTIONS", "true")
        .output()
        .expect_code(1);
    let d = detail();
    assert!(d.contains("permissions: id-token: write"), "{d}");
}

#[test]
fn s3_without_credentials_fails_the_check_and_says_where_to_get_them() {
    let dir = Dir::new();
    dir.write(
        "dr.yml",
        config("http://127.0.0.1:9", "backups", None, &[("db", "db/")], ""),
    );
    dir.command()
        .env("AWS_CONFIG_FILE", "/nonexistent/aws-config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/aws-credentials",
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .args(["check", "--schedule", "weekly"])
        .output()
        .expect_code(1);
    let (ok, d) = check(&dir.json(WEEKLY), "db", "listing");
    assert!(
        !ok && d
            .contains("NoCredentials: ListObjectsV2 s3://backups/db/: no AWS credentials found")
            && d.contains("permissions: id-token: write")
            && !d.contains('\n'),
        "{d}"
    );
}

#[test]
fn s3_a_silent_endpoint_times_out_within_the_operation_timeout() {
    // Accepts connections and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let held: Vec<_> = listener.incoming().collect();
        drop(held);
    });
    let dir = Dir::new();
    dir.write(
        "dr.yml",
        config(
            &format!("http://127.0.0.1:{port}"),
            "backups",
            None,
            &[("db", "db/")],
            "",
        ),
    );
    let started = Instant::now();
    s3_command(&dir)
        .args(["check", "--schedule", "weekly"])
        .output()
        .expect_code(1);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(40), "took {took:?}");
    let (ok, d) = check(&dir.json(WEEKLY), "db", "listing");
    assert!(
        !ok && d.contains("Timeout: ListObjectsV2 s3://backups/db/ got no answer"),
        "{d}"
    );
}
