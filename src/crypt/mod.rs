//! Client-side encryption of backups: recognising an encrypted object from its first bytes
//! ([`Sealed`]) and decrypting it as a stream ([`Decryption::reader`]), never to disk. Two
//! families:
//!
//! - age (age-encryption.org/v1), binary or armored, with X25519 identities or a passphrase,
//!   through the `age` crate. The format authenticates every 64 KiB chunk, so a wrong key fails
//!   at the header and a changed byte fails at its chunk.
//! - `openssl enc -aes-256-cbc`: a `Salted__` header with an 8-byte salt, key and IV from
//!   PBKDF2-HMAC-SHA256 of the passphrase (`-pbkdf2`, `-iter`); or, without a header, a
//!   32-byte key (64 hex digits) with the 16-byte IV in front of the ciphertext. PKCS#7
//!   padding. CBC does not authenticate: a wrong key shows as bad padding or as content that is
//!   not what it should be, and a changed byte as a decompression error — the sidecar SHA-256
//!   over the stored bytes is the proof of integrity.
//!
//! The secrets come from the environment snapshot, read at the edge; nothing here writes them.

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Read};

use secrecy::{ExposeSecret, SecretString};

use crate::config::Encryption;

mod cbc;

const AGE_MAGIC: &[u8] = b"age-encryption.org/v1\n";
const AGE_ARMOR: &[u8] = b"-----BEGIN AGE ENCRYPTED FILE-----";
const OPENSSL_SALTED: &[u8] = b"Salted__";

/// How an object is encrypted, as its first bytes (and the config) say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sealed {
    Age,
    AgeArmored,
    /// `openssl enc` with a passphrase: `Salted__`, the salt, the ciphertext.
    OpensslSalted,
    /// AES-256-CBC with a raw key: the IV, the ciphertext. No header to recognise.
    OpensslIv,
}

impl Sealed {
    /// What the first bytes say on their own (the raw-key layout has no header).
    pub fn detect(head: &[u8]) -> Option<Sealed> {
        if head.starts_with(AGE_MAGIC) {
            Some(Sealed::Age)
        } else if head.starts_with(AGE_ARMOR) {
            Some(Sealed::AgeArmored)
        } else if head.starts_with(OPENSSL_SALTED) {
            Some(Sealed::OpensslSalted)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Sealed::Age => "age-encrypted",
            Sealed::AgeArmored => "age-encrypted (armored)",
            Sealed::OpensslSalted => "aes-256-cbc (openssl Salted__, PBKDF2)",
            Sealed::OpensslIv => "aes-256-cbc (IV in front)",
        }
    }
}

/// What decrypts a target's backups, built from its `encryption` and the secrets.
pub struct Decryption {
    key: Key,
}

enum Key {
    AgeIdentities(Vec<Box<dyn age::Identity + Send + Sync>>),
    AgePassphrase(SecretString),
    Openssl {
        secret: SecretString,
        iterations: u32,
    },
}

impl std::fmt::Debug for Decryption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.key {
            Key::AgeIdentities(_) => "Decryption(age identities)",
            Key::AgePassphrase(_) => "Decryption(age passphrase)",
            Key::Openssl { .. } => "Decryption(openssl)",
        })
    }
}

impl Decryption {
    /// Reads the variable `encryption` names from `secrets`; an error names the variable and
    /// what is wrong with it, never its value.
    pub fn from_config(
        encryption: &Encryption,
        secrets: &BTreeMap<String, SecretString>,
    ) -> Result<Decryption, String> {
        let get = |var: &str| {
            secrets
                .get(var)
                .cloned()
                .ok_or_else(|| format!("the variable {var} (encryption) is not set"))
        };
        let key = match encryption {
            Encryption::Age {
                identity_env: Some(var),
                ..
            } => {
                let text = get(var)?;
                let identities = age::IdentityFile::from_buffer(text.expose_secret().as_bytes())
                    .and_then(|f| f.into_identities().map_err(io::Error::other))
                    .map_err(|_| {
                        format!("{var} does not hold age identities (AGE-SECRET-KEY-1…)")
                    })?;
                if identities.is_empty() {
                    return Err(format!("{var} holds no age identity"));
                }
                Key::AgeIdentities(identities)
            }
            Encryption::Age {
                passphrase_env: Some(var),
                ..
            } => Key::AgePassphrase(get(var)?),
            Encryption::Age { .. } => {
                return Err("encryption: name `identity-env` or `passphrase-env`".to_string());
            }
            Encryption::Openssl {
                key_env,
                iterations,
                ..
            } => Key::Openssl {
                secret: get(key_env)?,
                iterations: *iterations,
            },
        };
        Ok(Decryption { key })
    }

    /// How an object with these first bytes is sealed, if it is sealed the way this key
    /// opens; else what is wrong, in words (a plain backup where an encrypted one is expected,
    /// the other family). `plain` is what the first bytes show when they are not ciphertext (a
    /// compression or a known content, as the caller recognises them; `None` for noise).
    pub fn expect(&self, head: &[u8], size: u64, plain: Option<&str>) -> Result<Sealed, String> {
        let found = Sealed::detect(head);
        match (&self.key, found) {
            (
                Key::AgeIdentities(_) | Key::AgePassphrase(_),
                Some(s @ (Sealed::Age | Sealed::AgeArmored)),
            ) => Ok(s),
            (Key::Openssl { .. }, Some(Sealed::OpensslSalted)) => Ok(Sealed::OpensslSalted),
            (Key::Openssl { .. }, None) if plain.is_none() => {
                if size < 32 || !size.is_multiple_of(16) {
                    Err(format!(
                        "{size} bytes is not an IV and whole AES blocks: not aes-256-cbc with the IV in front"
                    ))
                } else {
                    Ok(Sealed::OpensslIv)
                }
            }
            (_, Some(other)) => Err(format!(
                "the object is {} but the target's encryption is {}",
                other.name(),
                self.family()
            )),
            (_, None) => Err(format!(
                "the object is not encrypted ({}) but the target's encryption is {}",
                plain.unwrap_or("no encryption header"),
                self.family()
            )),
        }
    }

    fn family(&self) -> &'static str {
        match self.key {
            Key::AgeIdentities(_) | Key::AgePassphrase(_) => "age",
            Key::Openssl { .. } => "openssl aes-256-cbc",
        }
    }

    /// Decrypts `input` as it is read. Errors (no matching identity, a wrong passphrase, a
    /// short header) come at once; errors in the body come from the reader.
    pub fn reader(&self, input: Box<dyn Read + Send>) -> io::Result<Box<dyn Read + Send>> {
        let mut input = BufReader::with_capacity(256 * 1024, input);
        let head = input.fill_buf()?.to_vec();
        match &self.key {
            Key::AgeIdentities(_) | Key::AgePassphrase(_) => {
                if head.starts_with(AGE_ARMOR) {
                    self.age(age::armor::ArmoredReader::new(input))
                } else {
                    self.age(input)
                }
            }
            Key::Openssl { secret, iterations } => {
                let (key, iv) = if head.starts_with(OPENSSL_SALTED) {
                    let mut header = [0u8; 16];
                    input
                        .read_exact(&mut header)
                        .map_err(|_| invalid("the Salted__ header is cut short"))?;
                    let mut derived = [0u8; 48];
                    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(
                        secret.expose_secret().as_bytes(),
                        &header[8..16],
                        *iterations,
                        &mut derived,
                    );
                    let mut key = [0u8; 32];
                    let mut iv = [0u8; 16];
                    key.copy_from_slice(&derived[..32]);
                    iv.copy_from_slice(&derived[32..]);
                    (key, iv)
                } else {
                    let key = raw_key(secret)?;
                    let mut iv = [0u8; 16];
                    input
                        .read_exact(&mut iv)
                        .map_err(|_| invalid("shorter than its 16-byte IV"))?;
                    (key, iv)
                };
                Ok(Box::new(cbc::CbcReader::new(input, &key, &iv)))
            }
        }
    }

    fn age<R: BufRead + Send + 'static>(&self, input: R) -> io::Result<Box<dyn Read + Send>> {
        let decryptor = age::Decryptor::new_buffered(input).map_err(age_error)?;
        let reader = match &self.key {
            Key::AgeIdentities(ids) => {
                decryptor.decrypt(ids.iter().map(|i| i.as_ref() as &dyn age::Identity))
            }
            Key::AgePassphrase(pass) => {
                if !decryptor.is_scrypt() {
                    return Err(invalid(
                        "the object is encrypted to age recipients, not to a passphrase: set `identity-env`",
                    ));
                }
                let identity = age::scrypt::Identity::new(pass.clone());
                decryptor.decrypt(std::iter::once(&identity as &dyn age::Identity))
            }
            Key::Openssl { .. } => unreachable!("age() is called for age keys only"),
        }
        .map_err(age_error)?;
        Ok(Box::new(AgeBody(reader)))
    }

    /// Decrypts as much of `head` (the first bytes of an object) as it holds, up to `limit`:
    /// for the first-bytes checks. A head that ends mid-stream is normal here.
    pub fn prefix(&self, head: &[u8], limit: usize) -> Result<Vec<u8>, String> {
        // Armor is read line by line: a head cut inside a line is cut back to its last whole
        // line, so the cut shows only as an early end.
        let head = match head.starts_with(AGE_ARMOR) {
            true => head
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(head, |end| &head[..=end]),
            false => head,
        };
        let input: Box<dyn Read + Send> = Box::new(io::Cursor::new(head.to_vec()));
        let reader = self.reader(input).map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        let mut limited = reader.take(limit as u64);
        let mut buf = [0u8; 8192];
        loop {
            match limited.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) if out.is_empty() => return Err(e.to_string()),
                Err(_) => break,
            }
        }
        Ok(out)
    }
}

/// An age payload: its errors say what they mean for a backup.
struct AgeBody<R>(R);

impl<R: Read> Read for AgeBody<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf).map_err(|e| match e.kind() {
            io::ErrorKind::InvalidData => invalid(
                "age: a chunk did not authenticate: the ciphertext was changed, or cut short",
            ),
            _ => e,
        })
    }
}

/// How many bytes of the stored object [`Decryption::prefix`] needs to see the first bytes of
/// the plaintext: age's header and its first 64 KiB chunk (a third more when armored).
pub const PREFIX_BYTES: u64 = 128 * 1024;

fn raw_key(secret: &SecretString) -> io::Result<[u8; 32]> {
    let text = secret.expose_secret().trim();
    let mut key = [0u8; 32];
    if text.len() != 64 || hex::decode_to_slice(text, &mut key).is_err() {
        return Err(invalid(
            "no Salted__ header, so the key must be 32 bytes written as 64 hex digits (the IV in front of the ciphertext)",
        ));
    }
    Ok(key)
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

fn age_error(e: age::DecryptError) -> io::Error {
    let why = match e {
        age::DecryptError::NoMatchingKeys => {
            "no identity matches the object's recipients (a wrong key)".to_string()
        }
        age::DecryptError::DecryptionFailed | age::DecryptError::KeyDecryptionFailed => {
            "decryption failed: a wrong passphrase or key, or a damaged header".to_string()
        }
        age::DecryptError::InvalidMac => {
            "the header's MAC is wrong: the header was changed, or a wrong key".to_string()
        }
        age::DecryptError::InvalidHeader | age::DecryptError::UnknownFormat => {
            "not a valid age file header".to_string()
        }
        other => other.to_string(),
    };
    invalid(&format!("age: {why}"))
}

/// The key with the encryption's extension taken off (`db.sql.gz.enc` → `db.sql.gz`,
/// `db.dump.age` → `db.dump`), for what the rest of the name promises.
pub fn inner_name(key: &str) -> &str {
    [".enc", ".age", ".aes"]
        .iter()
        .find_map(|ext| key.strip_suffix(ext))
        .unwrap_or(key)
}

#[cfg(test)]
mod tests;
