//! The embedded default: a local store of realistic sample backups — a real SQLite database
//! that grows day by day, snapshotted with `VACUUM INTO`, gzip-compressed, with `sha256sum`
//! sidecars — 40 days of dailies, and a config that checks them. No network, no cloud account.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};

/// How many daily backups the demo store holds.
pub const DAYS: u32 = 40;
/// The file that marks a folder as the demo's own, so it may be rebuilt.
pub const MARKER: &str = ".dr-demo";

pub const CONFIG: &str = r#"# dr-action demo config: a local folder acting as the bucket.
version: 1
storage:
  local: ./backups
targets:
  - name: app-db
    prefix: app-db/
    match: "*.sqlite.gz"
    format: sqlite
    checksum: sidecar
    rpo: 26h
    rto: 15m
    min-size: 4KiB
    retention: { daily: 30, weekly: 4, monthly: 1 }
    restore:
      engine: sqlite
      validate:
        - sql: "select count(*) from orders"
          expect-min: 1
badge:
  path: badges/backup_status.svg
  label: "Backup & DR"
"#;

/// What was built.
pub struct DemoStore {
    pub dir: PathBuf,
    pub config: PathBuf,
    pub backups: u32,
    pub newest_key: String,
}

/// Builds the demo under `dir`. The newest backup is an hour old, one per day before it.
pub fn build(dir: &Path, now: DateTime<Utc>) -> Result<DemoStore> {
    prepare_dir(dir)?;
    let store = dir.join("backups/app-db");
    std::fs::create_dir_all(&store).with_context(|| format!("creating {}", store.display()))?;
    let work = tempfile::tempdir().context("creating a scratch folder")?;
    let db_path = work.path().join("app.sqlite");
    let db = rusqlite::Connection::open(&db_path).context("creating the sample database")?;
    db.execute_batch(
        "create table customers (id integer primary key, name text not null);
         create table orders (id integer primary key, customer_id integer not null references customers(id),
                              amount_cents integer not null, created_at text not null);",
    )?;
    let mut newest_key = String::new();
    for day in 0..DAYS {
        let age = DAYS - 1 - day;
        let taken_at = now - Duration::hours(1) - Duration::days(i64::from(age));
        add_days_orders(&db, day, taken_at)?;
        let snapshot = work.path().join(format!("snap-{day}.sqlite"));
        db.execute("vacuum into ?1", [snapshot.to_string_lossy().as_ref()])
            .context("snapshotting the sample database")?;
        let name = format!("app-db-{}.sqlite.gz", taken_at.format("%Y-%m-%d"));
        let gz = gzip(&std::fs::read(&snapshot)?)?;
        std::fs::remove_file(&snapshot)?;
        let key_path = store.join(&name);
        crate::atomic::write(&key_path, &gz)?;
        let sum = format!("{}  {name}\n", hex::encode(Sha256::digest(&gz)));
        crate::atomic::write(&store.join(format!("{name}.sha256")), sum.as_bytes())?;
        for p in [key_path, store.join(format!("{name}.sha256"))] {
            std::fs::File::options()
                .write(true)
                .open(&p)?
                .set_modified(taken_at.into())
                .with_context(|| format!("dating {}", p.display()))?;
        }
        newest_key = format!("app-db/{name}");
    }
    let config = dir.join("dr.yml");
    crate::atomic::write(&config, CONFIG.as_bytes())?;
    Ok(DemoStore {
        dir: dir.to_path_buf(),
        config,
        backups: DAYS,
        newest_key,
    })
}

/// Refuses to touch a non-empty folder that is not a previous demo; clears a previous demo.
fn prepare_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        let empty = std::fs::read_dir(dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .next()
            .is_none();
        if !empty && !dir.join(MARKER).exists() {
            anyhow::bail!(
                "{} exists and is not a dr-action demo folder; pick another with --dir",
                dir.display()
            );
        }
        for sub in ["backups", "out", "badges"] {
            let p = dir.join(sub);
            if p.exists() {
                std::fs::remove_dir_all(&p).with_context(|| format!("clearing {}", p.display()))?;
            }
        }
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    crate::atomic::write(
        &dir.join(MARKER),
        b"made by `dr-action demo`; safe to delete\n",
    )
}

/// Each day brings a few new customers and more orders than the day before.
fn add_days_orders(db: &rusqlite::Connection, day: u32, at: DateTime<Utc>) -> Result<()> {
    let mut customer = db.prepare_cached("insert into customers (name) values (?1)")?;
    let mut order = db.prepare_cached(
        "insert into orders (customer_id, amount_cents, created_at) values (?1, ?2, ?3)",
    )?;
    for c in 0..3 {
        customer.execute([format!("customer {day}-{c}")])?;
    }
    let customers: i64 = db.query_row("select count(*) from customers", [], |r| r.get(0))?;
    let stamp = at.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    for n in 0..(40 + day * 5) {
        let who = 1 + i64::from(n * 7 + day) % customers;
        let cents = 500 + i64::from((n * 7919 + day * 104_729) % 50_000);
        order.execute(rusqlite::params![who, cents, stamp])?;
    }
    Ok(())
}

fn gzip(data: &[u8]) -> Result<Vec<u8>> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data)?;
    Ok(e.finish()?)
}
