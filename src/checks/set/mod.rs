//! Backup sets: a backup kept as a folder of parts (`full_<timestamp>/` under the target's
//! prefix) instead of one object. This module owns the listing of the folders, the manifest
//! (`set: { manifest: metadata.json }`) or the sidecars (`set: {}`) that say which parts a
//! folder must hold, the verdict on whether a folder is complete, and the dry-run checks of a
//! set target (`dry_run`). The full restore of a set lives in `restore::parts` and picks its set
//! here.
//!
//! The rules, in one place:
//! - A folder is a set when its name (the first key segment after the prefix) matches the
//!   target's `match` glob. Its time is the newest `last-modified` of its objects.
//! - With a manifest, the parts are the manifest's entries; a folder is complete when the
//!   manifest is there, parses, and every part it lists is stored with the listed size. Without
//!   one, every object of the folder except `*.sha256` is a part, and it is complete when every
//!   part has its `PART.sha256` sidecar.
//! - The newest folder is what a restore would get on the worst day: when it is incomplete the
//!   `set` check fails, naming the part, and still names the newest complete set; freshness
//!   and the restore use that newest complete set.
//! - The manifest is untrusted input: it is read with a size cap, holds at most [`MAX_PARTS`]
//!   parts, and a part name that is absolute, has a `.`/`..`/empty segment, a backslash or a
//!   control character fails the set (a part outside the set's folder cannot be named). Its
//!   `engine`/`kind` fields are read but never pick the restore engine: the config does.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use futures::StreamExt;

use crate::checks::sidecar::read_sidecar;
use crate::config::{BackupFormat, BackupSet, RestoreEngine, Target};
use crate::report::{Check, Latest};
use crate::store::{BackupStore, ObjectMeta, StoreError};
use crate::units::short_size;

mod dry_run;
pub mod manifest;

pub use dry_run::check_target;
pub use manifest::{MANIFEST_MAX, MAX_PARTS, check_part_name, parse_manifest};

/// The most objects one set folder may hold.
pub const MAX_FOLDER_OBJECTS: usize = 10_000;
/// How many of the newest folders are inspected (manifest read) to find a complete one.
const INSPECT: usize = 6;

/// One folder of the listing: its summary from the listing of the prefix and, once
/// [`fill`]ed (only for the few folders inspected), its objects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetFolder {
    /// The folder's name, `full_1705747200000`.
    pub name: String,
    /// The key prefix of its parts, `app/full_1705747200000/`.
    pub prefix: String,
    /// Its objects, by name relative to the folder; empty until filled.
    pub objects: BTreeMap<String, ObjectMeta>,
    pub last_modified: DateTime<Utc>,
    pub bytes: u64,
}

impl SetFolder {
    /// Takes the objects of a listing of this folder's prefix; `Err` past [`MAX_FOLDER_OBJECTS`].
    pub fn fill_from(
        &mut self,
        objects: impl IntoIterator<Item = ObjectMeta>,
    ) -> Result<(), String> {
        self.objects.clear();
        for obj in objects {
            let Some(rel) = obj.key.strip_prefix(&self.prefix) else {
                continue;
            };
            if rel.is_empty() || rel.ends_with('/') {
                continue;
            }
            if self.objects.len() >= MAX_FOLDER_OBJECTS {
                return Err(format!(
                    "holds more than {MAX_FOLDER_OBJECTS} objects, more than a set is checked for"
                ));
            }
            self.objects.insert(rel.to_string(), obj);
        }
        Ok(())
    }
}

/// The folders under a prefix, folded one listed object at a time: per folder its newest time
/// and its bytes, not its objects, so memory grows with the number of sets, not of parts.
#[derive(Debug, Default)]
pub struct Folders {
    map: BTreeMap<String, SetFolder>,
    pub scanned: u64,
}

impl Folders {
    /// Counts `obj` into its folder: the first key segment after `prefix`, when it matches
    /// `glob`. Objects directly under the prefix are in no set.
    pub fn add(&mut self, obj: &ObjectMeta, prefix: &str, glob: &globset::GlobMatcher) {
        self.scanned += 1;
        let Some((name, rel)) = obj
            .key
            .strip_prefix(prefix)
            .and_then(|rest| rest.split_once('/'))
        else {
            return;
        };
        if rel.is_empty() || !glob.is_match(name) {
            return;
        }
        match self.map.get_mut(name) {
            Some(f) => {
                f.last_modified = f.last_modified.max(obj.last_modified);
                f.bytes = f.bytes.saturating_add(obj.size);
            }
            None => {
                let folder = SetFolder {
                    name: name.to_string(),
                    prefix: format!("{prefix}{name}/"),
                    objects: BTreeMap::new(),
                    last_modified: obj.last_modified,
                    bytes: obj.size,
                };
                self.map.insert(name.to_string(), folder);
            }
        }
    }

    /// The folders, newest first (ties by name, descending).
    pub fn newest_first(self) -> Vec<SetFolder> {
        let mut out: Vec<SetFolder> = self.map.into_values().collect();
        out.sort_by(|a, b| (b.last_modified, &b.name).cmp(&(a.last_modified, &a.name)));
        out
    }
}

/// Lists a folder's objects into it.
pub async fn fill(store: &dyn BackupStore, folder: &mut SetFolder) -> Result<(), String> {
    let prefix = folder.prefix.clone();
    let mut objects = Vec::new();
    let mut listed = store.list(&prefix);
    while let Some(obj) = listed.next().await {
        let obj = obj.map_err(|e| format!("listing {prefix} failed: {e}"))?;
        objects.push(obj);
        if objects.len() > MAX_FOLDER_OBJECTS {
            break;
        }
    }
    drop(listed);
    folder.fill_from(objects)
}

/// A part a set must hold, and what the store holds under its name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    pub name: String,
    pub key: String,
    /// The size the manifest lists; `None` for a sidecar-only set.
    pub listed_size: Option<u64>,
    /// The SHA-256 the manifest lists; `None` for a sidecar-only set (read from the sidecar).
    pub sha256: Option<String>,
    /// The stored object, when there is one.
    pub stored: Option<ObjectMeta>,
    /// Sidecar-only sets: whether `PART.sha256` is stored.
    pub has_sidecar: bool,
}

impl Part {
    /// Why this part makes its set incomplete, if it does.
    pub fn fault(&self) -> Option<String> {
        // A sidecar-only set's names come from the store's keys: held to the manifest's rule.
        if let Err(e) = check_part_name(&self.name) {
            return Some(e);
        }
        let Some(stored) = &self.stored else {
            return Some(format!("part {} is missing", self.name));
        };
        if let Some(listed) = self.listed_size
            && listed != stored.size
        {
            return Some(format!(
                "part {} is {} bytes, the manifest lists {listed}",
                self.name, stored.size
            ));
        }
        if self.listed_size.is_none() && !self.has_sidecar {
            return Some(format!(
                "part {} has no {}.sha256 sidecar",
                self.name, self.name
            ));
        }
        None
    }

    /// The SHA-256 the part must have: the manifest's, else its sidecar's.
    pub async fn expected_sha256(&self, store: &dyn BackupStore) -> Result<String, String> {
        match &self.sha256 {
            Some(h) => Ok(h.clone()),
            None => read_sidecar(store, &self.key).await,
        }
    }
}

/// A folder with its parts resolved: complete when `problem` is `None`.
#[derive(Clone, Debug)]
pub struct Inspected {
    pub folder: SetFolder,
    /// Empty when the manifest could not be read.
    pub parts: Vec<Part>,
    /// Why the folder is not a complete set.
    pub problem: Option<String>,
}

impl Inspected {
    pub fn is_complete(&self) -> bool {
        self.problem.is_none()
    }
}

/// The parts of a folder whose manifest parsed, matched against what is stored.
pub fn manifest_parts(folder: &SetFolder, listed: Vec<(String, u64, String)>) -> Vec<Part> {
    listed
        .into_iter()
        .map(|(name, size, sha)| Part {
            key: format!("{}{name}", folder.prefix),
            stored: folder.objects.get(&name).cloned(),
            listed_size: Some(size),
            sha256: Some(sha),
            has_sidecar: false,
            name,
        })
        .collect()
}

/// The parts of a sidecar-only folder: every object but the sidecars.
pub fn sidecar_parts(folder: &SetFolder) -> Vec<Part> {
    folder
        .objects
        .iter()
        .filter(|(name, _)| !name.ends_with(".sha256"))
        .map(|(name, obj)| Part {
            name: name.clone(),
            key: obj.key.clone(),
            listed_size: None,
            sha256: None,
            stored: Some(obj.clone()),
            has_sidecar: folder.objects.contains_key(&format!("{name}.sha256")),
        })
        .collect()
}

/// The verdict over a folder's parts: `None` when complete, else the faults.
fn faults(parts: &[Part]) -> Option<String> {
    if parts.is_empty() {
        return Some("holds no parts".into());
    }
    let faults: Vec<String> = parts.iter().filter_map(Part::fault).collect();
    (!faults.is_empty()).then(|| faults.join("; "))
}

/// Reads the folder's manifest (or takes its sidecars) and says whether it is complete.
pub async fn inspect(store: &dyn BackupStore, mut folder: SetFolder, set: &BackupSet) -> Inspected {
    if let Err(e) = fill(store, &mut folder).await {
        return Inspected {
            folder,
            parts: Vec::new(),
            problem: Some(e),
        };
    }
    let Some(manifest) = &set.manifest else {
        let parts = sidecar_parts(&folder);
        let problem = faults(&parts);
        return Inspected {
            folder,
            parts,
            problem,
        };
    };
    let key = format!("{}{manifest}", folder.prefix);
    let failed = |folder, problem: String| Inspected {
        folder,
        parts: Vec::new(),
        problem: Some(problem),
    };
    let size = match folder.objects.get(manifest.as_str()) {
        Some(obj) => obj.size,
        None => return failed(folder, format!("manifest {manifest} is missing")),
    };
    if size > MANIFEST_MAX {
        let why = format!(
            "manifest {manifest} is {}, larger than the {} accepted",
            short_size(size),
            short_size(MANIFEST_MAX)
        );
        return failed(folder, why);
    }
    let bytes = match store.read_range(&key, 0, MANIFEST_MAX).await {
        Ok(b) => b,
        Err(e) => return failed(folder, format!("reading manifest {manifest} failed: {e}")),
    };
    match parse_manifest(&bytes) {
        Ok(listed) => {
            let parts = manifest_parts(&folder, listed);
            let problem = faults(&parts);
            Inspected {
                folder,
                parts,
                problem,
            }
        }
        Err(e) => failed(folder, format!("manifest {manifest} {e}")),
    }
}

/// What the listing of a set target established.
pub struct Picked {
    /// `listing`: how many sets, and the newest.
    pub listing: Check,
    /// `set`: whether the newest folder is complete, and the newest complete set.
    pub set: Check,
    /// The newest folder, inspected.
    pub newest: Option<Inspected>,
    /// The newest complete set (the newest folder itself when complete).
    pub complete: Option<Inspected>,
    /// Every matching folder, newest first (for size history and retention days).
    pub folders: Vec<SetFolder>,
}

/// Lists the prefix once, groups it into folders, and inspects the newest ones until a
/// complete set is found. `only` restricts the choice to one folder (`--backup`).
pub async fn pick(
    store: &dyn BackupStore,
    target: &Target,
    set: &BackupSet,
    prefix: &str,
    only: Option<&str>,
) -> Result<Picked, Check> {
    const NAME: &str = "listing";
    let glob = globset::Glob::new(&target.pattern)
        .map_err(|e| Check::fail(NAME, format!("bad match glob: {e}")))?
        .compile_matcher();
    let where_ = format!("{} under `{prefix}`", store.describe());
    let mut fold = Folders::default();
    let mut listed = store.list(prefix);
    while let Some(obj) = listed.next().await {
        let obj: ObjectMeta =
            obj.map_err(|e: StoreError| Check::fail(NAME, format!("cannot list {where_}: {e}")))?;
        fold.add(&obj, prefix, &glob);
    }
    drop(listed);
    let scanned = fold.scanned;
    let mut folders = fold.newest_first();
    if let Some(only) = only {
        let want = only.trim_end_matches('/');
        folders.retain(|f| f.prefix.trim_end_matches('/') == want);
        if folders.is_empty() {
            return Err(Check::fail(
                NAME,
                format!(
                    "--backup {only} is not a set folder matching `{}` in {where_}",
                    target.pattern
                ),
            ));
        }
    }
    let Some(first) = folders.first() else {
        return Err(Check::fail(
            NAME,
            format!(
                "no set folder matching `{}` in {where_} ({scanned} objects)",
                target.pattern
            ),
        ));
    };
    let listing = Check::pass(
        NAME,
        format!(
            "{} matching `{}` under `{prefix}`; the newest is {}",
            crate::units::count(folders.len() as u64, "set folder"),
            target.pattern,
            first.name
        ),
    );
    let mut newest = None;
    let mut complete = None;
    for folder in folders.iter().take(INSPECT) {
        let seen = inspect(store, folder.clone(), set).await;
        let done = seen.is_complete();
        if done {
            complete = Some(seen.clone());
        }
        if newest.is_none() {
            newest = Some(seen);
        }
        if done {
            break;
        }
    }
    let mut set_check = set_verdict(newest.as_ref(), complete.as_ref(), folders.len());
    if let Some(held) = complete
        .as_ref()
        .or(newest.as_ref())
        .filter(|i| !i.parts.is_empty())
    {
        let unknown = unknown_engine_parts(set, &held.parts);
        if !unknown.is_empty() {
            set_check = Check::fail(
                "set",
                format!(
                    "{}; set.engines names {}, which {} does not hold (a typo restores that part with restore.engine)",
                    set_check.detail,
                    unknown.join(", "),
                    held.folder.name
                ),
            );
        }
    }
    Ok(Picked {
        listing,
        set: set_check,
        newest,
        complete,
        folders,
    })
}

/// The parts `set.engines` names that `parts` does not hold.
pub fn unknown_engine_parts<'a>(set: &'a BackupSet, parts: &[Part]) -> Vec<&'a str> {
    set.engines
        .keys()
        .filter(|k| !parts.iter().any(|p| &p.name == *k))
        .map(String::as_str)
        .collect()
}

/// The `set` check: the newest folder complete passes; otherwise it fails naming the fault and
/// the newest complete set, if one was found among the [`INSPECT`] newest.
pub fn set_verdict(
    newest: Option<&Inspected>,
    complete: Option<&Inspected>,
    total: usize,
) -> Check {
    const NAME: &str = "set";
    let Some(newest) = newest else {
        return Check::fail(NAME, "no set folder");
    };
    let parts_of = |i: &Inspected| {
        let names: Vec<&str> = i.parts.iter().map(|p| p.name.as_str()).collect();
        format!(
            "{} ({})",
            crate::units::count(names.len() as u64, "part"),
            names.join(", ")
        )
    };
    match (&newest.problem, complete) {
        (None, _) => Check::pass(
            NAME,
            format!(
                "the newest set {} is complete: {}",
                newest.folder.name,
                parts_of(newest)
            ),
        ),
        (Some(why), Some(c)) => Check::fail(
            NAME,
            format!(
                "the newest set {} is incomplete: {why}; the newest complete set is {}",
                newest.folder.name, c.folder.name
            ),
        ),
        (Some(why), None) => Check::fail(
            NAME,
            format!(
                "the newest set {} is incomplete: {why}; no complete set among the {} newest",
                newest.folder.name,
                total.min(INSPECT)
            ),
        ),
    }
}

/// What a part must hold for the engine that restores it, so the weekly check catches what
/// the restore would refuse: none without a `restore:` engine for it. An encrypted part
/// (`*.enc`, with the target's `encryption`) is judged by its decrypted content.
pub fn part_format(target: &Target, set: &BackupSet, part: &str) -> Option<BackupFormat> {
    let engine = set
        .engines
        .get(part)
        .copied()
        .or(target.restore.as_ref().map(|r| r.engine))?;
    Some(match engine {
        RestoreEngine::Postgres => BackupFormat::PgDump,
        RestoreEngine::Sqlite => BackupFormat::Sqlite,
        RestoreEngine::Files => BackupFormat::Tar,
        RestoreEngine::Command => BackupFormat::File,
    })
}

/// The name of a part's check: `part database.sql.gz`.
pub fn part_check_name(part: &str) -> String {
    format!("part {part}")
}

/// The backup a set stands for in the report: the folder, its bytes, its newest time.
pub fn latest(folder: &SetFolder, now: DateTime<Utc>) -> Latest {
    Latest {
        key: folder.prefix.clone(),
        size: folder.bytes,
        last_modified: folder.last_modified,
        age_seconds: (now - folder.last_modified).num_seconds().max(0) as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn obj(key: &str, size: u64, minute: u32) -> ObjectMeta {
        ObjectMeta {
            key: key.into(),
            size,
            last_modified: Utc.with_ymd_and_hms(2026, 11, 20, 2, minute, 0).unwrap(),
        }
    }

    fn glob(p: &str) -> globset::GlobMatcher {
        globset::Glob::new(p).unwrap().compile_matcher()
    }

    /// The folders of a listing, each filled from the same listing.
    fn group(
        objects: Vec<ObjectMeta>,
        prefix: &str,
        glob: &globset::GlobMatcher,
    ) -> Vec<SetFolder> {
        let mut fold = Folders::default();
        for o in &objects {
            fold.add(o, prefix, glob);
        }
        let mut folders = fold.newest_first();
        for f in &mut folders {
            f.fill_from(objects.clone()).unwrap();
        }
        folders
    }

    #[test]
    fn objects_group_into_folders_newest_first() {
        let folders = group(
            vec![
                obj("app/full_1/database.sql.gz", 10, 1),
                obj("app/full_1/metadata.json", 1, 2),
                obj("app/full_2/database.sql.gz", 20, 5),
                obj("app/loose.gz", 5, 9),
                obj("app/other/x", 5, 9),
                obj("elsewhere/full_3/x", 5, 9),
            ],
            "app/",
            &glob("full_*"),
        );
        let names: Vec<_> = folders.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["full_2", "full_1"]);
        assert_eq!(folders[1].bytes, 11);
        assert_eq!(folders[1].prefix, "app/full_1/");
        assert!(folders[1].objects.contains_key("metadata.json"));
    }

    #[test]
    fn a_missing_or_resized_part_makes_the_folder_incomplete() {
        let folders = group(
            vec![
                obj("s/full_1/a.gz", 10, 1),
                obj("s/full_1/metadata.json", 1, 1),
            ],
            "s/",
            &glob("*"),
        );
        let h = "ab".repeat(32);
        let parts = manifest_parts(
            &folders[0],
            vec![("a.gz".into(), 11, h.clone()), ("b.gz".into(), 5, h)],
        );
        let why = faults(&parts).unwrap();
        assert_eq!(
            why,
            "part a.gz is 10 bytes, the manifest lists 11; part b.gz is missing"
        );
    }

    #[test]
    fn a_sidecar_only_folder_needs_a_sidecar_for_every_part() {
        let folders = group(
            vec![
                obj("s/full_1/a.gz", 10, 1),
                obj("s/full_1/a.gz.sha256", 1, 1),
                obj("s/full_1/b.tar.gz", 10, 1),
            ],
            "s/",
            &glob("*"),
        );
        let parts = sidecar_parts(&folders[0]);
        assert_eq!(parts.len(), 2);
        assert_eq!(
            faults(&parts).unwrap(),
            "part b.tar.gz has no b.tar.gz.sha256 sidecar"
        );
    }
}
