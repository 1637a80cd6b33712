//! `check --schedule quarterly` with the backup on S3 (a real moto server): the object is
//! streamed from one GET — hashed and gunzip'd on the way — into the SQLite engine and into
//! PostgreSQL (real `pg_dump` custom, tar and plain dumps), and what goes wrong on the way is a
//! failed check (a sidecar that disagrees, a truncated object). `checksum: s3` is verified
//! against the SHA-256 S3 stored at upload. The store-independent faults (hostile tar, bombs,
//! RTO) are covered by `restore` on a local store; the engines only ever see the `BackupStore`
//! trait.

use crate::moto::{Moto, Sse, put};
use crate::postgres::cluster;
use crate::restore::{SQLITE_RESTORE, failed, gzip, passed, quarterly, sha256, sqlite_db};
use crate::restore_pg::{PG_RESTORE, assert_no_password, no_scratch_left, shop};
use crate::util::{Dir, Run};

const BUCKET: &str = "restores";

/// A bucket on a fresh moto server, with `key` put as `stored` and, when `sidecar` is `Some`,
/// `KEY.sha256` holding that hash (the object's own when it is empty).
fn seeded(key: &str, stored: &[u8], sse: Sse<'_>, s3_sha256: bool, sidecar: Option<&str>) -> Moto {
    let moto = Moto::start();
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        moto.create_bucket(BUCKET).await;
        let s3 = moto.s3();
        put(&s3, BUCKET, key, stored.to_vec(), sse, s3_sha256).await;
        if let Some(sum) = sidecar {
            let sum = if sum.is_empty() {
                sha256(stored)
            } else {
                sum.to_string()
            };
            let name = key.rsplit('/').next().unwrap();
            let line = format!("{sum}  {name}\n").into_bytes();
            put(&s3, BUCKET, &format!("{key}.sha256"), line, sse, false).await;
        }
    });
    moto
}

/// A config with one target `t` under `db/` in the bucket; the endpoint comes from the
/// environment (`AWS_ENDPOINT_URL`), as in a workflow. `rest` is the YAML after `rpo:`.
fn config(dir: &Dir, format: &str, pattern: &str, checksum: &str, rest: &str) {
    dir.write(
        "dr.yml",
        format!(
            "version: 1\naws:\n  region: eu-west-1\nstorage:\n  bucket: {BUCKET}\ntargets:\n  - name: t\n    prefix: db/\n    match: \"{pattern}\"\n    format: {format}\n    checksum: {checksum}\n    rpo: 1d\n{rest}"
        ),
    );
}

/// The quarterly check with the S3 credentials and endpoint passed explicitly, and no AWS
/// files from the host.
fn run_quarterly(dir: &Dir, moto: &Moto, extra: &[(&str, String)]) -> (Run, serde_json::Value) {
    let moto_env = moto.env();
    let env: Vec<(&str, &str)> = moto_env
        .iter()
        .chain(extra)
        .map(|(k, v)| (*k, v.as_str()))
        .collect();
    quarterly(dir, &[], &env)
}

/// How many whole-object GETs moto served for `key` (not its sidecar, not listings).
fn gets_of(moto: &Moto, key: &str) -> usize {
    // `GET /bucket/key?x-id=GetObject`; a sidecar's key goes on with `.sha256` instead.
    let want = format!("GET /{BUCKET}/{key}?");
    moto.log().lines().filter(|l| l.contains(&want)).count()
}

#[test]
fn s3_restore_sqlite_from_a_kms_encrypted_object_validates_and_reports_the_metrics() {
    let stored = gzip(&sqlite_db(25));
    let key = "db/app.sqlite.gz";
    let moto = seeded(key, &stored, Sse::Kms("restore-key"), false, Some(""));
    let dir = Dir::new();
    config(&dir, "sqlite", "*.sqlite.gz", "sidecar", SQLITE_RESTORE);
    let (run, t) = run_quarterly(&dir, &moto, &[]);
    run.expect_code(0);
    assert_eq!(t["ok"], true, "{t:#}");
    assert_eq!(t["latest"]["key"], key);
    passed(&t, "integrity");
    let sum = passed(&t, "checksum");
    assert!(sum.contains("matches the sidecar"), "{sum}");
    assert!(sum.starts_with(&format!("sha256 {}", &sha256(&stored)[..12])));
    assert!(passed(&t, "validate[0]").contains("returned 25"));
    passed(&t, "validate[1]");
    assert!(passed(&t, "rto").contains("within the rto of 15m"));
    let m = &t["metrics"];
    assert_eq!(m["bytes"], stored.len() as u64, "{m:#}");
    assert_eq!(t["latest"]["size"], stored.len() as u64);
    for key in [
        "download_seconds",
        "restore_seconds",
        "validate_seconds",
        "total_seconds",
        "backup_age_seconds",
    ] {
        assert!(m[key].is_number(), "{key} in {m:#}");
    }
    assert!(m["total_seconds"].as_f64().unwrap() < 900.0);
    assert_eq!(m["rto_met"], true);
    assert_eq!(m["rpo_met"], true);
    // Read once: one GET of the object, streamed into the engine.
    assert_eq!(gets_of(&moto, key), 1, "{}", moto.log());
}

#[test]
fn s3_restore_pg_dumps_restore_into_a_scratch_database_that_is_dropped() {
    let db = shop();
    let pg = cluster();
    for (format, content, tool) in [
        ("c", "custom-format", "pg_restore"),
        ("t", "tar archive", "pg_restore"),
        ("p", "text", "psql"),
    ] {
        let stored = gzip(&pg.dump(db, format));
        let key = "db/shop.dump.gz";
        let moto = seeded(key, &stored, Sse::None, false, Some(""));
        let dir = Dir::new();
        config(&dir, "pg-dump", "*.dump.gz", "sidecar", PG_RESTORE);
        let (run, t) = run_quarterly(
            &dir,
            &moto,
            &[
                ("DR_RESTORE_DATABASE_URL", pg.url()),
                ("PATH", pg.path_env()),
            ],
        );
        assert_no_password(&run, &dir);
        let run = run.expect_code(0);
        assert_eq!(t["ok"], true, "-F{format}: {t:#}\n{}", run.stderr());
        let restore = passed(&t, "restore");
        assert!(restore.contains(content), "{restore}");
        assert!(restore.contains(&format!("by {tool}")), "{restore}");
        passed(&t, "checksum");
        assert!(passed(&t, "validate[0]").contains("returned 3"));
        passed(&t, "validate[1]");
        passed(&t, "validate[2]");
        assert!(passed(&t, "cleanup").contains("dropped the scratch database dr_restore_"));
        assert_eq!(t["metrics"]["bytes"], stored.len() as u64);
        assert_eq!(t["metrics"]["rto_met"], true);
        no_scratch_left(&t);
        assert_eq!(gets_of(&moto, key), 1, "{}", moto.log());
    }
}

#[test]
fn s3_restore_a_checksum_mismatch_fails_even_when_the_restore_works() {
    let wrong = "0".repeat(64);
    let moto = seeded(
        "db/app.sqlite.gz",
        &gzip(&sqlite_db(3)),
        Sse::None,
        false,
        Some(&wrong),
    );
    let dir = Dir::new();
    config(&dir, "sqlite", "*.sqlite.gz", "sidecar", SQLITE_RESTORE);
    let (run, t) = run_quarterly(&dir, &moto, &[]);
    run.expect_code(1);
    passed(&t, "restore");
    passed(&t, "integrity");
    passed(&t, "validate[0]");
    let detail = failed(&t, "checksum");
    assert!(
        detail.contains(&format!("the sidecar says {wrong}")),
        "{detail}"
    );
    assert_eq!(t["ok"], false);
}

#[test]
fn s3_restore_checksum_s3_is_verified_from_the_stream() {
    let stored = gzip(&sqlite_db(5));
    let moto = seeded("db/app.sqlite.gz", &stored, Sse::Aes256, true, None);
    let dir = Dir::new();
    config(&dir, "sqlite", "*.sqlite.gz", "s3", SQLITE_RESTORE);
    let (run, t) = run_quarterly(&dir, &moto, &[]);
    run.expect_code(0);
    let detail = passed(&t, "checksum");
    assert!(detail.contains("matches the stored SHA-256"), "{detail}");
    assert!(
        detail.starts_with(&format!("sha256 {}", &sha256(&stored)[..12])),
        "{detail}"
    );
    assert!(passed(&t, "validate[0]").contains("returned 5"));
}

#[test]
fn s3_restore_checksum_s3_without_a_stored_sha256_fails_and_says_what_to_do() {
    let moto = seeded(
        "db/app.sqlite.gz",
        &gzip(&sqlite_db(5)),
        Sse::None,
        false,
        None,
    );
    let dir = Dir::new();
    config(&dir, "sqlite", "*.sqlite.gz", "s3", SQLITE_RESTORE);
    let (run, t) = run_quarterly(&dir, &moto, &[]);
    run.expect_code(1);
    // The restore itself still ran and worked; only the proof of integrity is missing.
    passed(&t, "restore");
    let detail = failed(&t, "checksum");
    assert!(detail.contains("has no stored SHA-256"), "{detail}");
    assert!(detail.contains("checksum: sidecar"), "{detail}");
}

#[test]
fn s3_restore_a_truncated_gzip_object_fails() {
    let whole = gzip(&sqlite_db(2000));
    let cut = &whole[..whole.len() / 2];
    // The sidecar is the whole backup's: the upload stopped half way.
    let moto = seeded(
        "db/app.sqlite.gz",
        cut,
        Sse::None,
        false,
        Some(&sha256(&whole)),
    );
    let dir = Dir::new();
    config(&dir, "sqlite", "*.sqlite.gz", "sidecar", SQLITE_RESTORE);
    let (run, t) = run_quarterly(&dir, &moto, &[]);
    run.expect_code(1);
    let detail = failed(&t, "restore");
    assert!(detail.contains("truncated"), "{detail}");
    assert!(failed(&t, "checksum").contains("the sidecar says"), "{t:#}");
    assert!(failed(&t, "validate[0]").contains("not run"));
    assert_eq!(t["metrics"]["bytes"], cut.len() as u64, "{t:#}");
}
