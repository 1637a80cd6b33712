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
    // The monthly run proved every retained backup and kept them in the ledger.
    let ledger = dir.json("dr-demo/badges/dr_ledger.json");
    let proven = ledger["targets"]["app-db"].as_object().unwrap().len();
    let coverage =
        &dir.json("dr-demo/out/dr_dryrun_result.json")["targets"][0]["verify"]["coverage"];
    assert_eq!(coverage["retained"], proven);
    assert_eq!(coverage["fresh"], proven);
    assert!(proven >= 30, "{proven}");
    assert!(out.contains("ledger: "), "{out}");
    // The quarterly restore of the newest is on its proof.
    let newest = dir.json("dr-demo/out/dr_fullrestore_summary.json")["targets"][0]["latest"]["key"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        ledger["targets"]["app-db"][&newest]["restored_at"].is_string(),
        "{}",
        ledger["targets"]["app-db"][&newest]
    );
    // The trend picture of its three runs, and what to try next.
    assert!(
        dir.read("dr-demo/badges/backup_trend.svg")
            .contains("Backup &amp; DR trend: 3 runs")
    );
    assert!(
        out.contains("trend: dr-demo/badges/backup_trend.svg"),
        "{out}"
    );
    assert!(out.contains("what next:"), "{out}");
    assert!(
        out.contains("copy dr-demo/dr.yml to .github/dr.yml"),
        "{out}"
    );
    // The advice on seeing a check fail works as printed.
    let corrupt = out
        .lines()
        .find_map(|l| l.split("(`printf x >> ").nth(1))
        .and_then(|rest| rest.split('`').next())
        .unwrap_or_else(|| panic!("no corruption advice in {out}"));
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join(corrupt))
        .unwrap();
    std::io::Write::write_all(&mut f, b"x").unwrap();
    let failed = dir
        .command()
        .args([
            "--config",
            "dr-demo/dr.yml",
            "check",
            "--schedule",
            "monthly",
        ])
        .output()
        .expect_code(1);
    assert!(
        failed
            .stdout()
            .contains("checksum: sha256 of the object is"),
        "{}",
        failed.stdout()
    );
    dir.command().args(["demo"]).output().expect_code(0);
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

/// Whether `dir/dr-demo` is a whole demo: every backup and sidecar, every report, the config.
fn is_whole_demo(dir: &Dir) -> bool {
    let backups = std::fs::read_dir(dir.join("dr-demo/backups/app-db"))
        .map(|d| d.count())
        .unwrap_or(0);
    backups == 80
        && [
            "dr-demo/.dr-demo",
            "dr-demo/dr.yml",
            "dr-demo/out/dr_dryrun_weekly.json",
            "dr-demo/out/dr_dryrun_result.json",
            "dr-demo/out/dr_fullrestore_summary.json",
            "dr-demo/out/backup_kpi.json",
            "dr-demo/badges/backup_status.svg",
        ]
        .iter()
        .all(|f| dir.join(f).is_file())
}

#[test]
fn an_interrupted_demo_leaves_the_previous_demo_or_nothing() {
    let dir = Dir::new();
    // Killed at several points of its run, with and without a previous demo in place.
    for (round, delay_ms) in [50u64, 300, 800, 1500].into_iter().enumerate() {
        let mut child = dir
            .command()
            .args(["demo"])
            .into_std()
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        child.kill().unwrap();
        child.wait().unwrap();
        let there = dir.join("dr-demo").exists();
        assert!(
            !there || is_whole_demo(&dir),
            "round {round}: a half-built demo is in place"
        );
        if round == 1 {
            // A whole demo for the next rounds to (fail to) replace.
            dir.command().args(["demo"]).output().expect_code(0);
            assert!(is_whole_demo(&dir));
        }
    }
    // The next run clears what the killed ones left next to the folder.
    dir.command().args(["demo"]).output().expect_code(0);
    assert!(is_whole_demo(&dir));
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["dr-demo"], "leftovers next to the demo");
}

#[test]
fn the_demo_makes_fewer_than_300_fsyncs() {
    // The sample database once cost one journal fsync per inserted row (over 22,000 in all).
    let dir = Dir::new();
    let summary = dir.join("strace.txt");
    let cmd = dir.command().into_std();
    let out = std::process::Command::new("strace")
        .arg("-f")
        .arg("-c")
        .args(["-e", "trace=fsync,fdatasync"])
        .arg("-o")
        .arg(&summary)
        .arg(cmd.get_program())
        .arg("demo")
        .current_dir(dir.path())
        .env_clear()
        .envs(cmd.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .output()
        .expect("strace (scripts/setup-tools.sh installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = std::fs::read_to_string(&summary).unwrap();
    let syncs: u64 = table
        .lines()
        .filter(|l| l.ends_with(" fsync") || l.ends_with(" fdatasync"))
        .map(|l| l.split_whitespace().nth(3).unwrap().parse::<u64>().unwrap())
        .sum();
    assert!(syncs > 0, "strace saw no fsync at all:\n{table}");
    assert!(syncs < 300, "{syncs} fsync calls:\n{table}");
}
