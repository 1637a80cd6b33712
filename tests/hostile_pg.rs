//! Hostile dumps against every way `engine: postgres` reaches a server: a superuser URL, a
//! CREATEDB + CREATEROLE (non-superuser) URL, a CREATEDB-only URL (refused before anything is
//! made) and no URL at all (a private cluster). The plain-SQL attacks are the files of
//! `tests/corpus/sql/` (`@OUT@` replaced by a world-writable folder, so a write by the server's
//! OS user or by a shell psql started would land there); the custom-format one is made by the
//! real pg_dump from a database whose materialized view calls a function running
//! `COPY … TO PROGRAM`.
//!
//! After every restore: nothing was written to that folder, no runner secret shows in the
//! output or the report, the `victim` database, the roles, the server's settings and the admin
//! passwords are as they were, no scratch database or role is left, and (private cluster) the
//! cluster's server is stopped and its folder gone.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::postgres::{PASSWORD, cluster};
use crate::restore::{check, config, failed, gzip, put, quarterly};
use crate::restore_pg::{assert_no_password, no_scratch_left};
use crate::util::{Dir, Run};

/// Secrets in dr-action's environment that nothing a dump triggers may reach.
const CANARIES: &[(&str, &str)] = &[
    ("GITHUB_TOKEN", "ghs_canary0token"),
    ("AWS_SECRET_ACCESS_KEY", "aws0canary0secret"),
    (
        "SLACK_WEBHOOK_URL",
        "https://hooks.slack.com/services/canary0hook",
    ),
];

/// A non-superuser admin that may create databases and roles.
pub const CREATOR: (&str, &str) = ("dr_creator", "creator-pw");
/// An admin that may create databases only.
const DB_ONLY: (&str, &str) = ("dr_dbonly", "dbonly-pw");

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Superuser,
    Creator,
    CreateDbOnly,
    Private,
}

/// The victim database, the admin roles and the custom-format hostile dump, made once.
pub struct Setup {
    /// A pg_dump -Fc of a database whose materialized view runs `COPY … TO PROGRAM`.
    matview_dump: Vec<u8>,
    /// Where that program would write.
    matview_out: PathBuf,
}

pub fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let pg = cluster();
        pg.psql("postgres", "create database victim");
        pg.psql(
            "victim",
            "create table precious (id int); insert into precious values (1), (2), (3)",
        );
        for ((name, pw), rights) in [(CREATOR, "createdb createrole"), (DB_ONLY, "createdb")] {
            pg.psql(
                "postgres",
                &format!("create role {name} login password '{pw}' {rights}"),
            );
        }
        // Kept for the whole test process: the dump names it.
        let matview_out = world_writable().keep();
        pg.psql("postgres", "create database hostile_src");
        // The view is made while the function is harmless; the dump then holds the harmful
        // body and a REFRESH, which runs it during pg_restore.
        pg.psql(
            "hostile_src",
            &format!(
                "create function evil() returns int language plpgsql as $$ begin return 1; end $$;
                 create materialized view mv as select evil() as x;
                 create or replace function evil() returns int language plpgsql as $$
                 begin execute 'COPY (SELECT 1) TO PROGRAM ''env > {}/matview'''; return 1; end $$;",
                matview_out.display()
            ),
        );
        let matview_dump = pg.dump("hostile_src", "c");
        Setup {
            matview_dump,
            matview_out,
        }
    })
}

/// A folder anyone may write to, so an escaped write would land.
fn world_writable() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("dr-hostile-out-")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    dir
}

/// A `TMPDIR` for a run with a private cluster: the server's OS user (when the tests run as
/// root) must reach its folder inside, and the folder must be empty once the run is over.
pub fn private_tmpdir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("dr-private-tmp-")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
    dir
}

/// The private cluster's folder is deleted and no process runs from it.
pub fn assert_private_cluster_gone(tmp: &Path) {
    let left: Vec<_> = std::fs::read_dir(tmp).unwrap().collect();
    assert!(left.is_empty(), "left in {}: {left:?}", tmp.display());
    let needle = tmp.display().to_string();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            assert!(
                !cmdline.contains(&needle),
                "a process still runs from the private cluster: {cmdline}"
            );
        }
    }
}

/// The attacks of the corpus: (file name, SQL with `@OUT@`).
fn corpus() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/sql");
    let mut files: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    files.sort();
    assert!(files.len() >= 17, "the corpus is incomplete: {files:?}");
    files
}

const RESTORE: &str = r#"    restore:
      engine: postgres
      database-url-env: DR_RESTORE_DATABASE_URL
      validate:
        - sql: "select 1"
"#;

/// Restores `stored` (gzip'd) in `mode`; returns the run and the target's report once every
/// invariant has been checked.
fn restore(mode: Mode, what: &str, stored: &[u8], out: &Path) -> (Run, serde_json::Value) {
    let pg = cluster();
    let dir = Dir::new();
    put(&dir, "db/dump.gz", stored, None);
    let rest = if mode == Mode::Private {
        RESTORE.replace("      database-url-env: DR_RESTORE_DATABASE_URL\n", "")
    } else {
        RESTORE.to_string()
    };
    config(&dir, "pg-dump", "*.gz", &rest);
    let tmp = private_tmpdir();
    let mut env: Vec<(&str, String)> = vec![
        ("PATH", pg.path_env()),
        ("TMPDIR", tmp.path().display().to_string()),
    ];
    env.extend(CANARIES.iter().map(|(k, v)| (*k, v.to_string())));
    match mode {
        Mode::Superuser => env.push(("DR_RESTORE_DATABASE_URL", pg.url())),
        Mode::Creator => env.push(("DR_RESTORE_DATABASE_URL", pg.url_as(CREATOR.0, CREATOR.1))),
        Mode::CreateDbOnly => {
            env.push(("DR_RESTORE_DATABASE_URL", pg.url_as(DB_ONLY.0, DB_ONLY.1)))
        }
        Mode::Private => {}
    }
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (run, t) = quarterly(&dir, &[], &env);
    let context = format!("{mode:?} / {what}");

    // Nothing written outside the scratch folder, no secret shown.
    let written: Vec<_> = std::fs::read_dir(out)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(written.is_empty(), "{context}: the dump wrote {written:?}");
    assert_no_password(&run, &dir);
    let report = dir.read("out/dr_fullrestore_summary.json");
    for (what, text) in [
        ("stdout", run.stdout()),
        ("stderr", run.stderr()),
        ("report", report),
    ] {
        for (_, secret) in CANARIES {
            assert!(
                !text.contains(secret),
                "{context}: {what} shows {secret}: {text}"
            );
        }
    }
    // The report was written, with the restore's verdict.
    check(&t, "restore");

    // Nothing else on the server changed; the admin passwords still work.
    assert_eq!(
        pg.psql("victim", "select count(*) from precious"),
        "3",
        "{context}"
    );
    assert_eq!(
        pg.psql(
            "postgres",
            "select string_agg(datname || ':' || datallowconn || ':' || datistemplate, ',' order by datname) from pg_database where datname in ('victim', 'postgres', 'template1')"
        ),
        "postgres:true:false,template1:true:true,victim:true:false",
        "{context}"
    );
    assert_eq!(
        pg.psql(
            "postgres",
            "select count(*) from pg_roles where rolname = 'evil'"
        ),
        "0",
        "{context}"
    );
    assert_eq!(
        pg.psql(
            "postgres",
            "select count(*) from pg_file_settings where sourcefile like '%postgresql.auto.conf'"
        ),
        "0",
        "{context}: ALTER SYSTEM got through"
    );
    assert_eq!(
        pg.psql_as(CREATOR.0, CREATOR.1, "postgres", "select current_user"),
        CREATOR.0
    );
    assert_eq!(
        pg.psql(
            "postgres",
            "select rolname || rolsuper || rolcreaterole || rolcreatedb from pg_roles where rolname like 'dr\\_c%' or rolname like 'dr\\_db%' order by 1"
        ),
        "dr_creatorfalsetruetrue\ndr_dbonlyfalsefalsetrue",
        "{context}"
    );
    match mode {
        Mode::Superuser | Mode::Creator => {
            let names = no_scratch_left(&t);
            assert!(
                names.iter().any(|n| n.starts_with("dr_restore_role_")),
                "{context}: {t:#}"
            );
        }
        Mode::CreateDbOnly => {
            let detail = failed(&t, "restore");
            assert!(detail.contains("lacks CREATEROLE"), "{detail}");
            assert!(detail.contains("omit database-url-env"), "{detail}");
            assert_eq!(
                pg.psql(
                    "postgres",
                    "select count(*) from pg_database d join pg_roles r on r.oid = d.datdba where r.rolname = 'dr_dbonly'"
                ),
                "0",
                "{context}"
            );
        }
        Mode::Private => assert_private_cluster_gone(tmp.path()),
    }
    (run, t)
}

/// Every attack of the corpus in one mode: each fails the restore, and nothing escapes.
fn corpus_in(mode: Mode) {
    setup();
    for (name, sql) in corpus() {
        let out = world_writable();
        let out = out.path();
        let mut sql = sql.replace("@OUT@", &out.display().to_string());
        if mode == Mode::Private {
            // The private cluster has no `victim`: aim at its own maintenance database, so the
            // attack is refused for what it tries, not for a missing name.
            sql = sql.replace("victim", "postgres");
        }
        let (run, t) = restore(mode, &name, &gzip(sql.as_bytes()), out);
        run.expect_code(1);
        // Refused for what it tried, not for some accident of the fixture.
        let detail = failed(&t, "restore");
        let why = [
            "backslash commands are restricted",
            "must be ",
            "permission denied",
            "lacks CREATEROLE",
            // The guard's early refusals.
            "reaches outside the scratch database",
            "acts on a database other than the scratch one",
        ];
        assert!(
            why.iter().any(|w| detail.contains(w)),
            "{mode:?} / {name}: {detail}"
        );
    }
}

#[test]
fn hostile_pg_corpus_with_a_superuser_url_escapes_nothing() {
    corpus_in(Mode::Superuser);
}

#[test]
fn hostile_pg_corpus_with_a_createdb_createrole_url_escapes_nothing() {
    corpus_in(Mode::Creator);
}

#[test]
fn hostile_pg_corpus_with_a_createdb_only_url_is_refused_and_leaves_nothing() {
    corpus_in(Mode::CreateDbOnly);
}

#[test]
fn hostile_pg_corpus_in_a_private_cluster_escapes_nothing() {
    corpus_in(Mode::Private);
}

#[test]
fn hostile_pg_a_custom_dump_whose_materialized_view_runs_a_program_escapes_nothing() {
    let setup = setup();
    for mode in [
        Mode::Superuser,
        Mode::Creator,
        Mode::CreateDbOnly,
        Mode::Private,
    ] {
        let (run, t) = restore(
            mode,
            "matview",
            &gzip(&setup.matview_dump),
            &setup.matview_out,
        );
        run.expect_code(1);
        let detail = failed(&t, "restore");
        if mode != Mode::CreateDbOnly {
            assert!(detail.contains("pg_restore"), "{mode:?}: {detail}");
        }
    }
}

#[test]
fn hostile_pg_the_corpus_does_escape_when_run_as_a_superuser_without_restrict() {
    // The assertions above can fail: the same files, fed to psql the way restores used to be
    // (superuser, meta-commands obeyed), write the files the tests look for.
    let pg = cluster();
    pg.psql("postgres", "create database hostile_unguarded");
    for name in ["shell_escape_midline", "copy_to_program"] {
        let out = world_writable();
        let out = out.path();
        let sql = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/corpus/sql/{name}.sql")),
        )
        .unwrap()
        .replace("@OUT@", &out.display().to_string());
        let file = out.join("attack.sql.in");
        std::fs::write(&file, sql).unwrap();
        let status = std::process::Command::new(pg.bin.join("psql"))
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("PGHOST", "127.0.0.1")
            .env("PGPORT", pg.port.to_string())
            .env("PGUSER", "postgres")
            .env("PGPASSWORD", PASSWORD)
            .env("PGDATABASE", "hostile_unguarded")
            .env("GITHUB_TOKEN", CANARIES[0].1)
            .args(["-X", "-q", "-f"])
            .arg(&file)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "{name}");
        let written = std::fs::read_to_string(out.join(name)).unwrap();
        if name == "shell_escape_midline" {
            assert!(written.contains(CANARIES[0].1), "{written}");
        }
    }
    pg.psql("postgres", "drop database hostile_unguarded");
}

#[test]
fn hostile_pg_validation_commands_and_the_command_engine_see_no_runner_secret() {
    // The script fails (and shows its environment in the detail) if a runner secret reached
    // it, or if what it should get is missing.
    const CHECK: &str = r#"cat >/dev/null
for v in GITHUB_TOKEN AWS_SECRET_ACCESS_KEY SLACK_WEBHOOK_URL; do
  if env | grep -q "^$v="; then env >&2; exit 1; fi
done
for v in PATH HOME $NEEDED; do
  if ! env | grep -q "^$v="; then echo "no $v" >&2; exit 1; fi
done
"#;
    let pg = cluster();
    let validate = r#"    restore:
      engine: postgres
      database-url-env: DR_RESTORE_DATABASE_URL
      validate:
        - command: ["sh", "-c", "NEEDED='PGPASSWORD PGUSER DR_RESTORE_DATABASE_URL' sh ./check.sh"]
"#;
    let engine = r#"    restore:
      engine: command
      command: ["sh", "./check.sh"]
"#;
    for (format, stored, rest) in [
        ("pg-dump", gzip(b"CREATE TABLE t (a int);\n"), validate),
        ("file", gzip(b"anything"), engine),
    ] {
        let dir = Dir::new();
        dir.write("check.sh", CHECK);
        put(&dir, "db/x.gz", &stored, None);
        config(&dir, format, "*.gz", rest);
        let mut env: Vec<(&str, String)> = vec![
            ("PATH", pg.path_env()),
            ("DR_RESTORE_DATABASE_URL", pg.url()),
        ];
        env.extend(CANARIES.iter().map(|(k, v)| (*k, v.to_string())));
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (run, t) = quarterly(&dir, &[], &env);
        let run = run.expect_code(0);
        assert_eq!(t["ok"], true, "{format}: {t:#}\n{}", run.stderr());
    }
}
