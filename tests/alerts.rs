//! The alert channels beyond the issue and Slack — email against a real SMTP server (aiosmtpd),
//! the heartbeat against a healthchecks.io-style fake, the signed webhook against a receiver
//! that verifies the signature itself — and the alert state they share: one message per
//! failure episode, a reminder at most daily, the recovery. The checks run for real against
//! the demo store of `tests/github.rs`; without `GITHUB_TOKEN` the state is kept in the
//! working tree, with it in the fake repository.

use std::time::{Duration, Instant};

use crate::fakes::{FakeGitHub, FakeHeartbeat, FakeSlack, FakeWebhook};
use crate::github::{
    TOKEN, age_alert_state, age_alerts, in_actions, no_violations, run_weekly, setup,
};
use crate::smtp::{self, Smtp};
use crate::util::{Dir, Run, TestCommand};

/// The demo target, passing with `app-db/` and failing with `gone/`, and `notify` as given.
// These tests count the messages of failure episodes. The health score (min-health) would add
// its own lagging failure after a recovery (1 passing run of the last 4 scores under 80), so
// it is turned off here; its alert is tested with the matrix (tests/evidence.rs).
fn config_with(prefix: &str, notify: &str) -> String {
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
{notify}kpi: {{ min-health: 0 }}
"#
    )
}

const EMAIL: &str = r#"  email:
    smtp-url-env: DR_SMTP_URL
    from: "DR checks <dr@example.com>"
    to: [ops@example.com, "On Call <oncall@example.com>"]
"#;

/// A folder with the demo store and `bad.yml` / `good.yml` using `notify`.
fn setup_with(notify: &str) -> Dir {
    let dir = setup();
    dir.write("bad.yml", config_with("gone/", notify));
    dir.write("good.yml", config_with("app-db/", notify));
    dir
}

/// `run --schedule weekly` outside Actions (state in the working tree).
fn local_run(dir: &Dir, config: &str, env: &[(&str, &str)]) -> Run {
    let mut cmd: TestCommand = dir.command();
    for (k, v) in env {
        cmd = cmd.env(k, v);
    }
    cmd.args(["run", "--config", config, "--schedule", "weekly"])
        .output()
}

fn all_output(run: &Run) -> String {
    format!("{}{}", run.stdout(), run.stderr())
}

/// Nothing the tool wrote (output, reports, state, summary) holds `secret`.
fn never_shown(dir: &Dir, run: &Run, secret: &str) {
    assert!(!all_output(run).contains(secret), "{}", all_output(run));
    for entry in walkdir::WalkDir::new(dir.path()) {
        let entry = entry.unwrap();
        if entry.file_type().is_file() && !entry.path().starts_with(dir.join("demo")) {
            let bytes = std::fs::read(entry.path()).unwrap();
            assert!(
                !String::from_utf8_lossy(&bytes).contains(secret),
                "{} holds the secret",
                entry.path().display()
            );
        }
    }
}

// ---------------------------------------------------------------- email

#[test]
fn email_a_failure_is_sent_with_auth_as_plain_text_and_html() {
    let dir = setup_with(EMAIL);
    let server = Smtp::start(&[]);
    let run = local_run(&dir, "bad.yml", &[("DR_SMTP_URL", &server.url())]).expect_code(1);
    let got = server.delivered();
    assert_eq!(got.len(), 1, "{got:#?}\n{}", all_output(&run));
    let m = &got[0];
    assert_eq!(m["login"], smtp::USER);
    assert_eq!(m["authenticated"], true);
    assert_eq!(m["mail_from"], "dr@example.com");
    assert_eq!(
        m["rcpt_tos"],
        serde_json::json!(["ops@example.com", "oncall@example.com"])
    );
    let data = m["data"].as_str().unwrap();
    assert!(
        data.contains("Subject: DR check failed: weekly dry-run"),
        "{data}"
    );
    assert!(data.contains("multipart/alternative"), "{data}");
    assert!(data.contains("text/plain"), "{data}");
    assert!(data.contains("text/html"), "{data}");
    assert!(data.contains("app-db listing"), "{data}");
    assert!(data.contains("<td>listing</td>"), "{data}");
    assert!(
        run.stdout()
            .contains("email: failed sent to ops@example.com")
    );
    never_shown(&dir, &run, smtp::PASSWORD);
}

#[test]
fn email_in_actions_links_the_run_and_shares_the_state_with_the_issue() {
    let dir = setup_with(EMAIL);
    let gh = FakeGitHub::start(TOKEN);
    let slack = FakeSlack::start(vec![]);
    let server = Smtp::start(&[]);
    run_weekly(
        in_actions(&dir, &gh, &slack).env("DR_SMTP_URL", server.url()),
        "bad.yml",
        &[],
    )
    .expect_code(1);
    no_violations(&gh);
    let got = server.delivered();
    assert_eq!(got.len(), 1);
    let data = got[0]["data"].as_str().unwrap();
    assert!(
        data.contains("https://github.example/acme/app/actions/runs/4242"),
        "{data}"
    );
    assert!(data.contains("in acme/app"), "{data}");
    // One committed state: the issue, Slack and the email each have their episode.
    let st = gh.lock();
    let state: serde_json::Value =
        serde_json::from_slice(&st.file("badges/backup_kpi.json").unwrap()).unwrap();
    for channel in ["github-issue", "slack", "email"] {
        assert_eq!(
            state["alerts"]["weekly"][channel]["status"], "failing",
            "{channel}: {state}"
        );
    }
    // The issue's episode keeps where the issue is, and the committed status page links the
    // open incident to it.
    let url = state["alerts"]["weekly"]["github-issue"]["url"]
        .as_str()
        .unwrap_or_else(|| panic!("no issue url in {state}"));
    assert_eq!(
        url,
        format!(
            "https://github.example/acme/app/issues/{}",
            st.issues[0].number
        ),
        "{state}"
    );
    let index = String::from_utf8(st.file("site/index.html").unwrap()).unwrap();
    assert!(
        index.contains(&format!("<a href=\"{url}\">the alert issue</a>")),
        "{index}"
    );
}

#[test]
fn email_one_message_per_episode_and_one_on_recovery() {
    let dir = setup_with(EMAIL);
    let server = Smtp::start(&[]);
    let url = server.url();
    let env = [("DR_SMTP_URL", url.as_str())];
    local_run(&dir, "bad.yml", &env).expect_code(1);
    let quiet = local_run(&dir, "bad.yml", &env).expect_code(1);
    assert!(
        quiet.stdout().contains("email: still failing since"),
        "{}",
        quiet.stdout()
    );
    assert_eq!(
        server.delivered().len(),
        1,
        "no second message within a day"
    );
    local_run(&dir, "good.yml", &env).expect_code(0);
    local_run(&dir, "good.yml", &env).expect_code(0);
    let got = server.delivered();
    assert_eq!(got.len(), 2, "one recovery, then nothing");
    let data = got[1]["data"].as_str().unwrap();
    assert!(
        data.contains("Subject: DR check recovered: weekly dry-run"),
        "{data}"
    );
    assert!(data.contains("Failing since:"), "{data}");
    let state = dir.json("badges/backup_kpi.json");
    assert_eq!(state["alerts"]["weekly"]["email"]["status"], "recovered");
}

#[test]
fn email_a_temporary_4xx_is_retried_and_then_delivered() {
    let dir = setup_with(EMAIL);
    let server = Smtp::start(&["451"]);
    let run = local_run(&dir, "bad.yml", &[("DR_SMTP_URL", &server.url())]).expect_code(1);
    let all = server.messages();
    assert_eq!(all.len(), 2, "{all:#?}");
    assert_eq!(all[0]["answer"], "451");
    assert_eq!(all[1]["answer"], "250");
    assert!(
        run.stdout().contains("email: failed sent"),
        "{}",
        run.stdout()
    );
}

#[test]
fn email_a_permanent_5xx_is_reported_at_once_and_the_step_exits_2() {
    let dir = setup_with(EMAIL);
    let server = Smtp::start(&["550"]);
    let run = local_run(&dir, "bad.yml", &[("DR_SMTP_URL", &server.url())]).expect_code(2);
    assert_eq!(server.messages().len(), 1, "a 5xx is not retried");
    let out = all_output(&run);
    assert!(out.contains("the email alert was not sent"), "{out}");
    assert!(out.contains("550"), "{out}");
    never_shown(&dir, &run, smtp::PASSWORD);
    // Not told: the next run tries again instead of staying quiet.
    let state = dir.json("badges/backup_kpi.json");
    assert!(
        state["alerts"]["weekly"]["email"]["last-sent-at"].is_null(),
        "{state}"
    );
    let run = local_run(&dir, "bad.yml", &[("DR_SMTP_URL", &server.url())]).expect_code(1);
    assert_eq!(server.delivered().len(), 1, "{}", all_output(&run));
}

#[test]
fn email_a_wrong_password_is_refused_without_showing_either() {
    let dir = setup_with(EMAIL);
    let server = Smtp::start(&[]);
    let url = format!("smtp://{}:wrong-Pass@127.0.0.1:{}", smtp::USER, server.port);
    let run = local_run(&dir, "bad.yml", &[("DR_SMTP_URL", &url)]).expect_code(2);
    assert!(server.messages().is_empty());
    let out = all_output(&run);
    assert!(out.contains("the email alert was not sent"), "{out}");
    never_shown(&dir, &run, "wrong-Pass");
}

#[test]
fn email_an_unreachable_server_gives_up_within_bounds() {
    let dir = setup_with(EMAIL);
    let port = crate::moto::free_port();
    let url = format!(
        "smtp://{}:{}@127.0.0.1:{port}",
        smtp::USER,
        "pw-unreachable"
    );
    let started = Instant::now();
    let run = local_run(&dir, "bad.yml", &[("DR_SMTP_URL", &url)]).expect_code(2);
    assert!(started.elapsed() < Duration::from_secs(60));
    let out = all_output(&run);
    assert!(out.contains("after 4 attempts"), "{out}");
    never_shown(&dir, &run, "pw-unreachable");
}

#[test]
fn email_a_server_that_never_answers_is_given_up_within_bounds() {
    let dir = setup_with(EMAIL);
    // Accepts connections and never says a word.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    let url = format!("smtp://{}:pw-silent@127.0.0.1:{port}", smtp::USER);
    let started = Instant::now();
    let run = local_run(&dir, "bad.yml", &[("DR_SMTP_URL", &url)]).expect_code(2);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(45), "{took:?}");
    let out = all_output(&run);
    assert!(out.contains("the email alert was not sent"), "{out}");
    assert!(out.contains("no answer within"), "{out}");
    never_shown(&dir, &run, "pw-silent");
}

#[test]
fn email_starttls_required_fails_against_a_server_without_it() {
    let dir = setup_with(EMAIL);
    let server = Smtp::start(&[]);
    let url = server.url().replace("smtp://", "smtp+starttls://");
    let run = local_run(&dir, "bad.yml", &[("DR_SMTP_URL", &url)]).expect_code(2);
    assert!(server.messages().is_empty(), "nothing sent in the clear");
    never_shown(&dir, &run, smtp::PASSWORD);
}

#[test]
fn email_a_bad_address_names_the_key_and_line() {
    let dir = setup_with(
        "  email:\n    smtp-url-env: DR_SMTP_URL\n    from: dr@example.com\n    to: [ops@example.com, not-an-address]\n",
    );
    let run = local_run(&dir, "bad.yml", &[]).expect_code(2);
    let out = all_output(&run);
    assert!(out.contains("notify.email.to[1]"), "{out}");
    assert!(out.contains("line 17"), "{out}");
}

#[test]
fn notify_reads_and_updates_the_alert_state_of_the_kpi_file() {
    let dir = setup_with(EMAIL);
    let server = Smtp::start(&[]);
    local_run(&dir, "bad.yml", &[]).expect_code(2);
    assert!(server.messages().is_empty());
    let notify = |dir: &Dir| {
        dir.command()
            .env("DR_SMTP_URL", server.url())
            .args([
                "notify",
                "--config",
                "bad.yml",
                "--report",
                "out/dr_dryrun_weekly.json",
                "--kpi",
                "badges/backup_kpi.json",
            ])
            .output()
    };
    notify(&dir).expect_code(0);
    assert_eq!(server.delivered().len(), 1);
    let state = dir.json("badges/backup_kpi.json");
    assert_eq!(state["alerts"]["weekly"]["email"]["status"], "failing");
    assert!(state["alerts"]["weekly"]["email"]["last-sent-at"].is_string());
    let again = notify(&dir).expect_code(0);
    assert!(
        again.stdout().contains("email: still failing since"),
        "{}",
        again.stdout()
    );
    assert_eq!(server.delivered().len(), 1, "told already");
}

// ---------------------------------------------------------------- heartbeat

#[test]
fn heartbeat_pings_start_then_fail_then_success_with_the_summary() {
    let dir = setup_with("  heartbeat: { url-env: DR_HEARTBEAT_URL }\n");
    let hb = FakeHeartbeat::start(vec![]);
    let env = [("DR_HEARTBEAT_URL", hb.url.as_str())];
    let run = local_run(&dir, "bad.yml", &env).expect_code(1);
    {
        let st = hb.lock();
        assert!(st.violations.is_empty(), "{:#?}", st.violations);
        let kinds: Vec<&str> = st.pings.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(kinds, ["start", "fail"]);
        assert_eq!(st.status, "down");
        let body = &st.pings[1].1;
        assert!(body.contains("DR check failed: weekly dry-run"), "{body}");
        assert!(body.contains("app-db listing"), "{body}");
        assert!(st.requests.iter().all(|r| r.method == "POST"));
    }
    assert!(run.stdout().contains("heartbeat: fail ping sent"));
    never_shown(&dir, &run, "SECRET-uuid");
    local_run(&dir, "good.yml", &env).expect_code(0);
    let st = hb.lock();
    let kinds: Vec<&str> = st.pings.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds, ["start", "fail", "start", "success"]);
    assert_eq!(st.status, "up");
    assert!(
        st.pings[3].1.contains("DR check passed"),
        "{}",
        st.pings[3].1
    );
}

#[test]
fn heartbeat_a_summary_over_100_kb_is_cut() {
    let dir = setup_with("  heartbeat: { url-env: DR_HEARTBEAT_URL }\n");
    // A prefix of 150 000 characters: the failed listing quotes it in its detail.
    let long = format!("gone-{}/", "x".repeat(150_000));
    dir.write(
        "long.yml",
        config_with(&long, "  heartbeat: { url-env: DR_HEARTBEAT_URL }\n"),
    );
    let hb = FakeHeartbeat::start(vec![]);
    let run = local_run(&dir, "long.yml", &[("DR_HEARTBEAT_URL", &hb.url)]).expect_code(1);
    let st = hb.lock();
    assert!(st.violations.is_empty(), "{:#?}", st.violations);
    let kinds: Vec<&str> = st.pings.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds, ["start", "fail"], "{}", all_output(&run));
    let body = &st.pings[1].1;
    assert!(body.len() <= FakeHeartbeat::MAX_BODY, "{}", body.len());
    assert!(body.len() > 90_000, "{}", body.len());
    assert!(body.ends_with("… (cut)\n"), "{}", &body[body.len() - 50..]);
}

#[test]
fn heartbeat_a_refused_ping_exits_2_without_the_url() {
    let dir = setup_with("  heartbeat: { url-env: DR_HEARTBEAT_URL }\n");
    let hb = FakeHeartbeat::start(vec![(404, vec![], "not found".into())]);
    let run = local_run(&dir, "good.yml", &[("DR_HEARTBEAT_URL", &hb.url)]).expect_code(2);
    let out = all_output(&run);
    assert!(out.contains("the heartbeat start was not sent"), "{out}");
    assert!(out.contains("404"), "{out}");
    // The checks ran and the end of the run was still pinged.
    assert_eq!(hb.lock().status, "up");
    never_shown(&dir, &run, "SECRET-uuid");
}

#[test]
fn heartbeat_a_chaos_drill_does_not_ping() {
    let dir = setup_with(&format!(
        "  heartbeat: {{ url-env: DR_HEARTBEAT_URL }}\n{EMAIL}"
    ));
    let hb = FakeHeartbeat::start(vec![]);
    let server = Smtp::start(&[]);
    let run = dir
        .command()
        .env("DR_HEARTBEAT_URL", &hb.url)
        .env("DR_SMTP_URL", server.url())
        .args([
            "run",
            "--config",
            "good.yml",
            "--schedule",
            "weekly",
            "--chaos",
        ])
        .output()
        .expect_code(1);
    assert!(hb.lock().requests.is_empty(), "{}", all_output(&run));
    let got = server.delivered();
    assert_eq!(got.len(), 1);
    let data = got[0]["data"].as_str().unwrap();
    assert!(data.contains("[chaos drill]"), "{data}");
    assert!(data.contains("This is a chaos drill"), "{data}");
}

// ---------------------------------------------------------------- webhook

const WEBHOOK: &str = "  webhook: { url-env: DR_WEBHOOK_URL, secret-env: DR_WEBHOOK_SECRET }\n";
const SECRET: &str = "whsec-shared-7f3a9c";

#[test]
fn webhook_posts_a_signed_summary_per_episode_and_the_recovery() {
    let dir = setup_with(WEBHOOK);
    let hook = FakeWebhook::start(SECRET, vec![]);
    let env = [
        ("DR_WEBHOOK_URL", hook.url.as_str()),
        ("DR_WEBHOOK_SECRET", SECRET),
    ];
    let run = local_run(&dir, "bad.yml", &env).expect_code(1);
    local_run(&dir, "bad.yml", &env).expect_code(1);
    local_run(&dir, "good.yml", &env).expect_code(0);
    assert!(hook.violations().is_empty(), "{:#?}", hook.violations());
    let got = hook.verified();
    assert_eq!(got.len(), 2, "failed, then recovered; nothing in between");
    let failed = &got[0];
    assert_eq!(failed.headers["x-dr-event"], "failed");
    assert_eq!(failed.body["event"], "failed");
    assert_eq!(failed.body["schedule"], "weekly");
    assert_eq!(failed.body["ok"], false);
    assert_eq!(failed.body["failed_checks"][0]["target"], "app-db");
    assert_eq!(failed.body["failed_checks"][0]["check"], "listing");
    assert_eq!(got[1].body["event"], "recovered");
    assert!(got[1].body["failing_since"].is_string());
    never_shown(&dir, &run, SECRET);
    never_shown(&dir, &run, "SECRETpath");
}

#[test]
fn webhook_a_wrong_secret_is_refused_and_the_step_exits_2() {
    let dir = setup_with(WEBHOOK);
    let hook = FakeWebhook::start(SECRET, vec![]);
    let run = local_run(
        &dir,
        "bad.yml",
        &[
            ("DR_WEBHOOK_URL", hook.url.as_str()),
            ("DR_WEBHOOK_SECRET", "whsec-not-the-one"),
        ],
    )
    .expect_code(2);
    assert!(hook.verified().is_empty());
    assert_eq!(hook.violations().len(), 1, "a 401 is not retried");
    let out = all_output(&run);
    assert!(out.contains("the webhook alert was not sent"), "{out}");
    assert!(out.contains("401"), "{out}");
    never_shown(&dir, &run, "whsec-not-the-one");
}

#[test]
fn webhook_a_5xx_is_retried() {
    let dir = setup_with(WEBHOOK);
    let hook = FakeWebhook::start(SECRET, vec![(503, vec![], "busy".into())]);
    local_run(
        &dir,
        "bad.yml",
        &[
            ("DR_WEBHOOK_URL", hook.url.as_str()),
            ("DR_WEBHOOK_SECRET", SECRET),
        ],
    )
    .expect_code(1);
    assert_eq!(hook.verified().len(), 1);
}

// ---------------------------------------------------------------- one alert state

/// The demo config with Slack only: the alert issue turned off.
fn slack_only(prefix: &str) -> String {
    config_with(
        prefix,
        "  github-issue: { enabled: false }\n  slack: { webhook-env: SLACK_WEBHOOK_URL }\n",
    )
}

#[test]
fn a_slack_only_setup_never_heard_the_recovery() {
    let dir = setup();
    dir.write("bad.yml", slack_only("gone/"));
    dir.write("good.yml", slack_only("app-db/"));
    let gh = FakeGitHub::start(TOKEN);
    let slack = FakeSlack::start(vec![]);
    run_weekly(in_actions(&dir, &gh, &slack), "bad.yml", &[]).expect_code(1);
    run_weekly(in_actions(&dir, &gh, &slack), "bad.yml", &[]).expect_code(1);
    assert_eq!(slack.received().len(), 1, "one message per episode");
    age_alerts(&gh, 25);
    run_weekly(in_actions(&dir, &gh, &slack), "bad.yml", &[]).expect_code(1);
    assert_eq!(slack.received().len(), 2, "a daily reminder");
    run_weekly(in_actions(&dir, &gh, &slack), "good.yml", &[]).expect_code(0);
    no_violations(&gh);
    assert!(gh.lock().issues.is_empty());
    let got = slack.received();
    assert_eq!(got.len(), 3);
    assert!(
        got[2].body.to_string().contains("recovered"),
        "{}",
        got[2].body
    );
    let st = gh.lock();
    let state: serde_json::Value =
        serde_json::from_slice(&st.file("badges/backup_kpi.json").unwrap()).unwrap();
    assert_eq!(state["alerts"]["weekly"]["slack"]["status"], "recovered");
}

#[test]
fn the_issue_and_slack_stay_quiet_within_a_day_and_both_hear_the_recovery() {
    let dir = setup_with(
        "  github-issue: { labels: [dr-failure] }\n  slack: { webhook-env: SLACK_WEBHOOK_URL }\n",
    );
    let gh = FakeGitHub::start(TOKEN);
    let slack = FakeSlack::start(vec![]);
    run_weekly(in_actions(&dir, &gh, &slack), "bad.yml", &[]).expect_code(1);
    // Still failing an hour later: every channel was told already.
    let quiet = run_weekly(in_actions(&dir, &gh, &slack), "bad.yml", &[]).expect_code(1);
    let out = quiet.stdout();
    assert!(
        out.contains("issue still open, commented recently"),
        "{out}"
    );
    assert!(out.contains("slack: still failing since"), "{out}");
    {
        let st = gh.lock();
        assert_eq!(st.issues.len(), 1, "never a second issue");
        assert!(st.open_issues()[0].comments.is_empty());
        assert_eq!(slack.received().len(), 1);
    }
    // A day later, a reminder that says since when.
    age_alerts(&gh, 25);
    run_weekly(in_actions(&dir, &gh, &slack), "bad.yml", &[]).expect_code(1);
    let got = slack.received();
    assert_eq!(got.len(), 2);
    assert!(
        got[1].body.to_string().contains("Still failing since"),
        "{}",
        got[1].body
    );
    assert_eq!(gh.lock().open_issues()[0].comments.len(), 1);
    run_weekly(in_actions(&dir, &gh, &slack), "good.yml", &[]).expect_code(0);
    no_violations(&gh);
    let st = gh.lock();
    assert_eq!(st.issues[0].state, "closed");
    assert_eq!(slack.received().len(), 3);
    let state: serde_json::Value =
        serde_json::from_slice(&st.file("badges/backup_kpi.json").unwrap()).unwrap();
    assert_eq!(state["alerts"]["weekly"]["slack"]["status"], "recovered");
    assert_eq!(
        state["alerts"]["weekly"]["github-issue"]["status"],
        "recovered"
    );
}

#[test]
fn an_old_state_file_without_alerts_still_loads() {
    let dir = setup_with(WEBHOOK);
    let hook = FakeWebhook::start(SECRET, vec![]);
    let env = [
        ("DR_WEBHOOK_URL", hook.url.as_str()),
        ("DR_WEBHOOK_SECRET", SECRET),
    ];
    local_run(&dir, "bad.yml", &env).expect_code(1);
    let mut state = dir.json("badges/backup_kpi.json");
    assert!(state["alerts"]["weekly"]["webhook"].is_object(), "{state}");
    // The same state as a version without the alert state wrote it.
    state.as_object_mut().unwrap().remove("alerts");
    dir.write(
        "badges/backup_kpi.json",
        serde_json::to_vec_pretty(&state).unwrap(),
    );
    let run = local_run(&dir, "bad.yml", &env).expect_code(1);
    assert!(!all_output(&run).contains("not a KPI state file"));
    assert_eq!(hook.verified().len(), 2, "no episode known: told again");
    assert!(dir.json("badges/backup_kpi.json")["alerts"]["weekly"]["webhook"].is_object());
    // And a day-old episode gets its reminder.
    let mut state = dir.json("badges/backup_kpi.json");
    age_alert_state(&mut state, 25);
    dir.write(
        "badges/backup_kpi.json",
        serde_json::to_vec_pretty(&state).unwrap(),
    );
    local_run(&dir, "bad.yml", &env).expect_code(1);
    let got = hook.verified();
    assert_eq!(got.len(), 3);
    assert_eq!(got[2].body["event"], "still-failing");
}

#[test]
fn a_chaos_drill_reaches_every_channel_and_leaves_the_alert_state_alone() {
    let dir = setup_with(&format!(
        "{WEBHOOK}  slack: {{ webhook-env: SLACK_WEBHOOK_URL }}\n"
    ));
    let hook = FakeWebhook::start(SECRET, vec![]);
    let slack = FakeSlack::start(vec![]);
    let env = [
        ("DR_WEBHOOK_URL", hook.url.as_str()),
        ("DR_WEBHOOK_SECRET", SECRET),
        ("SLACK_WEBHOOK_URL", slack.url.as_str()),
    ];
    local_run(&dir, "bad.yml", &env).expect_code(1);
    let before = dir.read("badges/backup_kpi.json");
    let mut cmd = dir.command();
    for (k, v) in env {
        cmd = cmd.env(k, v);
    }
    cmd.args([
        "run",
        "--config",
        "good.yml",
        "--schedule",
        "weekly",
        "--chaos",
    ])
    .output()
    .expect_code(1);
    assert_eq!(dir.read("badges/backup_kpi.json"), before);
    let got = hook.verified();
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].body["event"], "drill");
    assert_eq!(got[1].body["chaos"], true);
    assert_eq!(slack.received().len(), 2);
}

// ---------------------------------------------------------------- warnings

/// The demo target (critical, passing) and a second target that is not critical, failing
/// when `optional_prefix` holds no backup.
fn with_optional(optional_prefix: &str, notify: &str) -> String {
    config_with("app-db/", notify).replace(
        "notify:\n",
        &format!(
            "  - name: reports-cache\n    prefix: {optional_prefix}\n    match: \"*.sqlite.gz\"\n    \
             format: sqlite\n    checksum: sidecar\n    rpo: 26h\n    critical: false\nnotify:\n"
        ),
    )
}

#[test]
fn a_non_critical_failure_was_not_alerted() {
    let notify = format!("{WEBHOOK}{EMAIL}  slack: {{ webhook-env: SLACK_WEBHOOK_URL }}\n");
    let dir = setup();
    dir.write("warn.yml", with_optional("gone/", &notify));
    dir.write("clean.yml", with_optional("app-db/", &notify));
    let gh = FakeGitHub::start(TOKEN);
    let slack = FakeSlack::start(vec![]);
    let hook = FakeWebhook::start(SECRET, vec![]);
    let smtp = Smtp::start(&[]);
    let run = |config: &str| {
        let cmd = in_actions(&dir, &gh, &slack)
            .env("DR_WEBHOOK_URL", &hook.url)
            .env("DR_WEBHOOK_SECRET", SECRET)
            .env("DR_SMTP_URL", smtp.url());
        run_weekly(cmd, config, &[]).expect_code(0)
    };
    let first = run("warn.yml");
    let out = all_output(&first);
    assert!(out.contains("slack: warning sent"), "{out}");
    assert_eq!(slack.received().len(), 1, "{out}");
    let message = slack.received()[0].body.to_string();
    assert!(message.contains("WARNING"), "{message}");
    assert!(message.contains("reports-cache"), "{message}");
    assert!(message.contains("listing"), "{message}");
    assert!(
        !message.contains("app-db"),
        "only the non-critical target: {message}"
    );
    let got = hook.verified();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].headers["x-dr-event"], "warning");
    assert_eq!(got[0].body["event"], "warning");
    assert_eq!(got[0].body["ok"], true);
    assert_eq!(got[0].body["failed_checks"][0]["target"], "reports-cache");
    assert_eq!(got[0].body["failed_checks"][0]["check"], "listing");
    let mail = smtp.delivered();
    assert_eq!(mail.len(), 1);
    let data = mail[0]["data"].as_str().unwrap();
    assert!(data.contains("[warning]"), "{data}");
    assert!(data.contains("reports-cache"), "{data}");
    {
        let st = gh.lock();
        assert!(st.issues.is_empty(), "a warning never opens an issue");
        let state: serde_json::Value =
            serde_json::from_slice(&st.file("badges/backup_kpi.json").unwrap()).unwrap();
        assert_eq!(
            state["weekly"]["ok"], true,
            "the KPI slot stays ok: {state}"
        );
        assert_eq!(
            state["alerts"]["weekly"]["slack:warning"]["status"],
            "failing"
        );
        assert!(state["alerts"]["weekly"].get("slack").is_none(), "{state}");
    }
    // Within a day: nothing more on any channel.
    let second = run("warn.yml");
    let out = all_output(&second);
    assert!(out.contains("slack: warning already sent"), "{out}");
    assert_eq!(slack.received().len(), 1);
    assert_eq!(hook.verified().len(), 1);
    assert_eq!(smtp.delivered().len(), 1);
    // A day later, one reminder each.
    age_alerts(&gh, 25);
    run("warn.yml");
    assert_eq!(slack.received().len(), 2);
    assert_eq!(hook.verified().len(), 2);
    assert_eq!(smtp.delivered().len(), 2);
    // The warning goes: the episode closes without a message.
    run("clean.yml");
    assert_eq!(slack.received().len(), 2);
    assert_eq!(hook.verified().len(), 2);
    no_violations(&gh);
    assert!(hook.violations().is_empty(), "{:#?}", hook.violations());
    let st = gh.lock();
    assert!(st.issues.is_empty());
    let state: serde_json::Value =
        serde_json::from_slice(&st.file("badges/backup_kpi.json").unwrap()).unwrap();
    assert_eq!(
        state["alerts"]["weekly"]["webhook:warning"]["status"],
        "recovered"
    );
}
