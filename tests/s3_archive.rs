//! Backups in S3's archive classes, against a real moto server: GLACIER and DEEP_ARCHIVE objects
//! cannot be read until restored, so the dry-run and the quarterly restore fail `restorable`
//! (naming the class and what to do) instead of a confusing read error; with the target's
//! `restore-request` the quarterly restore asks S3 for a readable copy, waits for it within the
//! rto, and restores. GLACIER_IR is read directly. What the server holds after a run (its
//! `x-amz-restore` answer) is what the tests assert on.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ServerSideEncryption, StorageClass};

use crate::moto::Moto;
use crate::restore::{failed, gzip, passed, quarterly, sqlite_db};
use crate::s3::s3_command;
use crate::util::Dir;

const BUCKET: &str = "archived";
const KEY: &str = "db/app.sqlite.gz";

/// A fresh moto server whose bucket holds `KEY` (a gzip'd SQLite database) in `class`.
fn seeded(class: StorageClass) -> Moto {
    let moto = Moto::start();
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        moto.create_bucket(BUCKET).await;
        moto.s3()
            .put_object()
            .bucket(BUCKET)
            .key(KEY)
            .body(ByteStream::from(gzip(&sqlite_db(5))))
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id("archive-key")
            .storage_class(class)
            .send()
            .await
            .expect("PutObject");
    });
    moto
}

/// What HEAD answers for `KEY` now: its storage class and `x-amz-restore`.
fn head(moto: &Moto) -> (Option<String>, Option<String>) {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let out = moto
            .s3()
            .head_object()
            .bucket(BUCKET)
            .key(KEY)
            .send()
            .await
            .expect("HeadObject");
        (
            out.storage_class().map(|c| c.as_str().to_string()),
            out.restore().map(str::to_string),
        )
    })
}

/// One SQLite target under `db/`; `rest` is the YAML after `rpo:`.
fn config(dir: &Dir, rest: &str) {
    dir.write(
        "dr.yml",
        format!(
            "version: 1\naws:\n  region: eu-west-1\nstorage:\n  bucket: {BUCKET}\ntargets:\n  - name: t\n    prefix: db/\n    match: \"*.sqlite.gz\"\n    format: sqlite\n    checksum: none\n    rpo: 1d\n{rest}"
        ),
    );
}

const RESTORE: &str = "    restore:\n      engine: sqlite\n      validate:\n        - sql: \"select count(*) from orders\"\n          expect-min: 5\n";

fn run_quarterly(dir: &Dir, moto: &Moto) -> (crate::util::Run, serde_json::Value) {
    let env = moto.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    quarterly(dir, &[], &env)
}

/// The weekly dry-run's report of the only target.
fn weekly(dir: &Dir, moto: &Moto) -> serde_json::Value {
    s3_command(dir)
        .env("AWS_ENDPOINT_URL", moto.endpoint())
        .args(["check", "--schedule", "weekly", "--config", "dr.yml"])
        .output();
    dir.json("out/dr_dryrun_weekly.json")["targets"][0].clone()
}

/// How many GETs of the object itself moto served (HEADs and listings aside).
fn gets(moto: &Moto) -> usize {
    let want = format!("GET /{BUCKET}/{KEY}");
    moto.log().lines().filter(|l| l.contains(&want)).count()
}

#[test]
fn s3_weekly_an_archived_newest_backup_fails_restorable_naming_its_class_and_the_remedy() {
    for (class, name) in [
        (StorageClass::Glacier, "GLACIER"),
        (StorageClass::DeepArchive, "DEEP_ARCHIVE"),
    ] {
        let moto = seeded(class);
        let dir = Dir::new();
        config(&dir, "");
        let t = weekly(&dir, &moto);
        assert_eq!(t["ok"], false, "{t:#}");
        let d = failed(&t, "restorable");
        assert!(d.contains(&format!("{KEY} is in {name}")), "{d}");
        assert!(d.contains("lifecycle rule"), "{d}");
        assert!(d.contains("restore-request"), "{d}");
        // The refused read names the class too, not a bare 403.
        let f = failed(&t, "format");
        assert!(f.contains("InvalidObjectState"), "{f}");
        assert!(f.contains(&format!("the object is in {name}")), "{f}");
        // A dry-run asks for no restore.
        assert_eq!(head(&moto), (Some(name.to_string()), None));
    }
}

#[test]
fn s3_quarterly_without_restore_request_fails_restorable_and_never_reads_the_archived_object() {
    let moto = seeded(StorageClass::Glacier);
    let dir = Dir::new();
    config(&dir, &format!("    rto: 15m\n{RESTORE}"));
    let (run, t) = run_quarterly(&dir, &moto);
    run.expect_code(1);
    let d = failed(&t, "restorable");
    assert!(d.contains("is in GLACIER and has no restored copy"), "{d}");
    assert!(d.contains("restore-request"), "{d}");
    let r = failed(&t, "restore");
    assert!(r.starts_with("not attempted"), "{r}");
    assert_eq!(gets(&moto), 0, "{}", moto.log());
    assert_eq!(head(&moto), (Some("GLACIER".into()), None));
}

#[test]
fn s3_quarterly_with_restore_request_asks_for_a_copy_then_restores_the_archived_backup() {
    let moto = seeded(StorageClass::DeepArchive);
    let dir = Dir::new();
    config(
        &dir,
        &format!("    rto: 15m\n    restore-request: {{ days: 2, tier: Bulk }}\n{RESTORE}"),
    );
    let (run, t) = run_quarterly(&dir, &moto);
    run.expect_code(0);
    assert_eq!(t["ok"], true, "{t:#}");
    let d = passed(&t, "restorable");
    assert!(
        d.contains("is in DEEP_ARCHIVE: asked for a restored copy (Bulk, kept 2 days)"),
        "{d}"
    );
    assert!(d.contains("readable after"), "{d}");
    assert!(passed(&t, "validate[0]").contains("returned 5"));
    assert!(t["metrics"]["restore_request_seconds"].is_number(), "{t:#}");
    // The server made the copy the restore read: the object stays archived, with a readable
    // restored copy beside it.
    let (class, restore) = head(&moto);
    assert_eq!(class.as_deref(), Some("DEEP_ARCHIVE"));
    let restore = restore.expect("x-amz-restore after the run");
    assert!(restore.contains("ongoing-request=\"false\""), "{restore}");
    assert!(restore.contains("expiry-date="), "{restore}");
    assert_eq!(gets(&moto), 1, "{}", moto.log());
}

/// Tells moto how its restores move on: `times` HEADs or GETs of the object per step, from
/// none, to `ongoing-request="true"`, to done (moto finishes them at once by default).
async fn restores_step_every(moto: &Moto, times: u64) {
    let resp = reqwest::Client::new()
        .post(format!(
            "{}/moto-api/state-manager/set-transition",
            moto.endpoint()
        ))
        .json(&serde_json::json!({
            "model_name": "s3::keyrestore",
            "transition": { "progression": "manual", "times": times }
        }))
        .send()
        .await
        .expect("set-transition");
    assert!(resp.status().is_success(), "{}", resp.status());
}

#[test]
fn s3_quarterly_a_copy_still_restoring_when_the_rto_is_spent_fails_restorable_with_the_wait() {
    let moto = seeded(StorageClass::Glacier);
    // A restore asked for earlier (by hand, or by an earlier run) that does not finish.
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        restores_step_every(&moto, 1).await;
        moto.s3()
            .restore_object()
            .bucket(BUCKET)
            .key(KEY)
            .restore_request(aws_sdk_s3::types::RestoreRequest::builder().days(1).build())
            .send()
            .await
            .expect("RestoreObject");
    });
    assert_eq!(head(&moto).1.as_deref(), Some("ongoing-request=\"true\""));
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(restores_step_every(&moto, 1_000_000));
    let dir = Dir::new();
    config(
        &dir,
        &format!("    rto: 2s\n    restore-request: {{ days: 1, tier: Standard }}\n{RESTORE}"),
    );
    let started = std::time::Instant::now();
    let (run, t) = run_quarterly(&dir, &moto);
    run.expect_code(1);
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    let d = failed(&t, "restorable");
    assert!(
        d.contains("asked for a restored copy (Standard, kept 1 day); one asked for earlier was still running"),
        "{d}"
    );
    assert!(d.contains("still restoring after"), "{d}");
    assert!(failed(&t, "restore").starts_with("not attempted"));
    let waited = t["metrics"]["restore_request_seconds"].as_f64().unwrap();
    assert!((1.5..10.0).contains(&waited), "{waited}");
    assert_eq!(gets(&moto), 0, "{}", moto.log());
    assert_eq!(head(&moto).1.as_deref(), Some("ongoing-request=\"true\""));
}

#[test]
fn s3_a_glacier_instant_retrieval_backup_passes_restorable_and_restores() {
    let moto = seeded(StorageClass::GlacierIr);
    let dir = Dir::new();
    config(&dir, &format!("    rto: 15m\n{RESTORE}"));
    let t = weekly(&dir, &moto);
    let d = passed(&t, "restorable");
    assert!(d.contains("GLACIER_IR: read directly"), "{d}");
    passed(&t, "format");
    let (run, t) = run_quarterly(&dir, &moto);
    run.expect_code(0);
    assert_eq!(t["ok"], true, "{t:#}");
    passed(&t, "restorable");
    assert_eq!(head(&moto), (Some("GLACIER_IR".into()), None));
}

/// An s3s-fs server that answers every RestoreObject with `code` (real S3 answers
/// `RestoreAlreadyInProgress`, 409, while an earlier restore runs; moto never does).
fn s3s_refusing_restores(root: &std::path::Path, code: s3s::S3ErrorCode) -> u16 {
    struct Refuse(s3s::S3ErrorCode);
    #[async_trait::async_trait]
    impl s3s::access::S3Access for Refuse {
        async fn check(&self, cx: &mut s3s::access::S3AccessContext<'_>) -> s3s::S3Result<()> {
            match cx.s3_op().name() {
                "RestoreObject" => Err(s3s::S3Error::new(self.0.clone())),
                _ => Ok(()),
            }
        }
    }
    crate::s3::s3s_server(root, Refuse(code))
}

#[test]
fn s3s_a_restore_already_in_progress_is_not_an_error_and_a_refusal_names_the_permission() {
    use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
    use dr_action::config::{RestoreRequest, RestoreTier};
    use dr_action::store::s3::S3Store;
    use dr_action::store::{BackupStore, RestoreRequested};

    let request = RestoreRequest {
        days: 1,
        tier: RestoreTier::Expedited,
    };
    for (code, want) in [
        (s3s::S3ErrorCode::RestoreAlreadyInProgress, Ok(())),
        (s3s::S3ErrorCode::AccessDenied, Err("s3:RestoreObject")),
    ] {
        let root = Dir::new();
        root.write("backups/db/app.sqlite.gz", b"x");
        let port = s3s_refusing_restores(root.path(), code);
        let client = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new("us-east-1"))
                .endpoint_url(format!("http://127.0.0.1:{port}"))
                .credentials_provider(Credentials::new("dr-test", "dr-secret", None, None, "t"))
                .force_path_style(true)
                .build(),
        );
        let store = S3Store::new(client, "backups", None);
        let got = tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(store.request_restore("db/app.sqlite.gz", &request));
        match want {
            Ok(()) => assert_eq!(got, Ok(RestoreRequested::AlreadyInProgress)),
            Err(permission) => {
                let err = got.unwrap_err();
                assert_eq!(err.code.as_deref(), Some("AccessDenied"), "{err}");
                assert!(err.message.contains(permission), "{err}");
            }
        }
    }
}
