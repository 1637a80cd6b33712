//! `dr-action demo`: the embedded default works offline, end to end.

use crate::util::Dir;

#[test]
fn the_demo_builds_a_store_checks_it_and_renders_a_green_badge() {
    let dir = Dir::new();
    let run = dir.command().args(["demo"]).output().expect_code(0);
    let out = run.stdout();
    assert!(out.contains("40 daily backups"), "{out}");
    assert!(out.contains("kpi: green"), "{out}");
    let backups = std::fs::read_dir(dir.join("dr-demo/backups/app-db"))
        .unwrap()
        .count();
    assert_eq!(backups, 80, "40 backups and 40 sidecars");
    for schedule in ["dr_dryrun_weekly.json", "dr_dryrun_result.json"] {
        assert_eq!(
            dir.json(&format!("dr-demo/out/{schedule}"))["ok"],
            true,
            "{schedule}"
        );
    }
    assert_eq!(dir.json("dr-demo/out/backup_kpi.json")["status"], "green");
    assert!(
        dir.read("dr-demo/badges/backup_status.svg")
            .contains("Backup &amp; DR: green")
    );
    assert!(dir.join("dr-demo/badges/backup_status.png").exists());
    // The demo's config is a real config: `check` runs on it directly.
    dir.command()
        .args([
            "--config",
            "dr-demo/dr.yml",
            "check",
            "--schedule",
            "weekly",
        ])
        .output()
        .expect_code(0);
    // Running it again replaces the previous demo.
    dir.command().args(["demo"]).output().expect_code(0);
}

#[test]
fn the_demo_refuses_a_folder_that_is_not_its_own() {
    let dir = Dir::new();
    dir.write("mine/precious.txt", "keep me");
    let run = dir
        .command()
        .args(["demo", "--dir", "mine"])
        .output()
        .expect_code(2);
    assert!(
        run.stderr().contains("is not a dr-action demo folder"),
        "{}",
        run.stderr()
    );
    assert_eq!(dir.read("mine/precious.txt"), "keep me");
}
