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
    put_backup(&dir, "db/db-000.sqlite.gz", &bytes, Duration::from_secs(60));
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
    let run = dir
        .command()
        .args(["check", "--schedule", "weekly"])
        .env("DR_CHAOS", "Yes")
        .env("GITHUB_RUN_ID", "4242")
        .env("GITHUB_REPOSITORY", "acme/app")
        .output()
        .expect_code(1);
    assert!(run.stdout().contains("[chaos drill]"), "{}", run.stdout());
    let report = dir.json("out/dr_dryrun_weekly.json");
    assert_eq!(report["chaos"], true);
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
