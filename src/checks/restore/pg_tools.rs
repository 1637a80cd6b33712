//! Where the PostgreSQL programs are, and the environment they run in. The programs come from
//! the first folder that holds all of those a restore needs: `PATH` in order, then
//! `pg_config --bindir` (Debian and Ubuntu keep the server programs off `PATH`). Every one of
//! them runs with a cleared environment: the folder found plus `/usr/bin:/bin` as `PATH`, the
//! C locale, `HOME` inside the restore's temporary folder, and the `PG*` variables the caller
//! adds — so nothing a dump can make a client or the server do sees a runner secret.

use std::path::{Path, PathBuf};

use super::pg_version::{self, Version};
use crate::process::{self, Program};

/// The PostgreSQL programs one restore uses.
#[derive(Clone, Debug)]
pub struct Tools {
    pub bindir: PathBuf,
    home: PathBuf,
}

impl Tools {
    /// Finds a folder holding every program of `needed` on `path` (dr-action's own `PATH`,
    /// from the environment snapshot); `home` is the clients' `HOME`.
    pub async fn find(needed: &[&str], home: &Path, path: Option<&str>) -> Result<Tools, String> {
        // Relative entries (`.`, empty) would pick programs from the working folder.
        let mut dirs: Vec<PathBuf> = path
            .map(|p| {
                std::env::split_paths(p)
                    .filter(|d| d.is_absolute())
                    .collect()
            })
            .unwrap_or_default();
        if let Some(dir) = pg_config_bindir(&dirs, path.unwrap_or_default()).await {
            dirs.push(dir);
        }
        dirs.into_iter()
            .find(|d| needed.iter().all(|p| d.join(p).is_file()))
            .map(|bindir| Tools {
                bindir,
                home: home.to_path_buf(),
            })
            .ok_or_else(|| {
                format!(
                    "the PostgreSQL programs {} were not found on PATH nor in `pg_config --bindir`; install PostgreSQL (e.g. apt-get install postgresql)",
                    needed.join(", ")
                )
            })
    }

    pub fn program(&self, name: &str) -> String {
        self.bindir.join(name).display().to_string()
    }

    /// The whole environment of a PostgreSQL program: the basics, then `extra`.
    pub fn env(&self, extra: Vec<(String, String)>) -> Vec<(String, String)> {
        let mut env = vec![
            (
                "PATH".to_string(),
                format!("{}:/usr/bin:/bin", self.bindir.display()),
            ),
            ("LC_ALL".into(), "C".into()),
            ("LANG".into(), "C".into()),
            ("HOME".into(), self.home.display().to_string()),
            ("PGCLIENTENCODING".into(), "UTF8".into()),
            ("PGCONNECT_TIMEOUT".into(), "10".into()),
        ];
        env.extend(extra);
        env
    }

    /// The version `<program> --version` reports.
    pub async fn version(&self, name: &str) -> Result<Version, String> {
        let argv = vec![self.program(name), "--version".into()];
        let mut program = Program::new(&argv, self.env(Vec::new()));
        program.stdout_max = 4096;
        let ran = process::run(&program, None).await?;
        let text = String::from_utf8_lossy(&ran.stdout);
        pg_version::from_version_output(&text)
            .ok_or_else(|| format!("`{name} --version` said `{}`", text.trim()))
    }
}

/// `pg_config --bindir`, when a `pg_config` is on `dirs`.
async fn pg_config_bindir(dirs: &[PathBuf], path: &str) -> Option<PathBuf> {
    let pg_config = dirs
        .iter()
        .map(|d| d.join("pg_config"))
        .find(|p| p.is_file())?;
    let argv = vec![pg_config.display().to_string(), "--bindir".into()];
    let mut program = Program::new(&argv, vec![("PATH".into(), path.to_string())]);
    program.stdout_max = 4096;
    let ran = process::run(&program, None).await.ok()?;
    let dir = String::from_utf8_lossy(&ran.stdout).trim().to_string();
    (ran.status.success() && !dir.is_empty()).then(|| PathBuf::from(dir))
}
