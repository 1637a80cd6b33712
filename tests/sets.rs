//! Backup sets (`set:` on a target): a folder `full_<timestamp>/` of parts with a
//! `metadata.json` manifest, or with a `.sha256` sidecar per part. The parts are made by the real
//! tools (`pg_dump`, `sqlite3`, `tar`, `gzip`, `sha256sum`), stored in a local folder and in moto,
//! and checked through the binary: weekly (present, listed size), monthly (SHA-256 and whole
//! decompression per part) and quarterly (each part restored by its engine, RTO over the set).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::moto::{Moto, Sse, put};
use crate::postgres::cluster;
use crate::restore::{check, failed, passed, quarterly};
use crate::restore_pg::{assert_no_password, no_scratch_left, shop};
use crate::util::{Dir, Run};

const HOUR: Duration = Duration::from_secs(3600);
const BUCKET: &str = "sets";

/// Runs a program and returns its stdout, failing the test when it fails.
pub fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `gzip -9 -c FILE`.
fn gzip_file(path: &Path) -> Vec<u8> {
    run(Command::new("gzip").arg("-9").arg("-c").arg(path))
}

/// `sha256sum FILE`'s digest.
pub fn sha256sum(work: &Path, name: &str, bytes: &[u8]) -> String {
    let path = work.join(name);
    std::fs::write(&path, bytes).unwrap();
    let out = String::from_utf8(run(Command::new("sha256sum").arg(&path))).unwrap();
    out.split_whitespace().next().unwrap().to_string()
}

/// The parts of a set as the backup tool makes them: a `pg_dump` (or a `sqlite3` database),
/// a `tar` of uploads and a JSON config, each gzip'd.
fn make_parts(db: &str) -> Vec<(String, Vec<u8>)> {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let (db_name, db_file) = match db {
        "postgres" => {
            std::fs::write(w.join("database.sql"), cluster().dump(shop(), "p")).unwrap();
            ("database.sql.gz", w.join("database.sql"))
        }
        _ => {
            let file = w.join("app.sqlite");
            run(Command::new("sqlite3").arg(&file).arg(
                "create table orders (id integer primary key, amount integer); insert into orders (amount) values (10), (20), (30);",
            ));
            ("app.sqlite.gz", file)
        }
    };
    std::fs::create_dir_all(w.join("site/uploads")).unwrap();
    std::fs::write(w.join("site/uploads/a.txt"), "uploaded file\n").unwrap();
    run(Command::new("tar")
        .arg("-czf")
        .arg(w.join("files.tar.gz"))
        .arg("-C")
        .arg(w)
        .arg("site"));
    std::fs::write(
        w.join("config.json"),
        r#"{"retention": {"daily": 30}, "name": "shop"}"#,
    )
    .unwrap();
    vec![
        (db_name.to_string(), gzip_file(&db_file)),
        (
            "files.tar.gz".to_string(),
            std::fs::read(w.join("files.tar.gz")).unwrap(),
        ),
        (
            "config.json.gz".to_string(),
            gzip_file(&w.join("config.json")),
        ),
    ]
}

/// `metadata.json` listing `parts` with their sizes and `sha256sum` digests.
fn manifest(parts: &[(String, Vec<u8>)]) -> Vec<u8> {
    let work = tempfile::tempdir().unwrap();
    let listed: Vec<serde_json::Value> = parts
        .iter()
        .map(|(name, bytes)| {
            serde_json::json!({
                "name": name,
                "size": bytes.len(),
                "sha256": sha256sum(work.path(), "part", bytes),
                "kind": "backup-part",
            })
        })
        .collect();
    serde_json::to_vec_pretty(&serde_json::json!({
        "id": "full",
        "encrypted": false,
        "parts": listed,
    }))
    .unwrap()
}

/// The objects of one set folder: the parts and, when `with_manifest`, `metadata.json`, else a
/// `sha256sum` sidecar per part.
fn set_objects(
    folder: &str,
    parts: &[(String, Vec<u8>)],
    with_manifest: bool,
) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = parts
        .iter()
        .map(|(n, b)| (format!("{folder}/{n}"), b.clone()))
        .collect();
    if with_manifest {
        out.push((format!("{folder}/metadata.json"), manifest(parts)));
    } else {
        let work = tempfile::tempdir().unwrap();
        for (n, b) in parts {
            let line = format!("{}  {n}\n", sha256sum(work.path(), "part", b));
            out.push((format!("{folder}/{n}.sha256"), line.into_bytes()));
        }
    }
    out
}

/// Writes objects under `backups/`, aged `age`.
fn store_local(dir: &Dir, objects: &[(String, Vec<u8>)], age: Duration) {
    for (key, bytes) in objects {
        let rel = format!("backups/{key}");
        dir.write(&rel, bytes);
        dir.age(&rel, age);
    }
}

const LOCAL_MANIFEST: &str = r#"version: 1
storage:
  local: ./backups
targets:
  - name: app
    prefix: app/
    match: "full_*"
    format: file
    rpo: 2d
    retention: { daily: 1 }
    set:
      manifest: metadata.json
"#;

/// The quarterly restore of the set in the local store: the dump into PostgreSQL, the tar
/// unpacked, the config piped into a command; validations over all of them.
const LOCAL_RESTORE: &str = r#"    set:
      manifest: metadata.json
      engines:
        database.sql.gz: postgres
        files.tar.gz: files
        config.json.gz: command
    rto: 10m
    restore:
      engine: files
      database-url-env: DR_RESTORE_DATABASE_URL
      command: ["sh", "-c", "grep -c retention >/dev/null"]
      validate:
        - sql: "select count(*) from orders"
          expect-min: 3
        - command: ["sh", "-c", "test -f \"$DR_RESTORE_DIR/site/uploads/a.txt\""]
"#;

/// Runs a dry-run schedule with `env` and returns the run and the first target's report.
pub fn dry_run(dir: &Dir, schedule: &str, env: &[(&str, String)]) -> (Run, serde_json::Value) {
    let mut cmd = dir.command().args(["check", "--schedule", schedule]);
    for (k, v) in env {
        cmd = cmd.env(k, v);
    }
    let run = cmd.output();
    let file = if schedule == "weekly" {
        "out/dr_dryrun_weekly.json"
    } else {
        "out/dr_dryrun_result.json"
    };
    let report = dir.json(file);
    (run, report["targets"][0].clone())
}

fn names(t: &serde_json::Value) -> Vec<String> {
    t["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect()
}

/// A local store with two complete sets, the newest 1 h old; `parts` of the newest are returned.
fn two_local_sets(dir: &Dir, db: &str) -> Vec<(String, Vec<u8>)> {
    let parts = make_parts(db);
    store_local(dir, &set_objects("app/full_1000", &parts, true), HOUR * 25);
    store_local(dir, &set_objects("app/full_2000", &parts, true), HOUR);
    parts
}

#[test]
fn sets_a_healthy_set_passes_weekly_monthly_and_restores_every_part_locally() {
    let dir = Dir::new();
    two_local_sets(&dir, "postgres");
    dir.write("dr.yml", LOCAL_MANIFEST);
    let (r, t) = dry_run(&dir, "weekly", &[]);
    r.expect_code(0);
    assert_eq!(
        names(&t),
        [
            "listing",
            "set",
            "freshness",
            "size",
            "encryption",
            "part database.sql.gz",
            "part files.tar.gz",
            "part config.json.gz",
            "retention"
        ]
    );
    assert_eq!(t["latest"]["key"], "app/full_2000/");
    assert!(passed(&t, "set").contains("full_2000 is complete: 3 parts"));
    let d = passed(&t, "part files.tar.gz");
    assert!(d.contains("gzip, tar archive"), "{d}");

    let (r, t) = dry_run(&dir, "monthly", &[]);
    r.expect_code(0);
    for part in ["database.sql.gz", "files.tar.gz", "config.json.gz"] {
        let d = passed(&t, &format!("part {part}"));
        assert!(d.contains("matches, whole stream intact"), "{d}");
    }

    let config = LOCAL_MANIFEST.replace("    set:\n      manifest: metadata.json\n", LOCAL_RESTORE);
    dir.write("dr.yml", &config);
    let pg = cluster();
    let env = [
        ("DR_RESTORE_DATABASE_URL", pg.url()),
        ("PATH", pg.path_env()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (r, t) = quarterly(&dir, &[], &env);
    assert_no_password(&r, &dir);
    r.expect_code(0);
    assert_eq!(t["ok"], true, "{t:#}");
    assert!(passed(&t, "part database.sql.gz").starts_with("postgres: "));
    assert!(passed(&t, "part database.sql.gz").contains("matches the manifest"));
    assert!(passed(&t, "part files.tar.gz").starts_with("files: "));
    assert!(passed(&t, "part config.json.gz").starts_with("command: "));
    let restore = passed(&t, "restore");
    assert!(
        restore.contains("3 parts of full_2000 restored: database.sql.gz (postgres), files.tar.gz (files), config.json.gz (command)"),
        "{restore}"
    );
    assert!(passed(&t, "validate[0]").contains("returned 3"));
    passed(&t, "validate[1]");
    passed(&t, "cleanup");
    passed(&t, "rto");
    assert_eq!(t["metrics"]["parts"], 3);
    assert!(t["metrics"]["bytes"].as_u64().unwrap() > 0);
    assert!(!no_scratch_left(&t).is_empty());
}

#[test]
fn sets_a_missing_part_fails_and_names_it_and_freshness_uses_the_newest_complete_set() {
    let dir = Dir::new();
    two_local_sets(&dir, "sqlite");
    std::fs::remove_file(dir.join("backups/app/full_2000/files.tar.gz")).unwrap();
    dir.write("dr.yml", LOCAL_MANIFEST);
    let (r, t) = dry_run(&dir, "weekly", &[]);
    r.expect_code(1);
    let set = failed(&t, "set");
    assert!(
        set.contains("the newest set full_2000 is incomplete: part files.tar.gz is missing; the newest complete set is full_1000"),
        "{set}"
    );
    assert_eq!(
        failed(&t, "part files.tar.gz"),
        "part files.tar.gz is missing"
    );
    passed(&t, "part app.sqlite.gz");
    // The newest complete set (25 h old) is within the rpo.
    assert!(passed(&t, "freshness").starts_with("the newest complete set is "));
    assert_eq!(t["latest"]["key"], "app/full_1000/");
}

#[test]
fn sets_an_altered_part_fails_weekly_by_size_and_monthly_by_sha256() {
    let dir = Dir::new();
    two_local_sets(&dir, "sqlite");
    dir.write("dr.yml", LOCAL_MANIFEST);
    let path = dir.join("backups/app/full_2000/config.json.gz");
    let good = std::fs::read(&path).unwrap();

    let mut longer = good.clone();
    longer.extend_from_slice(b"junk");
    std::fs::write(&path, &longer).unwrap();
    // Still as old as the rest of its set: written now, it moved the set to today in the first
    // hour after midnight UTC and emptied yesterday's retention slot.
    dir.age("backups/app/full_2000/config.json.gz", HOUR);
    let (r, t) = dry_run(&dir, "weekly", &[]);
    r.expect_code(1);
    let d = failed(&t, "part config.json.gz");
    assert_eq!(
        d,
        format!(
            "part config.json.gz is {} bytes, the manifest lists {}",
            good.len() + 4,
            good.len()
        )
    );
    assert!(failed(&t, "set").contains("is incomplete: part config.json.gz is"));

    // Same size, one byte changed inside the deflate stream: only the hash can tell.
    let mut flipped = good.clone();
    let at = good.len() / 2;
    flipped[at] ^= 0x55;
    std::fs::write(&path, &flipped).unwrap();
    dir.age("backups/app/full_2000/config.json.gz", HOUR);
    let (r, t) = dry_run(&dir, "weekly", &[]);
    r.expect_code(0);
    let (r, t2) = dry_run(&dir, "monthly", &[]);
    r.expect_code(1);
    passed(&t, "part config.json.gz");
    let d = failed(&t2, "part config.json.gz");
    assert!(d.starts_with("sha256 of the stored bytes is "), "{d}");
    passed(&t2, "part app.sqlite.gz");
    passed(&t2, "part files.tar.gz");
}

/// The restore for the sets without PostgreSQL: SQLite, files, command.
const LIGHT_RESTORE: &str = r#"    set:
      manifest: metadata.json
      engines:
        app.sqlite.gz: sqlite
        config.json.gz: command
    rto: 10m
    restore:
      engine: files
      command: ["sh", "-c", "grep -c retention >/dev/null"]
      validate:
        - sql: "select sum(amount) from orders"
          expect: "60"
        - command: ["sh", "-c", "test -f \"$DR_RESTORE_DIR/site/uploads/a.txt\" && test -s \"$DR_RESTORE_SQLITE\""]
"#;

#[test]
fn sets_an_incomplete_newest_set_fails_the_check_and_the_restore_takes_the_newest_complete() {
    let dir = Dir::new();
    two_local_sets(&dir, "sqlite");
    // The newest folder has its parts but the backup tool died before writing the manifest.
    std::fs::remove_file(dir.join("backups/app/full_2000/metadata.json")).unwrap();
    let config = LOCAL_MANIFEST.replace("    set:\n      manifest: metadata.json\n", LIGHT_RESTORE);
    dir.write("dr.yml", &config);
    let (r, t) = dry_run(&dir, "weekly", &[]);
    r.expect_code(1);
    let set = failed(&t, "set");
    assert!(
        set.contains("full_2000 is incomplete: manifest metadata.json is missing; the newest complete set is full_1000"),
        "{set}"
    );
    passed(&t, "freshness");

    let (r, t) = quarterly(&dir, &[], &[]);
    r.expect_code(1);
    failed(&t, "set");
    assert_eq!(t["latest"]["key"], "app/full_1000/");
    assert!(passed(&t, "part app.sqlite.gz").starts_with("sqlite: "));
    passed(&t, "part files.tar.gz");
    passed(&t, "part config.json.gz");
    assert!(passed(&t, "restore").contains("3 parts of full_1000 restored"));
    assert!(passed(&t, "validate[0]").contains("returned 60"));
    passed(&t, "validate[1]");

    // `--backup` names a set by its folder.
    let (r, t) = quarterly(
        &dir,
        &["--target", "app", "--backup", "app/full_1000/"],
        &[],
    );
    r.expect_code(0);
    assert!(passed(&t, "rpo").contains("--backup chose it"));
    assert!(passed(&t, "restore").contains("3 parts of full_1000 restored"));
    let (r, t) = quarterly(&dir, &["--target", "app", "--backup", "app/full_2000"], &[]);
    r.expect_code(1);
    assert!(failed(&t, "set").contains("full_2000 is incomplete"));
    assert_eq!(failed(&t, "restore"), "no complete backup set to restore");
}

#[test]
fn sets_a_manifest_naming_a_part_outside_the_set_fails_and_nothing_outside_is_read() {
    let dir = Dir::new();
    let parts = make_parts("sqlite");
    // `../../secret.gz` from `app/full_2000/` is `secret.gz` at the store's root, and exists.
    let mut hostile = parts.clone();
    hostile.push(("../../secret.gz".into(), parts[2].1.clone()));
    store_local(&dir, &[("secret.gz".into(), parts[2].1.clone())], HOUR);
    let mut objects = set_objects("app/full_2000", &parts, false);
    objects.retain(|(k, _)| !k.ends_with(".sha256"));
    objects.push(("app/full_2000/metadata.json".into(), manifest(&hostile)));
    store_local(&dir, &objects, HOUR);
    let config = LOCAL_MANIFEST.replace("    set:\n      manifest: metadata.json\n", LIGHT_RESTORE);
    dir.write("dr.yml", &config);
    let (r, t) = dry_run(&dir, "monthly", &[]);
    r.expect_code(1);
    let set = failed(&t, "set");
    assert!(
        set.contains(
            "manifest metadata.json part name `../../secret.gz` points outside the set's folder"
        ),
        "{set}"
    );
    assert!(!names(&t).iter().any(|n| n.contains("secret")), "{t:#}");
    let (r, t) = quarterly(&dir, &[], &[]);
    r.expect_code(1);
    assert_eq!(failed(&t, "restore"), "no complete backup set to restore");

    // A manifest past the 1 MiB cap is not read.
    let mut huge = b"{\"parts\": [".to_vec();
    huge.resize(2 << 20, b' ');
    dir.write("backups/app/full_2000/metadata.json", &huge);
    let (r, t) = dry_run(&dir, "weekly", &[]);
    r.expect_code(1);
    let set = failed(&t, "set");
    assert!(
        set.contains("manifest metadata.json is 2.0 MiB, larger than the 1.0 MiB accepted"),
        "{set}"
    );
}

#[test]
fn sets_a_sidecar_only_set_passes_monthly_and_a_missing_sidecar_fails() {
    let dir = Dir::new();
    let parts = make_parts("sqlite");
    store_local(&dir, &set_objects("app/full_2000", &parts, false), HOUR);
    dir.write(
        "dr.yml",
        LOCAL_MANIFEST
            .replace("      manifest: metadata.json\n", "")
            .replace("    set:\n", "    set: {}\n")
            // One set, an hour old: yesterday's slot is empty.
            .replace("    retention: { daily: 1 }\n", ""),
    );
    let (r, t) = dry_run(&dir, "monthly", &[]);
    r.expect_code(0);
    assert!(passed(&t, "set").contains("3 parts (app.sqlite.gz, config.json.gz, files.tar.gz)"));
    assert!(passed(&t, "part files.tar.gz").contains("whole stream intact"));

    // A sidecar that disagrees fails monthly; a missing one fails weekly.
    dir.write(
        "backups/app/full_2000/files.tar.gz.sha256",
        format!("{}  files.tar.gz\n", "0".repeat(64)),
    );
    let (r, t) = dry_run(&dir, "monthly", &[]);
    r.expect_code(1);
    assert!(failed(&t, "part files.tar.gz").contains(&format!("expected {}", "0".repeat(64))));
    std::fs::remove_file(dir.join("backups/app/full_2000/files.tar.gz.sha256")).unwrap();
    let (r, t) = dry_run(&dir, "weekly", &[]);
    r.expect_code(1);
    assert_eq!(
        failed(&t, "part files.tar.gz"),
        "part files.tar.gz has no files.tar.gz.sha256 sidecar"
    );
}

#[test]
fn sets_a_manifest_outside_the_folder_is_a_config_error_naming_the_key() {
    let dir = Dir::new();
    dir.write(
        "dr.yml",
        LOCAL_MANIFEST.replace("manifest: metadata.json", "manifest: ../metadata.json"),
    );
    let r = dir
        .command()
        .args(["config", "check"])
        .output()
        .expect_code(2);
    let err = r.stderr();
    assert!(err.contains("targets[0].set.manifest"), "{err}");
    assert!(
        err.contains("must be a file name inside the set's folder"),
        "{err}"
    );

    dir.write(
        "dr.yml",
        LOCAL_MANIFEST.replace(
            "manifest: metadata.json",
            "manifest: metadata.json\n      engines: { ../db.gz: sqlite }",
        ),
    );
    let r = dir
        .command()
        .args(["config", "check"])
        .output()
        .expect_code(2);
    let err = r.stderr();
    assert!(err.contains("targets[0].set.engines"), "{err}");
    assert!(err.contains("points outside the set's folder"), "{err}");
}

/// Moto: the same set, parts KMS-encrypted, checked weekly, monthly and restored.
#[test]
fn sets_on_s3_pass_weekly_monthly_and_restore_and_a_missing_part_is_named() {
    let parts = make_parts("sqlite");
    let moto = Moto::start();
    let older = set_objects("app/full_1000", &parts, true);
    let newer = set_objects("app/full_2000", &parts, true);
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        moto.create_bucket(BUCKET).await;
        let s3 = moto.s3();
        for (key, bytes) in older.iter().chain(&newer) {
            put(&s3, BUCKET, key, bytes.clone(), Sse::Kms("set-key"), false).await;
        }
    });
    let dir = Dir::new();
    let config = format!(
        "version: 1\naws:\n  region: eu-west-1\nstorage:\n  bucket: {BUCKET}\ntargets:\n  - name: app\n    prefix: app/\n    match: \"full_*\"\n    format: file\n    rpo: 1d\n{LIGHT_RESTORE}"
    );
    dir.write("dr.yml", &config);
    let env = moto.env();
    let (r, t) = dry_run(&dir, "weekly", &env);
    r.expect_code(0);
    assert!(passed(&t, "encryption").contains("aws:kms"));
    assert_eq!(t["latest"]["key"], "app/full_2000/");
    let (r, t) = dry_run(&dir, "monthly", &env);
    r.expect_code(0);
    assert!(passed(&t, "part app.sqlite.gz").contains("whole stream intact"));

    let env_ref: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (r, t) = quarterly(&dir, &[], &env_ref);
    r.expect_code(0);
    assert_eq!(t["ok"], true, "{t:#}");
    assert!(passed(&t, "part app.sqlite.gz").contains("matches the manifest"));
    assert!(passed(&t, "validate[0]").contains("returned 60"));
    assert_eq!(check(&t, "rto")["ok"], true);

    tokio::runtime::Runtime::new().unwrap().block_on(async {
        moto.s3()
            .delete_object()
            .bucket(BUCKET)
            .key("app/full_2000/app.sqlite.gz")
            .send()
            .await
            .unwrap();
    });
    let (r, t) = dry_run(&dir, "weekly", &env);
    r.expect_code(1);
    assert!(failed(&t, "set").contains("part app.sqlite.gz is missing"));
    assert_eq!(
        failed(&t, "part app.sqlite.gz"),
        "part app.sqlite.gz is missing"
    );
}

#[test]
fn sets_a_part_that_is_not_what_its_engine_restores_fails_weekly() {
    let dir = Dir::new();
    let mut parts = make_parts("sqlite");
    // `files.tar.gz` (engine files, the restore's default) holds gzip'd JSON, not a tar.
    parts[1].1 = parts[2].1.clone();
    store_local(&dir, &set_objects("app/full_2000", &parts, true), HOUR);
    let config = LOCAL_MANIFEST.replace("    set:\n      manifest: metadata.json\n", LIGHT_RESTORE);
    dir.write("dr.yml", &config);
    let (r, t) = dry_run(&dir, "weekly", &[]);
    r.expect_code(1);
    assert_eq!(
        failed(&t, "part files.tar.gz"),
        "gzip: expected a tar archive, found text"
    );
    assert!(passed(&t, "part app.sqlite.gz").contains("SQLite database"));
    passed(&t, "part config.json.gz");
    passed(&t, "set");
}

#[test]
fn sets_a_part_whose_engine_hangs_is_stopped_at_three_times_the_rto_and_named() {
    let dir = Dir::new();
    two_local_sets(&dir, "sqlite");
    let config = LOCAL_MANIFEST.replace(
        "    set:\n      manifest: metadata.json\n",
        &LIGHT_RESTORE
            .replace("rto: 10m", "rto: 1s")
            .replace("grep -c retention >/dev/null", "sleep 60"),
    );
    dir.write("dr.yml", &config);
    let started = std::time::Instant::now();
    let (r, t) = quarterly(&dir, &[], &[]);
    r.expect_code(1);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    passed(&t, "part app.sqlite.gz");
    passed(&t, "part files.tar.gz");
    let d = failed(&t, "part config.json.gz");
    assert!(
        d.contains("command: stopped before it finished (the RTO limit"),
        "{d}"
    );
    assert!(failed(&t, "restore").contains("not restored: config.json.gz"));
    assert!(
        failed(&t, "validate[0]").contains("the RTO limit stopped the run at part config.json.gz")
    );
    assert!(failed(&t, "rto").contains("restore exceeded rto 1s"));
}

#[test]
fn sets_an_engine_named_for_a_part_the_set_does_not_hold_fails_the_set_check() {
    let dir = Dir::new();
    two_local_sets(&dir, "sqlite");
    let config = LOCAL_MANIFEST.replace(
        "    set:\n      manifest: metadata.json\n",
        &LIGHT_RESTORE.replace("app.sqlite.gz: sqlite", "app.sqlite: sqlite"),
    );
    dir.write("dr.yml", &config);
    let (r, t) = dry_run(&dir, "weekly", &[]);
    r.expect_code(1);
    let d = failed(&t, "set");
    assert!(
        d.contains("set.engines names app.sqlite, which full_2000 does not hold"),
        "{d}"
    );
}

#[test]
fn sets_on_s3_an_archived_part_fails_restorable_naming_the_part() {
    use aws_sdk_s3::primitives::ByteStream;
    use aws_sdk_s3::types::{ServerSideEncryption, StorageClass};
    let parts = make_parts("sqlite");
    let moto = Moto::start();
    let objects = set_objects("app/full_2000", &parts, true);
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        moto.create_bucket(BUCKET).await;
        let s3 = moto.s3();
        for (key, bytes) in &objects {
            // The files part went to GLACIER with a lifecycle rule; the rest stayed readable.
            let class = match key.ends_with("/files.tar.gz") {
                true => StorageClass::Glacier,
                false => StorageClass::StandardIa,
            };
            s3.put_object()
                .bucket(BUCKET)
                .key(key)
                .body(ByteStream::from(bytes.clone()))
                .server_side_encryption(ServerSideEncryption::AwsKms)
                .ssekms_key_id("set-key")
                .storage_class(class)
                .send()
                .await
                .expect("PutObject");
        }
    });
    let dir = Dir::new();
    dir.write(
        "dr.yml",
        format!(
            "version: 1\naws:\n  region: eu-west-1\nstorage:\n  bucket: {BUCKET}\ntargets:\n  - name: app\n    prefix: app/\n    match: \"full_*\"\n    format: file\n    rpo: 1d\n{LIGHT_RESTORE}"
        ),
    );
    let env = moto.env();
    let (r, t) = dry_run(&dir, "weekly", &env);
    r.expect_code(1);
    let d = failed(&t, "restorable");
    assert!(
        d.starts_with(
            "part files.tar.gz: app/full_2000/files.tar.gz is in GLACIER and has no restored copy"
        ),
        "{d}"
    );
    assert!(d.contains("lifecycle rule"), "{d}");
    passed(&t, "encryption");
}
