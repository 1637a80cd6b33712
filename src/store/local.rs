//! A local folder acting as a bucket: keys are paths relative to the folder, with `/`
//! separators. The embedded default (`demo`) and users without a cloud account use it. A local
//! store keeps no checksum and no encryption metadata, so those fields of a HEAD are empty.

use std::path::{Component, Path, PathBuf};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::stream::{self, BoxStream, StreamExt};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::{
    BackupStore, ObjectHead, ObjectMeta, ObjectReader, StoreError, StoreErrorKind, StoreKind,
};

pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalStore { root: root.into() }
    }

    /// The file for `key`, refusing keys that would leave the folder.
    fn path_of(&self, key: &str) -> Result<PathBuf, StoreError> {
        let rel = Path::new(key);
        let escapes = rel
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir));
        if escapes || key.is_empty() {
            return Err(StoreError::new(
                StoreErrorKind::Other,
                format!("key `{key}` leaves the store"),
            )
            .with_code("InvalidKey"));
        }
        Ok(self.root.join(rel))
    }

    /// The deepest folder that holds every key starting with `prefix`.
    fn walk_root(&self, prefix: &str) -> PathBuf {
        match prefix.rfind('/') {
            Some(i) => self.root.join(&prefix[..i]),
            None => self.root.clone(),
        }
    }

    fn key_of(&self, path: &Path) -> Option<String> {
        let rel = path.strip_prefix(&self.root).ok()?;
        let parts: Option<Vec<&str>> = rel.components().map(|c| c.as_os_str().to_str()).collect();
        Some(parts?.join("/"))
    }
}

/// The one mapping of file-system errors to store errors: a missing file or a refused one has
/// its kind, anything else is an `io` error.
fn io_error(kind: std::io::ErrorKind, message: String) -> StoreError {
    match kind {
        std::io::ErrorKind::NotFound => StoreError::new(StoreErrorKind::NotFound, message),
        std::io::ErrorKind::PermissionDenied => {
            StoreError::new(StoreErrorKind::AccessDenied, message)
        }
        _ => StoreError::new(StoreErrorKind::Other, message).with_code("io"),
    }
}

fn file_error(what: &str) -> impl Fn(std::io::Error) -> StoreError + '_ {
    move |err| io_error(err.kind(), format!("{what}: {err}"))
}

fn modified(meta: &std::fs::Metadata) -> DateTime<Utc> {
    meta.modified()
        .map(DateTime::<Utc>::from)
        .unwrap_or(DateTime::UNIX_EPOCH)
}

#[async_trait]
impl BackupStore for LocalStore {
    fn kind(&self) -> StoreKind {
        StoreKind::Local
    }

    fn describe(&self) -> String {
        format!("local folder {}", self.root.display())
    }

    fn uri(&self, key: &str) -> String {
        // A `file:` URL needs an absolute path; `url` percent-encodes what a URL cannot hold.
        let path = std::path::absolute(self.root.join(key)).unwrap_or_else(|_| self.root.join(key));
        url::Url::from_file_path(&path)
            .map(String::from)
            .unwrap_or_else(|()| format!("file://{}", path.display()))
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxStream<'a, Result<ObjectMeta, StoreError>> {
        if !self.root.is_dir() {
            let err = StoreError::new(
                StoreErrorKind::NoSuchBucket,
                format!("the store folder {} does not exist", self.root.display()),
            );
            return stream::once(async { Err(err) }).boxed();
        }
        let start = self.walk_root(prefix);
        // walkdir reads one folder at a time, so memory follows the depth, not the file count.
        let walk = walkdir::WalkDir::new(start).follow_links(false).into_iter();
        let items = walk.filter_map(move |entry| match entry {
            Err(e)
                if e.io_error()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::NotFound) =>
            {
                None
            }
            Err(e) => {
                let kind = e
                    .io_error()
                    .map_or(std::io::ErrorKind::Other, |io| io.kind());
                Some(Err(io_error(kind, format!("listing {prefix}: {e}"))))
            }
            Ok(entry) if !entry.file_type().is_file() => None,
            Ok(entry) => {
                let key = self.key_of(entry.path())?;
                if !key.starts_with(prefix) {
                    return None;
                }
                Some(
                    entry
                        .metadata()
                        .map(|m| ObjectMeta {
                            key,
                            size: m.len(),
                            last_modified: modified(&m),
                        })
                        .map_err(|e| {
                            let kind = e
                                .io_error()
                                .map_or(std::io::ErrorKind::Other, |io| io.kind());
                            io_error(kind, format!("reading metadata: {e}"))
                        }),
                )
            }
        });
        stream::iter(items).boxed()
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectHead>, StoreError> {
        let path = self.path_of(key)?;
        match tokio::fs::metadata(&path).await {
            Ok(m) if m.is_file() => Ok(Some(ObjectHead {
                size: m.len(),
                last_modified: Some(modified(&m)),
                ..ObjectHead::default()
            })),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(file_error(key)(e)),
        }
    }

    async fn read_range(&self, key: &str, start: u64, len: u64) -> Result<Vec<u8>, StoreError> {
        let path = self.path_of(key)?;
        let mut file = tokio::fs::File::open(&path)
            .await
            .map_err(file_error(key))?;
        file.seek(std::io::SeekFrom::Start(start))
            .await
            .map_err(file_error(key))?;
        let mut buf = Vec::new();
        file.take(len)
            .read_to_end(&mut buf)
            .await
            .map_err(file_error(key))?;
        Ok(buf)
    }

    async fn read(&self, key: &str) -> Result<ObjectReader, StoreError> {
        let path = self.path_of(key)?;
        let file = tokio::fs::File::open(&path)
            .await
            .map_err(file_error(key))?;
        // The read pipeline reads the file itself, on a blocking thread (see `ObjectReader`).
        Ok(ObjectReader::file(file.into_std().await))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::TryStreamExt;

    #[tokio::test]
    async fn lists_only_keys_under_the_prefix_with_slash_separators() {
        let dir = tempfile::tempdir().unwrap();
        for p in ["a/x/1.gz", "a/x/2.gz", "a/y/3.gz", "b/4.gz"] {
            let path = dir.path().join(p);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, b"data").unwrap();
        }
        let store = LocalStore::new(dir.path());
        let mut keys: Vec<String> = store
            .list("a/x/")
            .map_ok(|m| m.key)
            .try_collect()
            .await
            .unwrap();
        keys.sort();
        assert_eq!(keys, ["a/x/1.gz", "a/x/2.gz"]);
        let keys: Vec<String> = store
            .list("a/")
            .map_ok(|m| m.key)
            .try_collect()
            .await
            .unwrap();
        assert_eq!(keys.len(), 3);
        let none: Vec<ObjectMeta> = store.list("zzz/").try_collect().await.unwrap();
        assert!(none.is_empty());
    }

    #[tokio::test]
    async fn a_missing_store_folder_is_no_such_bucket() {
        let store = LocalStore::new("/nonexistent/dr-action-store");
        let first = store.list("").next().await.unwrap().unwrap_err();
        assert_eq!(first.kind, StoreErrorKind::NoSuchBucket);
        assert!(
            first
                .to_string()
                .starts_with("NoSuchBucket: the store folder")
        );
    }

    #[tokio::test]
    async fn keys_that_leave_the_folder_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        let err = store.head("../etc/passwd").await.unwrap_err();
        assert_eq!(err.code.as_deref(), Some("InvalidKey"));
        assert_eq!(
            store
                .read_range("/etc/passwd", 0, 4)
                .await
                .unwrap_err()
                .to_string(),
            "InvalidKey: key `/etc/passwd` leaves the store"
        );
    }

    #[tokio::test]
    async fn read_range_stops_at_the_end() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("k"), b"0123456789").unwrap();
        let store = LocalStore::new(dir.path());
        assert_eq!(store.read_range("k", 2, 3).await.unwrap(), b"234");
        assert_eq!(store.read_range("k", 8, 100).await.unwrap(), b"89");
        assert!(store.head("missing").await.unwrap().is_none());
    }
}
