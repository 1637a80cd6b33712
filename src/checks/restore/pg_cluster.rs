//! The private PostgreSQL cluster a restore uses when the config names no server: `initdb` into
//! a fresh temporary folder (random superuser password, scram-sha-256, no fsync), reachable
//! only through a Unix socket in a 0700 folder (no TCP at all), started with `pg_ctl -w`,
//! stopped with `-m immediate` and deleted afterwards — by [`Cluster::stop`], or on drop when a
//! run ends some other way.
//!
//! PostgreSQL refuses to run as root. When dr-action is root (CI containers; GitHub's hosted
//! runners are not), the cluster runs as the `postgres` OS user, or `nobody` without one, and
//! its folder is given to that user. The server gets a cleared environment like every other
//! program here: whatever a dump makes it run sees no runner secret.

use std::os::unix::fs::{PermissionsExt, chown};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use nix::unistd::{User, geteuid};
use tempfile::TempDir;

use super::pg_tools::Tools;
use super::token::random_token;
use crate::process::{self, Program};

/// The programs a private cluster needs besides the clients.
pub const SERVER_PROGRAMS: &[&str] = &["initdb", "pg_ctl", "postgres"];

/// The superuser `initdb` creates.
const SUPERUSER: &str = "postgres";

/// A running private cluster.
pub struct Cluster {
    /// Deleted when taken (by `stop`) or dropped.
    dir: Mutex<Option<TempDir>>,
    data: PathBuf,
    /// The OS user the server runs as, when dr-action is root.
    user: Option<(u32, u32)>,
    tools: Tools,
    env: Vec<(String, String)>,
    /// The superuser's URL, password included.
    pub url: String,
}

impl Cluster {
    /// Creates and starts a cluster with the server programs of `tools`.
    pub async fn start(tools: &Tools) -> Result<Cluster, String> {
        let user = server_user()?;
        let dir = tempfile::Builder::new()
            .prefix("dr-pg-cluster-")
            .tempdir()
            .map_err(|e| format!("creating the private cluster's folder failed: {e}"))?;
        let root = dir.path().to_path_buf();
        let data = root.join("data");
        let sock = root.join("sock");
        let password = random_token(32)?;
        let pwfile = root.join("pwfile");
        let prepare = || -> std::io::Result<()> {
            std::fs::create_dir(&sock)?;
            std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o700))?;
            std::fs::write(&pwfile, &password)?;
            std::fs::set_permissions(&pwfile, std::fs::Permissions::from_mode(0o600))?;
            if let Some((uid, gid)) = user {
                for path in [root.as_path(), sock.as_path(), pwfile.as_path()] {
                    chown(path, Some(uid), Some(gid))?;
                }
            }
            Ok(())
        };
        prepare().map_err(|e| format!("preparing the private cluster's folder failed: {e}"))?;
        let mut env = tools.env(Vec::new());
        env.retain(|(k, _)| k != "HOME");
        env.push(("HOME".into(), root.display().to_string()));
        let cluster = Cluster {
            dir: Mutex::new(Some(dir)),
            data,
            user,
            tools: tools.clone(),
            env,
            url: format!(
                "postgresql://{SUPERUSER}:{password}@localhost:5432/postgres?host={}",
                percent_encoding::utf8_percent_encode(
                    &sock.display().to_string(),
                    percent_encoding::NON_ALPHANUMERIC
                )
            ),
        };
        cluster
            .run(
                "initdb",
                &[
                    "-D".into(),
                    cluster.data.display().to_string(),
                    "-U".into(),
                    SUPERUSER.into(),
                    "--auth=scram-sha-256".into(),
                    format!("--pwfile={}", pwfile.display()),
                    "-E".into(),
                    "UTF8".into(),
                    "--locale=C".into(),
                    "--no-sync".into(),
                ],
            )
            .await?;
        let _ = std::fs::remove_file(&pwfile);
        let conf = settings(&sock);
        let append = || -> std::io::Result<()> {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(cluster.data.join("postgresql.conf"))?;
            f.write_all(conf.as_bytes())
        };
        append().map_err(|e| format!("configuring the private cluster failed: {e}"))?;
        let log = root.join("log");
        let started = cluster
            .run(
                "pg_ctl",
                &[
                    "-D".into(),
                    cluster.data.display().to_string(),
                    "-l".into(),
                    log.display().to_string(),
                    "-w".into(),
                    "-t".into(),
                    "60".into(),
                    "start".into(),
                ],
            )
            .await;
        if let Err(e) = started {
            let log = std::fs::read(&log).unwrap_or_default();
            return Err(format!("{e}; server log: {}", process::tail(&log, 1024)));
        }
        Ok(cluster)
    }

    /// Runs a server program of the cluster as its OS user.
    async fn run(&self, name: &str, args: &[String]) -> Result<(), String> {
        let mut argv = vec![self.tools.program(name)];
        argv.extend(args.iter().cloned());
        let program = Program {
            user: self.user,
            cwd: Some(Path::new("/")),
            ..Program::new(&argv, self.env.clone())
        };
        let ran = process::run(&program, None).await?;
        if ran.status.success() {
            Ok(())
        } else {
            Err(format!(
                "`{name}` of the private PostgreSQL cluster failed: {}",
                ran.describe()
            ))
        }
    }

    /// Stops the server at once and deletes its folder.
    pub async fn stop(&self) -> Result<(), String> {
        let Some(dir) = self.dir.lock().ok().and_then(|mut d| d.take()) else {
            return Ok(());
        };
        let stopped = self.run("pg_ctl", &self.stop_args()).await;
        let removed = dir
            .close()
            .map_err(|e| format!("deleting the private cluster's folder failed: {e}"));
        stopped.and(removed)
    }

    fn stop_args(&self) -> Vec<String> {
        [
            "-D",
            &self.data.display().to_string(),
            "-m",
            "immediate",
            "-w",
            "stop",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // The run ended without `stop` (a panic, or the future dropped): stop the server
        // synchronously before its folder goes.
        if self.dir.lock().is_ok_and(|d| d.is_some()) {
            use std::os::unix::process::CommandExt;
            let mut cmd = std::process::Command::new(self.tools.program("pg_ctl"));
            cmd.args(self.stop_args())
                .env_clear()
                .envs(self.env.iter().map(|(k, v)| (k, v)))
                .current_dir("/")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null());
            if let Some((uid, gid)) = self.user {
                cmd.uid(uid).gid(gid);
            }
            let _ = cmd.status();
        }
    }
}

/// The OS user the server runs as: `None` (dr-action's own) unless dr-action is root.
fn server_user() -> Result<Option<(u32, u32)>, String> {
    if !geteuid().is_root() {
        return Ok(None);
    }
    for name in ["postgres", "nobody"] {
        if let Ok(Some(u)) = User::from_name(name) {
            return Ok(Some((u.uid.as_raw(), u.gid.as_raw())));
        }
    }
    Err("dr-action runs as root, and PostgreSQL refuses to: the private cluster needs an OS user `postgres` (or `nobody`) to run as, and neither exists; create one, or name a server with restore.database-url-env".into())
}

/// The settings appended to `postgresql.conf`: no TCP, the socket in the private folder, no
/// durability (the cluster is thrown away).
fn settings(sock: &Path) -> String {
    let quoted = sock.display().to_string().replace('\'', "''");
    format!(
        "\n# dr-action: a throwaway restore cluster\nlisten_addresses = ''\nport = 5432\nunix_socket_directories = '{quoted}'\nunix_socket_permissions = 0700\nfsync = off\nfull_page_writes = off\nsynchronous_commit = off\n"
    )
}
