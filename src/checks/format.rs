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

/// Whether the sniffed `data` is what `format` promises, looking past the magic bytes: a
/// pg_dump script must read like one, a pg_dump tar must hold pg_dump's table of contents.
/// `Ok` is the content found; `Err` says what was found instead.
pub fn verify(format: BackupFormat, data: &[u8]) -> Result<Content, String> {
    let content = Content::detect(data);
    matches(format, content)?;
    let fault = match (format, content) {
        (BackupFormat::PgDump, Content::Text) if !is_pg_dump_script(data) => Some(format!(
            "text that does not look like a pg_dump script: {}",
            opening(data)
        )),
        (BackupFormat::Sql, Content::Text) if !has_sql_statement(data) => Some(format!(
            "text that does not look like SQL: {}",
            opening(data)
        )),
        (BackupFormat::PgDump, Content::Tar) => match tar_first_name(data) {
            Some(name) if name == PG_TAR_TOC => None,
            name => Some(format!(
                "a tar archive whose first entry is `{}`, not pg_dump's `{PG_TAR_TOC}`",
                name.unwrap_or_default().escape_debug()
            )),
        },
        _ => None,
    };
    match fault {
        None => Ok(content),
        Some(found) => Err(format!("expected {}, found {found}", format_name(format))),
    }
}

/// The first member `pg_dump -Ft` writes: the archive's table of contents.
const PG_TAR_TOC: &str = "toc.dat";

/// What a statement in a dump or a hand-written SQL file starts with (pg_dump, pg_dumpall,
/// `sqlite3 .dump`, mysqldump-style files). Compared case-insensitively at a line start.
const SQL_STARTS: &[&str] = &[
    "SET",
    "CREATE",
    "COPY",
    "INSERT",
    "SELECT",
    "ALTER",
    "BEGIN",
    "COMMIT",
    "DROP",
    "COMMENT",
    "GRANT",
    "REVOKE",
    "START",
    "UPDATE",
    "DELETE",
    "WITH",
    "PRAGMA",
    "\\connect",
    "\\restrict",
];

/// A plain pg_dump: its header comment, or SQL statements.
fn is_pg_dump_script(data: &[u8]) -> bool {
    lines(data).any(|l| l.starts_with("-- PostgreSQL database")) || has_sql_statement(data)
}

/// Some line of the sample starts with an SQL keyword followed by a space, `;` or the line end.
fn has_sql_statement(data: &[u8]) -> bool {
    lines(data).any(|line| {
        SQL_STARTS.iter().any(|word| {
            line.get(..word.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(word))
                && line[word.len()..]
                    .chars()
                    .next()
                    .is_none_or(|c| c.is_whitespace() || c == ';' || c == '(')
        })
    })
}

fn lines(data: &[u8]) -> impl Iterator<Item = &str> {
    // The sample may end inside a character; the text before it is what counts.
    let text = match std::str::from_utf8(data) {
        Ok(t) => t,
        Err(e) => std::str::from_utf8(&data[..e.valid_up_to()]).unwrap_or_default(),
    };
    text.lines().map(str::trim_start)
}

/// The first non-blank line, shortened and escaped: it is untrusted and goes into logs.
fn opening(data: &[u8]) -> String {
    const SHOWN: usize = 60;
    let first = lines(data)
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    let mut shown: String = first.chars().take(SHOWN).collect();
    if first.chars().count() > SHOWN {
        shown.push('…');
    }
    format!("starts with `{}`", shown.escape_debug())
}

/// The name in a ustar header block (prefix `/` name), if the block is whole.
fn tar_first_name(data: &[u8]) -> Option<String> {
    let header = data.get(..512)?;
    let field = |range: std::ops::Range<usize>| {
        let raw = &header[range];
        let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
        String::from_utf8_lossy(&raw[..end]).into_owned()
    };
    let (name, prefix) = (field(0..100), field(345..500));
    Some(if prefix.is_empty() {
        name
    } else {
        format!("{prefix}/{name}")
    })
}

/// Whether `content` is what `format` promises by its magic bytes alone; `Err` says what was
/// found instead. [`verify`] also looks inside text and tar.
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

    #[test]
    fn sql_formats_need_statements_not_just_text() {
        let sqlite_dump = b"PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\nCREATE TABLE t(a);\n";
        assert_eq!(verify(BackupFormat::Sql, sqlite_dump), Ok(Content::Text));
        let commented = b"-- nightly\n\n  insert into t values (1);\n";
        assert_eq!(verify(BackupFormat::Sql, commented), Ok(Content::Text));
        let log = b"backup finished\nselected rows: 0\n";
        assert_eq!(
            verify(BackupFormat::Sql, log),
            Err("expected SQL text, found text that does not look like SQL: starts with `backup finished`".to_string())
        );
        let header = b"--\n-- PostgreSQL database dump\n--\n";
        assert_eq!(verify(BackupFormat::PgDump, header), Ok(Content::Text));
    }

    #[test]
    fn what_a_rejected_script_starts_with_is_shortened_and_escaped() {
        let line = format!("\u{1b}[31m::error::{}", "x".repeat(100));
        let err = verify(BackupFormat::PgDump, line.as_bytes()).unwrap_err();
        assert!(
            err.contains("starts with `\\u{1b}[31m::error::xxx"),
            "{err}"
        );
        assert!(err.ends_with("x…`"), "{err}");
        assert!(!err.contains('\u{1b}'), "{err}");
    }
}
