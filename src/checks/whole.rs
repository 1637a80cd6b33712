//! Reading a backup whole, once: through its layers (decrypting, decompressing; see
//! `layers`) or as its stored bytes alone, hashing what was stored; and the `checksum` verdict
//! over such a read, against the sidecar or the SHA-256 the store keeps. Shared by the monthly
//! deep read of the newest backup and the ledger's reads of older ones.

use super::format;
use super::layers::{self, Keys};
use super::sidecar::read_sidecar;
use super::stream;
use crate::config::ChecksumMode;
use crate::report::Check;
use crate::store::{BackupStore, ObjectHead, ObjectMeta, StoreError, StoreKind};
use crate::units::short_size;

/// Reads the whole object through its layers (decrypting, decompressing) and hashes its
/// stored bytes. An object whose layers are not what the target expects is still hashed whole,
/// with the reason as its error.
pub async fn read_whole(
    store: &dyn BackupStore,
    object: &ObjectMeta,
    keys: &Keys,
) -> Result<stream::Drained, StoreError> {
    let reader = store.read(&object.key).await?;
    let (reader, head) = match reader.sniff(stream::SNIFF).await {
        Ok(x) => x,
        Err(e) => return Ok(stream::Drained::failed(&e)),
    };
    Ok(
        match layers::options(&object.key, &head, object.size, keys) {
            Ok((options, _)) => stream::drain(reader, options).await,
            Err(why) => {
                let raw =
                    stream::drain(reader, stream::Options::new(format::Compression::None)).await;
                stream::Drained {
                    error: Some(why),
                    content_bytes: 0,
                    ..raw
                }
            }
        },
    )
}

/// Reads the whole object's stored bytes, hashing them, without looking inside.
pub async fn read_raw(store: &dyn BackupStore, key: &str) -> Result<stream::Drained, StoreError> {
    let reader = store.read(key).await?;
    let raw = stream::Options::new(format::Compression::None);
    Ok(stream::drain(reader, raw).await)
}

fn short_hash(h: &str) -> &str {
    &h[..h.len().min(12)]
}

/// Why a HEAD carries no whole-object SHA-256, for the checksum check's detail.
pub fn why_no_stored_sha256(kind: StoreKind, head: Option<&ObjectHead>) -> String {
    match (kind, head.and_then(|h| h.sha256_composite.as_deref())) {
        (StoreKind::Local, _) => "this store keeps no checksum of its own".into(),
        (StoreKind::S3, Some(c)) => format!(
            "S3 keeps only a multipart composite checksum ({c}), a hash of the parts' hashes, not a SHA-256 of the whole object"
        ),
        (StoreKind::S3, None) => "the object was stored without a SHA-256 checksum".into(),
        (StoreKind::Azure, _) => match head.and_then(|h| h.md5.as_deref()) {
            Some(md5) => format!("Azure keeps only a Content-MD5 ({md5}), not a SHA-256"),
            None => "Azure keeps no SHA-256 (and this blob has no Content-MD5)".into(),
        },
    }
}

pub async fn checksum(
    store: &dyn BackupStore,
    key: &str,
    mode: ChecksumMode,
    (stored, no_stored_why): (Option<String>, &str),
    drained: Option<&Result<stream::Drained, StoreError>>,
) -> Check {
    const NAME: &str = "checksum";
    let expected = match mode {
        ChecksumMode::None => return Check::pass(NAME, "not configured (checksum: none)"),
        ChecksumMode::Sidecar => match read_sidecar(store, key).await {
            Ok(h) => h,
            Err(e) => return Check::fail(NAME, e),
        },
        ChecksumMode::S3 => match &stored {
            Some(h) => h.clone(),
            None => {
                return Check::fail(
                    NAME,
                    format!(
                        "{key} has no stored SHA-256: {no_stored_why} (upload it with a full-object SHA-256 checksum, or use checksum: sidecar)"
                    ),
                );
            }
        },
    };
    let source = if mode == ChecksumMode::S3 {
        "the stored SHA-256"
    } else {
        "the sidecar"
    };
    match drained {
        Some(Ok(d)) if d.sha256 == expected => Check::pass(
            NAME,
            format!(
                "sha256 {} matches {source} (whole object read: {})",
                short_hash(&d.sha256),
                short_size(d.stored_bytes)
            ),
        ),
        Some(Ok(d)) => Check::fail(
            NAME,
            format!(
                "sha256 of the object is {}, {source} says {}",
                d.sha256, expected
            ),
        ),
        Some(Err(e)) => Check::fail(NAME, format!("reading {key} to hash it failed: {e}")),
        None => match (&stored, mode) {
            (Some(s), ChecksumMode::Sidecar) if *s == expected => Check::pass(
                NAME,
                format!(
                    "the store's SHA-256 {} matches the sidecar (not downloaded)",
                    short_hash(s)
                ),
            ),
            (Some(s), ChecksumMode::Sidecar) => Check::fail(
                NAME,
                format!("the store's SHA-256 is {s}, the sidecar says {expected}"),
            ),
            (_, ChecksumMode::S3) => Check::pass(
                NAME,
                format!(
                    "stored SHA-256 {} present; the monthly check hashes the content",
                    short_hash(&expected)
                ),
            ),
            _ => Check::pass(
                NAME,
                format!(
                    "sidecar present (sha256 {}); {no_stored_why}, so the monthly check hashes the content",
                    short_hash(&expected)
                ),
            ),
        },
    }
}
