//! Evidence: the history hash chain (`history verify`, a run on a tampered history, adoption of
//! an unchained one, a racing run's line kept on the commit's retry), the in-toto statement
//! checked by the reference Python bindings, and the health score of a stale critical target.

use std::path::Path;

use dr_action::history::{self, Chain, Entry};
use sha2::{Digest, Sha256};

use crate::fakes::{FakeGitHub, FakeSlack};
use crate::github::{in_actions, no_violations, run_weekly, setup};
use crate::util::Dir;

const HISTORY: &str = "badges/dr_history.jsonl";

fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::to_string).collect()
}

fn joined(lines: &[String]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

fn verify_file(dir: &Dir, name: &str, text: &str) -> crate::util::Run {
    dir.write(name, text);
    dir.command()
        .args(["history", "verify", "--file", name])
        .output()
}

#[test]
fn history_verify_names_the_line_that_was_changed_removed_or_moved() {
    let dir = setup();
    for schedule in ["weekly", "monthly", "weekly"] {
        dir.command()
            .args(["run", "--config", "good.yml", "--schedule", schedule])
            .output()
            .expect_code(0);
    }
    let text = dir.read(HISTORY);
    let original = lines(&text);
    assert_eq!(original.len(), 4, "{text}");
    let run = dir
        .command()
        .args(["history", "verify"])
        .output()
        .expect_code(0);
    assert!(
        run.stdout().starts_with(
            "ok: badges/dr_history.jsonl: 3 runs chained from the genesis entry on line 1"
        ),
        "{}",
        run.stdout()
    );

    // One byte of line 3 changed: a digit of its time.
    let mut changed = original.clone();
    let at = changed[2].find("\"at\":\"").unwrap() + 8;
    let mut bytes = changed[2].clone().into_bytes();
    bytes[at] = if bytes[at] == b'9' { b'8' } else { b'9' };
    changed[2] = String::from_utf8(bytes).unwrap();
    let run = verify_file(&dir, "changed.jsonl", &joined(&changed)).expect_code(1);
    assert!(
        run.stdout()
            .starts_with("broken: changed.jsonl line 3: its content does not match"),
        "{}",
        run.stdout()
    );

    // Line 2 removed: line 2 is now the old line 3, whose prev names the removed line.
    let mut removed = original.clone();
    removed.remove(1);
    let run = verify_file(&dir, "removed.jsonl", &joined(&removed)).expect_code(1);
    assert!(
        run.stdout()
            .starts_with("broken: removed.jsonl line 2: its prev does not match line 1"),
        "{}",
        run.stdout()
    );

    // Lines 3 and 4 swapped.
    let mut swapped = original.clone();
    swapped.swap(2, 3);
    let run = verify_file(&dir, "swapped.jsonl", &joined(&swapped)).expect_code(1);
    assert!(
        run.stdout()
            .starts_with("broken: swapped.jsonl line 3: its prev does not match line 2"),
        "{}",
        run.stdout()
    );

    // A missing file cannot be verified: exit 2.
    dir.command()
        .args(["history", "verify", "--file", "nope.jsonl"])
        .output()
        .expect_code(2);
}

#[test]
fn a_run_on_a_tampered_history_alerts_and_appends_nothing() {
    let dir = setup();
    let gh = FakeGitHub::start(crate::github::TOKEN);
    let slack = FakeSlack::start(vec![]);
    run_weekly(in_actions(&dir, &gh, &slack), "good.yml", &[]).expect_code(0);
    // Someone rewrites the first run's result on the branch.
    let committed = String::from_utf8(gh.lock().file(HISTORY).unwrap()).unwrap();
    let tampered = committed.replacen("\"ok\":true", "\"ok\":false", 1);
    assert_ne!(tampered, committed);
    gh.lock()
        .push("main", &[(HISTORY, tampered.as_bytes())], "an edit");
    let commits = gh.lock().count("POST", "/git/commits");

    let run = run_weekly(in_actions(&dir, &gh, &slack), "good.yml", &[]).expect_code(1);
    no_violations(&gh);
    let st = gh.lock();
    assert_eq!(
        st.file(HISTORY).unwrap(),
        tampered.as_bytes(),
        "nothing appended"
    );
    assert_eq!(
        st.count("POST", "/git/commits"),
        commits,
        "nothing committed"
    );
    let out = run.stdout();
    assert!(out.contains("badges/dr_history.jsonl is broken"), "{out}");
    // The broken chain is a failed check of the report, a KPI reason and an alert.
    let report = dir.json("out/dr_dryrun_weekly.json");
    let chain = report["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == HISTORY)
        .unwrap();
    assert_eq!(chain["checks"][0]["name"], "chain");
    assert!(
        chain["checks"][0]["detail"]
            .as_str()
            .unwrap()
            .starts_with("line 2: its content does not match its own sha256"),
        "{chain}"
    );
    let kpi = dir.json("out/backup_kpi.json");
    assert!(
        kpi["reasons"][0]
            .as_str()
            .unwrap()
            .starts_with("weekly dry-run failed: badges/dr_history.jsonl chain: line 2"),
        "{kpi}"
    );
    let issue = &st.open_issues()[0];
    assert!(issue.body.contains("chain"), "{}", issue.body);
    let got = slack.received();
    assert_eq!(got.len(), 1);
    assert!(got[0].body.to_string().contains("chain"), "{}", got[0].body);
}

#[test]
fn a_run_on_a_history_cut_short_alerts_and_appends_nothing() {
    let dir = setup();
    let gh = FakeGitHub::start(crate::github::TOKEN);
    let slack = FakeSlack::start(vec![]);
    run_weekly(in_actions(&dir, &gh, &slack), "good.yml", &[]).expect_code(0);
    run_weekly(in_actions(&dir, &gh, &slack), "good.yml", &[]).expect_code(0);
    // The last run's line removed: what is left is still a valid chain on its own.
    let committed = String::from_utf8(gh.lock().file(HISTORY).unwrap()).unwrap();
    let mut kept = lines(&committed);
    kept.pop();
    let cut = joined(&kept);
    assert!(history::verify(&cut).is_ok());
    gh.lock()
        .push("main", &[(HISTORY, cut.as_bytes())], "an edit");
    run_weekly(in_actions(&dir, &gh, &slack), "good.yml", &[]).expect_code(1);
    assert_eq!(
        gh.lock().file(HISTORY).unwrap(),
        cut.as_bytes(),
        "nothing appended"
    );
    let kpi = dir.json("out/backup_kpi.json");
    assert!(
        kpi["reasons"][0]
            .as_str()
            .unwrap()
            .starts_with("weekly dry-run failed: badges/dr_history.jsonl chain: line 3: missing:"),
        "{kpi}"
    );
    // `history verify --state` finds it too.
    dir.write("cut.jsonl", &cut);
    dir.write(
        "state.json",
        gh.lock().file("badges/backup_kpi.json").unwrap(),
    );
    let run = dir
        .command()
        .args([
            "history",
            "verify",
            "--file",
            "cut.jsonl",
            "--state",
            "state.json",
        ])
        .output()
        .expect_code(1);
    assert!(
        run.stdout()
            .starts_with("broken: cut.jsonl line 3: missing:"),
        "{}",
        run.stdout()
    );
}

#[test]
fn an_unchained_history_is_adopted_with_a_genesis_entry_that_says_so() {
    let dir = setup();
    let gh = FakeGitHub::start(crate::github::TOKEN);
    let slack = FakeSlack::start(vec![]);
    let legacy = concat!(
        r#"{"at":"2026-10-01T03:00:00Z","schedule":"weekly","kind":"dry-run","ok":true,"status":"green"}"#,
        "\n",
        r#"{"at":"2026-10-08T03:00:00Z","schedule":"weekly","kind":"dry-run","ok":false,"status":"amber"}"#,
        "\n"
    );
    gh.lock()
        .push("main", &[(HISTORY, legacy.as_bytes())], "the old history");
    run_weekly(in_actions(&dir, &gh, &slack), "good.yml", &[]).expect_code(0);
    no_violations(&gh);
    let text = String::from_utf8(gh.lock().file(HISTORY).unwrap()).unwrap();
    assert!(
        text.starts_with(legacy),
        "the old lines are kept as they are"
    );
    let all = lines(&text);
    assert_eq!(all.len(), 4, "{text}");
    let genesis: serde_json::Value = serde_json::from_str(&all[2]).unwrap();
    assert_eq!(genesis["adopted"]["lines"], 2, "{genesis}");
    assert_eq!(
        genesis["adopted"]["sha256"],
        hex::encode(Sha256::digest(legacy.as_bytes()))
    );
    assert!(
        genesis["note"]
            .as_str()
            .unwrap()
            .contains("before the history was chained")
    );
    assert!(matches!(
        history::verify(&text),
        Ok(Chain::Intact {
            lines: 4,
            genesis_line: 3,
            ..
        })
    ));
    let trend = String::from_utf8(gh.lock().file("badges/backup_trend.svg").unwrap()).unwrap();
    assert!(trend.contains("3 runs"), "old runs and this one are drawn");
}

#[test]
fn a_racing_run_lost_its_history_line_on_retry() {
    let dir = setup();
    let gh = FakeGitHub::start(crate::github::TOKEN);
    let slack = FakeSlack::start(vec![]);
    run_weekly(in_actions(&dir, &gh, &slack), "good.yml", &[]).expect_code(0);
    // Another run commits its own line between this run's read and its ref update.
    let first = String::from_utf8(gh.lock().file(HISTORY).unwrap()).unwrap();
    let mut theirs: Entry = serde_json::from_str(first.lines().last().unwrap()).unwrap();
    theirs.run.run_url = Some("https://github.example/acme/app/actions/runs/9999".into());
    theirs.run.schedule = dr_action::report::Schedule::Monthly;
    let racing = history::append(&first, &theirs, chrono::Utc::now()).unwrap();
    // Their commit holds their state too, which records where their history ends.
    let mut state: serde_json::Value =
        serde_json::from_slice(&gh.lock().file("badges/backup_kpi.json").unwrap()).unwrap();
    assert_eq!(state["history_head"], history::head_of(&first).unwrap());
    state["history_head"] = history::head_of(&racing).unwrap().into();
    {
        let mut st = gh.lock();
        st.concurrent_files = vec![
            (HISTORY.to_string(), racing.clone().into_bytes()),
            (
                "badges/backup_kpi.json".to_string(),
                state.to_string().into_bytes(),
            ),
        ];
        st.move_ref_before_update = true;
    }
    run_weekly(in_actions(&dir, &gh, &slack), "good.yml", &[]).expect_code(0);
    no_violations(&gh);
    let st = gh.lock();
    assert_eq!(st.count("PATCH", "/git/refs/heads/main"), 3, "one retry");
    let text = String::from_utf8(st.file(HISTORY).unwrap()).unwrap();
    assert!(
        text.starts_with(&racing),
        "the racing run's line is kept:\n{text}"
    );
    let all = lines(&text);
    assert_eq!(all.len(), 4, "{text}");
    assert!(matches!(
        history::verify(&text),
        Ok(Chain::Intact { lines: 4, .. })
    ));
    assert!(all[3].contains("actions/runs/4242"), "{}", all[3]);
    // The KPI state on the branch merged the racing run's commit too.
    let head = st.head_commit();
    assert_eq!(st.commits[&head.parents[0]].message, "a concurrent push");
    assert_eq!(
        dir.read(HISTORY),
        text,
        "the working tree holds what was committed"
    );
}

/// The SHA-256 of a file, in hex.
fn sha256_of(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

#[test]
fn the_statement_names_the_verified_backup_and_passes_in_toto_attestation() {
    let dir = setup();
    // The monthly check reads the whole newest backup and hashes it against its sidecar.
    dir.command()
        .args(["check", "--config", "good.yml", "--schedule", "monthly"])
        .output()
        .expect_code(0);
    let report = dir.json("out/dr_dryrun_result.json");
    let evidence = &report["targets"][0]["evidence"];
    let uri = evidence["uri"].as_str().unwrap();
    let sha = evidence["sha256"].as_str().unwrap();
    // What the run verified is the sidecar's digest of that very file.
    let key = report["targets"][0]["latest"]["key"].as_str().unwrap();
    let file = dir.join(&format!("demo/backups/{key}"));
    assert_eq!(sha, sha256_of(&file));
    assert_eq!(uri, url::Url::from_file_path(&file).unwrap().as_str());

    let statement = dir.join("out/dr_dryrun_result.intoto.json");
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/attest/validate_statement.py");
    let out = std::process::Command::new(python)
        .arg(script)
        .arg(&statement)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let checked: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        checked["predicateType"],
        "https://dr-action.dev/attestation/report/v1"
    );
    assert_eq!(
        checked["subjects"],
        serde_json::json!({
            uri: sha,
            "dr_dryrun_result.json": sha256_of(&dir.join("out/dr_dryrun_result.json")),
        })
    );
    // The predicate is the report, and actions/attest gets the same subjects.
    let st = dir.json("out/dr_dryrun_result.intoto.json");
    assert_eq!(st["predicate"], report);
    assert_eq!(
        dir.read("out/dr_dryrun_result.intoto.sha256"),
        format!(
            "{sha}  {uri}\n{}  dr_dryrun_result.json\n",
            sha256_of(&dir.join("out/dr_dryrun_result.json"))
        )
    );
    // A weekly check of a local store hashes the newest backup as well; the invalid case:
    // the validator refuses a statement whose subject has no digest.
    let mut bad = st.clone();
    bad["subject"][0]["digest"] = serde_json::json!({});
    dir.write("bad.intoto.json", bad.to_string());
    let out =
        std::process::Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python"))
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/attest/validate_statement.py"))
            .arg(dir.join("bad.intoto.json"))
            .output()
            .unwrap();
    assert!(!out.status.success());
}

#[test]
fn a_critical_target_with_a_stale_backup_drops_under_80_and_the_kpi_says_so() {
    let dir = setup();
    // Every backup three days older than it was: beyond twice the rpo of 26h.
    let three_days = std::time::Duration::from_secs(3 * 86_400);
    for entry in std::fs::read_dir(dir.join("demo/backups/app-db")).unwrap() {
        let path = entry.unwrap().path();
        let f = std::fs::File::options().write(true).open(&path).unwrap();
        let modified = f.metadata().unwrap().modified().unwrap();
        f.set_modified(modified - three_days).unwrap();
    }
    // No alert channel here: the failure is only reported (a warning says no one was told).
    let config = dir.read("good.yml");
    let config = &config[..config.find("notify:").unwrap()];
    dir.write("stale.yml", config);
    dir.command()
        .env("GITHUB_STEP_SUMMARY", dir.join("summary.md"))
        .args(["run", "--config", "stale.yml", "--schedule", "weekly"])
        .output()
        .expect_code(1);
    let matrix = dir.json("badges/dr_matrix.json");
    let row = &matrix["targets"][0];
    assert_eq!(row["name"], "app-db");
    assert_eq!(row["critical"], true);
    let health = row["health"].as_u64().unwrap();
    assert!(health < 80, "{row}");
    assert_eq!(matrix["min_health"], 80);
    let kpi = dir.json("out/backup_kpi.json");
    let reasons: Vec<&str> = kpi["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    let want = format!(
        "weekly dry-run failed: app-db health: health {health} is under min-health 80: newest backup 3d"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.starts_with(&want) && r.contains("beyond twice the rpo 26h")),
        "{reasons:#?}"
    );
    let summary = dir.read("summary.md");
    assert!(
        summary.contains("### Targets: health (min-health 80)"),
        "{summary}"
    );
    assert!(
        summary.contains(&format!("| app-db | ❌ {health} |")),
        "{summary}"
    );
    // The history keeps the score.
    let text = dir.read(HISTORY);
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["targets"][0]["health"], health);
    assert_eq!(
        last["targets"][0]["failed"],
        serde_json::json!(["freshness", "health"])
    );
}
