//! A throwaway PostgreSQL cluster for the tests: `initdb` in a temporary folder (as the
//! `postgres` user when the tests run as root — PostgreSQL refuses to run as root), a free
//! port on 127.0.0.1, `fsync=off`, password authentication (so the tests can prove the
//! password never leaks). Started once per test binary, on first use.
//!
//! A `Drop` on a static never runs, so the cluster is stopped by a watchdog started with it:
//! a shell that waits for this test process to go away, then runs `pg_ctl stop -m immediate`
//! and deletes the folder.
//!
//! The PostgreSQL programs are looked for under `/usr/lib/postgresql/*/bin` (newest first),
//! then on `PATH`. Missing ones fail the tests with what to run; they are never skipped.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The superuser's password: characters that need percent-encoding in a URL, on purpose.
pub const PASSWORD: &str = "pw#dr s3cr/t";
/// The same, as written in a URL.
pub const PASSWORD_IN_URL: &str = "pw%23dr%20s3cr%2Ft";

pub struct Cluster {
    pub bin: PathBuf,
    pub port: u16,
}

static CLUSTER: OnceLock<Cluster> = OnceLock::new();

/// The cluster, started on first use.
pub fn cluster() -> &'static Cluster {
    CLUSTER.get_or_init(|| Cluster::start().unwrap_or_else(|e| panic!("{e}")))
}

static SECOND: OnceLock<Cluster> = OnceLock::new();

/// Another cluster, for the tests that plant databases a restore must find (or must not touch):
/// on the shared one, any other test's restore could sweep them first.
pub fn second_cluster() -> &'static Cluster {
    SECOND.get_or_init(|| Cluster::start().unwrap_or_else(|e| panic!("{e}")))
}

fn find_bin() -> Result<PathBuf, String> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    dirs.sort_by_key(|d| {
        d.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    dirs.reverse();
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    dirs.into_iter()
        .find(|d| ["initdb", "pg_ctl", "pg_dump", "pg_restore", "psql"].iter().all(|p| d.join(p).is_file()))
        .ok_or_else(|| {
            "PostgreSQL (initdb, pg_ctl, pg_dump, pg_restore, psql) not found under /usr/lib/postgresql/*/bin or on PATH: run scripts/setup-tools.sh".to_string()
        })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A command run as the cluster's owner.
fn as_owner(root: bool, program: &Path) -> Command {
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn run(mut cmd: Command, what: &str) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{what}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{what} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

impl Cluster {
    fn start() -> Result<Cluster, String> {
        let bin = find_bin()?;
        let root = is_root();
        // Kept on disk past this function: the watchdog deletes it.
        let dir = tempfile::Builder::new()
            .prefix("dr-pg-")
            .tempdir()
            .map_err(|e| e.to_string())?
            .keep();
        let data = dir.join("data");
        let sock = dir.join("sock");
        std::fs::create_dir_all(&sock).map_err(|e| e.to_string())?;
        std::fs::write(dir.join("pwfile"), PASSWORD).map_err(|e| e.to_string())?;
        if root {
            run(
                {
                    let mut c = Command::new("chown");
                    c.args(["-R", "postgres:postgres"]).arg(&dir);
                    c
                },
                "chown",
            )?;
        }
        let mut initdb = as_owner(root, &bin.join("initdb"));
        initdb
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                "postgres",
                "--auth=scram-sha-256",
                "--no-sync",
                "-E",
                "UTF8",
            ])
            .arg(format!("--pwfile={}", dir.join("pwfile").display()));
        run(initdb, "initdb")?;
        let port = free_port();
        let mut pg_ctl = as_owner(root, &bin.join("pg_ctl"));
        pg_ctl
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(dir.join("log"))
            .arg("-o")
            .arg(format!(
                "-c fsync=off -c full_page_writes=off -c synchronous_commit=off -c listen_addresses=127.0.0.1 -p {port} -k {}",
                sock.display()
            ))
            .args(["-w", "-t", "60", "start"]);
        run(pg_ctl, "pg_ctl start")?;
        // The watchdog: once this process is gone, stop the server and delete its folder.
        let script = format!(
            "while [ -d /proc/{pid} ]; do sleep 1; done; {pg_ctl} -D {data} -m immediate stop >/dev/null 2>&1; rm -rf {dir}",
            pid = std::process::id(),
            pg_ctl = bin.join("pg_ctl").display(),
            data = data.display(),
            dir = dir.display(),
        );
        let mut watchdog = if root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", "sh", "-c", &script]);
            c
        } else {
            let mut c = Command::new("sh");
            c.args(["-c", &script]);
            c
        };
        watchdog
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("starting the watchdog: {e}"))?;
        Ok(Cluster { bin, port })
    }

    /// The server's URL (with the password) for `DR_RESTORE_DATABASE_URL`.
    pub fn url(&self) -> String {
        self.url_as("postgres", PASSWORD_IN_URL)
    }

    /// The server's URL for another user (the password as written in a URL).
    pub fn url_as(&self, user: &str, password: &str) -> String {
        format!(
            "postgres://{user}:{password}@127.0.0.1:{}/postgres",
            self.port
        )
    }

    /// A PATH where the client programs are found first.
    pub fn path_env(&self) -> String {
        format!(
            "{}:{}",
            self.bin.display(),
            std::env::var("PATH").unwrap_or_default()
        )
    }

    fn client(&self, program: &str, db: &str) -> Command {
        let mut c = Command::new(self.bin.join(program));
        c.env_clear()
            .env("PGHOST", "127.0.0.1")
            .env("PGPORT", self.port.to_string())
            .env("PGUSER", "postgres")
            .env("PGPASSWORD", PASSWORD)
            .env("PGDATABASE", db);
        c
    }

    /// Runs SQL; returns psql's unaligned output.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        self.psql_as("postgres", PASSWORD, db, sql)
    }

    /// Runs SQL as another user; returns psql's unaligned output.
    pub fn psql_as(&self, user: &str, password: &str, db: &str, sql: &str) -> String {
        let out = self
            .client("psql", db)
            .env("PGUSER", user)
            .env("PGPASSWORD", password)
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// `pg_dump` of `db` in a format (`c`, `t` or `p`).
    pub fn dump(&self, db: &str, format: &str) -> Vec<u8> {
        self.dump_with(db, &[&format!("-F{format}")])
    }

    /// `pg_dump` of `db` with these arguments.
    pub fn dump_with(&self, db: &str, args: &[&str]) -> Vec<u8> {
        let out = self.client("pg_dump", db).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "pg_dump: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// Whether a database or a role of this name exists.
    pub fn exists(&self, name: &str) -> bool {
        let q = format!(
            "select (select count(*) from pg_database where datname = '{name}') + (select count(*) from pg_roles where rolname = '{name}')"
        );
        self.psql("postgres", &q) != "0"
    }
}
