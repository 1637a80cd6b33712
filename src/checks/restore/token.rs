//! Random tokens for what a restore must make unguessable: scratch names, passwords (the
//! scratch role's and a private cluster's superuser's) and psql's `\restrict` keys.

/// `len` random characters from `[a-z0-9]`: names, passwords, `\restrict` keys.
pub fn random_token(len: usize) -> Result<String, String> {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = vec![0u8; len];
    getrandom::fill(&mut bytes).map_err(|e| format!("the OS gave no random bytes: {e}"))?;
    // The modulo's slight bias (256 is not a multiple of 36) leaves 32 characters well over
    // 160 bits.
    Ok(bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect())
}
