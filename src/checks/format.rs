//! Recognising a backup from its first bytes: the compression (gzip, zstd or none) and, inside
//! it, the content (PostgreSQL custom dump, tar, SQLite, SQL text). Pure functions over bytes.

use crate::config::BackupFormat;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Zstd,
    None,
}

impl Compression {
    pub fn detect(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }

    /// The compression a key's extension promises, if any.
    pub fn from_key(key: &str) -> Option<Compression> {
        if key.ends_with(".gz") || key.ends_with(".tgz") {
            Some(Compression::Gzip)
        } else if key.ends_with(".zst") || key.ends_with(".zstd") {
            Some(Compression::Zstd)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::None => "uncompressed",
        }
    }
}

/// What the (decompressed) content looks like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Content {
    PgCustom,
    Tar,
    Sqlite,
    Text,
    Binary,
    Empty,
}

impl Content {
    pub fn detect(data: &[u8]) -> Content {
        if data.is_empty() {
            Content::Empty
        } else if data.starts_with(b"PGDMP") {
            Content::PgCustom
        } else if data.starts_with(b"SQLite format 3\0") {
            Content::Sqlite
        } else if data.len() >= 262 && &data[257..262] == b"ustar" {
            Content::Tar
        } else if looks_like_text(data) {
            Content::Text
        } else {
            Content::Binary
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Content::PgCustom => "PostgreSQL custom-format dump",
            Content::Tar => "tar archive",
            Content::Sqlite => "SQLite database",
            Content::Text => "text",
            Content::Binary => "binary data",
            Content::Empty => "empty content",
        }
    }
}

/// UTF-8 text without NUL bytes; a character cut at the end of the sample is allowed.
fn looks_like_text(data: &[u8]) -> bool {
    if data.contains(&0) {
        return false;
    }
    match std::str::from_utf8(data) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none() && e.valid_up_to() + 4 > data.len(),
    }
}

/// Whether `content` is what `format` promises; `Err` says what was found instead.
pub fn matches(format: BackupFormat, content: Content) -> Result<(), String> {
    let ok = match format {
        // pg_dump writes custom (`-Fc`), tar (`-Ft`) or plain SQL (`-Fp`).
        BackupFormat::PgDump => matches!(content, Content::PgCustom | Content::Tar | Content::Text),
        BackupFormat::Sql => content == Content::Text,
        BackupFormat::Sqlite => content == Content::Sqlite,
        BackupFormat::Tar => content == Content::Tar,
        BackupFormat::File => content != Content::Empty,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "expected {}, found {}",
            format_name(format),
            content.name()
        ))
    }
}

pub fn format_name(format: BackupFormat) -> &'static str {
    match format {
        BackupFormat::PgDump => "a pg_dump (custom, tar or SQL)",
        BackupFormat::Sql => "SQL text",
        BackupFormat::Sqlite => "a SQLite database",
        BackupFormat::Tar => "a tar archive",
        BackupFormat::File => "a non-empty file",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compression_from_magic_bytes() {
        assert_eq!(Compression::detect(&[0x1f, 0x8b, 8, 0]), Compression::Gzip);
        assert_eq!(
            Compression::detect(&[0x28, 0xb5, 0x2f, 0xfd, 0]),
            Compression::Zstd
        );
        assert_eq!(Compression::detect(b"PGDMP"), Compression::None);
        assert_eq!(
            Compression::from_key("a/b.dump.gz"),
            Some(Compression::Gzip)
        );
        assert_eq!(
            Compression::from_key("a/b.tar.zst"),
            Some(Compression::Zstd)
        );
        assert_eq!(Compression::from_key("a/b.dump"), None);
    }

    #[test]
    fn content_from_magic_bytes() {
        assert_eq!(Content::detect(b"PGDMP\x01\x0e"), Content::PgCustom);
        assert_eq!(Content::detect(b"SQLite format 3\0rest"), Content::Sqlite);
        let mut tar = vec![0u8; 512];
        tar[..5].copy_from_slice(b"a.txt");
        tar[257..262].copy_from_slice(b"ustar");
        assert_eq!(Content::detect(&tar), Content::Tar);
        assert_eq!(
            Content::detect(b"--\n-- PostgreSQL database dump\n"),
            Content::Text
        );
        assert_eq!(Content::detect(&[0xff, 0x00, 0x12]), Content::Binary);
        assert_eq!(Content::detect(b""), Content::Empty);
        // A multi-byte character cut by the sample's end is still text.
        assert_eq!(
            Content::detect("select 'é".as_bytes().split_last().unwrap().1),
            Content::Text
        );
    }

    #[test]
    fn formats_accept_only_their_content() {
        assert!(matches(BackupFormat::PgDump, Content::PgCustom).is_ok());
        assert!(matches(BackupFormat::PgDump, Content::Tar).is_ok());
        assert!(matches(BackupFormat::Sqlite, Content::Sqlite).is_ok());
        let err = matches(BackupFormat::Sqlite, Content::Text).unwrap_err();
        assert_eq!(err, "expected a SQLite database, found text");
        assert!(matches(BackupFormat::Tar, Content::Binary).is_err());
        assert!(matches(BackupFormat::File, Content::Empty).is_err());
    }
}
