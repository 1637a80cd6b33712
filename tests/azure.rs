//! The Azure Blob store end to end: the binary against a real Azurite (listing, HEAD, ranged and
//! streamed reads, a full SQLite restore), and loopback servers for what Azurite does not do on
//! demand (a persistent 503, a closed port, the GitHub OIDC token endpoint). Azurite cannot
//! backdate Last-Modified, so staleness is tested with a short `rpo`, as for S3.

use std::time::{Duration, Instant};

use azure_storage_blob::models::AccessTier;
use dr_action::store::StoreErrorKind;
use futures::TryStreamExt;
use sha2::Digest;

use crate::azurite::{self, Azurite, upload};
use crate::restore::{SQLITE_RESTORE, gzip, passed, quarterly, sqlite_db};
use crate::util::{Dir, TestCommand};

const WEEKLY: &str = "out/dr_dryrun_weekly.json";
const MONTHLY: &str = "out/dr_dryrun_result.json";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().unwrap()
}

/// A gzipped pg_dump custom-format file of about `len` bytes.
fn dump(len: usize, seed: u8) -> Vec<u8> {
    let mut raw = b"PGDMP\x01\x0e\x00".to_vec();
    raw.extend((0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)));
    gzip(&raw)
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(data))
}

/// Uploads a backup and its `KEY.sha256` sidecar (holding `sidecar` instead of the real hash
/// when it is not empty).
async fn backup(az: &Azurite, container: &str, key: &str, body: Vec<u8>, sidecar: &str) {
    let c = az.container(container);
    let hash = if sidecar.is_empty() {
        sha256_hex(&body)
    } else {
        sidecar.to_string()
    };
    upload(&c, key, body).await;
    let name = key.rsplit('/').next().unwrap();
    upload(
        &c,
        &format!("{key}.sha256"),
        format!("{hash}  {name}\n").into_bytes(),
    )
    .await;
}

/// One pg-dump target `db` under `db/` with sidecars; credentials from `AZ_CONN`.
fn config(endpoint: &str, container: &str, rest: &str) -> String {
    format!(
        "version: 1\nstorage:\n  azure:\n    account: devstoreaccount1\n    container: {container}\n    endpoint: {endpoint}\n    connection-string-env: AZ_CONN\ntargets:\n  - name: db\n    prefix: db/\n    match: \"*.dump.gz\"\n    format: pg-dump\n    checksum: sidecar\n    rpo: 24h\n    min-size: 100B\n{rest}"
    )
}

fn command(dir: &Dir, connection_string: &str) -> TestCommand {
    dir.command().env("AZ_CONN", connection_string)
}

/// `(ok, detail)` of target `db`'s check `name`.
fn check(report: &serde_json::Value, name: &str) -> (bool, String) {
    let c = report["targets"][0]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {report:#}"))
        .clone();
    (
        c["ok"].as_bool().unwrap(),
        c["detail"].as_str().unwrap().to_string(),
    )
}

#[test]
fn azure_weekly_and_monthly_pass_on_good_backups_and_mask_the_key() {
    let az = Azurite::start();
    runtime().block_on(async {
        az.create_container("backups").await;
        for day in 1..=3u8 {
            let key = format!("db/2026-11-2{day}.dump.gz");
            backup(&az, "backups", &key, dump(4000, day), "").await;
        }
    });
    let dir = Dir::new();
    dir.write("dr.yml", config(&az.endpoint(), "backups", ""));
    let run = command(&dir, &az.connection_string())
        .env("GITHUB_ACTIONS", "true")
        .args(["check", "--schedule", "weekly"])
        .output()
        .expect_code(0);
    let out = run.stdout();
    assert!(out.contains("weekly dry-run: ok"), "{out}");
    // The account key and the signature of the SAS made from it are masked first.
    assert!(
        out.contains(&format!(
            "::add-mask::{}",
            dr_action::azure::sas::DEV_STORE_KEY
        )),
        "{out}"
    );
    assert_eq!(out.matches("::add-mask::").count(), 2, "{out}");
    let report = dir.json(WEEKLY);
    assert_eq!(
        report["targets"][0]["latest"]["key"],
        "db/2026-11-23.dump.gz"
    );
    let (ok, enc) = check(&report, "encryption");
    assert!(ok && enc.contains("AES256 at rest"), "{enc}");
    let (ok, fmt) = check(&report, "format");
    assert!(ok && fmt == "gzip, PostgreSQL custom-format dump", "{fmt}");
    let (ok, listing) = check(&report, "listing");
    assert!(ok && listing.contains("3 backups match"), "{listing}");
    assert!(
        report["targets"][0]["evidence"]["uri"]
            .as_str()
            .unwrap()
            .ends_with("/devstoreaccount1/backups/db/2026-11-23.dump.gz"),
        "{report:#}"
    );

    command(&dir, &az.connection_string())
        .args(["check", "--schedule", "monthly"])
        .output()
        .expect_code(0);
    let report = dir.json(MONTHLY);
    let (ok, sum) = check(&report, "checksum");
    assert!(
        ok && sum.contains("matches the sidecar (whole object read"),
        "{sum}"
    );
    let (ok, fmt) = check(&report, "format");
    assert!(ok && fmt.contains("whole stream intact"), "{fmt}");
}

#[test]
fn azure_a_wrong_sidecar_a_stale_backup_and_a_missing_container_fail_as_checks() {
    let az = Azurite::start();
    let wrong = "0".repeat(64);
    runtime().block_on(async {
        az.create_container("backups").await;
        backup(&az, "backups", "db/1.dump.gz", dump(500, 1), &wrong).await;
    });
    let dir = Dir::new();
    dir.write(
        "dr.yml",
        config(&az.endpoint(), "backups", "").replace("rpo: 24h", "rpo: 1s"),
    );
    std::thread::sleep(Duration::from_millis(2100));
    command(&dir, &az.connection_string())
        .args(["check", "--schedule", "monthly"])
        .output()
        .expect_code(1);
    let report = dir.json(MONTHLY);
    let (ok, d) = check(&report, "checksum");
    assert!(!ok && d.contains(&wrong[..12]), "{d}");
    let (ok, d) = check(&report, "freshness");
    assert!(!ok && d.contains("older than the rpo of 1s"), "{d}");

    dir.write("dr.yml", config(&az.endpoint(), "no-such-container", ""));
    command(&dir, &az.connection_string())
        .args(["check", "--schedule", "weekly"])
        .output()
        .expect_code(1);
    let (ok, d) = check(&dir.json(WEEKLY), "listing");
    assert!(
        !ok && d.contains("ContainerNotFound: container `no-such-container` does not exist"),
        "{d}"
    );
}

#[test]
fn azure_a_wrong_account_key_fails_as_refused_credentials_without_printing_the_key() {
    let az = Azurite::start();
    runtime().block_on(az.create_container("backups"));
    let dir = Dir::new();
    dir.write("dr.yml", config(&az.endpoint(), "backups", ""));
    // A valid base64 key that is not the account's.
    let wrong_key = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktd3Jvbmcta2V5";
    let wrong = az
        .connection_string()
        .replace(dr_action::azure::sas::DEV_STORE_KEY, wrong_key);
    let run = command(&dir, &wrong)
        .args(["check", "--schedule", "weekly"])
        .output()
        .expect_code(1);
    let (ok, d) = check(&dir.json(WEEKLY), "listing");
    // Azure answers a bad SAS signature 403 AuthenticationFailed, Azurite 403
    // AuthorizationFailure: either way the message points at the key.
    assert!(
        !ok && (d.contains("AuthenticationFailed") || d.contains("AuthorizationFailure")),
        "{d}"
    );
    assert!(d.contains("account key"), "{d}");
    // Only the mask commands, which hide it, name the key.
    let everything = format!("{}{}{}", run.stdout(), run.stderr(), dir.read(WEEKLY));
    let unmasked: Vec<&str> = everything
        .lines()
        .filter(|l| !l.starts_with("::add-mask::"))
        .collect();
    assert!(everything.contains(&format!("::add-mask::{wrong_key}")));
    assert!(!unmasked.join("\n").contains(wrong_key), "{everything}");
    assert!(!everything.contains("sig="), "{everything}");
}

#[test]
fn azure_a_closed_port_and_a_persistent_503_fail_within_bounds() {
    let dir = Dir::new();
    let closed = format!(
        "http://127.0.0.1:{}/devstoreaccount1",
        crate::moto::free_port()
    );
    dir.write("dr.yml", config(&closed, "backups", ""));
    let conn = format!(
        "AccountName=devstoreaccount1;AccountKey={}",
        dr_action::azure::sas::DEV_STORE_KEY
    );
    let started = Instant::now();
    command(&dir, &conn)
        .args(["check", "--schedule", "weekly"])
        .output()
        .expect_code(1);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    let (ok, d) = check(&dir.json(WEEKLY), "listing");
    assert!(!ok && d.contains("Unreachable: cannot connect to"), "{d}");
    assert!(!d.contains("sig="), "the SAS must not be shown: {d}");

    let (port, seen) = crate::s3::serve(|_, _| {
        (
            503,
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>ServerBusy</Code><Message>The server is busy.</Message></Error>".into(),
        )
    });
    dir.write(
        "dr.yml",
        config(
            &format!("http://127.0.0.1:{port}/devstoreaccount1"),
            "backups",
            "",
        ),
    );
    let started = Instant::now();
    command(&dir, &conn)
        .args(["check", "--schedule", "weekly"])
        .output()
        .expect_code(1);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    let (ok, d) = check(&dir.json(WEEKLY), "listing");
    assert!(
        !ok && d.contains("kept answering") && d.contains("after 4 attempts"),
        "{d}"
    );
    let requests = seen.lock().unwrap();
    assert_eq!(
        requests.len(),
        4,
        "one request and three retries: {requests:#?}"
    );
    assert!(
        requests[0].starts_with("GET /devstoreaccount1/backups?")
            && requests[0].contains("comp=list"),
        "{}",
        requests[0]
    );
}

/// The store itself, through the library: paging over more than one page, HEAD fields, ranges
/// past the end, and the access tier an archived blob reports.
#[test]
fn azure_store_pages_heads_ranges_and_reports_the_archive_tier() {
    let az = Azurite::start();
    let dir = Dir::new();
    dir.write("dr.yml", config(&az.endpoint(), "backups", ""));
    let rt = runtime();
    rt.block_on(async {
        az.create_container("backups").await;
        let c = az.container("backups");
        upload(&c, "db/a.dump.gz", b"0123456789".to_vec()).await;
        upload(&c, "db/empty", Vec::new()).await;
        upload(&c, "other/x", b"x".to_vec()).await;
        upload(&c, "db/cold.dump.gz", b"cold".to_vec()).await;
        azurite::set_tier(&c, "db/cold.dump.gz", AccessTier::Archive).await;

        let loaded = dr_action::config::load_required(Some(&dir.join("dr.yml"))).unwrap();
        let env = dr_action::env::Env::from_lookup(
            |k| (k == "AZ_CONN").then(|| az.connection_string()),
            ["AZ_CONN"],
        );
        let opened = dr_action::connect::open(&loaded, &env).await.unwrap();
        let store = opened.store;
        let mut keys: Vec<String> = store
            .list("db/")
            .map_ok(|m| m.key)
            .try_collect()
            .await
            .unwrap();
        keys.sort();
        assert_eq!(keys, ["db/a.dump.gz", "db/cold.dump.gz", "db/empty"]);

        let head = store.head("db/a.dump.gz").await.unwrap().unwrap();
        assert_eq!(head.size, 10);
        assert!(head.last_modified.is_some());
        assert_eq!(head.sse.as_deref(), Some("AES256"));
        // Azure computes Content-MD5 for a single-request upload.
        assert_eq!(
            head.md5.as_deref(),
            Some("781e5e245d69b566979b86e28d23f2c7")
        );
        let cold = store.head("db/cold.dump.gz").await.unwrap().unwrap();
        assert_eq!(cold.storage_class.as_deref(), Some("Archive"), "{cold:?}");
        assert!(store.head("db/none").await.unwrap().is_none());
        // A read of an archived blob is refused (409 BlobArchived) and says what to do.
        let err = store.read_range("db/cold.dump.gz", 0, 4).await.unwrap_err();
        assert_eq!(err.code.as_deref(), Some("BlobArchived"), "{err}");
        assert!(err.message.contains("rehydrate it"), "{err}");

        assert_eq!(
            store.read_range("db/a.dump.gz", 2, 3).await.unwrap(),
            b"234"
        );
        assert_eq!(
            store.read_range("db/a.dump.gz", 8, 100).await.unwrap(),
            b"89"
        );
        assert!(
            store
                .read_range("db/empty", 0, 16)
                .await
                .unwrap()
                .is_empty()
        );
        let mut whole = Vec::new();
        let mut reader = store.read("db/a.dump.gz").await.unwrap();
        tokio::io::AsyncReadExt::read_to_end(&mut reader, &mut whole)
            .await
            .unwrap();
        assert_eq!(whole, b"0123456789");
        let err = store.read("db/none").await.err().unwrap();
        assert_eq!(err.kind, StoreErrorKind::NotFound, "{err}");
    });
}

#[test]
fn azure_full_restore_of_a_sqlite_backup_streams_it_into_the_engine() {
    let az = Azurite::start();
    let stored = gzip(&sqlite_db(25));
    runtime().block_on(async {
        az.create_container("restores").await;
        backup(&az, "restores", "db/app.sqlite.gz", stored.clone(), "").await;
    });
    let dir = Dir::new();
    dir.write(
        "dr.yml",
        format!(
            "version: 1\nstorage:\n  azure:\n    account: devstoreaccount1\n    container: restores\n    endpoint: {}\n    account-key-env: AZ_KEY\ntargets:\n  - name: t\n    prefix: db/\n    match: \"*.sqlite.gz\"\n    format: sqlite\n    checksum: sidecar\n    rpo: 1d\n{SQLITE_RESTORE}",
            az.endpoint()
        ),
    );
    let (run, t) = quarterly(
        &dir,
        &[],
        &[("AZ_KEY", dr_action::azure::sas::DEV_STORE_KEY)],
    );
    run.expect_code(0);
    assert_eq!(t["ok"], true, "{t:#}");
    assert_eq!(t["latest"]["key"], "db/app.sqlite.gz");
    passed(&t, "integrity");
    assert!(passed(&t, "checksum").contains("matches the sidecar"));
    assert!(passed(&t, "validate[0]").contains("returned 25"));
    assert_eq!(t["metrics"]["bytes"], stored.len() as u64);
}

#[test]
fn azure_in_actions_without_the_id_token_permission_says_what_to_add() {
    let dir = Dir::new();
    let mut text = config("https://acme.blob.core.windows.net", "backups", "");
    text = text.replace("    connection-string-env: AZ_CONN\n", "");
    dir.write("dr.yml", text);
    let run = dir
        .command()
        .env("GITHUB_ACTIONS", "true")
        .env("AZURE_CLIENT_ID", "00000000-0000-0000-0000-000000000001")
        .env("AZURE_TENANT_ID", "00000000-0000-0000-0000-000000000002")
        .args(["check", "--schedule", "weekly"])
        .output();
    assert_ne!(run.code(), 0);
    let err = run.stderr();
    assert!(err.contains("permissions: id-token: write"), "{err}");
}

/// The federated credential's client assertion is the job's OIDC token, requested with the
/// audience Entra ID expects and the runner's bearer token.
#[test]
fn azure_the_federated_assertion_is_the_github_token_for_the_entra_audience() {
    use azure_identity::ClientAssertion;
    let (port, seen) = crate::s3::serve(|_, _| (200, r#"{"value":"gh-jwt"}"#.into()));
    let assertion = dr_action::azure::federated::GitHubAssertion {
        http: reqwest::Client::new(),
        request: dr_action::oidc::OidcRequest {
            url: format!("http://127.0.0.1:{port}/token?api-version=2.0"),
            token: secrecy::SecretString::from("runner-token"),
        },
    };
    let jwt = runtime().block_on(assertion.secret(None)).unwrap();
    assert_eq!(jwt, "gh-jwt");
    let requests = seen.lock().unwrap();
    assert!(
        requests[0]
            .starts_with("GET /token?api-version=2.0&audience=api%3A%2F%2FAzureADTokenExchange "),
        "{}",
        requests[0]
    );
    assert!(
        requests[0]
            .to_ascii_lowercase()
            .contains("authorization: bearer runner-token"),
        "{}",
        requests[0]
    );
    assert!(!format!("{assertion:?}").contains("runner-token"));
}

/// Listing 10,000 blobs: the requests made, the wall time and the peak RSS of a weekly check,
/// measured with `/usr/bin/time -v`. Run by `scripts/bench-azure-list.sh`.
#[test]
#[ignore = "a measurement: scripts/bench-azure-list.sh"]
fn azure_bench_listing_10000_blobs() {
    use futures::StreamExt;
    const BLOBS: usize = 10_000;
    let az = Azurite::start();
    let seeded = Instant::now();
    runtime().block_on(async {
        az.create_container("many").await;
        let c = az.container("many");
        futures::stream::iter(0..BLOBS)
            .map(|i| {
                let c = &c;
                async move {
                    upload(c, &format!("db/{i:05}.dump.gz"), dump(64, i as u8)).await;
                }
            })
            .buffer_unordered(32)
            .collect::<Vec<()>>()
            .await;
    });
    eprintln!("seeded {BLOBS} blobs in {:.1?}", seeded.elapsed());
    let dir = Dir::new();
    dir.write(
        "dr.yml",
        config(&az.endpoint(), "many", "").replace("checksum: sidecar", "checksum: none"),
    );
    let lists = |log: &str| log.lines().filter(|l| l.contains("comp=list")).count();
    let before = lists(&az.log());
    let out = std::process::Command::new("/usr/bin/time")
        .arg("-v")
        .arg(env!("CARGO_BIN_EXE_dr-action"))
        .args(["check", "--schedule", "weekly"])
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AZ_CONN", az.connection_string())
        .output()
        .expect("running /usr/bin/time (Debian package `time`)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let field = |name: &str| {
        stderr
            .lines()
            .find_map(|l| l.trim().strip_prefix(name))
            .unwrap_or("?")
            .trim()
            .to_string()
    };
    // Azurite logs each request when it is served; give it a moment to flush.
    std::thread::sleep(Duration::from_millis(500));
    let requests = lists(&az.log()) - before;
    let report = dir.json(WEEKLY);
    let (_, listing) = check(&report, "listing");
    eprintln!(
        "listing {BLOBS} blobs: {requests} List Blobs requests, wall {}, peak RSS {} KiB; {listing}",
        field("Elapsed (wall clock) time (h:mm:ss or m:ss):"),
        field("Maximum resident set size (kbytes):")
    );
    assert!(listing.contains("10000 backups match"), "{listing}");
    // 5,000 names a page.
    assert_eq!(
        requests,
        2,
        "{}",
        az.log()
            .lines()
            .filter(|l| l.contains("comp=list"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// GitHub OIDC federated credentials end to end: the job's token (a loopback Actions endpoint)
/// is the client assertion the fake Entra ID endpoint trades for a storage token, which an
/// HTTPS Azurite accepts; a client id without a federated credential is a failed check that
/// names Entra's error.
#[test]
fn azure_oidc_federated_credentials_reach_azurite_and_a_refusal_is_a_failed_check() {
    const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    const CLIENT: &str = "11111111-2222-3333-4444-555555555555";
    let certs = tempfile::tempdir().unwrap();
    let (ca, cert, key) = azurite::loopback_certificate(certs.path());
    let az = Azurite::start_tls(&ca, &cert, &key);
    let entra = azurite::EntraFake::start(&cert, &key, TENANT, CLIENT, "gh-jwt");
    let (github, seen) = crate::s3::serve(|_, _| (200, r#"{"value":"gh-jwt"}"#.into()));
    runtime().block_on(async {
        az.create_container("backups").await;
        backup(&az, "backups", "db/1.dump.gz", dump(500, 1), "").await;
    });
    let dir = Dir::new();
    dir.write(
        "dr.yml",
        config(&az.endpoint(), "backups", "").replace("    connection-string-env: AZ_CONN\n", ""),
    );
    let run_as = |client: &str| {
        dir.command()
            .env("GITHUB_ACTIONS", "true")
            .env("AZURE_CLIENT_ID", client)
            .env("AZURE_TENANT_ID", TENANT)
            .env(
                "AZURE_AUTHORITY_HOST",
                format!("https://127.0.0.1:{}", entra.port),
            )
            .env(
                "ACTIONS_ID_TOKEN_REQUEST_URL",
                format!("http://127.0.0.1:{github}/token"),
            )
            .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "runner-token")
            .env("SSL_CERT_FILE", &ca)
            .args(["check", "--schedule", "weekly"])
            .output()
    };
    let run = run_as(CLIENT);
    assert_eq!(
        run.code(),
        0,
        "{}\n{}\n{}",
        run.stdout(),
        run.stderr(),
        entra.log()
    );
    let (ok, listing) = check(&dir.json(WEEKLY), "listing");
    assert!(ok, "{listing}");
    let requests = entra.requests();
    assert_eq!(requests.len(), 1, "one token for the run: {requests:#?}");
    let form = &requests[0]["form"];
    assert_eq!(form["client_assertion"], "gh-jwt");
    assert_eq!(form["client_id"], CLIENT);
    assert!(
        seen.lock().unwrap()[0].contains("audience=api%3A%2F%2FAzureADTokenExchange"),
        "{:?}",
        seen.lock().unwrap()
    );
    assert!(!run.stdout().contains("gh-jwt") && !run.stderr().contains("gh-jwt"));

    let run = run_as("99999999-2222-3333-4444-555555555555");
    assert_eq!(run.code(), 1, "{}\n{}", run.stdout(), run.stderr());
    let (ok, listing) = check(&dir.json(WEEKLY), "listing");
    assert!(!ok && listing.contains("AADSTS700213"), "{listing}");
}

#[test]
fn azure_policy_audit_says_the_bucket_policies_are_aws_only() {
    let dir = Dir::new();
    dir.write(
        "dr.yml",
        config("https://acme.blob.core.windows.net", "backups", ""),
    );
    let run = dir
        .command()
        .args(["policy", "audit"])
        .output()
        .expect_code(2);
    assert!(run.stderr().contains("AWS-only"), "{}", run.stderr());
}
