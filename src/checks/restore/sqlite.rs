//! The `sqlite` engine. SQLite opens files, not streams, so this is the one engine that writes
//! the decompressed backup to disk: into the restore's temporary folder, streamed in bounded
//! chunks (never held in memory). Then `PRAGMA integrity_check`, then the validation queries
//! (through rusqlite, on a blocking thread).

use std::path::{Path, PathBuf};

use tokio::io::AsyncWriteExt;

use super::validate::Cell;
use super::{EngineOutcome, Restored};
use crate::checks::CheckResult;
use crate::checks::format::Content;
use crate::store::ObjectReader;
use crate::units::short_size;

/// How many `integrity_check` messages a detail quotes.
const QUOTE_PROBLEMS: usize = 5;

pub async fn restore(content: &mut ObjectReader, kind: Content, dir: &Path) -> EngineOutcome {
    if kind != Content::Sqlite {
        return EngineOutcome::failed(format!(
            "engine: sqlite needs a SQLite database, but the backup holds {}",
            kind.name()
        ));
    }
    let path = dir.join("restored.sqlite");
    let written = match copy_to_file(content, &path).await {
        Ok(n) => n,
        Err(e) => return EngineOutcome::failed(format!("writing the database failed: {e}")),
    };
    let restore = CheckResult::pass(
        "restore",
        format!(
            "{} SQLite database written to a temporary file",
            short_size(written)
        ),
    );
    let integrity = {
        let path = path.clone();
        tokio::task::spawn_blocking(move || integrity_check(&path))
            .await
            .unwrap_or_else(|e| Err(format!("the integrity check stopped: {e}")))
    };
    let (integrity, restored) = match integrity {
        Ok(()) => (
            CheckResult::pass("integrity", "PRAGMA integrity_check: ok"),
            Some(Restored::Sqlite(path)),
        ),
        Err(e) => (CheckResult::fail("integrity", e), None),
    };
    EngineOutcome {
        checks: vec![restore, integrity],
        restored,
    }
}

async fn copy_to_file(content: &mut ObjectReader, path: &PathBuf) -> std::io::Result<u64> {
    let mut file = tokio::fs::File::create(path).await?;
    let n = tokio::io::copy(content, &mut file).await?;
    file.flush().await?;
    Ok(n)
}

fn integrity_check(path: &Path) -> Result<(), String> {
    let db = open(path)?;
    let mut stmt = db
        .prepare("PRAGMA integrity_check")
        .map_err(|e| format!("PRAGMA integrity_check failed: {e}"))?;
    let rows: Vec<String> = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .and_then(|rows| rows.collect())
        .map_err(|e| format!("PRAGMA integrity_check failed: {e}"))?;
    if rows.len() == 1 && rows[0] == "ok" {
        return Ok(());
    }
    let quoted: Vec<&str> = rows
        .iter()
        .take(QUOTE_PROBLEMS)
        .map(String::as_str)
        .collect();
    Err(format!(
        "PRAGMA integrity_check found {} problem(s): {}",
        rows.len(),
        quoted.join("; ")
    ))
}

/// Opens the restored file as the untrusted input it is: defensive mode (no writes to the
/// schema's internals) and an untrusted schema (its views and triggers cannot call functions
/// with side effects), as SQLite advises for databases from elsewhere.
fn open(path: &Path) -> Result<rusqlite::Connection, String> {
    use rusqlite::config::DbConfig;
    let db =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE)
            .map_err(|e| format!("opening the restored database failed: {e}"))?;
    db.set_db_config(DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)
        .and_then(|_| db.set_db_config(DbConfig::SQLITE_DBCONFIG_TRUSTED_SCHEMA, false))
        .map_err(|e| format!("opening the restored database failed: {e}"))?;
    Ok(db)
}

/// The first column of the first row of `sql`.
pub async fn query_first(path: &Path, sql: &str) -> Result<Cell, String> {
    let path = path.to_path_buf();
    let sql = sql.to_string();
    tokio::task::spawn_blocking(move || {
        let db = open(&path)?;
        let mut stmt = db.prepare(&sql).map_err(|e| e.to_string())?;
        let mut rows = stmt.query([]).map_err(|e| e.to_string())?;
        let Some(row) = rows.next().map_err(|e| e.to_string())? else {
            return Ok(Cell::NoRows);
        };
        use rusqlite::types::ValueRef;
        let cell = match row.get_ref(0).map_err(|e| e.to_string())? {
            ValueRef::Null => Cell::Null,
            ValueRef::Integer(i) => Cell::Value(i.to_string()),
            ValueRef::Real(f) => Cell::Value(f.to_string()),
            ValueRef::Text(t) => Cell::Value(String::from_utf8_lossy(t).into_owned()),
            ValueRef::Blob(b) => Cell::Value(format!("<{} byte blob>", b.len())),
        };
        Ok(cell)
    })
    .await
    .unwrap_or_else(|e| Err(format!("the query stopped: {e}")))
}
