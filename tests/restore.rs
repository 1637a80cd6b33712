//! `check --schedule quarterly` against a local store: the SQLite, files and command engines,
//! and the faults each must turn into a failed check (corrupt, truncated, wrong checksum,
//! failed validation, hostile tar, expansion bomb, too slow). PostgreSQL is in `restore_pg`.

use std::io::Write;

use sha2::{Digest, Sha256};

use crate::util::{Dir, Run};

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn sha256(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Stores `stored` under `backups/KEY` with a sidecar holding `sum` (its own hash if `None`).
pub fn put(dir: &Dir, key: &str, stored: &[u8], sum: Option<&str>) {
    dir.write(&format!("backups/{key}"), stored);
    let name = key.rsplit('/').next().unwrap();
    let sum = sum.map(str::to_string).unwrap_or_else(|| sha256(stored));
    dir.write(&format!("backups/{key}.sha256"), format!("{sum}  {name}\n"));
}

/// A config with one target `t` under `db/`; `rest` is the YAML after `rpo:` (indented 4).
pub fn config(dir: &Dir, format: &str, pattern: &str, rest: &str) {
    dir.write(
        "dr.yml",
        format!(
            "version: 1\nstorage:\n  local: ./backups\ntargets:\n  - name: t\n    prefix: db/\n    match: \"{pattern}\"\n    format: {format}\n    rpo: 1d\n{rest}"
        ),
    );
}

/// Runs the quarterly check and returns the run and the target's report.
pub fn quarterly(dir: &Dir, extra: &[&str], env: &[(&str, &str)]) -> (Run, serde_json::Value) {
    let mut cmd = dir
        .command()
        .args(["check", "--schedule", "quarterly", "--config", "dr.yml"])
        .args(extra);
    for (k, v) in env {
        cmd = cmd.env(k, v);
    }
    let run = cmd.output();
    let report = dir.json("out/dr_fullrestore_summary.json");
    assert_eq!(report["kind"], "full-restore");
    let target = report["targets"][0].clone();
    (run, target)
}

/// The check named `name` of a target report.
pub fn check<'a>(target: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    target["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {target:#}"))
}

pub fn failed(target: &serde_json::Value, name: &str) -> String {
    let c = check(target, name);
    assert_eq!(c["ok"], false, "{name} should fail: {target:#}");
    c["detail"].as_str().unwrap().to_string()
}

pub fn passed(target: &serde_json::Value, name: &str) -> String {
    let c = check(target, name);
    assert_eq!(c["ok"], true, "{name} should pass: {target:#}");
    c["detail"].as_str().unwrap().to_string()
}

pub fn sqlite_db(rows: u32) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    let db = rusqlite::Connection::open(&path).unwrap();
    db.execute_batch("create table orders (id integer primary key, amount integer)")
        .unwrap();
    for i in 0..rows {
        db.execute("insert into orders (amount) values (?1)", [i])
            .unwrap();
    }
    drop(db);
    std::fs::read(&path).unwrap()
}

pub const SQLITE_RESTORE: &str = "    rto: 15m\n    restore:\n      engine: sqlite\n      validate:\n        - sql: \"select count(*) from orders\"\n          expect-min: 1\n        - command: [\"sh\", \"-c\", \"test -s \\\"$DR_RESTORE_SQLITE\\\"\"]\n";

#[test]
fn restore_sqlite_validates_and_reports_the_metrics() {
    let dir = Dir::new();
    put(&dir, "db/app.sqlite.gz", &gzip(&sqlite_db(25)), None);
    config(&dir, "sqlite", "*.sqlite.gz", SQLITE_RESTORE);
    let (run, t) = quarterly(&dir, &[], &[]);
    run.expect_code(0);
    assert_eq!(t["ok"], true, "{t:#}");
    passed(&t, "integrity");
    assert!(passed(&t, "checksum").contains("matches the sidecar"));
    assert!(passed(&t, "validate[0]").contains("returned 25"));
    passed(&t, "validate[1]");
    assert!(passed(&t, "rto").contains("within the rto of 15m"));
    let m = &t["metrics"];
    for key in [
        "download_seconds",
        "restore_seconds",
        "validate_seconds",
        "total_seconds",
        "bytes",
        "backup_age_seconds",
    ] {
        assert!(m[key].is_number(), "{key} in {m:#}");
    }
    assert_eq!(m["rto_met"], true);
    assert_eq!(m["rpo_met"], true);
    assert_eq!(
        m["bytes"].as_u64().unwrap(),
        std::fs::metadata(dir.join("backups/db/app.sqlite.gz"))
            .unwrap()
            .len()
    );
}

#[test]
fn restore_a_validation_with_too_few_rows_fails() {
    let dir = Dir::new();
    put(&dir, "db/app.sqlite.gz", &gzip(&sqlite_db(0)), None);
    config(&dir, "sqlite", "*.sqlite.gz", SQLITE_RESTORE);
    let (run, t) = quarterly(&dir, &[], &[]);
    run.expect_code(1);
    let detail = failed(&t, "validate[0]");
    assert_eq!(
        detail,
        "`select count(*) from orders` returned 0, expected at least 1"
    );
    passed(&t, "restore");
}

#[test]
fn restore_a_checksum_mismatch_fails_even_when_the_restore_works() {
    let dir = Dir::new();
    let wrong = "0".repeat(64);
    put(&dir, "db/app.sqlite.gz", &gzip(&sqlite_db(3)), Some(&wrong));
    config(&dir, "sqlite", "*.sqlite.gz", SQLITE_RESTORE);
    let (run, t) = quarterly(&dir, &[], &[]);
    run.expect_code(1);
    passed(&t, "restore");
    passed(&t, "integrity");
    let detail = failed(&t, "checksum");
    assert!(
        detail.contains(&format!("the sidecar says {wrong}")),
        "{detail}"
    );
    assert_eq!(t["ok"], false);
}

#[test]
fn restore_a_corrupt_gzip_fails() {
    let dir = Dir::new();
    let mut stored = gzip(&sqlite_db(2000));
    let mid = stored.len() / 2;
    for b in &mut stored[mid..mid + 64] {
        *b ^= 0x5a;
    }
    // The sidecar matches the corrupt bytes: the backup was corrupt when it was written.
    put(&dir, "db/app.sqlite.gz", &stored, None);
    config(&dir, "sqlite", "*.sqlite.gz", SQLITE_RESTORE);
    let (run, t) = quarterly(&dir, &[], &[]);
    run.expect_code(1);
    let detail = failed(&t, "restore");
    assert!(detail.contains("the backup stream broke"), "{detail}");
    assert!(failed(&t, "validate[0]").contains("not run"));
}

#[test]
fn restore_a_truncated_object_fails() {
    let dir = Dir::new();
    let whole = gzip(&sqlite_db(2000));
    put(
        &dir,
        "db/app.sqlite.gz",
        &whole[..whole.len() / 2],
        Some(&sha256(&whole)),
    );
    config(&dir, "sqlite", "*.sqlite.gz", SQLITE_RESTORE);
    let (run, t) = quarterly(&dir, &[], &[]);
    run.expect_code(1);
    assert!(failed(&t, "restore").contains("truncated"), "{t:#}");
    assert!(failed(&t, "checksum").contains("the sidecar says"), "{t:#}");
}

#[test]
fn restore_backup_key_picks_an_older_backup() {
    let dir = Dir::new();
    put(&dir, "db/old.sqlite.gz", &gzip(&sqlite_db(7)), None);
    put(&dir, "db/new.sqlite.gz", &gzip(&sqlite_db(9)), None);
    dir.age(
        "backups/db/old.sqlite.gz",
        std::time::Duration::from_secs(7200),
    );
    config(&dir, "sqlite", "*.sqlite.gz", SQLITE_RESTORE);
    let (run, t) = quarterly(&dir, &[], &[]);
    run.expect_code(0);
    assert!(passed(&t, "validate[0]").contains("returned 9"));
    let (run, t) = quarterly(&dir, &["--backup", "db/old.sqlite.gz"], &[]);
    run.expect_code(0);
    assert_eq!(t["latest"]["key"], "db/old.sqlite.gz");
    assert!(passed(&t, "validate[0]").contains("returned 7"));
    let run = dir
        .command()
        .args(["check", "--schedule", "weekly", "--config", "dr.yml"])
        .args(["--backup", "db/old.sqlite.gz"])
        .output()
        .expect_code(2);
    assert!(run.stderr().contains("--backup"), "{}", run.stderr());
}

const COMMAND_RESTORE: &str = "    rto: 1m\n    restore:\n      engine: command\n      command: [\"sh\", \"-c\", \"wc -c > count.txt\"]\n";

#[test]
fn restore_command_engine_gets_the_decompressed_stream() {
    let dir = Dir::new();
    let content = b"line of a dump\n".repeat(100_000);
    put(&dir, "db/data.sql.gz", &gzip(&content), None);
    config(&dir, "sql", "*.sql.gz", COMMAND_RESTORE);
    let (run, t) = quarterly(&dir, &[], &[]);
    run.expect_code(0);
    // The command runs in the config's folder.
    assert_eq!(dir.read("count.txt").trim(), content.len().to_string());
    assert_eq!(t["metrics"]["unpacked_bytes"], content.len() as u64);
}

#[test]
fn restore_command_exit_code_decides() {
    let dir = Dir::new();
    put(&dir, "db/data.sql.gz", &gzip(b"select 1;\n"), None);
    let rest = "    restore:\n      engine: command\n      command: [\"sh\", \"-c\", \"cat > /dev/null; echo relation missing >&2; exit 3\"]\n";
    config(&dir, "sql", "*.sql.gz", rest);
    let (run, t) = quarterly(&dir, &[], &[]);
    run.expect_code(1);
    let detail = failed(&t, "restore");
    assert!(detail.contains("exit code 3: relation missing"), "{detail}");
}

#[test]
fn restore_past_its_rto_fails_with_both_figures() {
    let dir = Dir::new();
    put(&dir, "db/data.sql.gz", &gzip(b"select 1;\n"), None);
    let rest = "    rto: 1s\n    restore:\n      engine: command\n      command: [\"sh\", \"-c\", \"cat > /dev/null; sleep 2\"]\n";
    config(&dir, "sql", "*.sql.gz", rest);
    let (run, t) = quarterly(&dir, &[], &[]);
    run.expect_code(1);
    passed(&t, "restore");
    let detail = failed(&t, "rto");
    assert!(detail.starts_with("restore exceeded rto 1s: "), "{detail}");
    assert!(detail.contains("took 2."), "{detail}");
    assert_eq!(t["metrics"]["rto_met"], false);
    assert!(t["metrics"]["total_seconds"].as_f64().unwrap() >= 2.0);
}

fn raw_entry(
    b: &mut tar::Builder<Vec<u8>>,
    kind: tar::EntryType,
    name: &str,
    link: &str,
    data: &[u8],
) {
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_entry_type(kind);
    // The builder refuses `..` and absolute names; a hostile archive is written raw.
    let gnu = h.as_gnu_mut().unwrap();
    gnu.name[..name.len()].copy_from_slice(name.as_bytes());
    gnu.linkname[..link.len()].copy_from_slice(link.as_bytes());
    h.set_cksum();
    b.append(&h, data).unwrap();
}

fn tar_of(entries: &[(tar::EntryType, &str, &str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (kind, name, link, data) in entries {
        raw_entry(&mut b, *kind, name, link, data);
    }
    b.into_inner().unwrap()
}

const FILES_RESTORE: &str = "    restore:\n      engine: files\n      validate:\n        - command: [\"sh\", \"-c\", \"test \\\"$(cat \\\"$DR_RESTORE_DIR/etc/app.conf\\\")\\\" = ok\"]\n";

#[test]
fn restore_files_unpacks_and_validates_in_the_folder() {
    use tar::EntryType::*;
    let dir = Dir::new();
    let t = tar_of(&[
        (Directory, "etc/", "", b""),
        (Regular, "etc/app.conf", "", b"ok"),
        (Symlink, "current", "etc", b""),
    ]);
    put(&dir, "db/files.tar.gz", &gzip(&t), None);
    config(&dir, "tar", "*.tar.gz", FILES_RESTORE);
    let (run, t) = quarterly(&dir, &[], &[]);
    run.expect_code(0);
    assert!(passed(&t, "restore").contains("unpacked 1 files, 1 folders, 1 links"));
    passed(&t, "validate[0]");
}

#[test]
fn restore_a_malicious_tar_fails_and_writes_nothing_outside() {
    use tar::EntryType::*;
    let outside = tempfile::tempdir().unwrap();
    let abs = outside.path().join("pwned.txt");
    let abs = abs.to_str().unwrap();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (tar_of(&[(Regular, "../../pwned.txt", "", b"x")]), "`..`"),
        (tar_of(&[(Regular, abs, "", b"x")]), "absolute path"),
        (
            tar_of(&[
                (Symlink, "out", outside.path().to_str().unwrap(), b""),
                (Regular, "out/pwned.txt", "", b"x"),
            ]),
            "points outside",
        ),
        (
            tar_of(&[
                (Symlink, "up", "../../..", b""),
                (Regular, "up/pwned.txt", "", b"x"),
            ]),
            "points outside",
        ),
    ];
    for (archive, want) in cases {
        let dir = Dir::new();
        put(&dir, "db/files.tar.gz", &gzip(&archive), None);
        config(&dir, "tar", "*.tar.gz", FILES_RESTORE);
        // The restore's temporary folder is made inside this test's folder, so "outside"
        // is still somewhere the test can search.
        let tmp = dir.join("tmp");
        std::fs::create_dir_all(&tmp).unwrap();
        let (run, t) = quarterly(&dir, &[], &[("TMPDIR", tmp.to_str().unwrap())]);
        run.expect_code(1);
        let detail = failed(&t, "restore");
        assert!(detail.contains(want), "{want}: {detail}");
        assert!(detail.contains("nothing was written"), "{detail}");
        assert!(!std::path::Path::new(abs).exists());
        let stray: Vec<_> = walkdir::WalkDir::new(dir.path())
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_name() == "pwned.txt")
            .collect();
        assert!(stray.is_empty(), "{stray:?}");
        // And the temporary folder is gone.
        assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);
    }
}

#[test]
fn restore_an_expansion_bomb_is_stopped() {
    use tar::EntryType::*;
    let dir = Dir::new();
    let zeros = vec![0u8; 8 << 20];
    let archive = gzip(&tar_of(&[(Regular, "zeros.bin", "", &zeros)]));
    assert!(archive.len() * 10 < zeros.len());
    put(&dir, "db/files.tar.gz", &archive, None);
    config(&dir, "tar", "*.tar.gz", FILES_RESTORE);
    let (run, t) = quarterly(&dir, &[], &[]);
    run.expect_code(1);
    let detail = failed(&t, "restore");
    assert!(detail.contains("expansion bomb"), "{detail}");
    // The whole object was still read, so the checksum is verified.
    passed(&t, "checksum");

    // A configured cap wins over the default.
    let rest = FILES_RESTORE.replace(
        "engine: files\n",
        "engine: files\n      max-unpacked: 9MiB\n",
    );
    config(&dir, "tar", "*.tar.gz", &rest);
    let (run, t) = quarterly(&dir, &[], &[]);
    assert!(passed(&t, "restore").contains("8.0 MiB"), "{t:#}");
    // The archive has no etc/app.conf, so only the validation fails.
    run.expect_code(1);
}

#[test]
fn a_target_without_restore_failed_every_quarterly() {
    // One target restores, the other has no `restore:`: the second is reported as not
    // restored, which is not a failure, so the quarterly passes and the badge can be green.
    let dir = Dir::new();
    put(&dir, "db/app.sqlite.gz", &gzip(&sqlite_db(3)), None);
    put(&dir, "logs/app.log.gz", &gzip(b"a log line\n"), None);
    config(&dir, "sqlite", "*.sqlite.gz", SQLITE_RESTORE);
    let mut yml = dir.read("dr.yml");
    yml.push_str("  - name: logs\n    prefix: logs/\n    match: \"*.log.gz\"\n    format: file\n    rpo: 1d\n");
    dir.write("dr.yml", &yml);
    let (run, t) = quarterly(&dir, &[], &[]);
    let run = run.expect_code(0);
    passed(&t, "restore");
    let report = dir.json("out/dr_fullrestore_summary.json");
    assert_eq!(report["ok"], true, "{report:#}");
    let logs = &report["targets"][1];
    assert_eq!(logs["name"], "logs");
    assert_eq!(logs["ok"], true);
    assert!(
        passed(logs, "restore").starts_with("not restored: this target has no `restore:` section"),
        "{logs:#}"
    );
    assert!(
        run.stdout().contains("quarterly full-restore: ok"),
        "{}",
        run.stdout()
    );

    // A quarterly with nothing to restore proves nothing: exit 2 with the reason, no report.
    let only_logs = dir
        .command()
        .args([
            "check",
            "--schedule",
            "quarterly",
            "--target",
            "logs",
            "--out",
            "out/only.json",
        ])
        .output()
        .expect_code(2);
    assert!(
        only_logs.stderr().contains(
            "a full restore needs a target with a `restore:` section, and target `logs` has none"
        ),
        "{}",
        only_logs.stderr()
    );
    assert!(!dir.join("out/only.json").exists());
}

#[test]
fn restore_demo_runs_the_quarterly_restore_and_fills_all_three_kpi_slots() {
    let dir = Dir::new();
    let run = dir.command().args(["demo"]).output().expect_code(0);
    assert!(
        run.stdout().contains("quarterly full-restore: ok"),
        "{}",
        run.stdout()
    );
    let report = dir.json("dr-demo/out/dr_fullrestore_summary.json");
    assert_eq!(report["ok"], true, "{report:#}");
    let t = &report["targets"][0];
    assert!(passed(t, "validate[0]").contains("select count(*) from orders"));
    let kpi = dir.json("dr-demo/out/backup_kpi.json");
    assert_eq!(kpi["status"], "green");
    for slot in ["weekly", "monthly", "quarterly"] {
        assert_eq!(kpi[slot]["present"], true, "{slot}: {kpi:#}");
        assert_eq!(kpi[slot]["ok"], true, "{slot}: {kpi:#}");
    }
    assert!(kpi["quarterly"]["metrics"]["app-db"]["total_seconds"].is_number());
}

#[test]
fn restore_zstd_and_uncompressed_backups_stream_too() {
    let content = b"zstd or nothing\n".repeat(50_000);
    for (key, stored) in [
        (
            "db/data.sql.zst",
            zstd::encode_all(&content[..], 3).unwrap(),
        ),
        ("db/data.sql", content.clone()),
    ] {
        let dir = Dir::new();
        put(&dir, key, &stored, None);
        config(&dir, "sql", "data.sql*", COMMAND_RESTORE);
        let (run, t) = quarterly(&dir, &[], &[]);
        run.expect_code(0);
        assert_eq!(
            dir.read("count.txt").trim(),
            content.len().to_string(),
            "{key}"
        );
        assert_eq!(t["metrics"]["bytes"], stored.len() as u64, "{key}");
        passed(&t, "checksum");
    }
}

#[test]
fn restore_a_hung_restore_is_stopped_at_three_times_the_rto() {
    let dir = Dir::new();
    put(&dir, "db/data.sql.gz", &gzip(b"select 1;\n"), None);
    // Not `exec`: the sleep is the command's child, and must be stopped as well.
    let rest = "    rto: 1s\n    restore:\n      engine: command\n      command: [\"sh\", \"-c\", \"sleep 61.75; true\"]\n      validate:\n        - command: [\"true\"]\n";
    config(&dir, "sql", "*.sql.gz", rest);
    let started = std::time::Instant::now();
    let (run, t) = quarterly(&dir, &[], &[]);
    run.expect_code(1);
    assert!(started.elapsed().as_secs() < 20, "{:?}", started.elapsed());
    let detail = failed(&t, "restore");
    assert!(detail.starts_with("stopped after 3."), "{detail}");
    assert!(failed(&t, "checksum").contains("stopped before"));
    assert!(failed(&t, "validate[0]").contains("not run"));
    assert!(failed(&t, "rto").starts_with("restore exceeded rto 1s"));
    assert_eq!(t["metrics"]["restore_seconds"], serde_json::Value::Null);
    let ps = std::process::Command::new("ps")
        .args(["-eo", "args"])
        .output()
        .unwrap();
    let ps = String::from_utf8_lossy(&ps.stdout);
    assert!(!ps.contains("sleep 61.75"), "{ps}");
}

/// The bytes of the files under `path`, now.
fn bytes_under(path: &std::path::Path) -> u64 {
    walkdir::WalkDir::new(path)
        .into_iter()
        .filter_map(Result::ok)
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

#[test]
fn sqlite_recursive_view_is_interrupted_at_the_deadline() {
    let dir = Dir::new();
    let db = dir.join("view.sqlite");
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch(
            "create view orders as with recursive c(x) as (select 1 union all select x+1 from c) select x from c;",
        )
        .unwrap();
    put(
        &dir,
        "db/app.sqlite.gz",
        &gzip(&std::fs::read(&db).unwrap()),
        None,
    );
    let rest = SQLITE_RESTORE.replace("rto: 15m", "rto: 1s");
    config(&dir, "sqlite", "*.sqlite.gz", &rest);
    // Stopped at 3× the rto; the process must then exit, not wait for the query.
    let limit = std::time::Duration::from_secs(3 + 10);
    let started = std::time::Instant::now();
    let run = dir
        .command()
        .args(["check", "--schedule", "quarterly", "--config", "dr.yml"])
        .output_within(limit, || {})
        .unwrap_or_else(|| panic!("still running after {limit:?}"));
    run.expect_code(1);
    assert!(started.elapsed() < limit, "{:?}", started.elapsed());
    let report = dir.json("out/dr_fullrestore_summary.json");
    let t = &report["targets"][0];
    // The restore finished; the query over the view is what hung, and is what fails.
    passed(t, "restore");
    passed(t, "integrity");
    assert!(
        failed(t, "validate[0]").starts_with("stopped by the RTO limit after 3."),
        "{t:#}"
    );
    assert!(failed(t, "rto").starts_with("restore exceeded rto 1s"));
}

#[test]
fn sqlite_expansion_bomb_is_stopped_at_max_unpacked() {
    let dir = Dir::new();
    // A real database followed by 64 MiB of zeros: a few KiB once compressed.
    let mut encoder = zstd::Encoder::new(Vec::new(), 3).unwrap();
    encoder.write_all(&sqlite_db(1)).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..64 {
        encoder.write_all(&zeros).unwrap();
    }
    let stored = encoder.finish().unwrap();
    assert!(stored.len() < 100 << 10, "{}", stored.len());
    put(&dir, "db/app.sqlite.zst", &stored, None);
    config(&dir, "sqlite", "*.sqlite.zst", SQLITE_RESTORE);
    let tmp = dir.join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    // The default cap: 1000× the compressed size, at least 1 MiB (the free space is far more).
    let cap = (stored.len() as u64 * 1000).max(1 << 20);
    assert!(cap < 64 << 20, "{cap}");
    let mut most = 0;
    let run = dir
        .command()
        .args(["check", "--schedule", "quarterly", "--config", "dr.yml"])
        .env("TMPDIR", &tmp)
        .output_within(std::time::Duration::from_secs(120), || {
            most = most.max(bytes_under(&tmp))
        })
        .expect("the run finished");
    run.expect_code(1);
    let t = &dir.json("out/dr_fullrestore_summary.json")["targets"][0];
    let detail = failed(t, "restore");
    assert!(
        detail.contains("larger than")
            && detail.contains("the limit was the default max-unpacked, 1000× the compressed size"),
        "{detail}"
    );
    assert!(most <= cap, "the temporary folder held {most} bytes");
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);
    // The whole object was still read, so the checksum is verified.
    passed(t, "checksum");
    assert!(failed(t, "validate[0]").contains("not run"));

    // A configured cap wins over the default.
    let rest = SQLITE_RESTORE.replace(
        "engine: sqlite\n",
        "engine: sqlite\n      max-unpacked: 65MiB\n",
    );
    config(&dir, "sqlite", "*.sqlite.zst", &rest);
    let (_, t) = quarterly(&dir, &[], &[("TMPDIR", tmp.to_str().unwrap())]);
    assert!(passed(&t, "restore").contains("64.0 MiB"), "{t:#}");
}

#[test]
fn restore_a_key_whose_bytes_are_not_what_its_name_says_fails() {
    let dir = Dir::new();
    put(&dir, "db/data.sql.gz", b"select 1;\n", None);
    config(&dir, "sql", "*.sql.gz", COMMAND_RESTORE);
    let (run, t) = quarterly(&dir, &[], &[]);
    run.expect_code(1);
    let detail = failed(&t, "restore");
    assert_eq!(
        detail,
        "db/data.sql.gz: the key says gzip but the bytes are uncompressed"
    );
}

#[test]
fn restore_backup_key_of_an_old_backup_failed_the_rpo() {
    let dir = Dir::new();
    put(&dir, "db/old.sqlite.gz", &gzip(&sqlite_db(7)), None);
    put(&dir, "db/new.sqlite.gz", &gzip(&sqlite_db(9)), None);
    // Thirty days: far past any rpo a config here names.
    dir.age(
        "backups/db/old.sqlite.gz",
        std::time::Duration::from_secs(30 * 86_400),
    );
    config(&dir, "sqlite", "*.sqlite.gz", SQLITE_RESTORE);
    let (run, t) = quarterly(&dir, &["--backup", "db/old.sqlite.gz"], &[]);
    run.expect_code(0);
    let detail = passed(&t, "rpo");
    assert!(
        detail.starts_with("the restored backup is 30") && detail.contains(" old (rpo "),
        "{detail}"
    );
    assert!(detail.contains("--backup chose it"), "{detail}");
    assert_eq!(t["metrics"]["rpo_met"], false, "{t:#}");
}

#[test]
fn restore_backup_key_that_does_not_exist_exited_1() {
    let dir = Dir::new();
    put(&dir, "db/new.sqlite.gz", &gzip(&sqlite_db(9)), None);
    config(&dir, "sqlite", "*.sqlite.gz", SQLITE_RESTORE);
    let run = dir
        .command()
        .args(["check", "--schedule", "quarterly", "--config", "dr.yml"])
        .args(["--backup", "db/typo.sqlite.gz"])
        .output()
        .expect_code(2);
    assert!(
        run.stderr()
            .contains("--backup db/typo.sqlite.gz: no such backup"),
        "{}",
        run.stderr()
    );
}
