//! `check --schedule quarterly` into a real PostgreSQL (the cluster of `postgres`): dumps made
//! by the real `pg_dump` in custom, tar and plain formats, gzip'd with sidecars, restored into
//! a scratch database that is dropped afterwards — and the faults: a `pg_restore` error, a
//! validation that finds too few rows, a scratch name that exists already, a server that is
//! not there. The URL carries a password; no output may show it.

use std::sync::OnceLock;

use crate::postgres::{PASSWORD, PASSWORD_IN_URL, cluster, serial};
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

pub fn no_scratch_left() {
    assert_eq!(cluster().databases("dr_restore_"), Vec::<String>::new());
}

#[test]
fn restore_pg_custom_tar_and_plain_dumps_restore_and_validate() {
    let db = shop();
    let _turn = serial();
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
        no_scratch_left();
    }
}

#[test]
fn restore_pg_a_pg_restore_error_fails_and_drops_the_scratch_database() {
    let db = shop();
    let _turn = serial();
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
    no_scratch_left();

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
    no_scratch_left();
}

#[test]
fn restore_pg_a_validation_with_too_few_rows_fails() {
    let db = shop();
    let _turn = serial();
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
    no_scratch_left();
}

#[test]
fn restore_pg_never_restores_into_an_existing_database() {
    let db = shop();
    let _turn = serial();
    let pg = cluster();
    let dir = Dir::new();
    put(&dir, "db/shop.dump.gz", &gzip(&pg.dump(db, "c")), None);
    config(&dir, "pg-dump", "*.dump.gz", PG_RESTORE);
    // Take every scratch name of the next half minute, each with a table to recognise it by.
    let now = chrono::Utc::now();
    let names: Vec<String> = (0..30)
        .map(|s| {
            format!(
                "dr_restore_{}",
                (now + chrono::Duration::seconds(s)).format("%Y%m%d%H%M%S")
            )
        })
        .collect();
    for name in &names {
        pg.psql("postgres", &format!("create database {name}"));
        pg.psql(name, "create table precious (id int)");
    }
    let (run, t) = run_quarterly(&dir, &env());
    run.expect_code(1);
    let detail = failed(&t, "restore");
    assert!(
        detail.contains("cannot create the scratch database dr_restore_"),
        "{detail}"
    );
    assert!(detail.contains("already exists"), "{detail}");
    assert!(
        t["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["name"] != "cleanup"),
        "{t:#}"
    );
    // Not one of them was dropped or restored into.
    assert_eq!(pg.databases("dr_restore_"), names);
    for name in &names {
        assert_eq!(
            pg.psql(
                name,
                "select count(*) from pg_tables where tablename = 'orders'"
            ),
            "0"
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
    let _turn = serial();
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
    assert!(
        detail.contains("leaking postgres://postgres:***@127.0.0.1:"),
        "{detail}"
    );
    assert!(detail.contains("/dr_restore_"), "{detail}");
    assert!(detail.ends_with("and ***"), "{detail}");
    no_scratch_left();
}

#[test]
fn restore_pg_a_plain_dump_that_drops_and_creates_its_database_is_refused() {
    let db = shop();
    let _turn = serial();
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
    no_scratch_left();
    // The real database is untouched.
    assert_eq!(pg.psql(db, "select count(*) from orders"), "3");
}
