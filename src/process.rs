//! The one way dr-action runs another program during a restore: with a cleared environment
//! (the caller lists every variable the child gets, so no runner secret reaches a program a
//! backup can influence), in its own process group (a run stopped at its deadline takes down
//! whatever the program started, not only the program), optionally as another OS user, with
//! the input streamed into stdin, stdout captured up to a bound (or discarded) and the tail of
//! stderr kept for the detail — so a restore of any size runs in bounded memory. Details that
//! quote a program's output go through [`redact`] first.

use std::path::Path;
use std::process::{ExitStatus, Stdio};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

/// How much of a program's stderr is kept for the detail.
const STDERR_KEEP: usize = 4096;
/// The size of the pipe into a program's stdin (Linux): with the default 64 KiB pipe and the
/// 64 KiB writes it allows, feeding gigabytes into `psql` or a restore script costs far more
/// in wake-ups and system time than the bytes. Each write is a whole buffer of the input
/// (the pipeline's 1 MiB chunks), written where it is.
const FEED_PIPE: usize = 1024 * 1024;

/// Widens the pipe into the child's stdin, where the system allows it. Best effort: a smaller
/// pipe (an unprivileged user past `/proc/sys/fs/pipe-max-size`) is only slower.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn widen_pipe(stdin: &tokio::process::ChildStdin) {
    use nix::fcntl::{FcntlArg, fcntl};
    let _ = fcntl(stdin, FcntlArg::F_SETPIPE_SZ(FEED_PIPE as i32));
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn widen_pipe(_stdin: &tokio::process::ChildStdin) {}

/// A program to run, and everything it gets.
pub struct Program<'a> {
    pub argv: &'a [String],
    pub cwd: Option<&'a Path>,
    /// The child's whole environment: nothing of dr-action's own is inherited.
    pub env: Vec<(String, String)>,
    /// Run as this OS user (uid, gid) instead of dr-action's.
    pub user: Option<(u32, u32)>,
    /// Keep up to this many bytes of stdout (0 discards it).
    pub stdout_max: usize,
}

impl<'a> Program<'a> {
    pub fn new(argv: &'a [String], env: Vec<(String, String)>) -> Self {
        Program {
            argv,
            cwd: None,
            env,
            user: None,
            stdout_max: 0,
        }
    }
}

/// How a program ran.
pub struct Ran {
    pub status: ExitStatus,
    /// The first `stdout_max` bytes of stdout.
    pub stdout: Vec<u8>,
    /// The tail of stderr, one line.
    pub stderr: String,
    /// Bytes written to its stdin.
    pub fed: u64,
    /// The program closed its stdin before the stream ended.
    pub stopped_reading: bool,
}

impl Ran {
    /// `exit code 3` / `killed by a signal`, then the stderr tail.
    pub fn describe(&self) -> String {
        let how = match self.status.code() {
            Some(c) => format!("exit code {c}"),
            None => "killed by a signal".to_string(),
        };
        if self.stderr.is_empty() {
            how
        } else {
            format!("{how}: {}", self.stderr)
        }
    }
}

/// Kills a process group when dropped before its leader was reaped: the future running a
/// program was dropped (the restore's deadline passed). `kill_on_drop` only reaches the leader.
struct KillGroupOnDrop(Option<u32>);

impl Drop for KillGroupOnDrop {
    fn drop(&mut self) {
        if let Some(id) = self.0.and_then(|id| i32::try_from(id).ok()) {
            let _ = killpg(Pid::from_raw(id), Signal::SIGKILL);
        }
    }
}

/// The value of `name` among `vars` (a child's environment, or what it inherits).
pub fn var<'a>(vars: &'a [(String, String)], name: &str) -> Option<&'a str> {
    vars.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Runs `program`, feeding it `input` (or nothing, with stdin closed).
pub async fn run(
    program: &Program<'_>,
    input: Option<&mut (dyn AsyncBufRead + Unpin + Send + '_)>,
) -> Result<Ran, String> {
    let (exe, args) = program
        .argv
        .split_first()
        .ok_or_else(|| "the command is empty".to_string())?;
    let mut cmd = Command::new(exe);
    cmd.args(args)
        .env_clear()
        .envs(program.env.iter().map(|(k, v)| (k, v)))
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(if program.stdout_max > 0 {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        // Its own process group (see KillGroupOnDrop). A terminal's Ctrl-C then reaches
        // dr-action alone; the program sees its stdin close when dr-action exits.
        .process_group(0);
    if let Some(cwd) = program.cwd {
        cmd.current_dir(cwd);
    }
    if let Some((uid, gid)) = program.user {
        // std drops the supplementary groups too when it switches away from root.
        cmd.uid(uid).gid(gid);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run `{exe}`: {e}"))?;
    let mut group = KillGroupOnDrop(child.id());
    let stdin = child.stdin.take();
    let stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let feed = async {
        let (Some(mut stdin), Some(input)) = (stdin, input) else {
            return (0, false);
        };
        widen_pipe(&stdin);
        let mut fed = 0u64;
        loop {
            // A read error is the stream's (the caller's watcher records it); stop feeding
            // and let the program see an end of input.
            let n = match input.fill_buf().await {
                Ok([]) | Err(_) => break,
                Ok(chunk) => {
                    if stdin.write_all(chunk).await.is_err() {
                        return (fed, true);
                    }
                    chunk.len()
                }
            };
            input.consume(n);
            fed += n as u64;
        }
        let _ = stdin.shutdown().await;
        (fed, false)
    };
    let capture = async {
        let mut kept = Vec::new();
        if let Some(out) = stdout {
            let mut limited = out.take(program.stdout_max as u64);
            let _ = limited.read_to_end(&mut kept).await;
            // Whatever is past the bound is read and thrown away, so the program never blocks
            // on a full pipe.
            let _ = tokio::io::copy(&mut limited.into_inner(), &mut tokio::io::sink()).await;
        }
        kept
    };
    let collect = async {
        let mut kept = Vec::new();
        let mut buf = [0u8; 8192];
        if let Some(err) = stderr.as_mut() {
            while let Ok(n) = err.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                kept.extend_from_slice(&buf[..n]);
                if kept.len() > 2 * STDERR_KEEP {
                    kept.drain(..kept.len() - STDERR_KEEP);
                }
            }
        }
        kept
    };
    let ((fed, stopped_reading), stdout, kept) = tokio::join!(feed, capture, collect);
    let status = child
        .wait()
        .await
        .map_err(|e| format!("waiting for `{exe}` failed: {e}"))?;
    // Reaped: the id may be reused from now on, so it must not be signalled.
    group.0 = None;
    Ok(Ran {
        status,
        stdout,
        stderr: tail(&kept, STDERR_KEEP),
        fed,
        stopped_reading,
    })
}

/// Replaces every secret in `text` with `***`.
pub fn redact(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    let mut sorted: Vec<&String> = secrets.iter().filter(|s| !s.is_empty()).collect();
    // Longest first, so the whole URL goes before the password inside it.
    sorted.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for s in sorted {
        out = out.replace(s.as_str(), "***");
    }
    out
}

/// The last `max` bytes of a process's stderr, as one trimmed line for a detail.
pub fn tail(bytes: &[u8], max: usize) -> String {
    let start = bytes.len().saturating_sub(max);
    let text = String::from_utf8_lossy(&bytes[start..]);
    let text = text.trim();
    let cut = if start > 0 { "…" } else { "" };
    format!("{cut}{}", text.replace('\n', " | "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[tokio::test]
    async fn a_child_sees_only_the_environment_it_is_given() {
        let argv = argv(&["sh", "-c", "env"]);
        let mut program = Program::new(
            &argv,
            vec![
                ("PATH".into(), "/usr/bin:/bin".into()),
                ("ONLY".into(), "1".into()),
            ],
        );
        program.stdout_max = 1 << 16;
        let ran = run(&program, None).await.unwrap();
        let out = String::from_utf8_lossy(&ran.stdout);
        let mut names: Vec<&str> = out
            .lines()
            .filter_map(|l| l.split('=').next())
            .filter(|n| !["PWD", "SHLVL", "_"].contains(n))
            .collect();
        names.sort();
        assert_eq!(names, ["ONLY", "PATH"], "{out}");
    }

    #[tokio::test]
    async fn stdout_is_bounded_and_stderr_keeps_its_tail() {
        let argv = argv(&[
            "sh",
            "-c",
            "head -c 100000 /dev/zero; echo first >&2; echo last >&2; exit 3",
        ]);
        let mut program = Program::new(&argv, vec![("PATH".into(), "/usr/bin:/bin".into())]);
        program.stdout_max = 10;
        let ran = run(&program, None).await.unwrap();
        assert_eq!(ran.stdout.len(), 10);
        assert_eq!(ran.describe(), "exit code 3: first | last");
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_child_is_fed_through_a_wide_pipe_in_large_writes() {
        // F_GETPIPE_SZ (1032) on its stdin, then the size of each read it gets.
        let script = "import fcntl, os, sys\n\
            print(fcntl.fcntl(0, 1032))\n\
            big = 0\n\
            while True:\n\
            \x20   b = os.read(0, 1 << 21)\n\
            \x20   if not b: break\n\
            \x20   big = max(big, len(b))\n\
            print(big)\n";
        let argv = argv(&["python3", "-c", script]);
        let mut program = Program::new(&argv, vec![("PATH".into(), "/usr/bin:/bin".into())]);
        program.stdout_max = 1 << 10;
        let mut input: &[u8] = &vec![7u8; 8 << 20];
        let ran = run(&program, Some(&mut input)).await.unwrap();
        let out = String::from_utf8_lossy(&ran.stdout);
        let sizes: Vec<usize> = out.lines().filter_map(|l| l.parse().ok()).collect();
        assert_eq!(ran.fed, 8 << 20, "{out} {}", ran.describe());
        assert_eq!(sizes.first(), Some(&FEED_PIPE), "{out}");
        // Writes of 64 KiB could never be read as more than 64 KiB at once.
        assert!(sizes.get(1).is_some_and(|&s| s >= FEED_PIPE / 4), "{out}");
    }
}
