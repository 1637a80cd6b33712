//! The embedded default: a local store of realistic sample backups — a real SQLite database
//! that grows day by day, snapshotted with `VACUUM INTO`, gzip-compressed, with `sha256sum`
//! sidecars — 40 days of dailies, and a config that checks them. No network, no cloud account.
//! A demo is built in a sibling folder and renamed into place when whole ([`Staging`]), so an
//! interrupted run leaves the previous demo or nothing, never half of one.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};

/// How many daily backups the demo store holds.
pub const DAYS: u32 = 40;
/// The file that marks a folder as the demo's own, so it may be rebuilt.
pub const MARKER: &str = ".dr-demo";
const MARKER_TEXT: &[u8] = b"made by `dr-action demo`; safe to delete\n";

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
# The monthly run deep-reads every retained backup it has not proven yet, within the budget,
# and keeps what it proved in badges/dr_ledger.json.
verify: { budget: 20GiB, requests: 10000, re-read-after: 90d }
"#;

/// What was built.
pub struct DemoStore {
    pub dir: PathBuf,
    pub config: PathBuf,
    pub backups: u32,
    pub newest_key: String,
}

/// A demo being built in a hidden folder next to where it will live. [`Staging::commit`] renames
/// it into place; dropped before that (an error, a panic), the half-built folder is removed. A
/// killed process leaves the hidden folder behind; the next [`begin`] clears it.
pub struct Staging {
    target: PathBuf,
    work: tempfile::TempDir,
}

impl Staging {
    /// Where the demo is being built; every file of the demo goes under here.
    pub fn path(&self) -> &Path {
        self.work.path()
    }

    /// Where the demo will be once committed.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Puts the finished demo in place of `target`. A previous demo is first renamed aside and
    /// deleted afterwards: a crash between the two renames leaves no demo, never a mixture.
    pub fn commit(self) -> Result<PathBuf> {
        let Staging { target, work } = self;
        let parent = parent_of(&target);
        let old = match std::fs::symlink_metadata(&target) {
            Ok(_) if is_empty_dir(&target)? => {
                std::fs::remove_dir(&target)
                    .with_context(|| format!("removing the empty {}", target.display()))?;
                None
            }
            Ok(_) => {
                let aside = tempfile::Builder::new()
                    .prefix(&staging_prefix(&target))
                    .tempdir_in(parent)
                    .context("making room for the previous demo")?;
                let dest = aside.path().join("previous");
                std::fs::rename(&target, &dest)
                    .with_context(|| format!("moving the previous demo {}", target.display()))?;
                Some(aside)
            }
            Err(_) => None,
        };
        let built = work.keep();
        std::fs::rename(&built, &target)
            .with_context(|| format!("renaming {} to {}", built.display(), target.display()))?;
        if let Some(aside) = old {
            aside
                .close()
                .context("deleting the previous demo after replacing it")?;
        }
        Ok(target)
    }
}

/// Checks that `dir` may hold a demo (absent, empty, or a previous demo), clears what an
/// interrupted run left next to it, and starts building in a hidden sibling folder.
pub fn begin(dir: &Path) -> Result<Staging> {
    if dir.exists() && !is_empty_dir(dir)? && !dir.join(MARKER).exists() {
        anyhow::bail!(
            "{} exists and is not a dr-action demo folder; pick another with --dir",
            dir.display()
        );
    }
    let parent = parent_of(dir);
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    clear_leftovers(dir)?;
    let work = tempfile::Builder::new()
        .prefix(&staging_prefix(dir))
        // A folder like any other (0777 less the umask), not tempfile's private 0700.
        .permissions(std::fs::Permissions::from_mode(0o777))
        .tempdir_in(parent)
        .with_context(|| format!("creating a folder for the demo in {}", parent.display()))?;
    // Marked before anything else goes in, so a run killed at any point leaves a folder that
    // is either empty or marked, and the next run can tell it is ours and clear it.
    std::fs::write(work.path().join(MARKER), MARKER_TEXT)
        .with_context(|| format!("marking {}", work.path().display()))?;
    Ok(Staging {
        target: dir.to_path_buf(),
        work,
    })
}

/// Builds the demo store under `dir`, a fresh folder (see [`begin`]). The newest backup is an
/// hour old, one per day before it.
pub fn build(dir: &Path, now: DateTime<Utc>) -> Result<DemoStore> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    crate::atomic::write(&dir.join(MARKER), MARKER_TEXT)?;
    let store = dir.join("backups/app-db");
    std::fs::create_dir_all(&store).with_context(|| format!("creating {}", store.display()))?;
    let work = tempfile::tempdir().context("creating a scratch folder")?;
    let db_path = work.path().join("app.sqlite");
    let mut db = rusqlite::Connection::open(&db_path).context("creating the sample database")?;
    // Sample data in a scratch file: losing it in a crash costs nothing, so SQLite need not
    // fsync it (each snapshot is written to the store atomically and durably anyway).
    db.execute_batch(
        "pragma synchronous = off;
         pragma journal_mode = memory;
         create table customers (id integer primary key, name text not null);
         create table orders (id integer primary key, customer_id integer not null references customers(id),
                              amount_cents integer not null, created_at text not null);",
    )?;
    let mut newest_key = String::new();
    for day in 0..DAYS {
        let age = DAYS - 1 - day;
        let taken_at = now - Duration::hours(1) - Duration::days(i64::from(age));
        add_days_orders(&mut db, day, taken_at)?;
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

fn parent_of(dir: &Path) -> &Path {
    match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Hidden folders next to `dir` that belong to a demo build of it.
fn staging_prefix(dir: &Path) -> String {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "dr-demo".to_string());
    format!(".{name}.dr-demo-partial-")
}

fn is_empty_dir(dir: &Path) -> Result<bool> {
    Ok(std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .next()
        .is_none())
}

/// Removes hidden build folders a killed run left next to `dir` — only ours: the name carries
/// our prefix and the folder is empty or holds a demo (or a previous demo moved aside).
fn clear_leftovers(dir: &Path) -> Result<()> {
    let parent = parent_of(dir);
    let prefix = staging_prefix(dir);
    let entries =
        std::fs::read_dir(parent).with_context(|| format!("reading {}", parent.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        let ours = entry.file_name().to_string_lossy().starts_with(&prefix)
            && entry.file_type().is_ok_and(|t| t.is_dir())
            && (is_empty_dir(&path)?
                || path.join(MARKER).exists()
                || path.join("previous").join(MARKER).exists());
        if ours {
            std::fs::remove_dir_all(&path)
                .with_context(|| format!("clearing the leftover {}", path.display()))?;
        }
    }
    Ok(())
}

/// Each day brings a few new customers and more orders than the day before.
/// One transaction per day: a few thousand autocommitted inserts would each be a journal write.
fn add_days_orders(db: &mut rusqlite::Connection, day: u32, at: DateTime<Utc>) -> Result<()> {
    let tx = db.transaction()?;
    add_rows(&tx, day, at)?;
    tx.commit()?;
    Ok(())
}

fn add_rows(db: &rusqlite::Connection, day: u32, at: DateTime<Utc>) -> Result<()> {
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
