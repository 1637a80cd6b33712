//! `check --schedule quarterly` into a real PostgreSQL (the cluster of `postgres`): dumps made
//! by the real `pg_dump` in custom, tar and plain formats, gzip'd with sidecars, restored into
//! a scratch database that is dropped afterwards (with the throwaway role the restore ran as)
//! — and the faults: a `pg_restore` error, a validation that finds too few rows, a server that
//! is not there; and two restores at once into one server. The URL carries a password; no
//! output may show it.

use std::sync::OnceLock;

use crate::postgres::{PASSWORD, PASSWORD_IN_URL, cluster};
use crate::restore::{config, failed, gzip, passed, put, quarterly};
use crate::util::{Dir, Run};

/// The database the dumps are made of.
pub fn shop() -> &'static str {
    static MADE: OnceLock<()> = OnceLock::new();
    MADE.get_or_init(|| {
        let pg = cluster();
        pg.psql("postgres", "create database shop");
        pg.psql(
            "shop",
            "create table customers (id serial primary key, name text not null);
             create table orders (id serial primary key, customer_id int references customers(id), amount int);
             insert into customers (name) values ('alice'), ('bob');
             insert into orders (customer_id, amount) values (1, 10), (1, 20), (2, 30);",
        );
    });
    "shop"
}

pub const PG_RESTORE: &str = r#"    rto: 10m
    restore:
      engine: postgres
      database-url-env: DR_RESTORE_DATABASE_URL
      validate:
        - sql: "select count(*) from orders"
          expect-min: 3
        - sql: "select name from customers order by id limit 1"
          expect: alice
        - command: ["sh", "-c", "test \"$(psql -XAtc 'select sum(amount) from orders')\" = 60"]
"#;

fn env() -> Vec<(&'static str, String)> {
    let pg = cluster();
    vec![
        ("DR_RESTORE_DATABASE_URL", pg.url()),
        ("PATH", pg.path_env()),
    ]
}

fn run_quarterly(dir: &Dir, env: &[(&str, String)]) -> (Run, serde_json::Value) {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (run, target) = quarterly(dir, &[], &env);
    assert_no_password(&run, dir);
    (run, target)
}

/// Neither the password nor the URL shows in stdout, stderr or the report.
pub fn assert_no_password(run: &Run, dir: &Dir) {
    let report = dir.read("out/dr_fullrestore_summary.json");
    for (what, text) in [
        ("stdout", run.stdout()),
        ("stderr", run.stderr()),
        ("report", report),
    ] {
        for secret in [PASSWORD, PASSWORD_IN_URL, "s3cr"] {
            assert!(!text.contains(secret), "{what} shows the password: {text}");
        }
    }
}

/// The scratch databases and roles a report names; each must be gone.
pub fn no_scratch_left(t: &serde_json::Value) -> Vec<String> {
    let text = t.to_string();
    let mut names: Vec<String> = text
        .match_indices("dr_restore_")
        .map(|(at, _)| {
            text[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        })
        .collect();
    names.sort();
    names.dedup();
    for name in &names {
        assert!(!cluster().exists(name), "{name} was left behind: {t:#}");
    }
    names
}

#[test]
fn restore_pg_custom_tar_and_plain_dumps_restore_and_validate() {
    let db = shop();
    for (format, content) in [("c", "custom-format"), ("t", "tar archive"), ("p", "text")] {
        let dir = Dir::new();
        let dump = cluster().dump(db, format);
        put(&dir, "db/shop.dump.gz", &gzip(&dump), None);
        config(&dir, "pg-dump", "*.dump.gz", PG_RESTORE);
        let (run, t) = run_quarterly(&dir, &env());
        let run = run.expect_code(0);
        assert_eq!(t["ok"], true, "-F{format}: {t:#}\n{}", run.stderr());
        let restore = passed(&t, "restore");
        assert!(restore.contains(content), "{restore}");
        let tool = if format == "p" { "psql" } else { "pg_restore" };
        assert!(restore.contains(&format!("by {tool}")), "{restore}");
        assert!(passed(&t, "validate[0]").contains("returned 3"));
        passed(&t, "validate[1]");
        passed(&t, "validate[2]");
        assert!(passed(&t, "cleanup").contains("dropped the scratch database dr_restore_"));
        passed(&t, "checksum");
        no_scratch_left(&t);
    }
}

#[test]
fn restore_pg_without_a_url_restores_into_a_private_cluster() {
    let db = shop();
    let pg = cluster();
    let tmp = crate::hostile_pg::private_tmpdir();
    for format in ["c", "t", "p"] {
        let dir = Dir::new();
        put(&dir, "db/shop.dump.gz", &gzip(&pg.dump(db, format)), None);
        let rest = PG_RESTORE.replace("      database-url-env: DR_RESTORE_DATABASE_URL\n", "");
        config(&dir, "pg-dump", "*.dump.gz", &rest);
        let env = [
            ("PATH", pg.path_env()),
            ("TMPDIR", tmp.path().display().to_string()),
        ];
        let (run, t) = run_quarterly(&dir, &env);
        let run = run.expect_code(0);
        assert_eq!(t["ok"], true, "-F{format}: {t:#}\n{}", run.stderr());
        let restore = passed(&t, "restore");
        assert!(
            restore.contains("on a private PostgreSQL cluster"),
            "{restore}"
        );
        assert!(passed(&t, "validate[0]").contains("returned 3"));
        passed(&t, "validate[2]");
        assert!(passed(&t, "cleanup").contains("stopped and deleted the private cluster"));
        crate::hostile_pg::assert_private_cluster_gone(tmp.path());
    }
}

#[test]
fn restore_pg_a_hung_restore_is_stopped_and_leaves_no_database_role_or_cluster() {
    let sql = b"CREATE TABLE t (id int);\nSELECT pg_sleep(600);\n";
    for private in [false, true] {
        let dir = Dir::new();
        put(&dir, "db/hang.dump.gz", &gzip(sql), None);
        let mut rest = PG_RESTORE.replace("rto: 10m", "rto: 3s");
        if private {
            rest = rest.replace("      database-url-env: DR_RESTORE_DATABASE_URL\n", "");
        }
        config(&dir, "pg-dump", "*.dump.gz", &rest);
        let tmp = crate::hostile_pg::private_tmpdir();
        let mut env = env();
        env.push(("TMPDIR", tmp.path().display().to_string()));
        let started = std::time::Instant::now();
        let (run, t) = run_quarterly(&dir, &env);
        run.expect_code(1);
        assert!(started.elapsed().as_secs() < 60, "{:?}", started.elapsed());
        let detail = failed(&t, "restore");
        assert!(detail.contains("stopped after"), "{detail}");
        passed(&t, "cleanup");
        if private {
            crate::hostile_pg::assert_private_cluster_gone(tmp.path());
        } else {
            assert!(!no_scratch_left(&t).is_empty(), "{t:#}");
        }
    }
}

#[test]
fn restore_pg_extensions_the_role_may_not_create_are_made_by_the_admin() {
    let pg = cluster();
    static MADE: OnceLock<()> = OnceLock::new();
    MADE.get_or_init(|| {
        pg.psql("postgres", "create database with_ext");
        pg.psql(
            "with_ext",
            "create extension dblink; create table t (a int); insert into t values (1), (2)",
        );
    });
    let rest = r#"    restore:
      engine: postgres
      database-url-env: DR_RESTORE_DATABASE_URL
      extensions: [dblink]
      validate:
        - sql: "select count(*) from pg_extension where extname = 'dblink'"
          expect: "1"
        - sql: "select count(*) from t"
          expect: "2"
"#;
    for format in ["c", "p"] {
        let dump = gzip(&pg.dump("with_ext", format));
        for private in [false, true] {
            let dir = Dir::new();
            put(&dir, "db/ext.dump.gz", &dump, None);
            let rest = if private {
                rest.replace("      database-url-env: DR_RESTORE_DATABASE_URL\n", "")
            } else {
                rest.to_string()
            };
            config(&dir, "pg-dump", "*.dump.gz", &rest);
            let tmp = crate::hostile_pg::private_tmpdir();
            let mut env = env();
            env.push(("TMPDIR", tmp.path().display().to_string()));
            let (run, t) = run_quarterly(&dir, &env);
            let run = run.expect_code(0);
            assert_eq!(
                t["ok"],
                true,
                "-F{format}, private {private}: {t:#}\n{}",
                run.stderr()
            );
        }
        // Without `extensions:`, the role may not create dblink, and the detail says so.
        let dir = Dir::new();
        put(&dir, "db/ext.dump.gz", &dump, None);
        config(
            &dir,
            "pg-dump",
            "*.dump.gz",
            &rest.replace("      extensions: [dblink]\n", ""),
        );
        let (run, t) = run_quarterly(&dir, &env());
        run.expect_code(1);
        let detail = failed(&t, "restore");
        assert!(
            detail.contains("permission denied to create extension \"dblink\""),
            "{detail}"
        );
        no_scratch_left(&t);
    }
}

#[test]
fn restore_pg_a_createdb_createrole_admin_restores_and_leaves_nothing() {
    let db = shop();
    let pg = cluster();
    crate::hostile_pg::setup();
    let (user, password) = crate::hostile_pg::CREATOR;
    for format in ["c", "p"] {
        let dir = Dir::new();
        put(&dir, "db/shop.dump.gz", &gzip(&pg.dump(db, format)), None);
        config(&dir, "pg-dump", "*.dump.gz", PG_RESTORE);
        let env = [
            ("DR_RESTORE_DATABASE_URL", pg.url_as(user, password)),
            ("PATH", pg.path_env()),
        ];
        let (run, t) = run_quarterly(&dir, &env);
        let run = run.expect_code(0);
        assert_eq!(t["ok"], true, "-F{format}: {t:#}\n{}", run.stderr());
        assert!(no_scratch_left(&t).len() >= 2, "{t:#}");
    }
}

#[test]
fn restore_pg_a_dump_from_a_newer_server_is_refused_with_both_versions() {
    let dir = Dir::new();
    let sql = b"--\n-- PostgreSQL database dump\n--\n\n-- Dumped from database version 99.1\n-- Dumped by pg_dump version 99.1\n\nCREATE TABLE t (a int);\n";
    put(&dir, "db/new.dump.gz", &gzip(sql), None);
    config(&dir, "pg-dump", "*.dump.gz", PG_RESTORE);
    let (run, t) = run_quarterly(&dir, &env());
    run.expect_code(1);
    let detail = failed(&t, "restore");
    assert!(detail.contains("comes from PostgreSQL 99"), "{detail}");
    let major = cluster().psql(
        "postgres",
        "select current_setting('server_version_num')::int / 10000",
    );
    assert!(
        detail.contains(&format!("runs PostgreSQL {major}:")),
        "{detail}"
    );
    passed(&t, "cleanup");
    no_scratch_left(&t);
}

#[test]
fn restore_pg_a_psql_without_restrict_is_never_fed_a_plain_dump() {
    // A psql that reports a release without `\restrict` (older than 15.14), and otherwise is
    // the real one, noting whether it was ever run as the restore's role.
    let pg = cluster();
    let bin = Dir::new();
    let mark = bin.join("fed");
    let script = format!(
        "#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'psql (PostgreSQL) 15.13'; exit 0; fi\ncase \"$PGUSER\" in dr_restore_role_*) touch {mark};; esac\nexec {real} \"$@\"\n",
        mark = mark.display(),
        real = pg.bin.join("psql").display()
    );
    let psql = bin.write("psql", script);
    std::fs::set_permissions(&psql, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink(pg.bin.join("pg_restore"), bin.join("pg_restore")).unwrap();
    let dir = Dir::new();
    put(&dir, "db/shop.dump.gz", &gzip(&pg.dump(shop(), "p")), None);
    config(&dir, "pg-dump", "*.dump.gz", PG_RESTORE);
    let env = [
        ("DR_RESTORE_DATABASE_URL", pg.url()),
        (
            "PATH",
            format!("{}:{}", bin.path().display(), pg.path_env()),
        ),
    ];
    let (run, t) = run_quarterly(&dir, &env);
    run.expect_code(1);
    let detail = failed(&t, "restore");
    assert!(detail.contains("psql 15.13"), "{detail}");
    assert!(detail.contains("\\restrict"), "{detail}");
    assert!(!mark.exists(), "the old psql was fed the dump");
    passed(&t, "cleanup");
    no_scratch_left(&t);
}

#[test]
fn restore_pg_a_pg_restore_error_fails_and_drops_the_scratch_database() {
    let db = shop();
    let dir = Dir::new();
    // A custom dump cut short inside the (valid) gzip: pg_restore itself reports the error.
    let dump = cluster().dump(db, "c");
    put(
        &dir,
        "db/shop.dump.gz",
        &gzip(&dump[..dump.len() * 2 / 3]),
        None,
    );
    config(&dir, "pg-dump", "*.dump.gz", PG_RESTORE);
    let (run, t) = run_quarterly(&dir, &env());
    run.expect_code(1);
    let detail = failed(&t, "restore");
    assert!(
        detail.contains("pg_restore into the scratch database dr_restore_"),
        "{detail}"
    );
    assert!(detail.contains("pg_restore: error"), "{detail}");
    passed(&t, "checksum");
    assert!(failed(&t, "validate[0]").contains("not run"));
    passed(&t, "cleanup");
    no_scratch_left(&t);

    // A plain SQL dump with an error stops psql (ON_ERROR_STOP) and fails the same way.
    let dir = Dir::new();
    let sql = b"create table t (id int);\ninsert into nowhere values (1);\n";
    put(&dir, "db/bad.dump.gz", &gzip(sql), None);
    config(&dir, "pg-dump", "*.dump.gz", PG_RESTORE);
    let (run, t) = run_quarterly(&dir, &env());
    run.expect_code(1);
    let detail = failed(&t, "restore");
    assert!(
        detail.contains("relation \"nowhere\" does not exist"),
        "{detail}"
    );
    no_scratch_left(&t);
}

#[test]
fn restore_pg_a_validation_with_too_few_rows_fails() {
    let db = shop();
    let dir = Dir::new();
    put(
        &dir,
        "db/shop.dump.gz",
        &gzip(&cluster().dump(db, "c")),
        None,
    );
    let rest = PG_RESTORE.replace("expect-min: 3", "expect-min: 100");
    config(&dir, "pg-dump", "*.dump.gz", &rest);
    let (run, t) = run_quarterly(&dir, &env());
    run.expect_code(1);
    assert_eq!(
        failed(&t, "validate[0]"),
        "`select count(*) from orders` returned 3, expected at least 100"
    );
    passed(&t, "restore");
    passed(&t, "cleanup");
    no_scratch_left(&t);
}

#[test]
fn restore_pg_two_restores_at_once_into_one_server_both_pass() {
    // Scratch databases used to be named after the second they were made in: two restores
    // started in the same second collided, and one failed. Databases with the old names are
    // left alone too.
    let db = shop();
    let pg = cluster();
    let dump = gzip(&pg.dump(db, "c"));
    let now = chrono::Utc::now();
    let old: Vec<String> = (0..5)
        .map(|s| {
            let at = now + chrono::Duration::seconds(s);
            format!("dr_restore_{}", at.format("%Y%m%d%H%M%S"))
        })
        .collect();
    for name in &old {
        pg.psql("postgres", &format!("create database {name}"));
        pg.psql(name, "create table precious (id int)");
    }
    let dirs: Vec<Dir> = (0..2).map(|_| Dir::new()).collect();
    for dir in &dirs {
        put(dir, "db/shop.dump.gz", &dump, None);
        config(dir, "pg-dump", "*.dump.gz", PG_RESTORE);
    }
    let reports: Vec<serde_json::Value> = std::thread::scope(|s| {
        let runs: Vec<_> = dirs
            .iter()
            .map(|dir| s.spawn(move || run_quarterly(dir, &env())))
            .collect();
        runs.into_iter()
            .map(|r| {
                let (run, t) = r.join().unwrap();
                run.expect_code(0);
                t
            })
            .collect()
    });
    let mut scratch: Vec<Vec<String>> = Vec::new();
    for t in &reports {
        assert_eq!(t["ok"], true, "{t:#}");
        passed(t, "validate[0]");
        scratch.push(no_scratch_left(t));
    }
    assert!(!scratch[0].is_empty());
    assert_ne!(scratch[0], scratch[1]);
    for name in &old {
        assert_eq!(
            pg.psql(
                name,
                "select count(*) from pg_tables where tablename in ('precious', 'orders')"
            ),
            "1"
        );
        pg.psql("postgres", &format!("drop database {name}"));
    }
}

#[test]
fn restore_pg_an_unreachable_server_is_a_failed_check() {
    // A port nothing listens on (bound, then closed).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = Dir::new();
    put(&dir, "db/x.dump.gz", &gzip(b"select 1;\n"), None);
    config(&dir, "pg-dump", "*.dump.gz", PG_RESTORE);
    let url = format!("postgresql://postgres:{PASSWORD_IN_URL}@127.0.0.1:{port}/postgres");
    let pg = cluster();
    let (run, t) = run_quarterly(
        &dir,
        &[("DR_RESTORE_DATABASE_URL", url), ("PATH", pg.path_env())],
    );
    run.expect_code(1);
    let detail = failed(&t, "restore");
    assert!(detail.contains(&format!("on 127.0.0.1:{port}")), "{detail}");
    assert!(detail.contains("Connection refused"), "{detail}");
    // The scratch database comes first: nothing was downloaded for a restore that could not start.
    assert!(failed(&t, "checksum").contains("was not read"), "{t:#}");
    assert_eq!(t["metrics"]["bytes"], 0);

    // No URL at all says which variable to set.
    let (run, t) = run_quarterly(&dir, &[("PATH", pg.path_env())]);
    run.expect_code(1);
    assert!(failed(&t, "restore").contains("DR_RESTORE_DATABASE_URL"));
}

#[test]
fn restore_pg_validation_commands_reach_the_scratch_database_and_their_output_is_redacted() {
    let db = shop();
    let dir = Dir::new();
    put(
        &dir,
        "db/shop.dump.gz",
        &gzip(&cluster().dump(db, "c")),
        None,
    );
    let rest = r#"    restore:
      engine: postgres
      database-url-env: DR_RESTORE_DATABASE_URL
      validate:
        - command: ["sh", "-c", "psql \"$DR_RESTORE_DATABASE_URL\" -XAtc 'select count(*) from customers' | grep -qx 2"]
        - command: ["sh", "-c", "echo \"leaking $DR_RESTORE_DATABASE_URL and $PGPASSWORD\" >&2; exit 1"]
"#;
    config(&dir, "pg-dump", "*.dump.gz", rest);
    // run_quarterly asserts the password shows nowhere.
    let (run, t) = run_quarterly(&dir, &env());
    run.expect_code(1);
    passed(&t, "validate[0]");
    let detail = failed(&t, "validate[1]");
    // The command connects as the restore's throwaway role, never as the admin.
    assert!(
        detail.contains("leaking postgres://dr_restore_role_"),
        "{detail}"
    );
    assert!(detail.contains(":***@127.0.0.1:"), "{detail}");
    assert!(detail.contains("/dr_restore_"), "{detail}");
    assert!(detail.ends_with("and ***"), "{detail}");
    no_scratch_left(&t);
}

#[test]
fn restore_pg_a_plain_dump_that_drops_and_creates_its_database_is_refused() {
    let db = shop();
    let pg = cluster();
    let dir = Dir::new();
    // `-c -C` writes DROP DATABASE shop, CREATE DATABASE shop and \connect shop: run as is, it
    // would drop the real database on this server.
    let dump = pg.dump_with(db, &["-Fp", "-c", "-C"]);
    assert!(String::from_utf8_lossy(&dump).contains("DROP DATABASE shop"));
    put(&dir, "db/shop.dump.gz", &gzip(&dump), None);
    config(&dir, "pg-dump", "*.dump.gz", PG_RESTORE);
    let (run, t) = run_quarterly(&dir, &env());
    run.expect_code(1);
    let detail = failed(&t, "restore");
    assert!(detail.contains("DROP DATABASE shop"), "{detail}");
    assert!(detail.contains("without -C/--create"), "{detail}");
    passed(&t, "cleanup");
    no_scratch_left(&t);
    // The real database is untouched.
    assert_eq!(pg.psql(db, "select count(*) from orders"), "3");
}
