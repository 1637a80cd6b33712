//! The `postgres` engine. The server comes from the URL in the variable `database-url-env`
//! names; on it a scratch database `dr_restore_<UTC YYYYMMDDhhmmss>` is created (from
//! `template0`, as restores should be; a name that exists already makes CREATE fail, so an
//! existing database is never restored into nor dropped). Custom and tar dumps (told apart by
//! their bytes) go through `pg_restore --no-owner --no-acl`, plain SQL through
//! `psql -v ON_ERROR_STOP=1` (behind [`SqlGuard`], which keeps a script in the scratch
//! database), both reading the stream on stdin. The scratch database is dropped
//! `WITH (FORCE)` afterwards, whatever happened.
//!
//! Every step, validation queries included, uses the real PostgreSQL client programs rather
//! than a Rust driver: `pg_restore` and `psql` are needed anyway, so there is one client whose
//! behaviour (authentication, TLS, `.pgpass`) users already know, and no second
//! protocol implementation to keep in step with it.
//!
//! The URL holds a password. It is never put on a command line (other users can read those in
//! `/proc`): it is split into the `PG*` variables libpq reads, given to the child processes
//! only. Every detail that quotes a client's output is passed through [`redact`] anyway.

use chrono::Utc;
use url::Url;

use tokio::io::AsyncRead;

use super::command::{Program, Ran, pipe_into};
use super::sql_guard::SqlGuard;
use super::validate::Cell;
use super::{EngineOutcome, Restored};
use crate::checks::CheckResult;
use crate::checks::format::Content;
use crate::config::Restore;
use crate::store::ObjectReader;
use crate::units::short_size;

/// Variables of the caller's environment that would change which server or database the
/// clients reach; the URL alone decides.
pub const INHERITED_PG_VARS: &[&str] = &[
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGUSER",
    "PGPASSWORD",
    "PGDATABASE",
    "PGSERVICE",
    "PGOPTIONS",
];

/// URL query parameters and the libpq variables that carry them.
const PARAMS: &[(&str, &str)] = &[
    ("host", "PGHOST"),
    ("hostaddr", "PGHOSTADDR"),
    ("port", "PGPORT"),
    ("user", "PGUSER"),
    ("password", "PGPASSWORD"),
    ("dbname", "PGDATABASE"),
    ("sslmode", "PGSSLMODE"),
    ("sslrootcert", "PGSSLROOTCERT"),
    ("sslcert", "PGSSLCERT"),
    ("sslkey", "PGSSLKEY"),
    ("sslcrl", "PGSSLCRL"),
    ("connect_timeout", "PGCONNECT_TIMEOUT"),
    ("application_name", "PGAPPNAME"),
    ("options", "PGOPTIONS"),
    ("target_session_attrs", "PGTARGETSESSIONATTRS"),
    ("channel_binding", "PGCHANNELBINDING"),
    ("gssencmode", "PGGSSENCMODE"),
    ("passfile", "PGPASSFILE"),
];

/// A PostgreSQL server, as libpq variables (the database left out).
#[derive(Clone, Debug)]
pub struct Server {
    env: Vec<(String, String)>,
    /// The database to connect to for CREATE / DROP.
    maintenance_db: String,
    /// `host:port`, for details (no credentials).
    shown: String,
    /// The URL with its path replaced by `{db}`-to-be (for `DR_RESTORE_DATABASE_URL`).
    url: Url,
    secrets: Vec<String>,
}

impl Server {
    /// Parses a `postgres://` / `postgresql://` URL. Errors never quote it.
    pub fn from_url(text: &str) -> Result<Server, String> {
        let url = Url::parse(text.trim()).map_err(|e| {
            format!("not a postgres:// URL ({e}); write it like postgres://user:password@host:5432/postgres")
        })?;
        if !matches!(url.scheme(), "postgres" | "postgresql") {
            return Err(format!(
                "the URL's scheme is `{}`, expected postgres:// or postgresql://",
                url.scheme()
            ));
        }
        let decode = |s: &str| {
            percent_decode(s).map_err(|_| "the URL has invalid percent-encoding".to_string())
        };
        let mut env: Vec<(String, String)> = vec![("PGCONNECT_TIMEOUT".into(), "10".into())];
        let mut set = |k: &str, v: String| {
            env.retain(|(key, _)| key != k);
            env.push((k.to_string(), v));
        };
        let mut secrets = vec![text.trim().to_string()];
        let mut host = url
            .host_str()
            .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_string())
            .filter(|h| !h.is_empty());
        if let Some(h) = &host {
            let h = decode(h)?;
            set("PGHOST", h.clone());
            host = Some(h);
        }
        if let Some(port) = url.port() {
            set("PGPORT", port.to_string());
        }
        if !url.username().is_empty() {
            set("PGUSER", decode(url.username())?);
        }
        if let Some(pw) = url.password() {
            let plain = decode(pw)?;
            secrets.push(pw.to_string());
            secrets.push(plain.clone());
            set("PGPASSWORD", plain);
        }
        let mut db = decode(url.path().trim_start_matches('/'))?;
        for (key, value) in url.query_pairs() {
            let Some((_, var)) = PARAMS.iter().find(|(k, _)| *k == key) else {
                return Err(format!(
                    "the URL's parameter `{key}` is not supported here (supported: {})",
                    PARAMS
                        .iter()
                        .map(|(k, _)| *k)
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            };
            match *var {
                "PGDATABASE" => db = value.into_owned(),
                "PGPASSWORD" => {
                    secrets.push(value.to_string());
                    set(var, value.into_owned());
                }
                "PGHOST" => {
                    host = Some(value.to_string());
                    set(var, value.into_owned());
                }
                _ => set(var, value.into_owned()),
            }
        }
        if db.is_empty() {
            db = "postgres".to_string();
        }
        let port = env
            .iter()
            .find(|(k, _)| k == "PGPORT")
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| "5432".into());
        let shown = format!("{}:{port}", host.as_deref().unwrap_or("local socket"));
        secrets.retain(|s| s.len() >= 3);
        Ok(Server {
            env,
            maintenance_db: db,
            shown,
            url,
            secrets,
        })
    }

    fn env_for(&self, db: &str) -> Vec<(String, String)> {
        let mut env = self.env.clone();
        env.push(("PGDATABASE".into(), db.to_string()));
        env
    }

    /// Runs `psql` on database `db` with `args` and optional stdin.
    async fn psql(
        &self,
        db: &str,
        args: &[&str],
        input: Option<&mut (dyn AsyncRead + Unpin + Send + '_)>,
    ) -> Result<Ran, String> {
        let mut argv = vec!["psql".to_string(), "-X".into(), "-q".into()];
        argv.extend(["-v".into(), "ON_ERROR_STOP=1".into()]);
        argv.extend(args.iter().map(|a| a.to_string()));
        let program = Program {
            argv: &argv,
            cwd: None,
            env: self.env_for(db),
            env_remove: INHERITED_PG_VARS,
        };
        pipe_into(&program, input)
            .await
            .map_err(|e| redact(&e, &self.secrets))
    }
}

/// A scratch database this run created, and the server it is on.
#[derive(Clone, Debug)]
pub struct Scratch {
    pub server: Server,
    pub name: String,
}

impl Scratch {
    /// What a validation command needs to reach the scratch database: the URL and `PG*`.
    pub fn env_for_commands(&self) -> Vec<(String, String)> {
        let mut url = self.server.url.clone();
        url.set_path(&format!("/{}", self.name));
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| k != "dbname")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if pairs.is_empty() {
            url.set_query(None);
        } else {
            url.query_pairs_mut().clear().extend_pairs(pairs);
        }
        let mut env = self.server.env_for(&self.name);
        env.push(("DR_RESTORE_DATABASE_URL".into(), url.to_string()));
        env.push(("DR_RESTORE_DATABASE".into(), self.name.clone()));
        env
    }

    pub fn secrets(&self) -> Vec<String> {
        self.server.secrets.clone()
    }
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

fn percent_decode(s: &str) -> Result<String, std::string::FromUtf8Error> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
}

/// The scratch database's name for a restore starting now.
pub fn scratch_name() -> String {
    format!("dr_restore_{}", Utc::now().format("%Y%m%d%H%M%S"))
}

/// Creates the scratch database, before the backup is read: a server that cannot be reached
/// fails the restore without downloading anything.
pub async fn create_scratch(restore: &Restore) -> Result<Scratch, String> {
    let var = restore.database_url_env.as_deref().ok_or(
        "engine: postgres needs `restore.database-url-env`: the variable holding the server's URL",
    )?;
    let url = match std::env::var(var) {
        Ok(u) if !u.trim().is_empty() => u,
        _ => {
            return Err(format!(
                "the variable {var} (restore.database-url-env) is not set; it must hold the server's URL, e.g. postgres://user:password@host:5432/postgres"
            ));
        }
    };
    let server = Server::from_url(&url).map_err(|e| format!("{var}: {e}"))?;
    let name = scratch_name();
    let create = format!("CREATE DATABASE \"{name}\" TEMPLATE template0");
    match server
        .psql(&server.maintenance_db, &["-c", &create], None)
        .await
    {
        Ok(ran) if ran.status.success() => Ok(Scratch { server, name }),
        Ok(ran) => Err(format!(
            "cannot create the scratch database {name} on {}: {}",
            server.shown,
            redact(&ran.describe(), &server.secrets)
        )),
        Err(e) => Err(format!(
            "cannot create the scratch database {name} on {}: {e}",
            server.shown
        )),
    }
}

/// Restores the stream into the scratch database with the tool its format needs.
pub async fn restore(
    scratch: &Scratch,
    kind: Content,
    content: &mut ObjectReader,
) -> EngineOutcome {
    let tool = match kind {
        Content::PgCustom | Content::Tar => "pg_restore",
        Content::Text => "psql",
        other => {
            return EngineOutcome::failed(format!(
                "engine: postgres restores pg_dump output (custom, tar or plain SQL), but the backup holds {}",
                other.name()
            ));
        }
    };
    let server = &scratch.server;
    let name = &scratch.name;
    let ran = if tool == "pg_restore" {
        let argv: Vec<String> = ["pg_restore", "--no-owner", "--no-acl", "-d", name]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let program = Program {
            argv: &argv,
            cwd: None,
            env: server.env_for(name),
            env_remove: INHERITED_PG_VARS,
        };
        pipe_into(&program, Some(content)).await
    } else {
        let (mut guarded, refusal) = SqlGuard::new(content);
        let ran = server.psql(name, &[], Some(&mut guarded)).await;
        if let Some(why) = refusal.get() {
            return EngineOutcome::failed(why);
        }
        ran
    };
    let check = match ran {
        Ok(ran) if ran.status.success() => CheckResult::pass(
            "restore",
            format!(
                "{} ({}) restored by {tool} into the scratch database {name} on {}",
                kind.name(),
                short_size(ran.fed),
                server.shown
            ),
        ),
        Ok(ran) => CheckResult::fail(
            "restore",
            format!(
                "{tool} into the scratch database {name} failed after {}: {}",
                short_size(ran.fed),
                redact(&ran.describe(), &server.secrets)
            ),
        ),
        Err(e) => CheckResult::fail("restore", redact(&e, &server.secrets)),
    };
    let restored = check.ok.then(|| Restored::Postgres(scratch.clone()));
    EngineOutcome {
        checks: vec![check],
        restored,
    }
}

/// The first column of the first row of `sql`, run by `psql` in the scratch database.
pub async fn query_first(scratch: &Scratch, sql: &str) -> Result<Cell, String> {
    // Unit and record separators cannot clash with ordinary values; NULL gets a marker no
    // value has.
    const NULL: &str = "\u{1}NULL\u{1}";
    let null = format!("null={NULL}");
    let args = [
        "-A", "-t", "-F", "\u{1f}", "-R", "\u{1e}", "-P", &null, "-c", sql,
    ];
    let server = &scratch.server;
    let argv_out = run_capturing(server, &scratch.name, &args).await?;
    let first_row = argv_out.split('\u{1e}').next().unwrap_or("");
    if argv_out.is_empty() {
        return Ok(Cell::NoRows);
    }
    let first = first_row.split('\u{1f}').next().unwrap_or("");
    let first = first.strip_suffix('\n').unwrap_or(first);
    Ok(if first == NULL {
        Cell::Null
    } else {
        Cell::Value(first.to_string())
    })
}

/// Runs `psql` and returns its stdout (bounded), or the redacted error.
async fn run_capturing(server: &Server, db: &str, args: &[&str]) -> Result<String, String> {
    use tokio::io::AsyncReadExt;
    let mut cmd = tokio::process::Command::new("psql");
    cmd.args(["-X", "-q", "-v", "ON_ERROR_STOP=1"])
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    for key in INHERITED_PG_VARS {
        cmd.env_remove(key);
    }
    cmd.envs(server.env_for(db));
    let mut child = cmd.spawn().map_err(|e| format!("cannot run `psql`: {e}"))?;
    // The first row is all that is compared; 1 MiB of it is plenty.
    let mut out = Vec::new();
    let mut err = Vec::new();
    let (Some(stdout), Some(mut stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err("psql's output could not be read".into());
    };
    let mut stdout = stdout.take(1 << 20);
    let (r1, r2) = tokio::join!(stdout.read_to_end(&mut out), stderr.read_to_end(&mut err));
    r1.and(r2)
        .map_err(|e| format!("reading psql's output failed: {e}"))?;
    let status = child
        .wait()
        .await
        .map_err(|e| format!("waiting for psql failed: {e}"))?;
    if !status.success() {
        return Err(redact(&super::tail(&err, 2048), &server.secrets));
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Drops the scratch database, forcing other sessions off it.
pub async fn drop_scratch(scratch: &Scratch) -> CheckResult {
    let server = &scratch.server;
    let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", scratch.name);
    match server
        .psql(&server.maintenance_db, &["-c", &sql], None)
        .await
    {
        Ok(ran) if ran.status.success() => CheckResult::pass(
            "cleanup",
            format!("dropped the scratch database {}", scratch.name),
        ),
        Ok(ran) => CheckResult::fail(
            "cleanup",
            format!(
                "dropping the scratch database {} failed: {}; drop it by hand",
                scratch.name,
                redact(&ran.describe(), &server.secrets)
            ),
        ),
        Err(e) => CheckResult::fail(
            "cleanup",
            format!(
                "dropping the scratch database {} failed: {e}; drop it by hand",
                scratch.name
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(s: &'a Server, k: &str) -> Option<&'a str> {
        s.env
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn a_url_becomes_libpq_variables() {
        let s =
            Server::from_url("postgres://dr%40ops:s3cr%2Ft@db.example:6543/admin?sslmode=require")
                .unwrap();
        assert_eq!(env(&s, "PGHOST"), Some("db.example"));
        assert_eq!(env(&s, "PGPORT"), Some("6543"));
        assert_eq!(env(&s, "PGUSER"), Some("dr@ops"));
        assert_eq!(env(&s, "PGPASSWORD"), Some("s3cr/t"));
        assert_eq!(env(&s, "PGSSLMODE"), Some("require"));
        assert_eq!(s.maintenance_db, "admin");
        assert_eq!(s.shown, "db.example:6543");
        let s = Server::from_url("postgresql://u@[::1]/").unwrap();
        assert_eq!(env(&s, "PGHOST"), Some("::1"));
        assert_eq!(s.maintenance_db, "postgres");
        let s = Server::from_url("postgres:///postgres?host=/run/postgresql").unwrap();
        assert_eq!(env(&s, "PGHOST"), Some("/run/postgresql"));
    }

    #[test]
    fn errors_and_redaction_never_show_the_password() {
        let url = "mysql://u:hunter22@h/db";
        let err = Server::from_url(url).unwrap_err();
        assert!(!err.contains("hunter22"), "{err}");
        let err = Server::from_url("postgres://u:hunter22@h/db?bogus=1").unwrap_err();
        assert!(!err.contains("hunter22") && err.contains("bogus"), "{err}");
        let s = Server::from_url("postgres://u:hunter%2122@h/db").unwrap();
        let text = "failed for postgres://u:hunter%2122@h/db and hunter!22 and hunter%2122";
        let r = redact(text, &s.secrets);
        assert!(!r.contains("hunter"), "{r}");
    }

    #[test]
    fn commands_get_a_url_to_the_scratch_database() {
        let server = Server::from_url("postgres://u:pw1@h:5/postgres?sslmode=disable").unwrap();
        let scratch = Scratch {
            server,
            name: "dr_restore_20260101000000".into(),
        };
        let env = scratch.env_for_commands();
        let url = &env
            .iter()
            .find(|(k, _)| k == "DR_RESTORE_DATABASE_URL")
            .unwrap()
            .1;
        assert_eq!(
            url,
            "postgres://u:pw1@h:5/dr_restore_20260101000000?sslmode=disable"
        );
        assert!(scratch_name().starts_with("dr_restore_20"));
        assert_eq!(scratch_name().len(), "dr_restore_".len() + 14);
    }
}
