//! The `files` engine: a tar archive unpacked from the stream into a temporary folder. The
//! archive is untrusted input, so each entry is checked before anything is written, and the
//! first bad one fails the check and stops the unpacking:
//! - a path that is absolute or climbs out with `..`;
//! - a path that goes through a link (writing through it could land anywhere);
//! - a symlink or hardlink whose target resolves outside the folder;
//! - a device, FIFO or other special file;
//! - more unpacked bytes than the cap (`max-unpacked`, default 1000× the compressed size, at least
//!   1 MiB, at most the temporary folder's free space less a margin); each entry counts a
//!   512-byte header too, so a million empty files is a bomb as well.
//!
//! After unpacking, every symlink is resolved once more with all links in place: a chain of
//! links that are each harmless (`x -> .`, `a -> x/..`) can still point out.
//!
//! The `tar` crate is synchronous; it runs on a blocking thread reading the stream's
//! [`Content`] directly (it is a `Read` too). A blocking thread cannot be cancelled, so when
//! the restore is stopped (its deadline passed, or a signal) the pipeline is stopped, the
//! thread's next read fails, and the temporary folder goes only once the thread let go of it.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use tar::EntryType;

use super::engine::{EngineOutcome, Restored};
use crate::checks::format::Content as Kind;
use crate::checks::stream::Content;
use crate::report::Check;
use crate::units::short_size;

/// How deep a chain of symlinks is followed before it counts as a loop.
const MAX_LINK_DEPTH: usize = 40;
/// What each entry costs against the cap besides its content.
const ENTRY_COST: u64 = 512;
/// The largest write of a file's content: the pipeline's chunk size.
const WRITE_BUF: usize = crate::checks::stream::pipe::CHUNK;
/// The smallest buffer `io::copy` writes through without its own 8 KiB stack buffer.
const MIN_WRITE_BUF: usize = 8 << 10;

/// What the `files` engine leaves: the folder the archive was unpacked into.
pub struct FilesDir(pub PathBuf);

impl Restored for FilesDir {
    fn command_env(&self) -> Vec<(String, String)> {
        vec![("DR_RESTORE_DIR".into(), self.0.display().to_string())]
    }
}

/// What was unpacked.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Unpacked {
    pub files: u64,
    pub dirs: u64,
    pub links: u64,
    pub bytes: u64,
}

/// Unpacks the stream into `dir`; returns the outcome and the stream (for the caller to read
/// to its end, so the whole object is hashed). `hold` is the temporary folder `dir` is in: the
/// blocking thread keeps it until it ends, so a stopped restore's folder is deleted after the
/// thread's last write, never before it (which would let the thread make it again).
pub async fn restore(
    mut content: Content,
    kind: Kind,
    dir: PathBuf,
    cap: u64,
    hold: Arc<tempfile::TempDir>,
) -> (EngineOutcome, Content) {
    if kind != Kind::Tar {
        let outcome = EngineOutcome::failed(format!(
            "engine: files needs a tar archive, but the backup holds {}",
            kind.name()
        ));
        return (outcome, content);
    }
    let target = dir.clone();
    // Dropping this future stops the pipeline, so the thread's next read fails.
    let guard = content.stop_guard();
    let joined = tokio::task::spawn_blocking(move || {
        let result = unpack(&mut content, &target, cap);
        drop(hold);
        (result, content)
    })
    .await;
    guard.defuse();
    let (result, rest) = match joined {
        Ok(x) => x,
        Err(e) => {
            // The thread panicked and took the stream with it.
            return (
                EngineOutcome::failed(format!("unpacking stopped: {e}")),
                Content::ended(),
            );
        }
    };
    let outcome = match result {
        Ok(u) => EngineOutcome {
            checks: vec![Check::pass(
                "restore",
                format!(
                    "unpacked {} files, {} folders, {} links ({}) into a temporary folder",
                    u.files,
                    u.dirs,
                    u.links,
                    short_size(u.bytes)
                ),
            )],
            restored: Some(Box::new(FilesDir(dir))),
        },
        Err(e) => EngineOutcome::failed(e),
    };
    (outcome, rest)
}

/// Unpacks a tar stream into `root` (created), refusing anything that would land outside.
pub fn unpack(reader: impl Read, root: &Path, cap: u64) -> Result<Unpacked, String> {
    std::fs::create_dir_all(root).map_err(|e| format!("creating the folder failed: {e}"))?;
    let mut archive = tar::Archive::new(reader);
    let mut done = Unpacked::default();
    let mut spent = 0u64;
    let mut symlinks = Vec::new();
    let entries = archive
        .entries()
        .map_err(|e| format!("reading the archive failed: {e}"))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("reading the archive failed: {e}"))?;
        let raw = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let rel = relative_path(&entry.path().map_err(|e| format!("entry `{shown}`: {e}"))?)
            .map_err(|why| format!("entry `{shown}` {why}; nothing was written for it"))?;
        spent += ENTRY_COST;
        over_cap(spent, cap)?;
        if rel.as_os_str().is_empty() {
            continue;
        }
        no_links_on_the_way(root, &rel)
            .map_err(|why| format!("entry `{shown}` {why}; nothing was written for it"))?;
        let dest = root.join(&rel);
        let kind = entry.header().entry_type();
        match kind {
            EntryType::Directory => {
                std::fs::create_dir_all(&dest).map_err(|e| format!("entry `{shown}`: {e}"))?;
                done.dirs += 1;
            }
            EntryType::Regular | EntryType::Continuous => {
                make_parent(&dest, &shown)?;
                replace_file(&dest, &shown)?;
                let mut out = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&dest)
                    .map_err(|e| format!("entry `{shown}`: {e}"))?;
                let size = entry.size();
                let allowed = cap.saturating_sub(spent);
                let mut limited = (&mut entry).take(allowed.saturating_add(1));
                let n = copy_entry(&mut limited, &mut out, size)
                    .map_err(|e| format!("unpacking `{shown}` failed: {e}"))?;
                spent += n;
                over_cap(spent, cap)?;
                done.files += 1;
                done.bytes += n;
            }
            EntryType::Symlink => {
                let target = entry
                    .link_name()
                    .map_err(|e| format!("entry `{shown}`: {e}"))?
                    .ok_or_else(|| format!("symlink `{shown}` has no target"))?
                    .into_owned();
                let from = rel.parent().map(Path::to_path_buf).unwrap_or_default();
                if resolve(root, &from, &target, 0).is_none() {
                    return Err(format!(
                        "symlink `{shown}` points outside the restore folder (to `{}`); nothing was written for it",
                        target.display()
                    ));
                }
                make_parent(&dest, &shown)?;
                if std::fs::symlink_metadata(&dest).is_ok() {
                    return Err(format!(
                        "link `{shown}` would replace an entry already unpacked"
                    ));
                }
                symlink(&target, &dest).map_err(|e| format!("entry `{shown}`: {e}"))?;
                symlinks.push((rel.clone(), shown));
                done.links += 1;
            }
            EntryType::Link => {
                let target = entry
                    .link_name()
                    .map_err(|e| format!("entry `{shown}`: {e}"))?
                    .ok_or_else(|| format!("hardlink `{shown}` has no target"))?
                    .into_owned();
                // A hardlink's target is a path inside the archive, from its root.
                let source = relative_path(&target)
                    .ok()
                    .and_then(|t| resolve(root, Path::new(""), &t, 0))
                    .map(|parts| root.join(parts.iter().collect::<PathBuf>()))
                    .filter(|p| std::fs::symlink_metadata(p).is_ok_and(|m| m.is_file()));
                let Some(source) = source else {
                    return Err(format!(
                        "hardlink `{shown}` points outside the restore folder or at nothing unpacked (to `{}`); nothing was written for it",
                        target.display()
                    ));
                };
                make_parent(&dest, &shown)?;
                replace_file(&dest, &shown)?;
                std::fs::hard_link(&source, &dest).map_err(|e| format!("entry `{shown}`: {e}"))?;
                done.links += 1;
            }
            EntryType::XGlobalHeader | EntryType::XHeader => {}
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                return Err(format!(
                    "entry `{shown}` is a device or FIFO ({kind:?}); a backup has no business holding one, nothing was written for it"
                ));
            }
            other => {
                return Err(format!(
                    "entry `{shown}` has an unsupported type ({other:?}); nothing was written for it"
                ));
            }
        }
    }
    // With every link in place, chains of links must still stay inside.
    for (rel, shown) in symlinks {
        let from = rel.parent().map(Path::to_path_buf).unwrap_or_default();
        let name = rel.file_name().map(PathBuf::from).unwrap_or_default();
        if resolve(root, &from, &name, 0).is_none() {
            return Err(format!(
                "symlink `{shown}` leads outside the restore folder through other links"
            ));
        }
    }
    Ok(done)
}

/// Copies an entry's content into its file in writes of up to [`WRITE_BUF`], or of the
/// entry's size if smaller (so a million small files do not each take a large buffer; the size
/// comes from the untrusted header, so it only sizes the buffer). `io::copy` into a plain file
/// would write 8 KiB at a time.
fn copy_entry(from: &mut impl Read, to: impl Write, size: u64) -> std::io::Result<u64> {
    let buffer = usize::try_from(size)
        .unwrap_or(WRITE_BUF)
        .clamp(MIN_WRITE_BUF, WRITE_BUF);
    let mut to = std::io::BufWriter::with_capacity(buffer, to);
    let n = std::io::copy(from, &mut to)?;
    to.flush()?;
    Ok(n)
}

fn over_cap(spent: u64, cap: u64) -> Result<(), String> {
    if spent > cap {
        return Err(format!(
            "the archive unpacks to more than {}: stopped as an expansion bomb",
            short_size(cap)
        ));
    }
    Ok(())
}

/// A path inside the folder, or why it is not one.
fn relative_path(path: &Path) -> Result<PathBuf, &'static str> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            Component::ParentDir => return Err("climbs out of the restore folder with `..`"),
            Component::RootDir | Component::Prefix(_) => return Err("is an absolute path"),
        }
    }
    Ok(out)
}

/// Fails when any folder on the way to `rel` is a link: writing through it could land outside.
fn no_links_on_the_way(root: &Path, rel: &Path) -> Result<(), &'static str> {
    let mut at = root.to_path_buf();
    let mut parts = rel.components().peekable();
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            break;
        }
        at.push(part);
        match std::fs::symlink_metadata(&at) {
            Ok(m) if m.file_type().is_symlink() => return Err("goes through a link"),
            _ => {}
        }
    }
    Ok(())
}

fn make_parent(dest: &Path, shown: &str) -> Result<(), String> {
    match dest.parent() {
        Some(p) => std::fs::create_dir_all(p).map_err(|e| format!("entry `{shown}`: {e}")),
        None => Ok(()),
    }
}

/// A later entry of the same name replaces a file (as tar does), never a link or a folder.
fn replace_file(dest: &Path, shown: &str) -> Result<(), String> {
    match std::fs::symlink_metadata(dest) {
        Err(_) => Ok(()),
        Ok(m) if m.is_file() => {
            std::fs::remove_file(dest).map_err(|e| format!("entry `{shown}`: {e}"))
        }
        Ok(_) => Err(format!(
            "entry `{shown}` would replace a link or folder already unpacked"
        )),
    }
}

#[cfg(unix)]
fn symlink(target: &Path, dest: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, dest)
}

#[cfg(not(unix))]
fn symlink(_target: &Path, _dest: &Path) -> std::io::Result<()> {
    Err(std::io::Error::other("symlinks are only unpacked on Unix"))
}

/// Where `target`, seen from the folder `from` (both relative to `root`), ends up, following
/// links already on disk: the parts of the path inside `root`, or `None` when it leaves it.
fn resolve(root: &Path, from: &Path, target: &Path, depth: usize) -> Option<Vec<OsString>> {
    if depth > MAX_LINK_DEPTH {
        return None;
    }
    let mut parts: Vec<OsString> = from.iter().map(OsString::from).collect();
    for c in target.components() {
        match c {
            Component::RootDir | Component::Prefix(_) => return None,
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::Normal(p) => {
                parts.push(p.to_os_string());
                let here = root.join(parts.iter().collect::<PathBuf>());
                if let Ok(m) = std::fs::symlink_metadata(&here)
                    && m.file_type().is_symlink()
                {
                    let link = std::fs::read_link(&here).ok()?;
                    parts.pop();
                    let dir: PathBuf = parts.iter().collect();
                    parts = resolve(root, &dir, &link, depth + 1)?;
                }
            }
        }
    }
    Some(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_with(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        build(&mut b);
        b.into_inner().unwrap()
    }

    fn file(b: &mut tar::Builder<Vec<u8>>, name: &str, data: &[u8]) {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(EntryType::Regular);
        // set_path refuses `..`; write the raw name the way a hostile archive would.
        let gnu = h.as_gnu_mut().unwrap();
        gnu.name[..name.len()].copy_from_slice(name.as_bytes());
        h.set_cksum();
        b.append(&h, data).unwrap();
    }

    fn link(b: &mut tar::Builder<Vec<u8>>, kind: EntryType, name: &str, target: &str) {
        let mut h = tar::Header::new_gnu();
        h.set_size(0);
        h.set_entry_type(kind);
        h.set_mode(0o777);
        let gnu = h.as_gnu_mut().unwrap();
        gnu.name[..name.len()].copy_from_slice(name.as_bytes());
        gnu.linkname[..target.len()].copy_from_slice(target.as_bytes());
        h.set_cksum();
        b.append(&h, &[][..]).unwrap();
    }

    fn unpack_in(tar: &[u8], cap: u64) -> (tempfile::TempDir, Result<Unpacked, String>) {
        let outer = tempfile::tempdir().unwrap();
        let root = outer.path().join("root");
        let r = unpack(tar, &root, cap);
        (outer, r)
    }

    /// Records the size of every write it is given.
    struct Writes(Vec<usize>);

    impl Write for Writes {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.push(buf.len());
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// A reader with no buffer of its own to hand over (like a tar entry), which gives at most
    /// 64 KiB per read.
    struct Unbuffered<'a>(&'a [u8]);

    impl Read for Unbuffered<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(self.0.len()).min(64 << 10);
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn a_large_file_in_an_archive_is_written_in_large_writes_not_8_kib_ones() {
        let data: Vec<u8> = (0..3u32 << 20).map(|i| (i % 251) as u8).collect();
        let mut writes = Writes(Vec::new());
        let mut from = Unbuffered(&data);
        let n = copy_entry(&mut from, &mut writes, data.len() as u64).unwrap();
        assert_eq!(n, data.len() as u64);
        assert_eq!(writes.0.iter().sum::<usize>(), data.len());
        assert!(
            writes.0.len() <= 4 && writes.0.iter().all(|&w| w >= WRITE_BUF - MIN_WRITE_BUF),
            "writes: {:?}",
            writes.0
        );
    }

    #[test]
    fn a_header_claiming_any_size_only_sizes_the_buffer_and_the_content_is_copied_whole() {
        for claimed in [0, 5, u64::MAX] {
            let mut writes = Writes(Vec::new());
            let n = copy_entry(&mut Unbuffered(b"hello"), &mut writes, claimed).unwrap();
            assert_eq!((n, writes.0), (5, vec![5]), "header size {claimed}");
        }
    }

    #[test]
    fn a_plain_archive_unpacks() {
        let t = tar_with(|b| {
            file(b, "a/b.txt", b"hello");
            link(b, EntryType::Symlink, "a/c", "b.txt");
            link(b, EntryType::Link, "a/d", "a/b.txt");
        });
        let (outer, r) = unpack_in(&t, 1 << 20);
        let u = r.unwrap();
        assert_eq!((u.files, u.links, u.bytes), (1, 2, 5));
        let root = outer.path().join("root");
        assert_eq!(std::fs::read(root.join("a/c")).unwrap(), b"hello");
        assert_eq!(std::fs::read(root.join("a/d")).unwrap(), b"hello");
    }

    #[test]
    fn dot_dot_absolute_and_links_out_are_refused_and_not_written() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (tar_with(|b| file(b, "../escape.txt", b"x")), "`..`"),
            (tar_with(|b| file(b, "/tmp/escape.txt", b"x")), "absolute"),
            (
                tar_with(|b| link(b, EntryType::Symlink, "out", "../..")),
                "points outside",
            ),
            (
                tar_with(|b| link(b, EntryType::Symlink, "out", "/etc")),
                "points outside",
            ),
            (
                tar_with(|b| link(b, EntryType::Link, "h", "../escape.txt")),
                "hardlink",
            ),
            (
                tar_with(|b| {
                    // Each harmless when made; together `a` is the folder's parent.
                    link(b, EntryType::Symlink, "a", "x/..");
                    link(b, EntryType::Symlink, "x", ".");
                }),
                "through other links",
            ),
            (
                tar_with(|b| {
                    link(b, EntryType::Symlink, "d", "sub");
                    file(b, "d/f.txt", b"x");
                }),
                "goes through a link",
            ),
        ];
        for (t, want) in cases {
            let (outer, r) = unpack_in(&t, 1 << 20);
            let err = r.unwrap_err();
            assert!(err.contains(want), "{want}: {err}");
            assert!(!outer.path().join("escape.txt").exists());
        }
    }

    #[test]
    fn devices_are_refused() {
        let t = tar_with(|b| {
            let mut h = tar::Header::new_gnu();
            h.set_path("dev").unwrap();
            h.set_entry_type(EntryType::Char);
            h.set_size(0);
            h.set_cksum();
            b.append(&h, &[][..]).unwrap();
        });
        let (_outer, r) = unpack_in(&t, 1 << 20);
        assert!(r.unwrap_err().contains("device"));
    }

    #[test]
    fn the_cap_stops_an_expansion_bomb() {
        let t = tar_with(|b| file(b, "zeros", &vec![0u8; 100_000]));
        let (outer, r) = unpack_in(&t, 10_000);
        assert!(r.unwrap_err().contains("expansion bomb"));
        let written = std::fs::metadata(outer.path().join("root/zeros"))
            .unwrap()
            .len();
        assert!(written <= 10_001, "{written}");
    }

    #[tokio::test]
    async fn unpacked_files_refuse_sql_and_point_commands_at_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let restored: Box<dyn Restored> = Box::new(FilesDir(dir.path().to_path_buf()));
        let err = restored.query_first("select 1").await.unwrap_err();
        assert!(err.contains("need engine postgres or sqlite"), "{err}");
        assert_eq!(
            restored.command_env(),
            vec![(
                "DR_RESTORE_DIR".to_string(),
                dir.path().display().to_string()
            )]
        );
        assert!(restored.secrets().is_empty());
    }
}
