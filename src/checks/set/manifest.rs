//! The manifest of a backup set (`metadata.json`): its JSON shape, and the checks on each entry
//! a backup tool (or an attacker who can write to the store) put there. Pure: bytes in, the
//! listed parts or the reason they are refused out.

use serde::Deserialize;

use crate::checks::sidecar::parse_sidecar;

/// The largest manifest read: a thousand parts with long names stay far below it.
pub const MANIFEST_MAX: u64 = 1 << 20;
/// The most parts a manifest may list.
pub const MAX_PARTS: usize = 1000;

/// The manifest as written by the backup tool: `{"parts": [{"name", "size", "sha256"}]}`.
/// `files` is accepted for `parts`, `key`/`file` for `name`, `checksum` for `sha256`; other
/// fields (timestamps, versions) are ignored.
#[derive(Debug, Deserialize)]
struct ManifestFile {
    #[serde(alias = "files")]
    parts: Vec<ManifestPart>,
}

#[derive(Debug, Deserialize)]
struct ManifestPart {
    #[serde(alias = "key", alias = "file")]
    name: String,
    size: u64,
    #[serde(alias = "checksum")]
    sha256: String,
}

pub use crate::limits::check_part_name;

/// Parses a manifest and checks its entries: names inside the folder, each once, a 64-hex
/// SHA-256, at most [`MAX_PARTS`].
pub fn parse_manifest(bytes: &[u8]) -> Result<Vec<(String, u64, String)>, String> {
    let file: ManifestFile =
        serde_json::from_slice(bytes).map_err(|e| format!("is not a valid manifest: {e}"))?;
    if file.parts.is_empty() {
        return Err("lists no parts".into());
    }
    if file.parts.len() > MAX_PARTS {
        return Err(format!(
            "lists {} parts, more than the {MAX_PARTS} accepted",
            file.parts.len()
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::with_capacity(file.parts.len());
    for p in file.parts {
        check_part_name(&p.name)?;
        if !seen.insert(p.name.clone()) {
            return Err(format!("lists part {} twice", p.name.escape_debug()));
        }
        let Some(sha) = parse_sidecar(&p.sha256).filter(|_| p.sha256.trim().len() == 64) else {
            return Err(format!(
                "gives part {} a sha256 that is not 64 hex digits",
                p.name.escape_debug()
            ));
        };
        out.push((p.name, p.size, sha));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_names_outside_the_folder_are_refused() {
        for bad in [
            "../x",
            "a/../../x",
            "/etc/passwd",
            "a//b",
            "./a",
            "a\\b",
            "a\nb",
            "",
        ] {
            assert!(check_part_name(bad).is_err(), "{bad:?}");
        }
        for good in ["database.sql.gz.enc", "db/part-1.gz", "..hidden"] {
            assert!(check_part_name(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn a_manifest_parses_with_its_aliases_and_checks_each_entry() {
        let h = "ab".repeat(32);
        let ok = format!(
            r#"{{"id":"full_1","files":[{{"file":"a.gz","size":3,"checksum":"{h}","engine":"postgres"}}]}}"#
        );
        assert_eq!(
            parse_manifest(ok.as_bytes()).unwrap(),
            vec![("a.gz".into(), 3, h.clone())]
        );
        let traversal =
            format!(r#"{{"parts":[{{"name":"../../etc/passwd","size":3,"sha256":"{h}"}}]}}"#);
        let e = parse_manifest(traversal.as_bytes()).unwrap_err();
        assert!(e.contains("outside the set's folder"), "{e}");
        let twice = format!(
            r#"{{"parts":[{{"name":"a","size":3,"sha256":"{h}"}},{{"name":"a","size":3,"sha256":"{h}"}}]}}"#
        );
        assert!(
            parse_manifest(twice.as_bytes())
                .unwrap_err()
                .contains("twice")
        );
        let short = r#"{"parts":[{"name":"a","size":3,"sha256":"abc"}]}"#;
        assert!(
            parse_manifest(short.as_bytes())
                .unwrap_err()
                .contains("64 hex")
        );
        assert!(
            parse_manifest(br#"{"parts":[]}"#)
                .unwrap_err()
                .contains("no parts")
        );
        let many: Vec<String> = (0..=MAX_PARTS)
            .map(|i| format!(r#"{{"name":"p{i}","size":1,"sha256":"{h}"}}"#))
            .collect();
        let many = format!(r#"{{"parts":[{}]}}"#, many.join(","));
        assert!(
            parse_manifest(many.as_bytes())
                .unwrap_err()
                .contains("more than the 1000 accepted")
        );
        assert!(
            parse_manifest(b"not json")
                .unwrap_err()
                .contains("not a valid manifest")
        );
    }
}
