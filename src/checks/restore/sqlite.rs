//! The `sqlite` engine. SQLite opens files, not streams, so this is the one engine that writes
//! the decompressed backup to disk: into the restore's temporary folder, streamed in bounded
//! chunks (never held in memory) and counted against `max-unpacked`, so a small compressed
//! object cannot fill the disk. Then `PRAGMA integrity_check`, then the validation queries
//! (through rusqlite, on a blocking thread).
//!
//! A backup is untrusted, and SQL over it can run forever (a recursive view). Every blocking
//! SQLite call watches a stop flag through SQLite's progress handler; the flag is raised when
//! the future waiting for the call is dropped, which is what the restore's deadline does. So a
//! query stops at the deadline instead of running on in a thread nobody waits for (which would
//! keep the process from exiting).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

use super::engine::{Cell, EngineOutcome, Restored};
use crate::checks::format::Content;
use crate::checks::stream::ContentReader;
use crate::report::Check;
use crate::units::short_size;

/// How many `integrity_check` messages a detail quotes.
const QUOTE_PROBLEMS: usize = 5;

/// How many SQLite virtual-machine steps run between looks at the stop flag: a few
/// microseconds of work, so a stop takes effect at once and costs nothing measurable.
const STEPS_BETWEEN_LOOKS: i32 = 1000;

/// `cap` is the most bytes the database file may take (`max-unpacked`).
pub async fn restore(
    content: &mut ContentReader,
    kind: Content,
    dir: &Path,
    cap: u64,
) -> EngineOutcome {
    if kind != Content::Sqlite {
        return EngineOutcome::failed(format!(
            "engine: sqlite needs a SQLite database, but the backup holds {}",
            kind.name()
        ));
    }
    let path = dir.join("restored.sqlite");
    let written = match copy_to_file(content, &path, cap).await {
        Ok(n) => n,
        Err(e) => {
            // Whatever was written is of no use, and may be large: it goes now, not with
            // the folder at the end of the run.
            let _ = tokio::fs::remove_file(&path).await;
            return EngineOutcome::failed(e);
        }
    };
    let restore = Check::pass(
        "restore",
        format!(
            "{} SQLite database written to a temporary file",
            short_size(written)
        ),
    );
    let integrity = on_blocking_thread(path.clone(), integrity_check).await;
    let (integrity, restored) = match integrity {
        Ok(()) => (
            Check::pass("integrity", "PRAGMA integrity_check: ok"),
            Some(Box::new(SqliteFile(path)) as Box<dyn Restored>),
        ),
        Err(e) => (Check::fail("integrity", e), None),
    };
    EngineOutcome {
        checks: vec![restore, integrity],
        restored,
    }
}

/// What the `sqlite` engine leaves: the restored database file, inside the temporary folder.
pub struct SqliteFile(pub PathBuf);

#[async_trait]
impl Restored for SqliteFile {
    async fn query_first(&self, sql: &str) -> Result<Cell, String> {
        query_first(&self.0, sql).await
    }

    fn command_env(&self) -> Vec<(String, String)> {
        vec![("DR_RESTORE_SQLITE".into(), self.0.display().to_string())]
    }
}

/// Writes the stream to `path`, refusing to let the file grow past `cap` bytes.
async fn copy_to_file(
    content: &mut ContentReader,
    path: &PathBuf,
    cap: u64,
) -> Result<u64, String> {
    let failed = |e: std::io::Error| format!("writing the database failed: {e}");
    let mut file = tokio::fs::File::create(path).await.map_err(failed)?;
    // A whole chunk of the stream per write, written where it is: large writes keep the
    // blocking-pool hand-offs of `tokio::fs` rare.
    let mut written = 0u64;
    loop {
        let chunk = content.fill_buf().await.map_err(failed)?;
        let n = chunk.len();
        if n == 0 {
            break;
        }
        if written + n as u64 > cap {
            return Err(format!(
                "the SQLite database is larger than {} (max-unpacked): stopped after writing {} as an expansion bomb",
                short_size(cap),
                short_size(written)
            ));
        }
        file.write_all(chunk).await.map_err(failed)?;
        content.consume(n);
        written += n as u64;
    }
    file.flush().await.map_err(failed)?;
    Ok(written)
}

fn integrity_check(db: &rusqlite::Connection) -> Result<(), String> {
    let failed = |e: rusqlite::Error| format!("PRAGMA integrity_check failed: {e}");
    let mut stmt = db.prepare("PRAGMA integrity_check").map_err(failed)?;
    let rows: Vec<String> = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .and_then(|rows| rows.collect())
        .map_err(failed)?;
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

/// Raises the stop flag when dropped: the caller stopped waiting for the blocking call.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Opens the database at `path` on a blocking thread and runs `work` on it. When the returned
/// future is dropped before it finishes, SQLite interrupts whatever `work` is running
/// ("interrupted"), so the thread ends soon after instead of running on unobserved.
async fn on_blocking_thread<T, F>(path: PathBuf, work: F) -> Result<T, String>
where
    T: Send + 'static,
    F: FnOnce(&rusqlite::Connection) -> Result<T, String> + Send + 'static,
{
    let stop = Arc::new(AtomicBool::new(false));
    let _stop_on_drop = StopOnDrop(stop.clone());
    tokio::task::spawn_blocking(move || {
        let db = open(&path, stop)?;
        work(&db)
    })
    .await
    .unwrap_or_else(|e| Err(format!("the blocking task ended: {e}")))
}

/// Opens the restored file as the untrusted input it is: defensive mode (no writes to the
/// schema's internals) and an untrusted schema (its views and triggers cannot call functions
/// with side effects), as SQLite advises for databases from elsewhere; and stoppable through
/// `stop`.
fn open(path: &Path, stop: Arc<AtomicBool>) -> Result<rusqlite::Connection, String> {
    use rusqlite::config::DbConfig;
    let mut db =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE)
            .map_err(|e| format!("opening the restored database failed: {e}"))?;
    db.set_db_config(DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)
        .and_then(|_| db.set_db_config(DbConfig::SQLITE_DBCONFIG_TRUSTED_SCHEMA, false))
        .and_then(|_| {
            db.progress_handler(
                STEPS_BETWEEN_LOOKS,
                Some(move || stop.load(Ordering::Relaxed)),
            )
        })
        .map_err(|e| format!("opening the restored database failed: {e}"))?;
    Ok(db)
}

/// The first column of the first row of `sql`.
pub async fn query_first(path: &Path, sql: &str) -> Result<Cell, String> {
    let sql = sql.to_string();
    on_blocking_thread(path.to_path_buf(), move |db| {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn database(sql: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch(sql)
            .unwrap();
        (dir, path)
    }

    #[test]
    fn sqlite_recursive_view_is_interrupted_when_the_deadline_drops_the_query() {
        let (_dir, path) = database(
            "create view orders as with recursive c(x) as (select 1 union all select x+1 from c) select x from c;",
        );
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        let ran = rt.block_on(async {
            tokio::time::timeout(
                std::time::Duration::from_millis(300),
                query_first(&path, "select count(*) from orders"),
            )
            .await
        });
        assert!(ran.is_err(), "the endless query returned: {ran:?}");
        // A runtime waits for its blocking threads when it shuts down: this returns early only
        // when the query really stopped.
        let started = std::time::Instant::now();
        rt.shutdown_timeout(std::time::Duration::from_secs(10));
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "the query ran on for {:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn a_query_that_finishes_is_not_interrupted() {
        let (_dir, path) = database("create table t (x); insert into t values (42);");
        assert_eq!(
            query_first(&path, "select x from t").await,
            Ok(Cell::Value("42".into()))
        );
    }

    #[tokio::test]
    async fn the_file_may_not_grow_past_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        let mut content: ContentReader = Box::pin(std::io::Cursor::new(vec![0u8; 300_000]));
        let err = copy_to_file(&mut content, &path, 200_000)
            .await
            .unwrap_err();
        assert!(err.contains("larger than 195.3 KiB"), "{err}");
        assert!(std::fs::metadata(&path).unwrap().len() <= 200_000);
        let mut content: ContentReader = Box::pin(std::io::Cursor::new(vec![0u8; 200_000]));
        assert_eq!(
            copy_to_file(&mut content, &path, 200_000).await,
            Ok(200_000)
        );
    }
}
