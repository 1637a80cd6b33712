//! `dr-action kpi`: the rule applied to report files, missing and stale reports, bad input.

use chrono::{Duration, Utc};

use crate::util::Dir;

fn report(ok: bool, age: Duration) -> String {
    let at = (Utc::now() - age).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    format!(r#"{{"ok": {ok}, "finished_at": "{at}"}}"#)
}

fn kpi(dir: &Dir, args: &[&str]) -> serde_json::Value {
    let run = dir.command().arg_list(args).output().expect_code(0);
    let printed: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_eq!(
        printed,
        dir.json("out/backup_kpi.json"),
        "stdout and the file agree"
    );
    printed
}

trait ArgList {
    fn arg_list(self, args: &[&str]) -> Self;
}

impl ArgList for crate::util::TestCommand {
    fn arg_list(self, args: &[&str]) -> Self {
        self.args(std::iter::once("kpi").chain(args.iter().copied()))
    }
}

#[test]
fn the_default_report_paths_feed_the_kpi() {
    let dir = Dir::new();
    dir.write(
        "out/dr_dryrun_weekly.json",
        report(true, Duration::hours(1)),
    );
    dir.write("out/dr_dryrun_result.json", report(true, Duration::days(3)));
    dir.write(
        "out/dr_fullrestore_summary.json",
        report(false, Duration::days(10)),
    );
    let k = kpi(&dir, &[]);
    assert_eq!(k["status"], "amber");
    assert_eq!(k["downgraded"], true);
    assert_eq!(k["quarterly"]["present"], true);
}

#[test]
fn a_missing_report_is_not_present_and_kpi_still_exits_0() {
    let dir = Dir::new();
    dir.write("w.json", report(true, Duration::hours(1)));
    let k = kpi(
        &dir,
        &[
            "--weekly",
            "w.json",
            "--monthly",
            "nope.json",
            "--quarterly",
            "nope-q.json",
        ],
    );
    assert_eq!(k["status"], "amber");
    assert_eq!(k["downgraded"], false);
    assert_eq!(k["monthly"]["present"], false);
    assert_eq!(k["quarterly"]["present"], false);
    assert_eq!(
        k["reasons"][0],
        "monthly dry-run report missing: counted as not ok"
    );
}

#[test]
fn a_stale_report_counts_as_not_ok() {
    let dir = Dir::new();
    dir.write("w.json", report(true, Duration::days(3)));
    dir.write("m.json", report(true, Duration::days(3)));
    let k = kpi(&dir, &["--weekly", "w.json", "--monthly", "m.json"]);
    assert_eq!(k["status"], "green");
    let k = kpi(
        &dir,
        &[
            "--weekly",
            "w.json",
            "--monthly",
            "m.json",
            "--max-age-weekly",
            "2d",
        ],
    );
    assert_eq!(k["status"], "amber");
    assert_eq!(k["weekly"]["stale"], true);
    assert_eq!(
        k["reasons"][0],
        "weekly dry-run report is stale: finished 3d ago (max-age 2d)"
    );
}

#[test]
fn the_config_max_age_applies() {
    let dir = Dir::new();
    let config = crate::fixtures::CONFIG.to_string() + "kpi:\n  max-age: { monthly: 1d }\n";
    dir.write("dr.yml", config);
    dir.write("w.json", report(true, Duration::hours(1)));
    dir.write("m.json", report(true, Duration::days(2)));
    let k = kpi(&dir, &["--weekly", "w.json", "--monthly", "m.json"]);
    assert_eq!(
        (k["status"].as_str(), k["monthly"]["stale"].as_bool()),
        (Some("amber"), Some(true))
    );
}

#[test]
fn a_file_that_is_not_a_report_exits_2_naming_it() {
    let dir = Dir::new();
    dir.write("w.json", "this is not json");
    let run = dir
        .command()
        .args(["kpi", "--weekly", "w.json"])
        .output()
        .expect_code(2);
    assert!(
        run.stderr().contains("w.json: not JSON"),
        "{}",
        run.stderr()
    );
    dir.write("w.json", r#"{"status": "fine"}"#);
    let run = dir
        .command()
        .args(["kpi", "--weekly", "w.json"])
        .output()
        .expect_code(2);
    assert!(
        run.stderr()
            .contains("w.json: not a report: no boolean top-level `ok`"),
        "{}",
        run.stderr()
    );
    assert!(
        !dir.join("out/backup_kpi.json").exists(),
        "nothing written on error"
    );
}

#[test]
fn several_reports_of_one_schedule_are_merged() {
    let dir = Dir::new();
    dir.write("a.json", report(true, Duration::hours(1)));
    dir.write("b.json", report(false, Duration::hours(2)));
    dir.write("m.json", report(true, Duration::hours(1)));
    let k = kpi(
        &dir,
        &[
            "--weekly",
            "a.json",
            "--weekly",
            "b.json",
            "--monthly",
            "m.json",
        ],
    );
    assert_eq!(k["status"], "amber");
    assert_eq!(k["weekly"]["ok"], false);
}

#[test]
fn the_state_fills_slots_without_a_report() {
    let dir = Dir::new();
    dir.write("w.json", report(true, Duration::hours(1)));
    dir.write("m.json", report(true, Duration::hours(1)));
    dir.write("q.json", report(false, Duration::days(1)));
    dir.command()
        .arg_list(&[
            "--weekly",
            "w.json",
            "--monthly",
            "m.json",
            "--quarterly",
            "q.json",
            "--out",
            "prev.json",
        ])
        .output()
        .expect_code(0);
    // Only a new weekly report: monthly and quarterly come from the state.
    dir.write("w2.json", report(true, Duration::minutes(5)));
    let k = kpi(
        &dir,
        &[
            "--weekly",
            "w2.json",
            "--monthly",
            "none.json",
            "--quarterly",
            "none.json",
            "--state",
            "prev.json",
        ],
    );
    assert_eq!(k["monthly"]["present"], true);
    assert_eq!(k["quarterly"]["ok"], false);
    assert_eq!(k["status"], "amber");
}

#[test]
fn the_kpi_command_dropped_the_alert_state_of_the_state_file() {
    let dir = Dir::new();
    dir.write("w.json", report(true, Duration::hours(1)));
    dir.command()
        .arg_list(&["--weekly", "w.json", "--out", "prev.json"])
        .output()
        .expect_code(0);
    let mut state = dir.json("prev.json");
    let alerts = serde_json::json!({"weekly": {"slack": {
        "status": "failing", "opened-at": "2026-01-01T00:00:00Z",
        "last-sent-at": "2026-01-01T00:00:00Z"}}});
    state["alerts"] = alerts.clone();
    dir.write("prev.json", state.to_string());
    let k = kpi(&dir, &["--weekly", "w.json", "--state", "prev.json"]);
    assert_eq!(k["alerts"], alerts);
}

#[test]
fn a_report_finished_in_the_future_exits_2_naming_it() {
    let dir = Dir::new();
    dir.write(
        "w.json",
        r#"{"ok": true, "finished_at": "9999-12-31T00:00:00Z"}"#,
    );
    dir.write("m.json", report(true, Duration::hours(1)));
    let run = dir
        .command()
        .arg_list(&["--weekly", "w.json", "--monthly", "m.json"])
        .output()
        .expect_code(2);
    assert!(
        run.stderr()
            .contains("w.json: not a report: `finished_at` 9999-12-31T00:00:00Z is in the future"),
        "{}",
        run.stderr()
    );
    assert!(!dir.join("out/backup_kpi.json").exists());
    // A clock a minute ahead is not the future.
    dir.write("w.json", report(true, -Duration::minutes(1)));
    let k = kpi(&dir, &["--weekly", "w.json", "--monthly", "m.json"]);
    assert_eq!(k["status"], "green", "{k:#}");
}

#[test]
fn a_kept_slot_finished_in_the_future_counts_as_not_ok() {
    let dir = Dir::new();
    dir.write("w.json", report(true, Duration::hours(1)));
    dir.write("m.json", report(true, Duration::hours(1)));
    dir.command()
        .arg_list(&[
            "--weekly",
            "w.json",
            "--monthly",
            "m.json",
            "--out",
            "prev.json",
        ])
        .output()
        .expect_code(0);
    // The kept state is edited to claim a weekly run in the year 9999.
    let mut state = dir.json("prev.json");
    state["weekly"]["finished_at"] = "9999-01-01T00:00:00Z".into();
    dir.write("prev.json", state.to_string());
    let k = kpi(
        &dir,
        &[
            "--weekly",
            "none.json",
            "--monthly",
            "m.json",
            "--state",
            "prev.json",
        ],
    );
    assert_eq!(k["status"], "amber", "{k:#}");
    assert_eq!(k["weekly"]["ok"], false);
    assert_eq!(
        k["reasons"][0],
        "weekly dry-run report finished at 9999-01-01T00:00:00Z, in the future: counted as not ok"
    );
}

/// `db` healthy; `logs` with a three-day-old newest backup (freshness fails), `critical` as given.
fn store_with_stale_logs(critical: bool) -> Dir {
    use crate::fixtures::{CONFIG, DAY, dailies, gzip, put_backup, sqlite_like};
    let dir = Dir::new();
    dir.write(
        "dr.yml",
        format!(
            "{CONFIG}  - name: logs\n    prefix: logs/\n    match: \"*.sqlite.gz\"\n    format: sqlite\n    rpo: 26h\n    critical: {critical}\n"
        ),
    );
    dailies(&dir, 10, std::time::Duration::from_secs(3600));
    put_backup(
        &dir,
        "logs/logs-000.sqlite.gz",
        &gzip(&sqlite_like(5_000, 7)),
        DAY * 3,
    );
    dir
}

#[test]
fn critical_false_changed_nothing() {
    // Not critical: the failure is a warning, the run and its KPI slot stay ok.
    let dir = store_with_stale_logs(false);
    let run = dir
        .command()
        .args(["run", "--schedule", "weekly"])
        .output()
        .expect_code(0);
    let out = run.stdout();
    assert!(out.contains("  WARN logs"), "{out}");
    assert!(
        out.contains("weekly dry-run: ok, with warnings (1 of 2 targets, not critical, failed)"),
        "{out}"
    );
    assert!(
        out.contains(
            "warning: warning (target not critical): logs (not critical) freshness: newest is 3d"
        ),
        "{out}"
    );
    let report = dir.json("out/dr_dryrun_weekly.json");
    assert_eq!(report["ok"], true);
    assert_eq!(report["targets"][1]["ok"], false);
    assert_eq!(report["targets"][1]["critical"], false);
    let kpi = dir.json("out/backup_kpi.json");
    assert_eq!(kpi["weekly"]["ok"], true, "{kpi:#}");

    // The same failure on a critical target fails the run and its slot.
    let dir = store_with_stale_logs(true);
    let run = dir
        .command()
        .args(["run", "--schedule", "weekly"])
        .output()
        .expect_code(1);
    assert!(run.stdout().contains("  FAIL logs"), "{}", run.stdout());
    let kpi = dir.json("out/backup_kpi.json");
    assert_eq!(kpi["weekly"]["ok"], false, "{kpi:#}");
    assert!(
        kpi["reasons"][0]
            .as_str()
            .unwrap()
            .starts_with("weekly dry-run failed: logs freshness: newest is 3d"),
        "{kpi:#}"
    );
}

#[test]
fn a_config_in_another_folder_gave_another_kpi() {
    use crate::fixtures::{CONFIG, dailies};
    // The config and its store live in `ops/`; runs start from the root and from `elsewhere/`.
    let dir = Dir::new();
    dir.write("ops/dr.yml", CONFIG);
    let ops = Dir::new();
    dailies(&ops, 10, std::time::Duration::from_secs(3600));
    std::fs::rename(ops.join("backups"), dir.join("ops/backups")).unwrap();
    std::fs::create_dir_all(dir.join("elsewhere")).unwrap();

    // The weekly run from the root, the monthly from another folder: both find the same
    // store, state and out/ under ops/, so the second KPI sees the first run's slot.
    let weekly = dir
        .command()
        .args(["--config", "ops/dr.yml", "run", "--schedule", "weekly"])
        .output()
        .expect_code(0);
    assert!(
        weekly.stdout().contains("kpi: amber"),
        "{}",
        weekly.stdout()
    );
    let monthly = crate::util::TestCommand::new(&dir.join("elsewhere"))
        .args(["--config", "../ops/dr.yml", "run", "--schedule", "monthly"])
        .args(["--junit", "junit.xml"])
        .output()
        .expect_code(0);
    assert!(
        monthly.stdout().contains("kpi: green"),
        "{}",
        monthly.stdout()
    );
    let kpi = dir.json("ops/out/backup_kpi.json");
    assert_eq!(kpi["status"], "green", "{kpi:#}");
    assert!(dir.join("ops/out/dr_dryrun_weekly.json").exists());
    assert!(dir.join("ops/badges/backup_kpi.json").exists());
    assert!(dir.join("ops/badges/backup_status.svg").exists());
    assert!(!dir.join("out").exists() && !dir.join("badges").exists());
    assert!(!dir.join("elsewhere/out").exists());
    // The report is named so that it can be found from where the command started.
    assert!(
        monthly.stdout().contains(&format!(
            "report {}",
            dir.join("elsewhere/../ops/out/dr_dryrun_result.json")
                .display()
        )),
        "{}",
        monthly.stdout()
    );
    // A path given on the command line still means what it meant where it was typed.
    assert!(dir.join("elsewhere/junit.xml").exists());
}
