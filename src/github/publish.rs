//! Commits files to a branch in ONE commit through the Git Data API: read the ref, its commit
//! and tree; create a blob per changed file; create a tree on top of the old one; create the
//! commit; move the ref with `force: false`.
//!
//! Nothing is committed when every file's git blob SHA-1 (computed here, as git does) already
//! equals the one in the branch's tree. When the branch moved between the read and the update
//! (GitHub answers 422 "not a fast forward"), everything is re-read and tried again, a bounded
//! number of times: the badge commit never force-pushes over someone else's work.

use base64::Engine;
use serde::Deserialize;
use serde_json::json;
use sha1::{Digest, Sha1};

use super::{ApiError, GitHub};

/// How many times the branch is re-read when it moved under us.
const REF_ATTEMPTS: u32 = 3;
/// The permission every call here needs.
const PERMISSION: &str = "contents: write";

/// One file to commit: its path in the repository and its bytes.
#[derive(Clone, Debug)]
pub struct FileChange {
    pub path: String,
    pub bytes: Vec<u8>,
}

/// What publishing did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Published {
    /// A commit was made and the branch moved to it.
    Committed { sha: String, files: Vec<String> },
    /// Every file already had these bytes: no commit.
    Unchanged,
}

/// Publishing failed.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(
        "branch `{branch}` kept moving while the commit was made ({attempts} attempts); nothing was force-pushed, run again"
    )]
    KeptMoving { branch: String, attempts: u32 },
    #[error("{0}")]
    Contents(String),
}

/// The git blob id of `bytes`: SHA-1 of `blob <len>\0<bytes>`.
pub fn git_blob_sha(bytes: &[u8]) -> String {
    let mut h = Sha1::new();
    h.update(format!("blob {}\0", bytes.len()).as_bytes());
    h.update(bytes);
    hex::encode(h.finalize())
}

#[derive(Deserialize)]
struct Sha {
    sha: String,
}

#[derive(Deserialize)]
struct GitRef {
    object: Sha,
}

#[derive(Deserialize)]
struct GitCommit {
    tree: Sha,
}

#[derive(Deserialize)]
struct TreeEntry {
    path: String,
    sha: String,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
struct Tree {
    sha: String,
    tree: Vec<TreeEntry>,
    #[serde(default)]
    truncated: bool,
}

/// What to commit, asked again on every attempt: when the branch moved, files derived from
/// what is on it (an appended history) must be derived again from what is on it now.
#[async_trait::async_trait(?Send)]
pub trait Contents {
    /// The files to commit on top of the branch as it is now; `attempt` 1 is the first.
    async fn files(&mut self, attempt: u32) -> Result<Vec<FileChange>, String>;

    /// Folders (repository paths ending in `/`) whose files these contents own whole: a file
    /// in them on the branch that [`Contents::files`] no longer gives is deleted in the same
    /// commit (the page of a target no longer configured).
    fn owned_folders(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Fixed files: the same bytes on every attempt.
struct Fixed<'a>(&'a [FileChange]);

#[async_trait::async_trait(?Send)]
impl Contents for Fixed<'_> {
    async fn files(&mut self, _attempt: u32) -> Result<Vec<FileChange>, String> {
        Ok(self.0.to_vec())
    }
}

/// Commits `files` to `branch` with `message`, unless nothing changed.
pub async fn commit_files(
    gh: &GitHub,
    branch: &str,
    files: &[FileChange],
    message: &str,
) -> Result<Published, PublishError> {
    commit_contents(gh, branch, &mut Fixed(files), message).await
}

/// Commits what `contents` gives for the branch as it is, unless nothing changed; when the
/// branch moved meanwhile, asks `contents` again.
pub async fn commit_contents(
    gh: &GitHub,
    branch: &str,
    contents: &mut dyn Contents,
    message: &str,
) -> Result<Published, PublishError> {
    let repo = gh.repo.path();
    for attempt in 1..=REF_ATTEMPTS {
        let head: GitRef = gh
            .get(&format!("{repo}/git/ref/heads/{branch}"), PERMISSION)
            .await?;
        let head = head.object.sha;
        let files = contents
            .files(attempt)
            .await
            .map_err(PublishError::Contents)?;
        let files = files.as_slice();
        let commit: GitCommit = gh
            .get(&format!("{repo}/git/commits/{head}"), PERMISSION)
            .await?;
        let base_tree = commit.tree.sha;
        let tree: Tree = gh
            .get(
                &format!("{repo}/git/trees/{base_tree}?recursive=1"),
                PERMISSION,
            )
            .await?;
        let changed: Vec<&FileChange> = files
            .iter()
            .filter(|f| {
                // A truncated listing cannot prove a file unchanged: treat it as changed and
                // let the tree comparison below catch a no-op.
                tree.truncated
                    || !tree.tree.iter().any(|e| {
                        e.kind == "blob" && e.path == f.path && e.sha == git_blob_sha(&f.bytes)
                    })
            })
            .collect();
        // A truncated listing cannot say what is in an owned folder: nothing is deleted then.
        let owned = contents.owned_folders();
        let gone: Vec<&str> = match tree.truncated {
            true => Vec::new(),
            false => tree
                .tree
                .iter()
                .filter(|e| e.kind == "blob")
                .map(|e| e.path.as_str())
                .filter(|p| owned.iter().any(|d| p.starts_with(d.as_str())))
                .filter(|p| !files.iter().any(|f| f.path == *p))
                .collect(),
        };
        if changed.is_empty() && gone.is_empty() {
            return Ok(Published::Unchanged);
        }
        let mut entries = Vec::with_capacity(changed.len() + gone.len());
        for path in gone {
            // A tree entry without a blob deletes the path.
            entries.push(json!({"path": path, "mode": "100644", "type": "blob", "sha": null}));
        }
        for f in &changed {
            let blob: Sha = gh
                .post(
                    &format!("{repo}/git/blobs"),
                    &json!({
                        "content": base64::engine::general_purpose::STANDARD.encode(&f.bytes),
                        "encoding": "base64",
                    }),
                    PERMISSION,
                )
                .await?;
            entries
                .push(json!({"path": f.path, "mode": "100644", "type": "blob", "sha": blob.sha}));
        }
        let new_tree: Sha = gh
            .post(
                &format!("{repo}/git/trees"),
                &json!({"base_tree": base_tree, "tree": entries}),
                PERMISSION,
            )
            .await?;
        if new_tree.sha == tree.sha {
            return Ok(Published::Unchanged);
        }
        let new_commit: Sha = gh
            .post(
                &format!("{repo}/git/commits"),
                &json!({"message": message, "tree": new_tree.sha, "parents": [head]}),
                PERMISSION,
            )
            .await?;
        let update: Result<serde_json::Value, ApiError> = gh
            .patch(
                &format!("{repo}/git/refs/heads/{branch}"),
                &json!({"sha": new_commit.sha, "force": false}),
                PERMISSION,
            )
            .await;
        match update {
            Ok(_) => {
                return Ok(Published::Committed {
                    sha: new_commit.sha,
                    files: changed.iter().map(|f| f.path.clone()).collect(),
                });
            }
            Err(e) if e.status() == Some(422) && attempt < REF_ATTEMPTS => {
                tracing::warn!(branch, attempt, "the branch moved meanwhile; re-reading it");
            }
            Err(e) if e.status() == Some(422) => break,
            Err(e) => return Err(e.into()),
        }
    }
    Err(PublishError::KeptMoving {
        branch: branch.to_string(),
        attempts: REF_ATTEMPTS,
    })
}

/// The commit message of a badge update.
pub fn commit_message(status: &str) -> String {
    format!("chore(dr): backup status {status} [skip ci]")
}

/// Why a publish is not allowed here, or `None` when it is: only the default branch, only
/// `schedule` / `workflow_dispatch` events (unless forced), and never a chaos drill.
pub fn refusal(
    event: Option<&str>,
    branch: Option<&str>,
    default_branch: &str,
    chaos: bool,
    force: bool,
) -> Option<String> {
    if chaos {
        return Some("a chaos drill never changes the committed badge or state".into());
    }
    if force {
        return None;
    }
    match event {
        Some("schedule" | "workflow_dispatch") => {}
        Some(other) => {
            return Some(format!(
                "the `{other}` event does not publish (only schedule and workflow_dispatch; --force overrides)"
            ));
        }
        None => {
            return Some(
                "not a schedule or workflow_dispatch run (GITHUB_EVENT_NAME is unset; --force overrides)"
                    .into(),
            );
        }
    }
    match branch {
        Some(b) if b == default_branch => None,
        Some(b) => Some(format!(
            "the run is on `{b}`, not the default branch `{default_branch}` (--force overrides)"
        )),
        None => Some(format!(
            "the run is not on a branch (the default branch is `{default_branch}`; --force overrides)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_ids_match_git() {
        // `printf 'hello\n' | git hash-object --stdin`
        assert_eq!(
            git_blob_sha(b"hello\n"),
            "ce013625030ba8dba906f756967f9e9ca394464a"
        );
        assert_eq!(
            git_blob_sha(b""),
            "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
        );
    }

    #[test]
    fn only_scheduled_or_dispatched_runs_on_the_default_branch_publish() {
        let main = "main";
        assert_eq!(
            refusal(Some("schedule"), Some("main"), main, false, false),
            None
        );
        assert_eq!(
            refusal(Some("workflow_dispatch"), Some("main"), main, false, false),
            None
        );
        assert!(
            refusal(Some("push"), Some("main"), main, false, false)
                .unwrap()
                .contains("`push`")
        );
        assert!(
            refusal(Some("schedule"), Some("dev"), main, false, false)
                .unwrap()
                .contains("`dev`")
        );
        assert_eq!(refusal(Some("push"), Some("dev"), main, false, true), None);
        assert!(
            refusal(Some("schedule"), Some("main"), main, true, true)
                .unwrap()
                .contains("chaos")
        );
        assert_eq!(
            commit_message("amber"),
            "chore(dr): backup status amber [skip ci]"
        );
    }
}
