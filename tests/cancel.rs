//! Stopping a run part-way leaves nothing behind: SIGINT/SIGTERM during a restore (sent to the
//! real `dr-action` process once its output or its validation says where it is) stops the
//! validation's whole process group, drops the scratch database, deletes the temporary folder
//! and still writes the report, with a `cancelled` check naming the signal; the RTO limit
//! during a validation blames that validation, not the restore; and a PostgreSQL restore drops
//! the stale scratch databases of earlier runs — only those carrying its marker.

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::postgres::{Cluster, cluster, second_cluster};
use crate::restore::{check, config, failed, gzip, passed, put, quarterly, sqlite_db};
use crate::restore_pg::{assert_no_password, no_scratch_left, shop};
use crate::util::{Dir, Run, TestCommand};

/// Runs `cmd`, waits (at most a minute) until `ready` says the moment has come, sends
/// `signals` to the `dr-action` process one after the other, and waits for it to exit.
fn interrupt(cmd: TestCommand, ready: impl Fn() -> bool, signals: &[Signal]) -> Run {
    let streams = tempfile::tempdir().unwrap();
    let (out, err) = (streams.path().join("out"), streams.path().join("err"));
    let mut child = cmd
        .into_std()
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .expect("running dr-action");
    let pid = Pid::from_raw(child.id() as i32);
    let started = Instant::now();
    while !ready() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "dr-action ended ({status}) before the moment to signal it\n--- stdout\n{}\n--- stderr\n{}",
                std::fs::read_to_string(&out).unwrap(),
                std::fs::read_to_string(&err).unwrap()
            );
        }
        assert!(started.elapsed() < Duration::from_secs(60), "never ready");
        std::thread::sleep(Duration::from_millis(20));
    }
    for (i, signal) in signals.iter().enumerate() {
        if i > 0 {
            // Inside the cleanup the first one started.
            std::thread::sleep(Duration::from_millis(30));
        }
        kill(pid, *signal).unwrap();
    }
    let signalled = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if signalled.elapsed() > Duration::from_secs(30) {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!(
                "dr-action still running 30 s after the signal\n--- stdout\n{}",
                std::fs::read_to_string(&out).unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run(std::process::Output {
        status,
        stdout: std::fs::read(&out).unwrap(),
        stderr: std::fs::read(&err).unwrap(),
    })
}

/// The pid a validation wrote to `path`, once it has.
fn pid_in(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Whether a process runs (a zombie waiting to be reaped by whoever inherited it does not).
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with(['Z', 'X'])),
        Err(_) => false,
    }
}

/// Waits a little for `pid` to be gone: the group was killed, the kernel may take a moment.
fn gone(pid: i32) -> bool {
    let started = Instant::now();
    while alive(pid) {
        if started.elapsed() > Duration::from_secs(5) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

/// A validation that records its shell's pid and its child's, then waits for the child: both
/// must be gone once the run is cancelled (the child only if the whole group was stopped).
fn hanging_validation(dir: &Dir) -> String {
    format!(
        "        - command: [\"sh\", \"-c\", \"sleep 600 & echo $! > {child}; echo $$ > {shell}; wait\"]\n",
        child = dir.join("child.pid").display(),
        shell = dir.join("shell.pid").display(),
    )
}

fn report(dir: &Dir) -> serde_json::Value {
    let report = dir.json("out/dr_fullrestore_summary.json");
    assert_eq!(report["ok"], false, "{report:#}");
    report["targets"][0].clone()
}

fn has_check(t: &serde_json::Value, name: &str) -> bool {
    t["checks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["name"] == name)
}

#[test]
fn sigint_during_a_postgres_validation_dropped_the_scratch_database_and_wrote_the_report() {
    let pg = cluster();
    let dump = gzip(&pg.dump(shop(), "c"));
    for private in [false, true] {
        let dir = Dir::new();
        put(&dir, "db/shop.dump.gz", &dump, None);
        let server = if private {
            ""
        } else {
            "      database-url-env: DR_RESTORE_DATABASE_URL\n"
        };
        let rest = format!(
            "    rto: 10m\n    restore:\n      engine: postgres\n{server}      validate:\n        - sql: \"select count(*) from orders\"\n          expect-min: 3\n{}        - sql: \"select 1\"\n",
            hanging_validation(&dir)
        );
        config(&dir, "pg-dump", "*.dump.gz", &rest);
        let tmp = crate::hostile_pg::private_tmpdir();
        let cmd = dir
            .command()
            .args(["check", "--schedule", "quarterly", "--config", "dr.yml"])
            .env("DR_RESTORE_DATABASE_URL", pg.url())
            .env("PATH", pg.path_env())
            .env("TMPDIR", tmp.path());
        let shell = dir.join("shell.pid");
        // The second signal arrives while the first one's cleanup runs: the report must
        // survive it.
        let run = interrupt(
            cmd,
            || pid_in(&shell).is_some(),
            &[Signal::SIGINT, Signal::SIGTERM],
        );
        let run = run.expect_code(130);
        let t = report(&dir);
        assert_no_password(&run, &dir);
        assert!(
            passed(&t, "restore").contains("restored by pg_restore"),
            "{t:#}"
        );
        passed(&t, "checksum");
        passed(&t, "validate[0]");
        let hung = failed(&t, "validate[1]");
        assert!(hung.starts_with("cancelled by SIGINT after "), "{hung}");
        assert_eq!(
            failed(&t, "validate[2]"),
            "not run: the run was cancelled by SIGINT at validate[1]"
        );
        let cancelled = failed(&t, "cancelled");
        assert!(
            cancelled.starts_with("cancelled by SIGINT after ")
                && cancelled.contains("validate[1]"),
            "{cancelled}"
        );
        assert!(
            !has_check(&t, "rto"),
            "a cancelled run measured no rto: {t:#}"
        );
        assert_eq!(t["metrics"]["rto_met"], serde_json::Value::Null);
        let cleanup = passed(&t, "cleanup");
        if private {
            assert!(
                cleanup.contains("stopped and deleted the private cluster"),
                "{cleanup}"
            );
            crate::hostile_pg::assert_private_cluster_gone(tmp.path());
        } else {
            assert!(
                cleanup.contains("dropped the scratch database dr_restore_"),
                "{cleanup}"
            );
            // The scratch database and its role the report names are gone from the server.
            assert_eq!(no_scratch_left(&t).len(), 2, "{t:#}");
            let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
            assert!(left.is_empty(), "left in TMPDIR: {left:?}");
        }
        for pid in ["shell.pid", "child.pid"] {
            let pid = pid_in(&dir.join(pid)).unwrap();
            assert!(gone(pid), "the validation's process {pid} still runs");
        }
        assert!(run.stdout().contains("cancelled"), "{}", run.stdout());
    }
}

#[test]
fn sigint_while_the_private_cluster_starts_leaves_no_cluster_and_writes_the_report() {
    let pg = cluster();
    let dir = Dir::new();
    put(&dir, "db/shop.dump.gz", &gzip(&pg.dump(shop(), "c")), None);
    let rest = "    rto: 10m\n    restore:\n      engine: postgres\n      validate:\n        - sql: \"select 1\"\n";
    config(&dir, "pg-dump", "*.dump.gz", rest);
    let tmp = crate::hostile_pg::private_tmpdir();
    let cmd = dir
        .command()
        .args(["check", "--schedule", "quarterly", "--config", "dr.yml"])
        .env("PATH", pg.path_env())
        .env("TMPDIR", tmp.path());
    // The cluster's folder exists from before initdb until after the server started.
    let starting = || {
        std::fs::read_dir(tmp.path()).unwrap().any(|e| {
            e.unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("dr-pg-cluster-")
        })
    };
    let signalled = Instant::now();
    let run = interrupt(cmd, starting, &[Signal::SIGINT]);
    run.expect_code(130);
    assert!(signalled.elapsed() < Duration::from_secs(60));
    crate::hostile_pg::assert_private_cluster_gone(tmp.path());
    let t = report(&dir);
    let cancelled = failed(&t, "cancelled");
    assert!(cancelled.starts_with("cancelled by SIGINT"), "{cancelled}");
    let restore = failed(&t, "restore");
    // Most often initdb is running; on a fast machine the server may be up already, and the
    // restore is then stopped right after.
    assert!(
        restore == "cancelled by SIGINT while the private PostgreSQL cluster was starting"
            || restore.starts_with("cancelled by SIGINT after "),
        "{restore}"
    );
    assert!(!has_check(&t, "rto"), "{t:#}");
}

#[test]
fn sigint_during_run_wrote_the_report_and_left_the_kpi_and_badge_alone() {
    let dir = Dir::new();
    put(&dir, "db/app.sqlite.gz", &gzip(&sqlite_db(3)), None);
    let rest = format!(
        "    rto: 10m\n    restore:\n      engine: sqlite\n      validate:\n{}",
        hanging_validation(&dir)
    );
    config(&dir, "sqlite", "*.sqlite.gz", &rest);
    let cmd = dir
        .command()
        .args(["run", "--schedule", "quarterly", "--config", "dr.yml"]);
    let shell = dir.join("shell.pid");
    let run = interrupt(cmd, || pid_in(&shell).is_some(), &[Signal::SIGINT]);
    let run = run.expect_code(130);
    let t = report(&dir);
    passed(&t, "restore");
    let cancelled = failed(&t, "cancelled");
    assert!(
        cancelled.starts_with("cancelled by SIGINT")
            && cancelled.ends_with("the KPI, the badge, publishing and the alerts were skipped"),
        "{cancelled}"
    );
    // Nothing computed from half a schedule: no KPI, no badge, no state, no history.
    assert!(!dir.join("out/backup_kpi.json").exists());
    assert!(!dir.join("badges").exists());
    assert!(
        run.stdout()
            .contains("cancelled by SIGINT: the report of what ran is written"),
        "{}",
        run.stdout()
    );
    for pid in ["shell.pid", "child.pid"] {
        let pid = pid_in(&dir.join(pid)).unwrap();
        assert!(gone(pid), "the validation's process {pid} still runs");
    }
}

#[test]
fn sigterm_during_a_files_restore_removed_the_unpacked_folder() {
    let dir = Dir::new();
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("etc")).unwrap();
    std::fs::write(src.join("etc/app.conf"), "ok").unwrap();
    let tar = std::process::Command::new("tar")
        .arg("-cf")
        .arg("-")
        .arg("-C")
        .arg(&src)
        .arg(".")
        .output()
        .unwrap();
    assert!(tar.status.success());
    put(&dir, "db/files.tar.gz", &gzip(&tar.stdout), None);
    // A second target, never reached.
    let rest = format!(
        "    rto: 10m\n    restore:\n      engine: files\n      validate:\n{}  - name: later\n    prefix: db/\n    match: \"*.tar.gz\"\n    format: tar\n    rpo: 1d\n",
        hanging_validation(&dir)
    );
    config(&dir, "tar", "*.tar.gz", &rest);
    let tmp = dir.join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let cmd = dir
        .command()
        .args(["check", "--schedule", "quarterly", "--config", "dr.yml"])
        .env("TMPDIR", &tmp);
    let shell = dir.join("shell.pid");
    let unpacked_while_validating = std::cell::Cell::new(false);
    let run = interrupt(
        cmd,
        || {
            let ready = pid_in(&shell).is_some();
            if ready {
                // The moment is real: the unpacked folder is there while the validation runs.
                unpacked_while_validating.set(std::fs::read_dir(&tmp).unwrap().any(|e| {
                    let e = e.unwrap();
                    e.file_name().to_string_lossy().starts_with("dr-restore-")
                        && e.path().join("files/etc/app.conf").is_file()
                }));
            }
            ready
        },
        &[Signal::SIGTERM],
    );
    run.expect_code(143);
    assert!(unpacked_while_validating.get());
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().collect();
    assert!(left.is_empty(), "left in TMPDIR: {left:?}");
    let t = report(&dir);
    assert!(passed(&t, "restore").contains("unpacked 1 files"), "{t:#}");
    passed(&t, "checksum");
    assert!(
        failed(&t, "validate[0]").starts_with("cancelled by SIGTERM after "),
        "{t:#}"
    );
    assert!(failed(&t, "cancelled").starts_with("cancelled by SIGTERM"));
    let later = &dir.json("out/dr_fullrestore_summary.json")["targets"][1];
    assert_eq!(later["name"], "later");
    assert_eq!(
        failed(later, "cancelled"),
        "not checked: the run was cancelled by SIGTERM before this target"
    );
    assert_eq!(later["checks"].as_array().unwrap().len(), 1, "{later:#}");
    for pid in ["shell.pid", "child.pid"] {
        let pid = pid_in(&dir.join(pid)).unwrap();
        assert!(gone(pid), "the validation's process {pid} still runs");
    }
}

#[test]
fn the_rto_limit_during_a_validation_blames_the_validation_not_the_restore() {
    let dir = Dir::new();
    put(&dir, "db/app.sqlite.gz", &gzip(&sqlite_db(5)), None);
    let rest = "    rto: 2s\n    restore:\n      engine: sqlite\n      validate:\n        - sql: \"select count(*) from orders\"\n          expect: \"5\"\n        - command: [\"sleep\", \"30\"]\n        - sql: \"select 1\"\n";
    config(&dir, "sqlite", "*.sqlite.gz", rest);
    let started = Instant::now();
    let (run, t) = quarterly(&dir, &[], &[]);
    run.expect_code(1);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    // The restore finished and is reported so, with its checksum.
    assert!(
        passed(&t, "restore").contains("SQLite database written"),
        "{t:#}"
    );
    passed(&t, "integrity");
    assert!(
        passed(&t, "checksum").contains("matches the sidecar"),
        "{t:#}"
    );
    passed(&t, "validate[0]");
    let hung = failed(&t, "validate[1]");
    assert!(
        hung.starts_with("stopped by the RTO limit after 6.") && hung.contains("`sleep 30`"),
        "{hung}"
    );
    assert_eq!(
        failed(&t, "validate[2]"),
        "not run: the RTO limit stopped the run at validate[1]"
    );
    assert!(
        failed(&t, "rto").starts_with("restore exceeded rto 2s"),
        "{t:#}"
    );
    assert!(t["metrics"]["restore_seconds"].is_number(), "{t:#}");
    assert!(!has_check(&t, "cancelled"));
}

/// The tests that plant databases on the second cluster run one at a time: each restore there
/// sweeps what the other planted.
static PLANTED: Mutex<()> = Mutex::new(());

const STALE_DB: &str = "dr_restore_20200101000000_staleAAA";
const STALE_ROLE: &str = "dr_restore_role_20200101000000_staleAAA";
const OLD_MARKER: &str =
    "dr-action scratch v1 run=old-run started=2020-01-01T00:00:00Z stale-after=1800";

/// A quarterly restore of the shop's dump into `pg`.
fn restore_into(pg: &Cluster) -> serde_json::Value {
    let dir = Dir::new();
    put(
        &dir,
        "db/shop.dump.gz",
        &gzip(&cluster().dump(shop(), "c")),
        None,
    );
    config(
        &dir,
        "pg-dump",
        "*.dump.gz",
        "    rto: 10m\n    restore:\n      engine: postgres\n      database-url-env: DR_RESTORE_DATABASE_URL\n      validate:\n        - sql: \"select count(*) from orders\"\n          expect: \"3\"\n",
    );
    let url = pg.url();
    let path = pg.path_env();
    let (run, t) = quarterly(
        &dir,
        &[],
        &[("DR_RESTORE_DATABASE_URL", &url), ("PATH", &path)],
    );
    run.expect_code(0);
    passed(&t, "validate[0]");
    passed(&t, "cleanup");
    t
}

#[test]
fn a_stale_scratch_database_of_ours_is_dropped_and_reported() {
    let _one = PLANTED.lock().unwrap_or_else(|e| e.into_inner());
    let pg = second_cluster();
    pg.psql("postgres", &format!("create role \"{STALE_ROLE}\""));
    pg.psql(
        "postgres",
        &format!("create database \"{STALE_DB}\" owner \"{STALE_ROLE}\""),
    );
    pg.psql(
        "postgres",
        &format!("comment on database \"{STALE_DB}\" is '{OLD_MARKER}'"),
    );
    pg.psql(
        "postgres",
        &format!("comment on role \"{STALE_ROLE}\" is '{OLD_MARKER}'"),
    );
    let t = restore_into(pg);
    let detail = passed(&t, "stale-scratch");
    for name in [STALE_DB, STALE_ROLE] {
        assert!(detail.contains(name), "{detail}");
        assert!(!pg.exists(name), "{name} is still there");
    }
    assert!(
        detail.contains("run old-run, started 2020-01-01T00:00:00Z"),
        "{detail}"
    );
    // What this run made carried the marker while it lived, and is gone as well.
    assert_eq!(no_scratch_left_on(pg, &t), 2);
}

#[test]
fn a_database_without_our_marker_is_never_dropped() {
    let _one = PLANTED.lock().unwrap_or_else(|e| e.into_inner());
    let pg = second_cluster();
    // Named like ours, years old, but without the marker (none, or someone else's comment);
    // one of ours whose run is still within its limit, and one just past it, whose run may
    // still be cleaning up.
    let now = chrono::Utc::now();
    let fresh = format!("dr_restore_{}_freshAAA", now.format("%Y%m%d%H%M%S"));
    let ago = now - chrono::Duration::seconds(120);
    let just_past = format!("dr_restore_{}_pastAAAA", ago.format("%Y%m%d%H%M%S"));
    let planted = [
        ("dr_restore_20200101000000_nomarkAA", None),
        (
            "dr_restore_20200101000000_foreignA",
            Some("restored by hand for the audit".to_string()),
        ),
        (
            "dr_restore_20200101000000_prefixAA",
            Some(format!("not {OLD_MARKER}")),
        ),
        (
            fresh.as_str(),
            Some(format!(
                "dr-action scratch v1 run=live started={} stale-after=86400",
                now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            )),
        ),
        (
            just_past.as_str(),
            Some(format!(
                "dr-action scratch v1 run=ending started={} stale-after=60",
                ago.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            )),
        ),
    ];
    for (name, comment) in &planted {
        pg.psql("postgres", &format!("create database \"{name}\""));
        if let Some(c) = comment {
            pg.psql(
                "postgres",
                &format!("comment on database \"{name}\" is '{c}'"),
            );
        }
    }
    let t = restore_into(pg);
    assert!(!has_check(&t, "stale-scratch"), "{t:#}");
    for (name, _) in &planted {
        assert!(pg.exists(name), "{name} was dropped");
        pg.psql("postgres", &format!("drop database \"{name}\""));
    }
}

/// Like `no_scratch_left`, on another cluster: the scratch names the report gives (besides the
/// planted stale ones) are gone; returns how many there were.
fn no_scratch_left_on(pg: &Cluster, t: &serde_json::Value) -> usize {
    let cleanup = check(t, "cleanup")["detail"].as_str().unwrap().to_string();
    let names: Vec<&str> = cleanup
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("dr_restore_"))
        .collect();
    for name in &names {
        assert!(!pg.exists(name), "{name} was left behind");
    }
    names.len()
}
