//! `run`, `publish` and `notify` against the stateful GitHub and Slack fakes: the one-commit
//! badge publish, the issue lifecycle, Slack delivery and its failures, and the run without a
//! token. The checks run for real against a demo store built in each test's folder.

use std::path::Path;
use std::sync::OnceLock;

use crate::fakes::{FakeGitHub, FakeSlack};
use crate::util::{Dir, Run, TestCommand};

pub const TOKEN: &str = "ghs_faketoken0123456789";

/// A config checking the demo store; `prefix` decides whether the checks pass.
pub(crate) fn config(prefix: &str) -> String {
    format!(
        r#"version: 1
storage:
  local: ./demo/backups
targets:
  - name: app-db
    prefix: {prefix}
    match: "*.sqlite.gz"
    format: sqlite
    checksum: sidecar
    rpo: 26h
    rto: 15m
    min-size: 4KiB
notify:
  github-issue: {{ labels: [dr-failure], runbook: "https://wiki.example/dr-runbook" }}
  slack: {{ webhook-env: SLACK_WEBHOOK_URL }}
"#
    )
}

/// The demo store, built once per test process (building syncs every file: slow on a busy
/// disk), then copied into each test's folder with its modification times.
fn demo_store() -> &'static Path {
    static DEMO: OnceLock<tempfile::TempDir> = OnceLock::new();
    DEMO.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        dr_action::demo::build(&tmp.path().join("demo"), chrono::Utc::now()).unwrap();
        tmp
    })
    .path()
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.unwrap();
        let dest = to.join(entry.path().strip_prefix(from).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
        } else {
            std::fs::copy(entry.path(), &dest).unwrap();
            let modified = entry.metadata().unwrap().modified().unwrap();
            std::fs::File::options()
                .write(true)
                .open(&dest)
                .unwrap()
                .set_modified(modified)
                .unwrap();
        }
    }
}

/// A folder with the demo store, a passing and a failing config, and an event payload.
pub fn setup() -> Dir {
    let dir = Dir::new();
    copy_tree(&demo_store().join("demo"), &dir.join("demo"));
    dir.write("good.yml", config("app-db/"));
    dir.write("bad.yml", config("gone/"));
    dir.write(
        "event.json",
        r#"{"repository": {"full_name": "acme/app", "default_branch": "main"}}"#,
    );
    dir
}

/// Writes a failing weekly report (`out/dr_dryrun_weekly.json`) for the alert tests.
pub(crate) fn failing_weekly_report(dir: &Dir) {
    dir.command()
        .args(["check", "--config", "bad.yml", "--schedule", "weekly"])
        .output()
        .expect_code(1);
}

/// `notify` for that report, with the Slack webhook in its usual variable.
pub(crate) fn notify_weekly(dir: &Dir, webhook: &str) -> TestCommand {
    dir.command().env("SLACK_WEBHOOK_URL", webhook).args([
        "notify",
        "--config",
        "bad.yml",
        "--report",
        "out/dr_dryrun_weekly.json",
    ])
}

/// `dr-action` as a scheduled workflow step on `main` would run it.
pub fn in_actions(dir: &Dir, gh: &FakeGitHub, slack: &FakeSlack) -> TestCommand {
    dir.command()
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_TOKEN", TOKEN)
        .env("GITHUB_API_URL", &gh.url)
        .env("GITHUB_SERVER_URL", "https://github.example")
        .env("GITHUB_REPOSITORY", "acme/app")
        .env("GITHUB_RUN_ID", "4242")
        .env("GITHUB_EVENT_NAME", "schedule")
        .env("GITHUB_REF", "refs/heads/main")
        .env("GITHUB_REF_NAME", "main")
        .env("GITHUB_EVENT_PATH", dir.join("event.json"))
        .env("GITHUB_OUTPUT", dir.join("github_output"))
        .env("GITHUB_STEP_SUMMARY", dir.join("step_summary.md"))
        .env("SLACK_WEBHOOK_URL", &slack.url)
}

pub fn run_weekly(cmd: TestCommand, config: &str, extra: &[&str]) -> Run {
    let mut args = vec!["run", "--config", config, "--schedule", "weekly"];
    args.extend_from_slice(extra);
    cmd.args(args).output()
}

pub fn no_violations(gh: &FakeGitHub) {
    let st = gh.lock();
    assert!(st.violations.is_empty(), "{:#?}", st.violations);
}

pub(crate) fn output_of(dir: &Dir) -> String {
    std::fs::read_to_string(dir.join("github_output")).unwrap_or_default()
}

#[test]
fn first_failure_opens_one_issue_commits_the_badge_and_alerts_slack() {
    let dir = setup();
    let gh = FakeGitHub::start(TOKEN);
    let slack = FakeSlack::start(vec![]);
    let run = run_weekly(in_actions(&dir, &gh, &slack), "bad.yml", &[]).expect_code(1);
    no_violations(&gh);
    let st = gh.lock();
    // One issue, labelled, with the marker, the failed check, the run and the runbook.
    let issues = st.open_issues();
    assert_eq!(issues.len(), 1, "{issues:#?}");
    let issue = &issues[0];
    assert_eq!(issue.title, "DR check failed: weekly dry-run");
    assert_eq!(issue.labels, ["dr-failure"]);
    assert!(
        issue.body.contains("<!-- dr-action:key=weekly:app-db -->"),
        "{}",
        issue.body
    );
    assert!(
        issue.body.contains("| app-db | listing |"),
        "{}",
        issue.body
    );
    assert!(
        issue
            .body
            .contains("https://github.example/acme/app/actions/runs/4242")
    );
    assert!(issue.body.contains("https://wiki.example/dr-runbook"));
    let created = st.find("POST", "/repos/acme/app/issues");
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].body["labels"], serde_json::json!(["dr-failure"]));
    // Every request carried the token and the API version (the fake checks; here we look).
    for r in &st.requests {
        assert_eq!(r.headers["authorization"], format!("Bearer {TOKEN}"));
        assert_eq!(r.headers["x-github-api-version"], "2022-11-28");
    }
    // The state was looked for through the contents API of the default branch.
    let reads = st.find("GET", "/contents/badges/backup_kpi.json");
    assert_eq!(reads.len(), 1);
    assert_eq!(reads[0].query, "ref=main");
    // One commit with all the files, on top of the old head, never forced.
    let commit = st.head_commit();
    assert_eq!(commit.message, "chore(dr): backup status red [skip ci]");
    for path in [
        "badges/backup_status.svg",
        "badges/backup_status.png",
        "badges/backup_kpi.json",
        "badges/dr_history.jsonl",
        "badges/backup_trend.svg",
        "badges/dr_matrix.json",
        "site/index.html",
        "site/targets/app-db-5b424a2d.html",
        "README.md",
    ] {
        assert!(st.file(path).is_some(), "{path} missing from the commit");
    }
    // The status page in the same commit shows what the badge does.
    let index = String::from_utf8(st.file("site/index.html").unwrap()).unwrap();
    assert!(index.contains("status s-red"), "{index}");
    assert_eq!(st.count("POST", "/git/commits"), 1);
    assert_eq!(st.count("POST", "/git/blobs"), 8);
    let update = st.find("PATCH", "/git/refs/heads/main");
    assert_eq!(update.len(), 1);
    assert_eq!(update[0].body["force"], false);
    let tree = st.find("POST", "/git/trees");
    assert!(tree[0].body["base_tree"].is_string());
    let state: serde_json::Value =
        serde_json::from_slice(&st.file("badges/backup_kpi.json").unwrap()).unwrap();
    assert_eq!(state["status"], "red");
    assert_eq!(state["weekly"]["ok"], false);
    // Slack heard of it, with a button to the run.
    let got = slack.received();
    assert_eq!(got.len(), 1);
    assert!(got[0].headers["content-type"].starts_with("application/json"));
    let text = got[0].body.to_string();
    assert!(text.contains("DR check failed: weekly dry-run"), "{text}");
    assert!(
        text.contains("https://github.example/acme/app/actions/runs/4242"),
        "{text}"
    );
    // Outputs and summary.
    let out = output_of(&dir);
    assert!(out.contains("status=red\n"), "{out}");
    assert!(out.contains("ok=false\n"), "{out}");
    assert!(out.contains("badge-changed=true\n"), "{out}");
    assert!(
        out.contains("issue-url=https://github.example/acme/app/issues/1\n"),
        "{out}"
    );
    let summary = dir.read("step_summary.md");
    assert!(summary.contains("| listing | ❌ failed |"), "{summary}");
    assert!(summary.contains("issue opened"), "{summary}");
    assert!(run.stdout().contains("::error::"), "{}", run.stdout());
}

/// Moves every alert episode of the committed state `hours` into the past, as if that much
/// time had passed since the channels were last told.
pub(crate) fn age_alerts(gh: &FakeGitHub, hours: i64) {
    let mut st = gh.lock();
    let mut state: serde_json::Value =
        serde_json::from_slice(&st.file("badges/backup_kpi.json").unwrap()).unwrap();
    age_alert_state(&mut state, hours);
    let bytes = serde_json::to_vec_pretty(&state).unwrap();
    st.push(
        "main",
        &[("badges/backup_kpi.json", bytes.as_slice())],
        "time passes",
    );
}

/// [`age_alerts`] on a state value.
pub(crate) fn age_alert_state(state: &mut serde_json::Value, hours: i64) {
    let schedules = state["alerts"].as_object_mut().expect("an alert state");
    for channels in schedules.values_mut() {
        for episode in channels.as_object_mut().unwrap().values_mut() {
            for key in ["opened-at", "last-sent-at"] {
                if let Some(t) = episode[key].as_str() {
                    let t = chrono::DateTime::parse_from_rfc3339(t).unwrap()
                        - chrono::Duration::hours(hours);
                    episode[key] = t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true).into();
                }
            }
        }
    }
}

#[test]
fn a_second_failure_a_day_later_comments_and_a_recovery_closes_the_issue() {
    let dir = setup();
    let gh = FakeGitHub::start(TOKEN);
    let slack = FakeSlack::start(vec![]);
    run_weekly(in_actions(&dir, &gh, &slack), "bad.yml", &[]).expect_code(1);
    // A day later (each channel is reminded at most daily).
    age_alerts(&gh, 25);
    run_weekly(in_actions(&dir, &gh, &slack), "bad.yml", &[]).expect_code(1);
    {
        let st = gh.lock();
        assert_eq!(st.issues.len(), 1, "never a second issue");
        assert_eq!(st.open_issues()[0].comments.len(), 1);
        assert!(st.open_issues()[0].comments[0].contains("\nStill failing"));
        assert_eq!(st.count("POST", "/repos/acme/app/issues"), 1);
    }
    run_weekly(in_actions(&dir, &gh, &slack), "good.yml", &[]).expect_code(0);
    no_violations(&gh);
    let st = gh.lock();
    assert!(st.open_issues().is_empty());
    let issue = &st.issues[0];
    assert_eq!(issue.state, "closed");
    assert!(
        issue.comments[1].contains("\nRecovered"),
        "{:?}",
        issue.comments
    );
    let close = st.find("PATCH", "/repos/acme/app/issues/1");
    assert_eq!(close[0].body["state"], "closed");
    // The state now says weekly ok; the history has its genesis entry and three runs.
    let state: serde_json::Value =
        serde_json::from_slice(&st.file("badges/backup_kpi.json").unwrap()).unwrap();
    assert_eq!(state["weekly"]["ok"], true);
    let history = String::from_utf8(st.file("badges/dr_history.jsonl").unwrap()).unwrap();
    assert_eq!(history.lines().count(), 4, "{history}");
    assert!(matches!(
        dr_action::history::verify(&history),
        Ok(dr_action::history::Chain::Intact { lines: 4, .. })
    ));
    // Two failure messages and one recovery on Slack.
    let got = slack.received();
    assert_eq!(got.len(), 3);
    assert!(got[2].body.to_string().contains("recovered"));
    assert!(output_of(&dir).contains("issue-url=https://github.example/acme/app/issues/1"));
}

#[test]
fn a_chaos_drill_opens_a_drill_issue_and_leaves_badge_and_state_alone() {
    let dir = setup();
    let gh = FakeGitHub::start(TOKEN);
    let slack = FakeSlack::start(vec![]);
    // A real incident is open for the same schedule and targets: the drill must not touch it.
    let real = gh.lock().add_issue(
        "DR check failed: weekly dry-run",
        "<!-- dr-action:key=weekly:app-db -->\nreal",
        &["dr-failure"],
    );
    let head_before = gh.lock().head();
    let run = run_weekly(in_actions(&dir, &gh, &slack), "good.yml", &["--chaos"]).expect_code(1);
    no_violations(&gh);
    let st = gh.lock();
    assert_eq!(st.head(), head_before, "a chaos drill committed something");
    assert_eq!(
        st.count("POST", "/git/blobs") + st.count("PATCH", "/git/refs/heads/main"),
        0
    );
    let drill = st.issues.iter().find(|i| i.number != real).unwrap();
    assert_eq!(drill.title, "[chaos drill] DR check failed: weekly dry-run");
    assert_eq!(drill.labels, ["chaos-drill"]);
    assert!(
        drill
            .body
            .contains("<!-- dr-action:key=chaos:weekly:app-db -->")
    );
    assert!(st.issues[real as usize - 1].comments.is_empty());
    assert_eq!(st.issues[real as usize - 1].state, "open");
    assert!(
        !dir.join("badges").exists(),
        "local badge files were written"
    );
    let text = slack.received()[0].body.to_string();
    assert!(text.contains("chaos drill"), "{text}");
    assert!(output_of(&dir).contains("badge-changed=false"));
    assert!(run.stdout().contains("chaos drill"), "{}", run.stdout());
}

#[test]
fn an_unchanged_badge_makes_no_commit() {
    let dir = setup();
    let gh = FakeGitHub::start(TOKEN);
    let slack = FakeSlack::start(vec![]);
    run_weekly(in_actions(&dir, &gh, &slack), "good.yml", &[]).expect_code(0);
    let head = gh.lock().head();
    let blobs = gh.lock().count("POST", "/git/blobs");
    // The files on disk are what was just committed: publishing again changes nothing.
    let run = in_actions(&dir, &gh, &slack)
        .args(["publish", "--config", "good.yml"])
        .output()
        .expect_code(0);
    assert!(
        run.stdout().contains("nothing to publish"),
        "{}",
        run.stdout()
    );
    no_violations(&gh);
    let st = gh.lock();
    assert_eq!(st.head(), head);
    assert_eq!(st.count("POST", "/git/blobs"), blobs);
    assert_eq!(st.count("POST", "/git/commits"), 1);
    assert!(output_of(&dir).ends_with("badge-changed=false\n"));
}

#[test]
fn a_branch_that_moved_before_the_update_is_reread_and_the_commit_retried() {
    let dir = setup();
    let gh = FakeGitHub::start(TOKEN);
    let slack = FakeSlack::start(vec![]);
    gh.lock().move_ref_before_update = true;
    run_weekly(in_actions(&dir, &gh, &slack), "good.yml", &[]).expect_code(0);
    no_violations(&gh);
    let st = gh.lock();
    assert_eq!(st.count("PATCH", "/git/refs/heads/main"), 2);
    assert_eq!(st.count("GET", "/git/ref/heads/main"), 2);
    // Both the other push and the badge are on the branch: nothing was overwritten.
    assert_eq!(st.file("other.txt").unwrap(), b"someone else\n");
    assert!(st.file("badges/backup_status.svg").is_some());
    let head = st.head_commit();
    assert_eq!(st.commits[&head.parents[0]].message, "a concurrent push");
}

#[test]
fn a_github_502_is_retried() {
    let dir = setup();
    let gh = FakeGitHub::start(TOKEN);
    let slack = FakeSlack::start(vec![]);
    gh.lock()
        .faults
        .push_back(("GET".into(), "/git/ref/heads/main".into(), 502));
    run_weekly(in_actions(&dir, &gh, &slack), "good.yml", &[]).expect_code(0);
    no_violations(&gh);
    let st = gh.lock();
    assert_eq!(st.count("GET", "/git/ref/heads/main"), 2);
    assert!(st.file("badges/backup_status.svg").is_some());
}

#[test]
fn an_issue_created_despite_a_502_is_not_opened_twice() {
    let dir = setup();
    let gh = FakeGitHub::start(TOKEN);
    let slack = FakeSlack::start(vec![]);
    gh.lock()
        .faults_after
        .push_back(("POST".into(), "/repos/acme/app/issues".into(), 502));
    run_weekly(in_actions(&dir, &gh, &slack), "bad.yml", &[]).expect_code(1);
    no_violations(&gh);
    let st = gh.lock();
    assert_eq!(
        st.count("POST", "/repos/acme/app/issues"),
        1,
        "retried blindly"
    );
    assert_eq!(st.issues.len(), 1);
    assert!(output_of(&dir).contains("issue-url=https://github.example/acme/app/issues/1"));
}

#[test]
fn a_comment_retried_after_a_502_was_posted_twice() {
    let dir = setup();
    let gh = FakeGitHub::start(TOKEN);
    let slack = FakeSlack::start(vec![]);
    run_weekly(in_actions(&dir, &gh, &slack), "bad.yml", &[]).expect_code(1);
    // GitHub stores the recovery comment, then the gateway answers 502.
    gh.lock().faults_after.push_back((
        "POST".into(),
        "/repos/acme/app/issues/1/comments".into(),
        502,
    ));
    run_weekly(in_actions(&dir, &gh, &slack), "good.yml", &[]).expect_code(0);
    no_violations(&gh);
    let st = gh.lock();
    assert_eq!(
        st.count("POST", "/repos/acme/app/issues/1/comments"),
        1,
        "retried blindly"
    );
    // It looked for its marker instead.
    assert_eq!(st.count("GET", "/repos/acme/app/issues/1/comments"), 1);
    let issue = &st.issues[0];
    assert_eq!(issue.comments.len(), 1, "{:#?}", issue.comments);
    assert!(issue.comments[0].contains("<!-- dr-action:comment=4242@"));
    assert!(issue.comments[0].contains(":recovered -->"));
    assert_eq!(issue.state, "closed");
}

#[test]
fn a_forbidden_publish_names_the_permission_and_alerts_still_go_out() {
    let dir = setup();
    let gh = FakeGitHub::start(TOKEN);
    let slack = FakeSlack::start(vec![]);
    gh.lock()
        .faults
        .push_back(("POST".into(), "/git/blobs".into(), 403));
    let run = run_weekly(in_actions(&dir, &gh, &slack), "bad.yml", &[]).expect_code(2);
    assert!(run.stdout().contains("contents: write"), "{}", run.stdout());
    assert_eq!(gh.lock().open_issues().len(), 1);
    assert_eq!(slack.received().len(), 1);
}

#[test]
fn slack_429_with_retry_after_is_waited_for() {
    let dir = setup();
    let slack = FakeSlack::start(vec![(
        429,
        vec![("Retry-After".into(), "1".into())],
        "rate_limited".into(),
    )]);
    failing_weekly_report(&dir);
    let run = notify_weekly(&dir, &slack.url).output().expect_code(0);
    let got = slack.received();
    assert_eq!(got.len(), 2, "{}", run.stdout());
    let waited = got[1].at - got[0].at;
    assert!(
        waited >= std::time::Duration::from_millis(950),
        "{waited:?}"
    );
    assert_eq!(got[0].raw_body, got[1].raw_body);
    assert!(run.stdout().contains("slack: message sent"));
    assert!(
        run.stdout()
            .contains("skipped the alert issue: GITHUB_TOKEN is not set")
    );
}

#[test]
fn slack_400_invalid_payload_fails_at_once_without_showing_the_url() {
    let dir = setup();
    let slack = FakeSlack::start(vec![(400, vec![], "invalid_payload".into())]);
    failing_weekly_report(&dir);
    let run = notify_weekly(&dir, &slack.url)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", dir.join("step_summary.md"))
        .output()
        .expect_code(2);
    assert_eq!(slack.received().len(), 1, "a 400 is not retried");
    let all = format!(
        "{}{}{}",
        run.stdout(),
        run.stderr(),
        dir.read("step_summary.md")
    );
    assert!(all.contains("invalid_payload"), "{all}");
    assert!(run.stdout().contains("::error::"), "{all}");
    assert!(dir.read("step_summary.md").contains("alert not delivered"));
    for secret in [slack.url.as_str(), "xoxSECRETtoken", "T0SECRET"] {
        assert!(!all.contains(secret), "the webhook leaked: {all}");
    }
}

#[test]
fn slack_unreachable_gives_up_within_bounds_without_showing_the_url() {
    let dir = setup();
    // A port nobody listens on: connection refused on every attempt.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/services/T0SECRET/B0SECRET/xoxSECRETtoken");
    failing_weekly_report(&dir);
    let started = std::time::Instant::now();
    let run = notify_weekly(&dir, &url).output().expect_code(2);
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    let all = format!("{}{}", run.stdout(), run.stderr());
    assert!(all.contains("after 4 attempts"), "{all}");
    assert!(!all.contains("xoxSECRETtoken"), "the webhook leaked: {all}");
}

#[test]
fn slack_a_persistent_503_gives_up_after_exactly_four_posts() {
    let dir = setup();
    let busy = || (503, vec![], "service_unavailable".to_string());
    let slack = FakeSlack::start(vec![busy(), busy(), busy(), busy(), busy()]);
    failing_weekly_report(&dir);
    let run = notify_weekly(&dir, &slack.url).output().expect_code(2);
    let got = slack.received();
    assert_eq!(got.len(), 4, "{}", run.stdout());
    // The waits double: 1 s, 2 s, 4 s.
    let waits: Vec<_> = got.windows(2).map(|w| w[1].at - w[0].at).collect();
    for (wait, at_least) in waits.iter().zip([950, 1950, 3950]) {
        assert!(
            *wait >= std::time::Duration::from_millis(at_least),
            "{waits:?}"
        );
    }
    let all = format!("{}{}", run.stdout(), run.stderr());
    assert!(
        all.contains("after 4 attempts") && all.contains("503 service_unavailable"),
        "{all}"
    );
}

#[test]
fn without_a_token_the_checks_run_and_everything_is_written_locally() {
    let dir = setup();
    let run = dir
        .command()
        .args(["run", "--config", "good.yml", "--schedule", "weekly"])
        .output()
        .expect_code(0);
    let out = run.stdout();
    assert!(
        out.contains("skipped publish: GITHUB_TOKEN is not set"),
        "{out}"
    );
    assert!(
        out.contains("skipped the alert issue: GITHUB_TOKEN is not set"),
        "{out}"
    );
    assert_eq!(dir.json("out/dr_dryrun_weekly.json")["ok"], true);
    assert_eq!(dir.json("out/backup_kpi.json")["weekly"]["ok"], true);
    assert_eq!(dir.json("badges/backup_kpi.json")["weekly"]["ok"], true);
    assert!(dir.read("badges/backup_status.svg").contains("<svg"));
    assert!(dir.join("badges/backup_status.png").exists());
    // One run, said in words that read ("1 runs" before), on the chart code of the status page.
    let trend = dir.read("badges/backup_trend.svg");
    assert!(trend.contains("trend: 1 run<"), "{trend}");
    assert!(
        trend.contains("aria-labelledby=\"trend-runs-t trend-runs-d\""),
        "{trend}"
    );
    // The genesis entry and this run.
    assert_eq!(dir.read("badges/dr_history.jsonl").lines().count(), 2);
    // A second local run keeps the state and appends to the history.
    dir.command()
        .args(["run", "--config", "good.yml", "--schedule", "monthly"])
        .output()
        .expect_code(0);
    assert_eq!(dir.read("badges/dr_history.jsonl").lines().count(), 3);
    let state = dir.json("badges/backup_kpi.json");
    assert_eq!(state["status"], "green", "{state}");
}

#[test]
fn control_characters_in_a_key_are_escaped_in_summary_annotations_issue_and_slack() {
    let dir = setup();
    // The newest backup, under a name with a line break, a carriage return, a terminal colour
    // code and a table pipe (and no sidecar, so a check quotes the key).
    let store = dir.join("demo/backups/app-db");
    let real = std::fs::read_dir(&store)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".sqlite.gz"))
        .unwrap();
    let name = "evil\n::warning::forged\r\x1b[31m|x.sqlite.gz";
    std::fs::copy(&real, store.join(name)).unwrap();
    let shown = r"evil\n::warning::forged\r\u{1b}[31m";
    let gh = FakeGitHub::start(TOKEN);
    let slack = FakeSlack::start(vec![]);
    let run = run_weekly(in_actions(&dir, &gh, &slack), "good.yml", &[]).expect_code(1);
    no_violations(&gh);

    let stdout = run.stdout();
    assert!(
        !stdout.lines().any(|l| l.starts_with("::warning::forged")),
        "{stdout}"
    );
    assert!(!stdout.contains(['\x1b', '\r']), "{stdout:?}");
    assert!(stdout.contains(shown), "{stdout}");
    assert!(
        stdout.contains("::error::weekly dry-run checks failed"),
        "{stdout}"
    );

    let summary = dir.read("step_summary.md");
    assert!(!summary.contains(['\x1b', '\r']), "{summary:?}");
    assert!(
        summary.contains(&format!(
            "| checksum | ❌ failed | sidecar app-db/{shown}\\|x.sqlite.gz.sha256 is missing |"
        )),
        "{summary}"
    );
    assert!(
        summary.contains(&format!("Newest backup: `app-db/{shown}|x.sqlite.gz`")),
        "{summary}"
    );

    let st = gh.lock();
    let issues = st.open_issues();
    assert_eq!(issues.len(), 1, "{issues:#?}");
    let body = &issues[0].body;
    assert!(!body.contains(['\x1b', '\r']), "{body:?}");
    assert!(
        body.contains(&format!(
            "| app-db | checksum | sidecar app-db/{shown}\\|x.sqlite.gz.sha256 is missing |"
        )),
        "{body}"
    );

    let got = slack.received();
    assert_eq!(got.len(), 1);
    let failures = got[0].body["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["text"]["text"].as_str())
        .find(|t| t.starts_with("*Failed checks*"))
        .unwrap()
        .to_string();
    assert!(!failures.contains(['\x1b', '\r']), "{failures:?}");
    assert!(
        failures.contains(&format!(
            "*checksum*: sidecar app-db/{shown}|x.sqlite.gz.sha256 is missing"
        )),
        "{failures}"
    );
    // The only line breaks are those between the failed checks.
    assert!(
        failures
            .lines()
            .all(|l| l.starts_with('•') || l == "*Failed checks*"),
        "{failures}"
    );
}

/// The config of [`config`] without its `notify:` section, as a new user writes it.
pub(crate) fn without_notify(prefix: &str) -> String {
    let full = config(prefix);
    full.split("notify:").next().unwrap().to_string()
}

#[test]
fn alerts_were_off_without_a_notify_section_in_actions() {
    let dir = setup();
    dir.write("bare.yml", without_notify("gone/"));
    let gh = FakeGitHub::start(TOKEN);
    let slack = FakeSlack::start(vec![]);
    run_weekly(in_actions(&dir, &gh, &slack), "bare.yml", &[]).expect_code(1);
    no_violations(&gh);
    let issues = gh.lock().open_issues();
    assert_eq!(issues.len(), 1, "{issues:#?}");
    assert_eq!(issues[0].labels, ["dr-failure"]);
    assert_eq!(slack.received().len(), 1);
}

#[test]
fn github_issue_enabled_false_turns_the_default_issue_off() {
    let dir = setup();
    dir.write(
        "off.yml",
        without_notify("gone/") + "notify:\n  github-issue: { enabled: false }\n",
    );
    let gh = FakeGitHub::start(TOKEN);
    let slack = FakeSlack::start(vec![]);
    run_weekly(in_actions(&dir, &gh, &slack), "off.yml", &[]).expect_code(1);
    no_violations(&gh);
    assert!(gh.lock().issues.is_empty());
    // Slack still follows its variable.
    assert_eq!(slack.received().len(), 1);
}

#[test]
fn a_failure_with_no_alert_channel_said_nothing() {
    let dir = setup();
    dir.write("bare.yml", without_notify("gone/"));
    let run = dir
        .command()
        .env("GITHUB_STEP_SUMMARY", dir.join("step_summary.md"))
        .args(["run", "--config", "bare.yml", "--schedule", "weekly"])
        .output()
        .expect_code(1);
    let out = run.stdout();
    assert!(
        out.contains("warning: no alert was sent") && out.contains("no one was told"),
        "{out}"
    );
    let summary = dir.read("step_summary.md");
    assert!(summary.contains("no one was told"), "{summary}");
}

#[test]
fn a_chaos_drill_with_no_alert_channel_claimed_to_exercise_the_alerts() {
    let dir = setup();
    dir.write("bare.yml", without_notify("app-db/"));
    let run = dir
        .command()
        .args([
            "run",
            "--config",
            "bare.yml",
            "--schedule",
            "weekly",
            "--chaos",
        ])
        .output()
        .expect_code(2);
    let out = run.stdout();
    assert!(
        out.contains("a drill with no alert channel proves nothing"),
        "{out}"
    );
    assert!(!out.contains("to exercise the alerts"), "{out}");
}

#[test]
fn notify_with_only_the_slack_variable_set_sent_nothing() {
    let dir = setup();
    dir.write("bare.yml", without_notify("gone/"));
    let slack = FakeSlack::start(vec![]);
    dir.command()
        .args(["check", "--config", "bare.yml", "--schedule", "weekly"])
        .output()
        .expect_code(1);
    let run = dir
        .command()
        .env("SLACK_WEBHOOK_URL", &slack.url)
        .args([
            "notify",
            "--config",
            "bare.yml",
            "--report",
            "out/dr_dryrun_weekly.json",
        ])
        .output()
        .expect_code(0);
    assert_eq!(slack.received().len(), 1, "{}", run.stdout());
    assert!(run.stdout().contains("slack: message sent"));
}

#[test]
fn a_target_no_longer_configured_loses_its_status_page_in_the_same_commit() {
    let dir = setup();
    let gh = FakeGitHub::start(TOKEN);
    let slack = FakeSlack::start(vec![]);
    // The page a removed target left on the branch, and a file beside the site it must not touch.
    gh.lock().push(
        "main",
        &[
            (
                "site/targets/gone-db-0badc0de.html",
                b"<p>old</p>".as_slice(),
            ),
            ("site/CNAME", b"dr.acme.example".as_slice()),
        ],
        "an earlier run",
    );
    run_weekly(in_actions(&dir, &gh, &slack), "good.yml", &[]).expect_code(0);
    no_violations(&gh);
    let st = gh.lock();
    assert_eq!(st.count("POST", "/git/commits"), 1);
    assert!(st.file("site/targets/gone-db-0badc0de.html").is_none());
    assert!(st.file("site/targets/app-db-5b424a2d.html").is_some());
    assert!(st.file("site/CNAME").is_some());
    assert!(st.file("README.md").is_some());
    let tree = st.find("POST", "/git/trees");
    let deleted: Vec<&serde_json::Value> = tree[0].body["tree"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["sha"].is_null())
        .collect();
    assert_eq!(deleted.len(), 1, "{}", tree[0].body);
    assert_eq!(deleted[0]["path"], "site/targets/gone-db-0badc0de.html");
}
