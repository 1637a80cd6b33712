//! The `postgres` engine. A backup is untrusted input, and a dump is a program: the restore is
//! built so that nothing a dump holds runs with more than the rights of a throwaway role on a
//! throwaway database.
//!
//! - The server is the one in the URL `database-url-env` names (a shared server), or, without
//!   it, a private cluster started for this restore alone ([`pg_cluster`]).
//! - Its admin connection only prepares and cleans up: it creates a role for this run (LOGIN,
//!   random password, no SUPERUSER / CREATEDB / CREATEROLE / REPLICATION / BYPASSRLS) and a
//!   scratch database owned by it, `dr_restore_<UTC YYYYMMDDhhmmss>_<random>` (unique, so two
//!   restores never meet, and an existing database is never restored into), plus the
//!   `restore.extensions`. Afterwards it drops both, `WITH (FORCE)`, whatever happened.
//! - Both carry a [`Marker`] (`COMMENT ON DATABASE` / `ON ROLE`: the run, its start, how long
//!   it may run), so a run killed before its cleanup leaves something recognisable: on a shared
//!   server a restore first drops the scratch databases and roles whose marker says they are
//!   past their run's limit. A database or role without the marker is never touched.
//! - `pg_restore --no-owner --no-acl` (custom and tar dumps) and `psql` (plain SQL), the SQL
//!   validations and the validation commands all connect as that role.
//! - psql never obeys a meta-command from the dump: the script it reads starts with
//!   `\restrict <a fresh random key>`, and the dump's own `\restrict` / `\unrestrict` lines
//!   (whose key the dump's author knows) are removed by [`SqlGuard`], which also refuses the
//!   obvious attacks early with a clear detail. A psql without `\restrict` is refused.
//! - Every program runs with a cleared environment ([`pg_tools`]).
//!
//! Every step uses the real PostgreSQL client programs rather than a Rust driver: `pg_restore`
//! and `psql` are needed anyway, so there is one client whose behaviour (authentication, TLS)
//! users already know. Every detail that quotes a client's output goes through [`redact`].
//!
//! [`pg_cluster`]: super::pg_cluster
//! [`pg_tools`]: super::pg_tools

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::io::{AsyncBufRead, AsyncReadExt};

use super::engine::{Cell, EngineOutcome, Restored};
use super::pg_cluster::{Cluster, SERVER_PROGRAMS};
use super::pg_tools::Tools;
use super::pg_url::Server;
use super::pg_version;
use super::sql_guard::SqlGuard;
use super::token::random_token;
use crate::cancel::Cancel;
use crate::checks::format::Content;
use crate::checks::stream::ContentReader;
use crate::config::Restore;
use crate::process::{self, Program, Ran, redact};
use crate::report::Check;
use crate::units::short_size;

/// The client programs every restore needs.
const CLIENT_PROGRAMS: &[&str] = &["psql", "pg_restore"];

/// A scratch database and the role it belongs to, on the server this run prepared.
#[derive(Clone)]
pub struct Scratch {
    admin: Server,
    tools: Tools,
    pub name: String,
    pub role: String,
    role_password: String,
    /// The server's major version.
    major: u32,
    /// The admin created `restore.extensions` in the scratch database.
    has_extensions: bool,
    /// The clients' `HOME`; deleted with the last clone.
    _home: Arc<tempfile::TempDir>,
    cluster: Option<Arc<Cluster>>,
}

impl Scratch {
    /// What a validation command needs to reach the scratch database, as its role.
    pub fn env_for_commands(&self) -> Vec<(String, String)> {
        let mut env = self.role_env();
        env.push((
            "DR_RESTORE_DATABASE_URL".into(),
            self.admin
                .url_as(&self.role, &self.role_password, &self.name),
        ));
        env.push(("DR_RESTORE_DATABASE".into(), self.name.clone()));
        env
    }

    pub fn secrets(&self) -> Vec<String> {
        let mut secrets = self.admin.secrets.clone();
        secrets.push(self.role_password.clone());
        secrets
    }

    fn role_env(&self) -> Vec<(String, String)> {
        self.admin
            .env_as(&self.role, &self.role_password, &self.name)
    }

    /// Runs a client program with `args` and the `PG*` variables `pg`, feeding it `input`.
    async fn client(
        &self,
        name: &str,
        args: &[&str],
        pg: Vec<(String, String)>,
        input: Option<&mut (dyn AsyncBufRead + Unpin + Send + '_)>,
        stdout_max: usize,
    ) -> Result<Ran, String> {
        let mut argv = vec![self.tools.program(name)];
        if name == "psql" {
            argv.extend(["--no-psqlrc", "-q", "-v", "ON_ERROR_STOP=1"].map(String::from));
        }
        argv.extend(args.iter().map(|a| a.to_string()));
        let mut program = Program::new(&argv, self.tools.env(pg));
        program.stdout_max = stdout_max;
        process::run(&program, input)
            .await
            .map_err(|e| redact(&e, &self.secrets()))
    }
}

/// What the `postgres` engine leaves: the scratch database, reached as its role.
#[async_trait]
impl Restored for Scratch {
    async fn query_first(&self, sql: &str) -> Result<Cell, String> {
        query_first(self, sql).await
    }

    fn command_env(&self) -> Vec<(String, String)> {
        self.env_for_commands()
    }

    fn secrets(&self) -> Vec<String> {
        Scratch::secrets(self)
    }
}

/// What every marker starts with; nothing else is read as one.
const MARKER_PREFIX: &str = "dr-action scratch v1";

/// How long a scratch database of a target without an rto may live: such a restore has no
/// deadline, so this is the guess of when its run must be dead.
const STALE_WITHOUT_RTO: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// How long past its limit a scratch database is still left alone: its run, stopped at the
/// limit, still has its own cleanup to do, the marker's time is cut to the second, and the
/// runner that wrote it may have a clock a little ahead of this one's.
const STALE_GRACE: std::time::Duration = std::time::Duration::from_secs(300);

/// The comment on a scratch database and its role: which run made it, when, and after how long
/// it is certainly abandoned (3× its target's rto, when the run stops the restore). A later
/// restore judges staleness by the creator's own limit, so a restore of a target with a long
/// rto is never dropped by one with a short rto running beside it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Marker {
    pub run_id: String,
    pub started: DateTime<Utc>,
    pub stale_after: std::time::Duration,
}

impl Marker {
    /// `limit` is how long the restore may run (3× the rto), when it has one.
    pub fn new(run_id: &str, started: DateTime<Utc>, limit: Option<std::time::Duration>) -> Self {
        Marker {
            // One word in the comment: a run id has no spaces, but an odd one must not make
            // the marker unreadable.
            run_id: run_id
                .chars()
                .map(|c| if c.is_ascii_graphic() { c } else { '_' })
                .collect(),
            started,
            stale_after: limit.unwrap_or(STALE_WITHOUT_RTO),
        }
    }

    /// `dr-action scratch v1 run=123 started=2026-12-01T03:58:31Z stale-after=1800`.
    pub fn comment(&self) -> String {
        format!(
            "{MARKER_PREFIX} run={} started={} stale-after={}",
            self.run_id,
            self.started
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            self.stale_after.as_secs()
        )
    }

    /// The marker a comment holds; `None` for any other comment.
    pub fn parse(comment: &str) -> Option<Marker> {
        let rest = comment.strip_prefix(MARKER_PREFIX)?.strip_prefix(' ')?;
        let (mut run_id, mut started, mut stale_after) = (None, None, None);
        for word in rest.split(' ') {
            match word.split_once('=')? {
                ("run", v) => run_id = Some(v.to_string()),
                ("started", v) => {
                    started = Some(DateTime::parse_from_rfc3339(v).ok()?.with_timezone(&Utc))
                }
                ("stale-after", v) => {
                    stale_after = Some(std::time::Duration::from_secs(v.parse().ok()?))
                }
                _ => return None,
            }
        }
        Some(Marker {
            run_id: run_id?,
            started: started?,
            stale_after: stale_after?,
        })
    }

    /// Past its run's limit at `now`, with [`STALE_GRACE`] to spare.
    pub fn is_stale(&self, now: DateTime<Utc>) -> bool {
        chrono::Duration::from_std(self.stale_after + STALE_GRACE)
            .ok()
            .and_then(|d| self.started.checked_add_signed(d))
            .is_some_and(|end| end < now)
    }
}

/// The scratch database's and the role's names for a restore starting now.
pub fn scratch_names() -> Result<(String, String), String> {
    let stamp = Utc::now().format("%Y%m%d%H%M%S");
    let suffix = random_token(8)?;
    Ok((
        format!("dr_restore_{stamp}_{suffix}"),
        format!("dr_restore_role_{stamp}_{suffix}"),
    ))
}

/// `"name"`, for SQL.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Prepares the scratch database, before the backup is read: a server that cannot be reached,
/// or an admin without the rights to prepare, fails the restore without downloading anything.
/// Also returns the `stale-scratch` check when stale scratch databases or roles of earlier runs
/// were found on a shared server.
pub async fn create_scratch(
    restore: &Restore,
    database_url: Option<&secrecy::SecretString>,
    marker: &Marker,
    cancel: &Cancel,
    path: Option<&str>,
) -> Result<(Scratch, Option<Check>), String> {
    let home = tempfile::Builder::new()
        .prefix("dr-pg-home-")
        .tempdir()
        .map_err(|e| format!("creating a temporary folder failed: {e}"))?;
    let (admin, cluster, tools) = match restore.database_url_env.as_deref() {
        Some(var) => {
            let url = match database_url.map(secrecy::ExposeSecret::expose_secret) {
                Some(u) if !u.trim().is_empty() => u,
                _ => {
                    return Err(format!(
                        "the variable {var} (restore.database-url-env) is not set; it must hold the server's URL, e.g. postgres://user:password@host:5432/postgres (or omit database-url-env to restore into a private cluster)"
                    ));
                }
            };
            let admin = Server::from_url(url).map_err(|e| format!("{var}: {e}"))?;
            let tools = Tools::find(CLIENT_PROGRAMS, home.path(), path).await?;
            (admin, None, tools)
        }
        None => {
            let needed: Vec<&str> = CLIENT_PROGRAMS
                .iter()
                .chain(SERVER_PROGRAMS)
                .copied()
                .collect();
            let tools = Tools::find(&needed, home.path(), path).await?;
            // Starting takes seconds (initdb); a signal stops it at once, and the cluster's
            // drop stops whatever part of it runs and deletes its folder.
            let cluster = tokio::select! {
                biased;
                _ = cancel.cancelled() => {
                    return Err(format!(
                        "cancelled by {} while the private PostgreSQL cluster was starting",
                        cancel.signal_name()
                    ));
                }
                started = Cluster::start(&tools) => started,
            }
            .map_err(|e| format!("cannot start a private PostgreSQL cluster: {e}"))?;
            let mut admin = Server::from_url(&cluster.url)?;
            admin.shown = "a private PostgreSQL cluster".into();
            (admin, Some(Arc::new(cluster)), tools)
        }
    };
    let (name, role) = scratch_names()?;
    let mut scratch = Scratch {
        admin,
        tools,
        name,
        role,
        role_password: random_token(32)?,
        major: 0,
        has_extensions: !restore.extensions.is_empty(),
        _home: Arc::new(home),
        cluster,
    };
    match prepare(&mut scratch, &restore.extensions, marker).await {
        Ok(stale) => Ok((scratch, stale)),
        Err(e) => {
            // Whatever part was made goes again; a failure there is worth saying too.
            let cleanup = drop_scratch(&scratch).await;
            let detail = redact(&e, &scratch.secrets());
            Err(if cleanup.ok {
                detail
            } else {
                format!("{detail}; {}", cleanup.detail)
            })
        }
    }
}

/// What the admin connection may do, and the server's version.
struct Admin {
    superuser: bool,
    create_role: bool,
    create_db: bool,
    major: u32,
    user: String,
}

async fn admin_rights(scratch: &Scratch) -> Result<Admin, String> {
    let admin = &scratch.admin;
    let sql = "select r.rolsuper, r.rolcreaterole, r.rolcreatedb, current_setting('server_version_num'), current_user from pg_roles r where r.rolname = current_user";
    let ran = scratch
        .client(
            "psql",
            &["-A", "-t", "-F", ",", "-c", sql],
            admin.env_admin(&admin.maintenance_db),
            None,
            4096,
        )
        .await
        .map_err(|e| format!("cannot reach {}: {e}", admin.shown))?;
    if !ran.status.success() {
        return Err(format!("cannot reach {}: {}", admin.shown, ran.describe()));
    }
    let out = String::from_utf8_lossy(&ran.stdout).trim().to_string();
    let f: Vec<&str> = out.splitn(5, ',').collect();
    let [superuser, create_role, create_db, version, user] = f[..] else {
        return Err(format!("unexpected answer from {}: `{out}`", admin.shown));
    };
    Ok(Admin {
        superuser: superuser == "t",
        create_role: create_role == "t",
        create_db: create_db == "t",
        major: version.parse::<u32>().unwrap_or(0) / 10000,
        user: user.to_string(),
    })
}

/// Drops the stale scratch databases and roles of earlier runs (shared server only), then
/// creates the role, the database it owns (both marked) and the extensions.
async fn prepare(
    scratch: &mut Scratch,
    extensions: &[String],
    marker: &Marker,
) -> Result<Option<Check>, String> {
    let rights = admin_rights(scratch).await?;
    scratch.major = rights.major;
    let shown = &scratch.admin.shown;
    let missing: Vec<&str> = [
        (!rights.superuser && !rights.create_role).then_some("CREATEROLE"),
        (!rights.superuser && !rights.create_db).then_some("CREATEDB"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !missing.is_empty() {
        return Err(format!(
            "the user {} on {shown} lacks {}: a restore runs the dump as a throwaway role in a database owned by it, so the URL's user needs CREATEDB and CREATEROLE (ALTER ROLE {} CREATEDB CREATEROLE), or omit database-url-env to restore into a private cluster dr-action starts itself",
            rights.user,
            missing.join(" and "),
            ident(&rights.user)
        ));
    }
    // A private cluster is new: nothing of an earlier run can be on it.
    let stale = match scratch.cluster {
        Some(_) => None,
        None => sweep_stale(scratch, Utc::now()).await,
    };
    let (db, role) = (ident(&scratch.name), ident(&scratch.role));
    let password = scratch.role_password.replace('\'', "''");
    let comment = literal(&marker.comment());
    // Membership lets a non-superuser admin name the role as the owner (and drop it later).
    let script = format!(
        "CREATE ROLE {role} LOGIN PASSWORD '{password}' NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;\n\
         COMMENT ON ROLE {role} IS {comment};\n\
         GRANT {role} TO CURRENT_USER;\n\
         CREATE DATABASE {db} OWNER {role} TEMPLATE template0 ENCODING 'UTF8';\n\
         COMMENT ON DATABASE {db} IS {comment};\n\
         REVOKE ALL ON DATABASE {db} FROM PUBLIC;\n"
    );
    let admin_env = scratch.admin.env_admin(&scratch.admin.maintenance_db);
    run_script(scratch, &script, admin_env).await.map_err(|e| {
        format!(
            "cannot create the scratch database {} and its role on {shown}: {e}",
            scratch.name
        )
    })?;
    if !extensions.is_empty() {
        let script: String = extensions
            .iter()
            .map(|e| format!("CREATE EXTENSION IF NOT EXISTS {};\n", ident(e)))
            .collect();
        let env = scratch.admin.env_admin(&scratch.name);
        run_script(scratch, &script, env).await.map_err(|e| {
            format!("cannot create the extensions of restore.extensions on {shown}: {e}")
        })?;
    }
    Ok(stale)
}

/// `'text'`, for SQL.
fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The names a scratch database and its role have, as PostgreSQL regular expressions: only
/// these are looked at, and only with a marker.
const SCRATCH_DB_RE: &str = "^dr_restore_[0-9]{14}_[A-Za-z0-9]{8}$";
const SCRATCH_ROLE_RE: &str = "^dr_restore_role_[0-9]{14}_[A-Za-z0-9]{8}$";

/// Finds the scratch databases and roles whose marker says their run is past its limit, and
/// drops them; `None` when there were none. Anything without a marker is left alone.
async fn sweep_stale(scratch: &Scratch, now: DateTime<Utc>) -> Option<Check> {
    const NAME: &str = "stale-scratch";
    let shown = &scratch.admin.shown;
    let sql = format!(
        "SELECT 'database', datname, shobj_description(oid, 'pg_database') FROM pg_database \
         WHERE datname ~ '{SCRATCH_DB_RE}' AND shobj_description(oid, 'pg_database') LIKE '{MARKER_PREFIX} %' \
         UNION ALL \
         SELECT 'role', rolname, shobj_description(oid, 'pg_authid') FROM pg_roles \
         WHERE rolname ~ '{SCRATCH_ROLE_RE}' AND shobj_description(oid, 'pg_authid') LIKE '{MARKER_PREFIX} %'"
    );
    let admin = &scratch.admin;
    let listed = scratch
        .client(
            "psql",
            &["-A", "-t", "-F", "\u{1f}", "-R", "\u{1e}", "-c", &sql],
            admin.env_admin(&admin.maintenance_db),
            None,
            1 << 20,
        )
        .await;
    let out = match listed {
        Ok(ran) if ran.status.success() => String::from_utf8_lossy(&ran.stdout).into_owned(),
        Ok(ran) => {
            return Some(Check::fail(
                NAME,
                format!(
                    "could not look for stale scratch databases on {shown}: {}",
                    redact(&ran.describe(), &scratch.secrets())
                ),
            ));
        }
        Err(e) => {
            return Some(Check::fail(
                NAME,
                format!("could not look for stale scratch databases on {shown}: {e}"),
            ));
        }
    };
    // (kind, name, marker) of each stale one; databases first, so their role can go after.
    let mut stale: Vec<(String, String, Marker)> = out
        .split('\u{1e}')
        .filter_map(|row| {
            let mut f = row.trim_start_matches('\n').splitn(3, '\u{1f}');
            let (kind, name, comment) = (f.next()?, f.next()?, f.next()?);
            let marker = Marker::parse(comment.trim_end_matches('\n'))?;
            marker
                .is_stale(now)
                .then(|| (kind.to_string(), name.to_string(), marker))
        })
        .collect();
    if stale.is_empty() {
        return None;
    }
    stale.sort_by_key(|(kind, _, _)| kind != "database");
    let mut script = String::from("\\set ON_ERROR_STOP 0\n");
    for (kind, name, _) in &stale {
        let id = ident(name);
        if kind == "database" {
            script.push_str(&format!(
                "ALTER DATABASE {id} IS_TEMPLATE false;\nDROP DATABASE IF EXISTS {id} WITH (FORCE);\n"
            ));
        } else {
            script.push_str(&format!("DROP ROLE IF EXISTS {id};\n"));
        }
    }
    let names: Vec<String> = stale.iter().map(|(_, n, _)| literal(n)).collect();
    script.push_str(&format!(
        "\\set ON_ERROR_STOP 1\n\
         SELECT datname FROM pg_database WHERE datname IN ({0}) UNION ALL SELECT rolname FROM pg_roles WHERE rolname IN ({0});\n",
        names.join(", ")
    ));
    let mut input = std::io::Cursor::new(script.into_bytes());
    let dropped = scratch
        .client(
            "psql",
            &["-A", "-t"],
            admin.env_admin(&admin.maintenance_db),
            Some(&mut input),
            1 << 20,
        )
        .await;
    let left: Vec<String> = match &dropped {
        Ok(ran) if ran.status.success() => String::from_utf8_lossy(&ran.stdout)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect(),
        _ => stale.iter().map(|(_, n, _)| n.clone()).collect(),
    };
    let told: Vec<String> = stale
        .iter()
        .filter(|(_, n, _)| !left.contains(n))
        .map(|(kind, name, m)| {
            format!(
                "the {kind} {name} (run {}, started {}, limit {})",
                m.run_id,
                m.started.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                crate::units::short_duration(m.stale_after.as_secs())
            )
        })
        .collect();
    let gone = if told.is_empty() {
        String::new()
    } else {
        format!(
            "dropped what earlier runs left on {shown} past their limit: {}",
            told.join("; ")
        )
    };
    Some(if left.is_empty() {
        Check::pass(NAME, gone)
    } else {
        let why = match &dropped {
            Ok(ran) if !ran.status.success() => {
                format!(" ({})", redact(&ran.describe(), &scratch.secrets()))
            }
            Err(e) => format!(" ({e})"),
            _ => String::new(),
        };
        let sep = if gone.is_empty() { "" } else { "; " };
        Check::fail(
            NAME,
            format!(
                "{gone}{sep}could not drop the stale scratch {} of earlier runs on {shown}{why}; drop them by hand",
                left.join(", ")
            ),
        )
    })
}

/// Runs an SQL script of ours through psql on stdin (so no password is on a command line).
async fn run_script(
    scratch: &Scratch,
    script: &str,
    env: Vec<(String, String)>,
) -> Result<(), String> {
    let mut input = std::io::Cursor::new(script.as_bytes().to_vec());
    let ran = scratch
        .client("psql", &[], env, Some(&mut input), 0)
        .await?;
    if ran.status.success() {
        Ok(())
    } else {
        Err(redact(&ran.describe(), &scratch.secrets()))
    }
}

/// Restores the stream into the scratch database with the tool its format needs; `head` is
/// the stream's first bytes, for the dump's version.
pub async fn restore(
    scratch: &Scratch,
    kind: Content,
    head: &[u8],
    content: &mut ContentReader,
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
    let name = &scratch.name;
    let shown = &scratch.admin.shown;
    if let Some(dumped) = pg_version::dump_source_major(head)
        && scratch.major > 0
        && dumped > scratch.major
    {
        return EngineOutcome::failed(format!(
            "the dump comes from PostgreSQL {dumped}, and {shown} runs PostgreSQL {}: restore it into PostgreSQL {dumped} or newer",
            scratch.major
        ));
    }
    let ran = if tool == "pg_restore" {
        let mut args = vec!["--no-owner", "--no-acl"];
        // The extensions the admin created belong to it, so the role may not comment on them;
        // pg_restore cannot leave out just those comments from a stream.
        if scratch.has_extensions {
            args.push("--no-comments");
        }
        args.extend(["-d", name.as_str()]);
        scratch
            .client("pg_restore", &args, scratch.role_env(), Some(content), 0)
            .await
    } else {
        match scratch.tools.version("psql").await {
            Ok(v) if v.has_restrict() => {}
            Ok(v) => {
                return EngineOutcome::failed(format!(
                    "psql {v} (in {}) cannot be kept from obeying the meta-commands a plain SQL dump may hold (it has no \\restrict): install psql 13.22, 14.19, 15.14, 16.10, 17.6 or newer",
                    scratch.tools.bindir.display()
                ));
            }
            Err(e) => return EngineOutcome::failed(format!("cannot tell psql's version: {e}")),
        }
        let key = match random_token(32) {
            Ok(k) => k,
            Err(e) => return EngineOutcome::failed(e),
        };
        let (guarded, refusal) = SqlGuard::new(content);
        let first = format!("\\restrict {key}\n").into_bytes();
        let mut script = tokio::io::BufReader::with_capacity(
            crate::checks::stream::pipe::CHUNK,
            std::io::Cursor::new(first).chain(guarded),
        );
        let ran = scratch
            .client("psql", &[], scratch.role_env(), Some(&mut script), 0)
            .await;
        if let Some(why) = refusal.get() {
            return EngineOutcome::failed(why);
        }
        ran
    };
    let secrets = scratch.secrets();
    let check = match ran {
        Ok(ran) if ran.status.success() => Check::pass(
            "restore",
            format!(
                "{} ({}) restored by {tool} into the scratch database {name} on {shown}, as the role {}",
                kind.name(),
                short_size(ran.fed),
                scratch.role
            ),
        ),
        Ok(ran) => Check::fail(
            "restore",
            format!(
                "{tool} into the scratch database {name} failed after {}: {}",
                short_size(ran.fed),
                redact(&ran.describe(), &secrets)
            ),
        ),
        Err(e) => Check::fail("restore", redact(&e, &secrets)),
    };
    let restored = check
        .ok
        .then(|| Box::new(scratch.clone()) as Box<dyn Restored>);
    EngineOutcome {
        checks: vec![check],
        restored,
    }
}

/// The first column of the first row of `sql`, run by `psql` in the scratch database as its
/// role.
pub async fn query_first(scratch: &Scratch, sql: &str) -> Result<Cell, String> {
    // Unit and record separators cannot clash with ordinary values; NULL gets a marker no
    // value has.
    const NULL: &str = "\u{1}NULL\u{1}";
    let null = format!("null={NULL}");
    let args = [
        "-A", "-t", "-F", "\u{1f}", "-R", "\u{1e}", "-P", &null, "-c", sql,
    ];
    // The first row is all that is compared; 1 MiB of it is plenty.
    let ran = scratch
        .client("psql", &args, scratch.role_env(), None, 1 << 20)
        .await?;
    if !ran.status.success() {
        return Err(redact(&ran.stderr, &scratch.secrets()));
    }
    let out = String::from_utf8_lossy(&ran.stdout);
    if out.is_empty() {
        return Ok(Cell::NoRows);
    }
    let first_row = out.split('\u{1e}').next().unwrap_or("");
    let first = first_row.split('\u{1f}').next().unwrap_or("");
    let first = first.strip_suffix('\n').unwrap_or(first);
    Ok(if first == NULL {
        Cell::Null
    } else {
        Cell::Value(first.to_string())
    })
}

/// Drops the scratch database and its role, forcing the role's sessions off, then stops a
/// private cluster. Every statement runs even when one before it failed; what is left is then
/// looked up, so the check says exactly what remains.
pub async fn drop_scratch(scratch: &Scratch) -> Check {
    let (db, role) = (ident(&scratch.name), ident(&scratch.role));
    // A dump may have made its database a template, which DROP DATABASE refuses.
    let script = format!(
        "\\set ON_ERROR_STOP 0\n\
         ALTER DATABASE {db} IS_TEMPLATE false;\n\
         DROP DATABASE IF EXISTS {db} WITH (FORCE);\n\
         DROP ROLE IF EXISTS {role};\n\
         \\set ON_ERROR_STOP 1\n\
         SELECT (SELECT count(*) FROM pg_database WHERE datname = {}) || ',' || (SELECT count(*) FROM pg_roles WHERE rolname = {});\n",
        literal(&scratch.name),
        literal(&scratch.role)
    );
    let admin = &scratch.admin;
    let mut input = std::io::Cursor::new(script.into_bytes());
    let ran = scratch
        .client(
            "psql",
            &["-A", "-t"],
            admin.env_admin(&admin.maintenance_db),
            Some(&mut input),
            4096,
        )
        .await;
    let left = match &ran {
        Ok(ran) if ran.status.success() => {
            let out = String::from_utf8_lossy(&ran.stdout);
            match out.trim().lines().last() {
                Some("0,0") => None,
                Some("1,0") => Some(format!("the scratch database {}", scratch.name)),
                Some("0,1") => Some(format!("the role {}", scratch.role)),
                _ => Some(format!(
                    "the scratch database {} and the role {}",
                    scratch.name, scratch.role
                )),
            }
        }
        Ok(ran) => Some(format!(
            "the scratch database {} and the role {} ({})",
            scratch.name,
            scratch.role,
            redact(&ran.describe(), &scratch.secrets())
        )),
        Err(e) => Some(format!(
            "the scratch database {} and the role {} ({e})",
            scratch.name, scratch.role
        )),
    };
    let stopped = match &scratch.cluster {
        Some(cluster) => Some(cluster.stop().await),
        None => None,
    };
    match (left, stopped) {
        (_, Some(Err(e))) => Check::fail("cleanup", e),
        // The private cluster is gone with all it held.
        (_, Some(Ok(()))) => Check::pass(
            "cleanup",
            format!(
                "stopped and deleted the private cluster with the scratch database {}",
                scratch.name
            ),
        ),
        (None, None) => Check::pass(
            "cleanup",
            format!(
                "dropped the scratch database {} and the role {}",
                scratch.name, scratch.role
            ),
        ),
        (Some(left), None) => Check::fail(
            "cleanup",
            format!(
                "dropping failed: {left} still exist on {}; drop them by hand",
                admin.shown
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_names_are_unique_and_fit_postgres_identifiers() {
        let (db, role) = scratch_names().unwrap();
        let (db2, _) = scratch_names().unwrap();
        assert_ne!(db, db2);
        assert!(db.starts_with("dr_restore_20"), "{db}");
        assert_eq!(db.len(), "dr_restore_".len() + 14 + 1 + 8);
        assert_eq!(role, db.replace("dr_restore_", "dr_restore_role_"));
        assert!(role.len() < 64);
        assert!(
            random_token(32)
                .unwrap()
                .chars()
                .all(|c| c.is_ascii_alphanumeric())
        );
    }

    #[test]
    fn a_marker_reads_back_and_is_stale_only_past_its_own_limit() {
        use chrono::TimeZone;
        let started = Utc.with_ymd_and_hms(2026, 12, 1, 3, 0, 0).unwrap();
        let limit = std::time::Duration::from_secs(1800);
        let m = Marker::new("123", started, Some(limit));
        assert_eq!(
            m.comment(),
            "dr-action scratch v1 run=123 started=2026-12-01T03:00:00Z stale-after=1800"
        );
        assert_eq!(Marker::parse(&m.comment()), Some(m.clone()));
        // Its limit, plus the grace a live run's cleanup and clock skew need.
        assert!(!m.is_stale(started + chrono::Duration::seconds(1800 + 300)));
        assert!(m.is_stale(started + chrono::Duration::seconds(1800 + 301)));
        // Without an rto, a day.
        let day = Marker::new("local-1", started, None);
        assert_eq!(day.stale_after.as_secs(), 86_400);
        // A run id cannot break the comment into more words.
        assert_eq!(Marker::new("a b\nc", started, None).run_id, "a_b_c");
    }

    #[test]
    fn only_our_exact_marker_is_a_marker() {
        for comment in [
            "",
            "restored by hand",
            "not dr-action scratch v1 run=1 started=2020-01-01T00:00:00Z stale-after=1",
            "dr-action scratch v2 run=1 started=2020-01-01T00:00:00Z stale-after=1",
            "dr-action scratch v1 run=1 started=yesterday stale-after=1",
            "dr-action scratch v1 run=1 started=2020-01-01T00:00:00Z",
            "dr-action scratch v1 run=1 started=2020-01-01T00:00:00Z stale-after=1 extra=2",
        ] {
            assert_eq!(Marker::parse(comment), None, "{comment}");
        }
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
    }
}
