//! Fixtures: a temporary folder (`Dir`) and a way to run the binary (`TestCommand`) with a
//! clean environment, so the runner's own `GITHUB_*` / `AWS_*` variables never leak in.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A temporary folder, deleted on drop.
pub struct Dir {
    tmp: tempfile::TempDir,
}

impl Dir {
    pub fn new() -> Self {
        Dir {
            tmp: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    pub fn join(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }

    /// Writes a file, creating its folders.
    pub fn write(&self, rel: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, contents).unwrap();
        path
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.join(rel)).unwrap_or_else(|e| panic!("reading {rel}: {e}"))
    }

    pub fn json(&self, rel: &str) -> serde_json::Value {
        serde_json::from_str(&self.read(rel)).unwrap_or_else(|e| panic!("{rel} is not JSON: {e}"))
    }

    /// Sets a file's modification time to `age` before now.
    pub fn age(&self, rel: &str, age: std::time::Duration) {
        let when = std::time::SystemTime::now() - age;
        std::fs::File::options()
            .write(true)
            .open(self.join(rel))
            .unwrap()
            .set_modified(when)
            .unwrap();
    }

    /// A `dr-action` command running in this folder.
    pub fn command(&self) -> TestCommand {
        TestCommand::new(self.path())
    }
}

/// The binary under test, run in a folder with only the environment the test gives it.
pub struct TestCommand {
    cmd: Command,
}

impl TestCommand {
    pub fn new(cwd: &Path) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dr-action"));
        cmd.current_dir(cwd).env_clear();
        for keep in ["PATH", "HOME", "TMPDIR", "LANG"] {
            if let Ok(v) = std::env::var(keep) {
                cmd.env(keep, v);
            }
        }
        TestCommand { cmd }
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.cmd.args(args);
        self
    }

    pub fn env(mut self, key: &str, value: impl AsRef<std::ffi::OsStr>) -> Self {
        self.cmd.env(key, value);
        self
    }

    /// The command itself, for a test that spawns it with pipes or files of its own.
    pub fn into_std(self) -> Command {
        self.cmd
    }

    pub fn output(mut self) -> Run {
        let out = self.cmd.output().expect("running dr-action");
        Run(out)
    }

    /// Runs it for at most `limit`, calling `watch` every 20 ms meanwhile; `None` when it was
    /// still running at the limit (it is killed then). For runs that must not hang.
    pub fn output_within(
        mut self,
        limit: std::time::Duration,
        mut watch: impl FnMut(),
    ) -> Option<Run> {
        // Files, not pipes: a child blocked on a full pipe would look like a hang.
        let streams = tempfile::tempdir().unwrap();
        let (out, err) = (streams.path().join("out"), streams.path().join("err"));
        let mut child = self
            .cmd
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .expect("running dr-action");
        let started = std::time::Instant::now();
        let status = loop {
            watch();
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > limit {
                child.kill().unwrap();
                child.wait().unwrap();
                return None;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        Some(Run(Output {
            status,
            stdout: std::fs::read(&out).unwrap(),
            stderr: std::fs::read(&err).unwrap(),
        }))
    }
}

/// A finished run, with assertions that show stdout and stderr when they fail.
pub struct Run(pub Output);

impl Run {
    pub fn code(&self) -> i32 {
        self.0.status.code().unwrap_or(-1)
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }

    /// Asserts the exit code, printing both streams when it differs.
    pub fn expect_code(self, code: i32) -> Self {
        assert_eq!(
            self.code(),
            code,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }
}

/// Accepts connections on a free loopback port, from a thread with a runtime of its own, for the
/// rest of the test process; each connection is handed to `serve` on a task. Returns the address.
pub fn spawn_loopback<F, Fut>(serve: F) -> std::net::SocketAddr
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                tokio::spawn(serve(stream));
            }
        });
    });
    addr
}
