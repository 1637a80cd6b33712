//! The `command` engine, and the one way this module runs a program: the decompressed backup
//! is piped into its stdin while its stderr is collected (the last few KiB, for the detail),
//! so a restore of any size runs in bounded memory. `pg_restore` and `psql` go through the same
//! [`pipe_into`]. The exit code decides.

use std::path::Path;
use std::process::{ExitStatus, Stdio};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

use super::{EngineOutcome, Restored, tail};
use crate::checks::CheckResult;
use crate::store::ObjectReader;
use crate::units::short_size;

/// How much of a program's stderr is kept for the detail.
const STDERR_KEEP: usize = 4096;

/// A program to run: what it is called in details, and how.
pub struct Program<'a> {
    pub argv: &'a [String],
    pub cwd: Option<&'a Path>,
    pub env: Vec<(String, String)>,
    pub env_remove: &'a [&'a str],
}

/// How a program ran.
pub struct Ran {
    pub status: ExitStatus,
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
        #[cfg(unix)]
        if let Some(id) = self.0 {
            // No signal API without `unsafe` (forbidden here); kill(1) does it.
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{id}")])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// Runs `program`, feeding it `input` (or nothing, with stdin closed).
pub async fn pipe_into(
    program: &Program<'_>,
    input: Option<&mut (dyn AsyncRead + Unpin + Send + '_)>,
) -> Result<Ran, String> {
    let (exe, args) = program
        .argv
        .split_first()
        .ok_or_else(|| "the command is empty".to_string())?;
    let mut cmd = Command::new(exe);
    cmd.args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(cwd) = program.cwd {
        cmd.current_dir(cwd);
    }
    for key in program.env_remove {
        cmd.env_remove(key);
    }
    cmd.envs(program.env.iter().map(|(k, v)| (k, v)));
    // Its own process group, so a restore stopped at its deadline takes down whatever the
    // program started too (`sh -c 'sleep 1000'`), not only the program. (A terminal's Ctrl-C
    // then reaches dr-action alone; the program sees its stdin close when dr-action exits.)
    #[cfg(unix)]
    cmd.process_group(0);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run `{exe}`: {e}"))?;
    let mut group = KillGroupOnDrop(child.id());
    let stdin = child.stdin.take();
    let mut stderr = child.stderr.take();
    let feed = async {
        let (Some(mut stdin), Some(input)) = (stdin, input) else {
            return (0, false);
        };
        let mut buf = vec![0u8; 64 * 1024];
        let mut fed = 0u64;
        loop {
            // A read error is the stream's (the caller's watcher records it); stop feeding
            // and let the program see an end of input.
            let n = match input.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if stdin.write_all(&buf[..n]).await.is_err() {
                return (fed, true);
            }
            fed += n as u64;
        }
        let _ = stdin.shutdown().await;
        (fed, false)
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
    let ((fed, stopped_reading), kept) = tokio::join!(feed, collect);
    let status = child
        .wait()
        .await
        .map_err(|e| format!("waiting for `{exe}` failed: {e}"))?;
    // Reaped: the id may be reused from now on, so it must not be signalled.
    group.0 = None;
    Ok(Ran {
        status,
        stderr: tail(&kept, STDERR_KEEP),
        fed,
        stopped_reading,
    })
}

/// The `command` engine: the stream goes into the user's command; exit 0 is a restore.
pub async fn restore(
    argv: Option<&[String]>,
    cwd: &Path,
    content: &mut ObjectReader,
) -> EngineOutcome {
    let Some(argv) = argv.filter(|a| !a.is_empty()) else {
        return EngineOutcome::failed(
            "engine: command needs `restore.command`, e.g. [\"./scripts/restore.sh\"]",
        );
    };
    let program = Program {
        argv,
        cwd: Some(cwd),
        env: Vec::new(),
        env_remove: &[],
    };
    let shown = argv.join(" ");
    let check = match pipe_into(&program, Some(content)).await {
        Err(e) => CheckResult::fail("restore", e),
        Ok(ran) if ran.status.success() => {
            let note = if ran.stopped_reading {
                " (it stopped reading early)"
            } else {
                ""
            };
            CheckResult::pass(
                "restore",
                format!("`{shown}` read {} and exited 0{note}", short_size(ran.fed)),
            )
        }
        Ok(ran) => CheckResult::fail(
            "restore",
            format!(
                "`{shown}` failed after reading {}: {}",
                short_size(ran.fed),
                ran.describe()
            ),
        ),
    };
    let restored = check.ok.then_some(Restored::Command);
    EngineOutcome {
        checks: vec![check],
        restored,
    }
}
