//! `dr-action check` dry-run against a local store: the good path and the faults of issue 2.

use std::time::Duration;

use crate::fixtures::{CONFIG, DAY, gzip, healthy_store, put_backup, sqlite_like};
use crate::util::Dir;

fn check(dir: &Dir, schedule: &str) -> crate::util::Run {
    dir.command()
        .args(["check", "--schedule", schedule])
        .output()
}

fn target_checks(report: &serde_json::Value) -> Vec<(String, bool, String)> {
    report["targets"][0]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["ok"].as_bool().unwrap(),
                c["detail"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn failed(report: &serde_json::Value) -> Vec<(String, String)> {
    target_checks(report)
        .into_iter()
        .filter(|c| !c.1)
        .map(|c| (c.0, c.2))
        .collect()
}

#[test]
fn healthy_store_passes_weekly_and_monthly_with_every_check() {
    let dir = healthy_store();
    let run = check(&dir, "weekly").expect_code(0);
    assert!(
        run.stdout().contains("weekly dry-run: ok"),
        "{}",
        run.stdout()
    );
    let report = dir.json("out/dr_dryrun_weekly.json");
    assert_eq!(report["schema"], 1);
    assert_eq!(report["kind"], "dry-run");
    assert_eq!(report["schedule"], "weekly");
    assert_eq!(report["ok"], true);
    assert_eq!(report["chaos"], false);
    assert_eq!(report["targets"][0]["latest"]["key"], "db/db-000.sqlite.gz");
    let names: Vec<String> = target_checks(&report).into_iter().map(|c| c.0).collect();
    assert_eq!(
        names,
        [
            "listing",
            "freshness",
            "size",
            "encryption",
            "format",
            "checksum",
            "retention"
        ]
    );
    assert!(failed(&report).is_empty());

    check(&dir, "monthly").expect_code(0);
    let report = dir.json("out/dr_dryrun_result.json");
    let checks = target_checks(&report);
    let checksum = checks.iter().find(|c| c.0 == "checksum").unwrap();
    assert!(
        checksum
            .2
            .contains("matches the sidecar (whole object read"),
        "{checksum:?}"
    );
    let format = checks.iter().find(|c| c.0 == "format").unwrap();
    assert!(format.2.contains("whole stream intact"), "{format:?}");
}

#[test]
fn an_empty_store_fails_listing_and_still_writes_the_report() {
    let dir = Dir::new();
    dir.write("dr.yml", CONFIG);
    dir.write("backups/other/file.txt", "x");
    let run = check(&dir, "weekly").expect_code(1);
    assert!(run.stdout().contains("FAIL db"), "{}", run.stdout());
    let report = dir.json("out/dr_dryrun_weekly.json");
    assert_eq!(report["ok"], false);
    let f = failed(&report);
    assert_eq!(f[0].0, "listing");
    assert!(f[0].1.contains("no key matching `*.sqlite.gz`"), "{f:?}");
}

#[test]
fn a_missing_store_folder_is_a_failed_check_naming_the_error() {
    let dir = Dir::new();
    dir.write("dr.yml", CONFIG);
    check(&dir, "weekly").expect_code(1);
    let f = failed(&dir.json("out/dr_dryrun_weekly.json"));
    assert!(f[0].1.contains("NoSuchBucket"), "{f:?}");
}

#[test]
fn a_stale_newest_backup_fails_freshness() {
    let dir = Dir::new();
    dir.write("dr.yml", CONFIG);
    crate::fixtures::dailies(&dir, 10, DAY * 3);
    check(&dir, "weekly").expect_code(1);
    let f = failed(&dir.json("out/dr_dryrun_weekly.json"));
    let fresh = f.iter().find(|c| c.0 == "freshness").unwrap();
    assert!(
        fresh.1.starts_with("newest is 3d") && fresh.1.contains("older than the rpo of 26h"),
        "{fresh:?}"
    );
    // The retention slots of the last three days are empty too, and are listed.
    let ret = f.iter().find(|c| c.0 == "retention").unwrap();
    assert!(
        ret.1.contains("5/7 daily") && ret.1.contains("missing: daily"),
        "{ret:?}"
    );
}

#[test]
fn a_missing_sidecar_fails_the_checksum_check() {
    let dir = healthy_store();
    std::fs::remove_file(dir.join("backups/db/db-000.sqlite.gz.sha256")).unwrap();
    check(&dir, "weekly").expect_code(1);
    let f = failed(&dir.json("out/dr_dryrun_weekly.json"));
    assert_eq!(
        f,
        [(
            "checksum".to_string(),
            "sidecar db/db-000.sqlite.gz.sha256 is missing".to_string()
        )]
    );
}

#[test]
fn a_sidecar_with_the_wrong_hash_fails_the_monthly_check() {
    let dir = healthy_store();
    let wrong = format!("{}  db-000.sqlite.gz\n", "0".repeat(64));
    dir.write("backups/db/db-000.sqlite.gz.sha256", wrong);
    check(&dir, "monthly").expect_code(1);
    let f = failed(&dir.json("out/dr_dryrun_result.json"));
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].0, "checksum");
    assert!(
        f[0].1
            .contains(&format!("the sidecar says {}", "0".repeat(64))),
        "{f:?}"
    );
}

#[test]
fn a_garbled_sidecar_is_named() {
    let dir = healthy_store();
    dir.write("backups/db/db-000.sqlite.gz.sha256", "not a checksum\n");
    check(&dir, "weekly").expect_code(1);
    let f = failed(&dir.json("out/dr_dryrun_weekly.json"));
    assert!(
        f[0].1.contains("holds no SHA-256 in sha256sum format"),
        "{f:?}"
    );
}

#[test]
fn a_truncated_gzip_passes_weekly_but_fails_monthly() {
    let dir = healthy_store();
    let mut bytes = gzip(&sqlite_like(300_000, 7));
    bytes.truncate(bytes.len() / 2);
    // As old as the backup it replaces, so it keeps that day's retention slot at any hour
    // (60 s old, it moved to today in the first hour after midnight UTC and left a slot empty).
    put_backup(
        &dir,
        "db/db-000.sqlite.gz",
        &bytes,
        Duration::from_secs(3600),
    );
    // Weekly reads only the first bytes: they are fine.
    check(&dir, "weekly").expect_code(0);
    check(&dir, "monthly").expect_code(1);
    let f = failed(&dir.json("out/dr_dryrun_result.json"));
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].0, "format");
    assert!(
        f[0].1.contains("decompression failed") && f[0].1.contains("truncated"),
        "{f:?}"
    );
}

#[test]
fn the_decompression_failure_mixed_unpacked_and_stored_sizes() {
    // Compressible content: what was unpacked outgrows what was read from the store, and the
    // detail used to print the two as "19.2 KiB of 14.6 KiB read".
    let dir = healthy_store();
    let mut content = b"SQLite format 3\0".to_vec();
    content.extend((0..40_000u32).flat_map(|i| format!("row {} ", i % 97).into_bytes()));
    let mut bytes = gzip(&content);
    bytes.truncate(bytes.len() / 2);
    // As old as the backup it replaces, so it keeps that day's retention slot at any hour
    // (60 s old, it moved to today in the first hour after midnight UTC and left a slot empty).
    put_backup(
        &dir,
        "db/db-000.sqlite.gz",
        &bytes,
        Duration::from_secs(3600),
    );
    check(&dir, "monthly").expect_code(1);
    let f = failed(&dir.json("out/dr_dryrun_result.json"));
    let stored = dr_action::units::short_size(bytes.len() as u64);
    let format = &f.iter().find(|c| c.0 == "format").unwrap().1;
    let wanted = format!("decompression failed after reading {stored} stored (");
    assert!(format.contains(&wanted), "{wanted}\n{f:?}");
    assert!(
        format.contains(" unpacked): the stream ends early"),
        "{f:?}"
    );
}

#[test]
fn content_that_is_not_the_configured_format_fails() {
    let dir = healthy_store();
    let sql: String = (0..3000)
        .map(|i| format!("insert into t values ({i}, {});\n", i * 7919 % 10007))
        .collect();
    put_backup(
        &dir,
        "db/db-000.sqlite.gz",
        &gzip(sql.as_bytes()),
        Duration::from_secs(60),
    );
    check(&dir, "weekly").expect_code(1);
    let f = failed(&dir.json("out/dr_dryrun_weekly.json"));
    assert_eq!(
        f[0],
        (
            "format".to_string(),
            "gzip: expected a SQLite database, found text".to_string()
        )
    );
}

#[test]
fn an_extension_that_lies_about_compression_fails() {
    let dir = healthy_store();
    put_backup(
        &dir,
        "db/db-000.sqlite.gz",
        &sqlite_like(5000, 1),
        Duration::from_secs(60),
    );
    check(&dir, "weekly").expect_code(1);
    let f = failed(&dir.json("out/dr_dryrun_weekly.json"));
    assert!(
        f.iter()
            .any(|c| c.1 == "the key says gzip but the bytes are uncompressed"),
        "{f:?}"
    );
}

#[test]
fn a_sudden_shrink_fails_the_size_check() {
    let dir = healthy_store();
    put_backup(
        &dir,
        "db/db-000.sqlite.gz",
        &gzip(&sqlite_like(2_000, 1)),
        Duration::from_secs(60),
    );
    check(&dir, "weekly").expect_code(1);
    let f = failed(&dir.json("out/dr_dryrun_weekly.json"));
    assert!(
        f.iter()
            .any(|c| c.0 == "size" && c.1.contains("sudden shrink")),
        "{f:?}"
    );
}

#[test]
fn chaos_points_every_target_at_a_prefix_that_cannot_exist() {
    let dir = healthy_store();
    check(&dir, "weekly").expect_code(0);
    let real = dir.read("out/dr_dryrun_weekly.json");
    let run = dir
        .command()
        .args(["check", "--schedule", "weekly"])
        .env("DR_CHAOS", "Yes")
        .env("GITHUB_RUN_ID", "4242")
        .env("GITHUB_REPOSITORY", "acme/app")
        .output()
        .expect_code(1);
    assert!(run.stdout().contains("[chaos drill]"), "{}", run.stdout());
    assert!(
        run.stdout()
            .contains("report out/chaos/dr_dryrun_weekly.json"),
        "{}",
        run.stdout()
    );
    let report = dir.json("out/chaos/dr_dryrun_weekly.json");
    assert_eq!(report["chaos"], true);
    // A chaos run overwrote the real report in out/: the drill's goes to out/chaos/.
    assert_eq!(dir.read("out/dr_dryrun_weekly.json"), real);
    assert_eq!(
        report["run"]["url"],
        "https://github.com/acme/app/actions/runs/4242"
    );
    assert!(
        failed(&report)[0].1.contains("under `dr-chaos-4242/`"),
        "{report}"
    );
    // --chaos does the same without the variable.
    dir.command()
        .args(["check", "--schedule", "weekly", "--chaos"])
        .output()
        .expect_code(1);
    // DR_CHAOS=false leaves it off.
    dir.command()
        .args(["check", "--schedule", "weekly"])
        .env("DR_CHAOS", "false")
        .output()
        .expect_code(0);
}

#[test]
fn target_selection_and_report_path_are_honoured() {
    let dir = healthy_store();
    dir.command()
        .args([
            "check",
            "--schedule",
            "weekly",
            "--target",
            "db",
            "--out",
            "r/weekly.json",
        ])
        .output()
        .expect_code(0);
    assert_eq!(
        dir.json("r/weekly.json")["targets"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let run = dir
        .command()
        .args(["check", "--schedule", "weekly", "--target", "nope"])
        .output()
        .expect_code(2);
    assert!(
        run.stderr().contains("no target named `nope`") && run.stderr().contains("targets: db"),
        "{}",
        run.stderr()
    );
}

#[test]
fn without_a_config_check_exits_2_and_says_where_it_looked() {
    let dir = Dir::new();
    let run = check(&dir, "weekly").expect_code(2);
    assert!(
        run.stderr()
            .contains("no config found: looked for .github/dr.yml and dr.yml"),
        "{}",
        run.stderr()
    );
}

#[test]
fn global_options_work_after_the_subcommand() {
    let dir = healthy_store();
    std::fs::rename(dir.join("dr.yml"), dir.join("custom.yml")).unwrap();
    dir.command()
        .args([
            "check",
            "--schedule",
            "weekly",
            "--config",
            "custom.yml",
            "--out-dir",
            "elsewhere",
        ])
        .output()
        .expect_code(0);
    assert_eq!(dir.json("elsewhere/dr_dryrun_weekly.json")["ok"], true);
}

/// A local store with one pg-dump target whose newest backup is `bytes` under `key`.
fn pg_dump_store(key: &str, bytes: &[u8]) -> Dir {
    let dir = Dir::new();
    dir.write(
        "dr.yml",
        "version: 1\nstorage:\n  local: ./backups\ntargets:\n  - name: pg\n    prefix: pg/\n    format: pg-dump\n    rpo: 26h\n    retention: { daily: 7 }\n",
    );
    put_backup(&dir, key, bytes, Duration::from_secs(60));
    dir
}

fn format_check(dir: &Dir, schedule: &str) -> (bool, String) {
    check(dir, schedule);
    let report = format!("out/{}", report_name(schedule));
    let checks = target_checks(&dir.json(&report));
    let (_, ok, detail) = checks.into_iter().find(|c| c.0 == "format").unwrap();
    (ok, detail)
}

fn report_name(schedule: &str) -> &'static str {
    match schedule {
        "weekly" => "dr_dryrun_weekly.json",
        _ => "dr_dryrun_result.json",
    }
}

#[test]
fn a_gzipped_pg_dump_error_message_is_not_a_pg_dump() {
    let error = b"pg_dump: error: connection to server at \"db.internal\" (10.0.0.5), port 5432 failed: FATAL:  password authentication failed for user \"backup\"\n";
    let dir = pg_dump_store("pg/app-2026-11-30.sql.gz", &gzip(error));
    for schedule in ["weekly", "monthly"] {
        let (ok, detail) = format_check(&dir, schedule);
        assert!(!ok, "{schedule}: {detail}");
        assert!(
            detail.starts_with(
                "gzip: expected a pg_dump (custom, tar or SQL), found text that does not look like a pg_dump script: starts with `pg_dump: error: connection to server at"
            ),
            "{schedule}: {detail}"
        );
    }
}

#[test]
fn real_pg_dump_plain_and_tar_dumps_pass_the_format_check() {
    let pg = crate::postgres::cluster();
    let plain = pg_dump_store("pg/app.sql.gz", &gzip(&pg.dump("postgres", "p")));
    let (ok, detail) = format_check(&plain, "weekly");
    assert!(ok, "{detail}");
    assert_eq!(detail, "gzip, text");
    let tar = pg_dump_store("pg/app.tar", &pg.dump("postgres", "t"));
    let (ok, detail) = format_check(&tar, "weekly");
    assert!(ok, "{detail}");
    assert_eq!(detail, "uncompressed, tar archive");
    let custom = pg_dump_store("pg/app.dump", &pg.dump("postgres", "c"));
    let (ok, detail) = format_check(&custom, "weekly");
    assert!(ok, "{detail}");
}

#[test]
fn a_tar_that_pg_dump_did_not_write_is_not_a_pg_dump() {
    let src = Dir::new();
    src.write("notes.txt", "not a table of contents");
    let out = std::process::Command::new("tar")
        .args(["--format=ustar", "-cf", "-", "-C"])
        .arg(src.path())
        .arg("notes.txt")
        .output()
        .unwrap();
    assert!(out.status.success());
    let dir = pg_dump_store("pg/app.tar", &out.stdout);
    let (ok, detail) = format_check(&dir, "weekly");
    assert!(!ok, "{detail}");
    assert_eq!(
        detail,
        "uncompressed: expected a pg_dump (custom, tar or SQL), found a tar archive whose first entry is `notes.txt`, not pg_dump's `toc.dat`"
    );
}

#[test]
fn a_report_written_by_check_is_0644_under_umask_022() {
    use std::os::unix::fs::PermissionsExt;
    let dir = healthy_store();
    // The umask is set by a shell for the binary alone; the test process's own stays as it is.
    let cmd = dir.command().into_std();
    let status = std::process::Command::new("sh")
        .args([
            "-c",
            "umask 022 && exec \"$0\" \"$@\"",
            cmd.get_program().to_str().unwrap(),
        ])
        .args(["check", "--schedule", "weekly"])
        .current_dir(dir.path())
        .env_clear()
        .envs(cmd.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let mode = |rel: &str| {
        std::fs::metadata(dir.join(rel))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    };
    assert_eq!(mode("out/dr_dryrun_weekly.json"), 0o644);
    // Run again with a mode the user chose: the replaced report keeps it.
    std::fs::set_permissions(
        dir.join("out/dr_dryrun_weekly.json"),
        std::fs::Permissions::from_mode(0o640),
    )
    .unwrap();
    check(&dir, "weekly").expect_code(0);
    assert_eq!(mode("out/dr_dryrun_weekly.json"), 0o640);
}

#[test]
fn a_sidecar_with_the_wrong_hash_fails_the_weekly_check_of_a_local_store() {
    // Reading a local file is cheap, so the weekly check hashes it instead of only noting that
    // a sidecar exists.
    let dir = healthy_store();
    let wrong = format!("{}  db-000.sqlite.gz\n", "0".repeat(64));
    dir.write("backups/db/db-000.sqlite.gz.sha256", wrong);
    check(&dir, "weekly").expect_code(1);
    let f = failed(&dir.json("out/dr_dryrun_weekly.json"));
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].0, "checksum");
    assert!(
        f[0].1
            .contains(&format!("the sidecar says {}", "0".repeat(64))),
        "{f:?}"
    );
}
