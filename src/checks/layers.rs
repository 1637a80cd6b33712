//! The layers of a stored backup, outside in: client-side encryption (when the target has
//! `encryption`), compression, content. From an object's first bytes this says what each layer
//! is ([`peel`], for the first-bytes checks) and how to read the object through them
//! ([`options`], for the pipeline), with one wording for every fault: a plain object where an
//! encrypted one is expected, an encrypted one the target cannot open, a wrong key, a name
//! that promises another compression.

use std::collections::BTreeMap;
use std::sync::Arc;

use secrecy::SecretString;

use super::format::{Compression, Content};
use super::stream::{self, Options};
use crate::config::Target;
use crate::crypt::{self, Decryption, Sealed};

/// What the target needs to open its backups: nothing, or a decryption (or why there is none:
/// its variable is not set, or holds no key).
pub type Keys = Option<Result<Arc<Decryption>, String>>;

/// The decryption of `target`'s backups, from its `encryption` and the secrets.
pub fn keys(target: &Target, secrets: &BTreeMap<String, SecretString>) -> Keys {
    let encryption = target.encryption.as_ref()?;
    Some(Decryption::from_config(encryption, secrets).map(Arc::new))
}

/// How many first bytes [`peel`] should see: enough for a decryption's first chunk when the
/// target is encrypted.
pub fn head_bytes(keys: &Keys, plain: u64) -> u64 {
    match keys {
        Some(_) => plain.max(crypt::PREFIX_BYTES),
        None => plain,
    }
}

/// What an object's first bytes say, layer by layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peeled {
    pub sealed: Option<Sealed>,
    pub compression: Compression,
    /// The first bytes of the content (decrypted, decompressed).
    pub content: Vec<u8>,
}

impl Peeled {
    /// `age-encrypted, gzip` or `gzip`.
    pub fn layers(&self) -> String {
        names(self.sealed, self.compression)
    }
}

/// `age-encrypted, gzip`, or `gzip`.
pub fn names(sealed: Option<Sealed>, compression: Compression) -> String {
    match sealed {
        Some(s) => format!("{}, {}", s.name(), compression.name()),
        None => compression.name().to_string(),
    }
}

/// Reads the layers from `head`, the first bytes of the object `key` of `size` bytes.
pub fn peel(key: &str, head: &[u8], size: u64, keys: &Keys) -> Result<Peeled, String> {
    let sealed = sealed(head, size, keys)?;
    let plain = match (&sealed, keys) {
        (Some(_), Some(Ok(d))) => d.prefix(head, 64 * 1024)?,
        _ => head.to_vec(),
    };
    let compression = Compression::detect(&plain);
    plausible(sealed, compression, &plain)?;
    promise(key, compression)?;
    let content = match compression {
        Compression::None => plain,
        c => stream::decompress_prefix(&plain, c, 4096),
    };
    Ok(Peeled {
        sealed,
        compression,
        content,
    })
}

/// How to read the object whose first bytes are `head` through the pipeline: decrypting it
/// when sealed (its compression is then found inside, see [`promise`]).
pub fn options(
    key: &str,
    head: &[u8],
    size: u64,
    keys: &Keys,
) -> Result<(Options, Option<Sealed>), String> {
    match (sealed(head, size, keys)?, keys) {
        (Some(s), Some(Ok(d))) => {
            let d = Arc::clone(d);
            let transform: stream::Transform = Box::new(move |r| d.reader(r));
            Ok((Options::decrypting(transform), Some(s)))
        }
        _ => {
            let compression = Compression::detect(head);
            promise(key, compression)?;
            Ok((Options::new(compression), None))
        }
    }
}

/// AES-CBC does not authenticate: a wrong key decrypts to noise. Decrypted bytes that are
/// neither compressed nor a known content are named as such rather than left to a confusing
/// format or engine error. (age authenticates: a wrong key fails at its header.)
pub fn plausible(
    sealed: Option<Sealed>,
    compression: Compression,
    content: &[u8],
) -> Result<(), String> {
    match sealed {
        Some(s @ (Sealed::OpensslSalted | Sealed::OpensslIv))
            if compression == Compression::None && Content::detect(content) == Content::Binary =>
        {
            Err(format!(
                "{}: the decrypted bytes are no known format (no gzip, zstd, dump, tar, SQLite or text): a wrong key, or a damaged object",
                s.name()
            ))
        }
        _ => Ok(()),
    }
}

/// The encryption of the object, checked against the target's: `None` for a plain object of a
/// plain target.
fn sealed(head: &[u8], size: u64, keys: &Keys) -> Result<Option<Sealed>, String> {
    match keys {
        None => match Sealed::detect(head) {
            Some(s) => Err(format!(
                "the object is {} and the target has no `encryption` to open it",
                s.name()
            )),
            None => Ok(None),
        },
        Some(Err(why)) => Err(why.clone()),
        Some(Ok(d)) => d.expect(head, size, plain(head)).map(Some),
    }
}

/// What first bytes show when they are not ciphertext: a compression, or a content with a
/// header of its own (text and noise show nothing).
fn plain(head: &[u8]) -> Option<&'static str> {
    match Compression::detect(head) {
        Compression::None => match Content::detect(head) {
            c @ (Content::PgCustom | Content::Sqlite | Content::Tar) => Some(c.name()),
            _ => None,
        },
        c => Some(c.name()),
    }
}

/// The compression the name promises (after its encryption extension: `.gz.enc`, `.zst.age`)
/// against the one found.
pub fn promise(key: &str, found: Compression) -> Result<(), String> {
    match Compression::from_key(crypt::inner_name(key)) {
        Some(promised) if promised != found => Err(format!(
            "the key says {} but the bytes are {}",
            promised.name(),
            found.name()
        )),
        _ => Ok(()),
    }
}
