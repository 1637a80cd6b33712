//! Every file the tool writes goes through here: the bytes land in a temporary file in the same
//! folder, are flushed, and the file is renamed over the destination. A crash leaves either the
//! old file or the new one, never half of one. The file gets the mode any other program would
//! give it: a new file is `0666` less the umask (the OS applies it when the temporary is
//! created), a replaced file keeps the mode it had.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{Context, Result};

/// Writes `bytes` to `path` atomically, creating the parent folders.
pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).with_context(|| format!("creating folder {}", dir.display()))?;
    // The previous file's mode, if any; its `0o7777` bits are all a chmod may set.
    let kept = std::fs::metadata(path)
        .ok()
        .filter(std::fs::Metadata::is_file)
        .map(|m| std::fs::Permissions::from_mode(m.permissions().mode() & 0o7777));
    let mut tmp = tempfile::Builder::new()
        .prefix(".dr-action-")
        .suffix(".tmp")
        // Passed to open(2), so the umask applies, as for any new file (tempfile's own default
        // is 0600, which would hide reports and badges from the web server or the next job).
        .permissions(std::fs::Permissions::from_mode(0o666))
        .tempfile_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    if let Some(mode) = kept {
        tmp.as_file()
            .set_permissions(mode)
            .with_context(|| format!("keeping the mode of {}", path.display()))?;
    }
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("writing {}", path.display()))?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("renaming into place {}", path.display()))?;
    Ok(())
}

/// Serialises `value` as pretty JSON (with a final newline) and writes it atomically.
pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value).context("serialising JSON")?;
    text.push('\n');
    write(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_replaces_whole_file_and_leaves_no_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/report.json");
        write(&path, b"first version, longer").unwrap();
        write(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("report.json")]);
    }

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn a_new_file_gets_0666_less_the_umask_not_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("badge.svg");
        write(&path, b"<svg/>").unwrap();
        // The process umask is whatever the test runner has; read it back without changing it
        // by creating an ordinary file the way any program would.
        let probe = dir.path().join("probe");
        std::fs::File::create(&probe).unwrap();
        assert_eq!(mode(&path), mode(&probe));
    }

    #[test]
    fn replacing_a_file_keeps_its_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dr.yml");
        std::fs::write(&path, b"old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        write(&path, b"new").unwrap();
        assert_eq!(mode(&path), 0o640);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        write(&path, b"newer").unwrap();
        assert_eq!(mode(&path), 0o755);
        assert_eq!(std::fs::read(&path).unwrap(), b"newer");
    }
}
