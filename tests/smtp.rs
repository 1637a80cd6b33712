//! The SMTP test server: `tests/smtp_server.py` (aiosmtpd, from the repo's `.venv`, installed
//! by `scripts/setup-tools.sh`) on a free loopback port, one per test, killed on drop. It
//! requires AUTH with the login given, answers the first messages from a script of codes, and
//! records every message it received as JSON in a folder the test reads.

#![allow(dead_code)]

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Smtp {
    child: Child,
    pub port: u16,
    folder: tempfile::TempDir,
    log: tempfile::NamedTempFile,
}

pub const USER: &str = "dr-alerts";
/// The password: it must never appear in the tool's output or files.
pub const PASSWORD: &str = "pw-S3cr3t/smtp:42";

fn python() -> PathBuf {
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    assert!(
        venv.exists(),
        "{} not found: run scripts/setup-tools.sh",
        venv.display()
    );
    venv
}

impl Smtp {
    /// A server whose first messages are answered with `answers` (`"451"`, `"550"`…).
    pub fn start(answers: &[&str]) -> Smtp {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/smtp_server.py");
        let folder = tempfile::tempdir().unwrap();
        let log = tempfile::NamedTempFile::new().unwrap();
        let port = crate::moto::free_port();
        let child = Command::new(python())
            .arg(&script)
            .args([
                &port.to_string(),
                folder.path().to_str().unwrap(),
                USER,
                PASSWORD,
            ])
            .arg(answers.join(","))
            .stdin(Stdio::null())
            .stdout(log.reopen().unwrap())
            .stderr(log.reopen().unwrap())
            .spawn()
            .expect("starting tests/smtp_server.py");
        let smtp = Smtp {
            child,
            port,
            folder,
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !smtp.log().contains("ready") || TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the SMTP server did not listen on {port} within 30s:\n{}",
                smtp.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        smtp
    }

    /// `smtp://user:password@127.0.0.1:port` with the login percent-encoded.
    pub fn url(&self) -> String {
        let enc = |s: &str| {
            percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
        };
        format!(
            "smtp://{}:{}@127.0.0.1:{}",
            enc(USER),
            enc(PASSWORD),
            self.port
        )
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// Every DATA the server received, in order: envelope, login, answer, raw message.
    pub fn messages(&self) -> Vec<serde_json::Value> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.folder.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
            .collect()
    }

    /// The accepted messages.
    pub fn delivered(&self) -> Vec<serde_json::Value> {
        self.messages()
            .into_iter()
            .filter(|m| m["answer"] == "250")
            .collect()
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
