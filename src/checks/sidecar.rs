//! The `KEY.sha256` sidecar beside a backup: read with a size cap, parsed as `sha256sum` output.

use crate::store::BackupStore;

/// The largest sidecar read; a `sha256sum` line is under 1 KiB.
const SIDECAR_MAX: u64 = 4096;

/// Parses a `sha256sum` line (`<hex>  name` or `<hex> *name`) or a bare hex digest.
pub fn parse_sidecar(text: &str) -> Option<String> {
    let token = text.split_whitespace().next()?;
    let valid = token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit());
    valid.then(|| token.to_ascii_lowercase())
}

pub async fn read_sidecar(store: &dyn BackupStore, key: &str) -> Result<String, String> {
    let sidecar = format!("{key}.sha256");
    match store.head(&sidecar).await {
        Ok(Some(_)) => {}
        Ok(None) => return Err(format!("sidecar {sidecar} is missing")),
        Err(e) => return Err(format!("HEAD {sidecar} failed: {e}")),
    }
    let bytes = store
        .read_range(&sidecar, 0, SIDECAR_MAX)
        .await
        .map_err(|e| format!("reading {sidecar} failed: {e}"))?;
    let text = String::from_utf8_lossy(&bytes);
    parse_sidecar(&text)
        .ok_or_else(|| format!("sidecar {sidecar} holds no SHA-256 in sha256sum format"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sidecars_in_sha256sum_format_parse() {
        let h = "a".repeat(64);
        assert_eq!(parse_sidecar(&format!("{h}  backup.gz\n")), Some(h.clone()));
        assert_eq!(
            parse_sidecar(&format!("{} *backup.gz", h.to_uppercase())),
            Some(h.clone())
        );
        assert_eq!(parse_sidecar(&h), Some(h));
        assert_eq!(parse_sidecar("not a hash  backup.gz"), None);
        assert_eq!(parse_sidecar(""), None);
    }
}
