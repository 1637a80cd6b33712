//! What the binary writes, and when: lines stream out while the work runs (masks before any
//! check, progress during a restore), a closed pipe ends quietly, a full disk is exit 2 after the
//! report is written, logs in files carry no colour codes, and trace logging never shows AWS
//! credentials.

use std::io::{BufRead, BufReader, Read};
use std::os::fd::AsFd;
use std::process::{Child, ChildStdout, Stdio};
use std::time::{Duration, Instant};

use crate::fixtures::healthy_store;
use crate::moto::{Moto, Sse, put};
use crate::restore::gzip;
use crate::util::Dir;

/// The smallest pipe Linux makes: one page. Every output below is larger, so the binary is
/// still writing when the test closes its end.
const SMALL_PIPE: usize = 4096;

/// Spawns `cmd` with stdout on a one-page pipe and stderr captured.
fn spawn_small_pipe(cmd: crate::util::TestCommand) -> (Child, ChildStdout) {
    let mut child = cmd
        .into_std()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning dr-action");
    let stdout = child.stdout.take().unwrap();
    let size = rustix::pipe::fcntl_setpipe_size(stdout.as_fd(), SMALL_PIPE).unwrap();
    assert_eq!(size, SMALL_PIPE);
    (child, stdout)
}

/// Waits for the child; returns its exit code and stderr.
fn finish(mut child: Child) -> (i32, String) {
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    (status.code().unwrap_or(-1), stderr)
}

#[test]
fn config_schema_into_a_pipe_closed_after_one_line_exits_0_quietly() {
    let dir = Dir::new();
    let (child, stdout) = spawn_small_pipe(dir.command().args(["config", "schema"]));
    let mut reader = BufReader::new(stdout);
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    assert_eq!(first, "{\n");
    drop(reader);
    let (code, stderr) = finish(child);
    assert_eq!(code, 0, "stderr: {stderr}");
    assert_eq!(stderr, "");
}

#[test]
fn plan_into_a_pipe_closed_after_one_byte_exits_0_quietly() {
    let dir = Dir::new();
    // Enough targets that the one-line matrix is several pipes long.
    let mut config = "version: 1\nstorage:\n  local: ./backups\ntargets:\n".to_string();
    for i in 0..300 {
        config.push_str(&format!(
            "  - name: database-number-{i:04}\n    prefix: db{i}/\n    format: file\n    rpo: 1d\n"
        ));
    }
    dir.write("dr.yml", config);
    let (child, mut stdout) = spawn_small_pipe(dir.command().args(["plan"]));
    let mut first = [0u8; 1];
    stdout.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"{");
    drop(stdout);
    let (code, stderr) = finish(child);
    assert_eq!(code, 0, "stderr: {stderr}");
    assert_eq!(stderr, "");
}

fn dev_full() -> Stdio {
    Stdio::from(
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap(),
    )
}

#[test]
fn config_schema_to_a_full_disk_exits_2_with_a_message() {
    let dir = Dir::new();
    let out = dir
        .command()
        .args(["config", "schema"])
        .into_std()
        .stdout(dev_full())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(
        stderr.contains("writing the output to stdout failed: No space left on device"),
        "{stderr}"
    );
}

#[test]
fn check_to_a_full_disk_exits_2_after_writing_the_report() {
    let dir = healthy_store();
    let out = dir
        .command()
        .args(["check", "--schedule", "weekly"])
        .into_std()
        .stdout(dev_full())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    assert_eq!(dir.json("out/dr_dryrun_weekly.json")["ok"], true);
}

#[test]
fn warnings_written_to_a_file_carry_no_colour_codes() {
    let dir = Dir::new();
    let err = std::fs::File::create(dir.join("err.txt")).unwrap();
    // No reports yet: `kpi` warns that each one is missing.
    let status = dir
        .command()
        .env("DR_LOG", "warn")
        .args(["kpi"])
        .into_std()
        .stderr(err)
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let logged = dir.read("err.txt");
    assert!(logged.contains("WARN"), "{logged}");
    assert!(logged.contains("does not exist"), "{logged}");
    assert!(!logged.contains('\x1b'), "{logged:?}");
}

/// Reads `stdout` line by line, noting for each whether `child` was still running when it
/// arrived; stops at the end of the stream.
fn lines_as_they_arrive(child: &mut Child, stdout: ChildStdout) -> Vec<(String, bool, Instant)> {
    let mut seen = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        let running = child.try_wait().unwrap().is_none();
        seen.push((line, running, Instant::now()));
    }
    seen
}

#[test]
fn a_line_arrives_while_a_slow_restore_runs() {
    let dir = Dir::new();
    crate::restore::put(&dir, "db/data.sql.gz", &gzip(b"select 1;\n"), None);
    let rest = "    rto: 1m\n    restore:\n      engine: command\n      command: [\"sh\", \"-c\", \"sleep 3; cat >/dev/null\"]\n";
    crate::restore::config(&dir, "sql", "*.sql.gz", rest);
    let mut child = dir
        .command()
        .args(["check", "--schedule", "quarterly", "--config", "dr.yml"])
        .into_std()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let seen = lines_as_they_arrive(&mut child, stdout);
    let (code, stderr) = finish(child);
    assert_eq!(code, 0, "{seen:?}\n{stderr}");
    let (first, running, _) = &seen[0];
    assert!(
        first.starts_with("t: restoring db/data.sql.gz ("),
        "{seen:?}"
    );
    assert!(running, "the first line came only at exit: {seen:?}");
    let texts: Vec<&str> = seen.iter().map(|s| s.0.as_str()).collect();
    let finished = texts
        .iter()
        .position(|l| l.starts_with("t: restore finished after 3."))
        .unwrap_or_else(|| panic!("{texts:?}"));
    let target = texts.iter().position(|l| l.trim() == "ok   t").unwrap();
    let verdict = texts
        .iter()
        .position(|l| l.starts_with("quarterly full-restore: ok"))
        .unwrap();
    assert!(finished < target && target < verdict, "{texts:?}");
    // The restore took 3 s: its start line was out well before its end.
    let waited = seen[finished].2 - seen[0].2;
    assert!(waited >= Duration::from_secs(2), "{waited:?} {texts:?}");
}

#[test]
fn the_masks_go_out_before_the_checks_run() {
    let moto = Moto::start();
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        moto.create_bucket("oidc-backups").await;
        let body = gzip(b"select 1;\n");
        put(
            &moto.s3(),
            "oidc-backups",
            "db/1.sql.gz",
            body,
            Sse::None,
            false,
        )
        .await;
    });
    let (token_port, _) = crate::s3::serve(|_, _| {
        (
            200,
            r#"{"value":"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXBvOmFjbWUvYXBwIn0.c2ln"}"#.into(),
        )
    });
    let dir = Dir::new();
    dir.write(
        "dr.yml",
        format!(
            "version: 1\naws:\n  region: eu-west-1\n  endpoint: {}\n  role-arn: arn:aws:iam::123456789012:role/dr-checks\nstorage:\n  bucket: oidc-backups\ntargets:\n  - name: db\n    prefix: db/\n    match: \"*.sql.gz\"\n    format: file\n    checksum: none\n    rpo: 1d\n    restore:\n      engine: command\n      command: [\"sh\", \"-c\", \"sleep 2; cat >/dev/null\"]\n",
            moto.endpoint()
        ),
    );
    let mut child = dir
        .command()
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_RUN_ID", "778")
        .env(
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            format!("http://127.0.0.1:{token_port}/token?api-version=2.0"),
        )
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "request-token-123")
        .env("AWS_CONFIG_FILE", "/nonexistent/aws-config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/aws-credentials",
        )
        .args(["check", "--schedule", "quarterly"])
        .into_std()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let seen = lines_as_they_arrive(&mut child, stdout);
    let (code, stderr) = finish(child);
    let texts: Vec<&str> = seen.iter().map(|s| s.0.as_str()).collect();
    assert_eq!(code, 0, "{texts:?}\n{stderr}");
    assert!(
        texts[..3].iter().all(|l| l.starts_with("::add-mask::")),
        "{texts:?}"
    );
    assert!(texts[0].starts_with("::add-mask::ASIA"), "{texts:?}");
    assert!(
        texts[3..].iter().all(|l| !l.starts_with("::add-mask::")),
        "{texts:?}"
    );
    let started = texts
        .iter()
        .position(|l| l.starts_with("db: restoring db/1.sql.gz"))
        .unwrap_or_else(|| panic!("{texts:?}"));
    let target = texts.iter().position(|l| l.trim() == "ok   db").unwrap();
    assert!(seen[2].1, "the masks came only at exit: {texts:?}");
    // The masks were out before the restore (2 s of it) had even started.
    assert!(seen[2].2 <= seen[started].2, "{texts:?}");
    let ahead = seen[target].2 - seen[2].2;
    assert!(ahead >= Duration::from_millis(1500), "{ahead:?} {texts:?}");
}

#[test]
fn trace_logging_never_prints_the_aws_access_key_id_or_secret() {
    const KEY_ID: &str = "AKIADRTRACELEAKTEST7";
    const SECRET: &str = "dr-trace-secret-must-not-leak-5d41402abc4b";
    let moto = Moto::start();
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        moto.create_bucket("trace-backups").await;
        let body = gzip(b"select 1;\n");
        put(
            &moto.s3(),
            "trace-backups",
            "db/1.sql.gz",
            body,
            Sse::Kms("k"),
            false,
        )
        .await;
    });
    let dir = Dir::new();
    dir.write(
        "dr.yml",
        format!(
            "version: 1\naws:\n  region: eu-west-1\n  endpoint: {}\nstorage:\n  bucket: trace-backups\ntargets:\n  - name: db\n    prefix: db/\n    match: \"*.sql.gz\"\n    format: file\n    checksum: none\n    rpo: 1d\n",
            moto.endpoint()
        ),
    );
    let run = dir
        .command()
        .env("AWS_ACCESS_KEY_ID", KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env("AWS_CONFIG_FILE", "/nonexistent/aws-config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/aws-credentials",
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("DR_LOG", "trace")
        .args(["check", "--schedule", "weekly"])
        .output()
        .expect_code(0);
    let (stdout, stderr) = (run.stdout(), run.stderr());
    // Trace logging was on, so a leak would have shown.
    assert!(stderr.contains("TRACE checked target=db"), "{stderr}");
    assert!(moto.log().contains("GET /trace-backups"), "{}", moto.log());
    for secret in [KEY_ID, SECRET] {
        assert!(!stderr.contains(secret), "{secret} in stderr");
        assert!(!stdout.contains(secret), "{secret} in stdout");
    }
}

#[test]
fn a_key_with_a_line_break_cannot_forge_a_workflow_command_in_the_progress_lines() {
    let dir = Dir::new();
    let key = "db/x\n::error::forged.sql.gz";
    crate::restore::put(&dir, key, &gzip(b"select 1;\n"), None);
    let rest = "    rto: 1m\n    restore:\n      engine: command\n      command: [\"sh\", \"-c\", \"cat >/dev/null\"]\n";
    crate::restore::config(&dir, "sql", "*.sql.gz", rest);
    let run = dir
        .command()
        .args(["check", "--schedule", "quarterly", "--config", "dr.yml"])
        .output()
        .expect_code(0);
    let stdout = run.stdout();
    assert!(
        stdout.contains("t: restoring db/x\\n::error::forged.sql.gz ("),
        "{stdout}"
    );
    assert!(stdout.lines().all(|l| !l.starts_with("::")), "{stdout}");
}
