//! The PostgreSQL versions a restore depends on, read from what the tools and the dump say:
//! `psql --version` (only a psql with `\restrict` may be fed a plain SQL dump: every other one
//! would obey the meta-commands a dump holds), and the server version a dump was made from
//! (a plain dump's `-- Dumped from database version N` comment, the header of a custom or tar
//! archive), so a restore into an older server is refused with a clear message instead of
//! failing halfway.

/// A `major.minor` version (`15.14`; `9.6` is major 9).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// The first releases of each branch whose psql has `\restrict`; later majors all have it.
const RESTRICT_SINCE: &[(u32, u32)] = &[(13, 22), (14, 19), (15, 14), (16, 10), (17, 6)];

impl Version {
    /// Parses the start of `15.18 (Debian 15.18-0+deb12u1)` or `18beta1`.
    pub fn parse(text: &str) -> Option<Version> {
        let digits = |s: &str| -> Option<u32> {
            let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
            s[..end].parse().ok()
        };
        let text = text.trim_start();
        let major = digits(text)?;
        let rest = &text[major.to_string().len()..];
        let minor = rest.strip_prefix('.').and_then(digits).unwrap_or(0);
        Some(Version { major, minor })
    }

    /// Whether a psql of this version has `\restrict`.
    pub fn has_restrict(self) -> bool {
        if self.major > 17 {
            return true;
        }
        RESTRICT_SINCE
            .iter()
            .any(|&(major, minor)| self.major == major && self.minor >= minor)
    }
}

/// The version in `psql (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)`.
pub fn from_version_output(output: &str) -> Option<Version> {
    let line = output.lines().next()?;
    let after = line.split_once(')').map(|(_, rest)| rest).unwrap_or(line);
    Version::parse(after)
}

/// The major version of the server a dump was made from, when its first bytes say.
pub fn dump_source_major(head: &[u8]) -> Option<u32> {
    const PLAIN: &str = "-- Dumped from database version ";
    if let Some(at) = head.windows(5).position(|w| w == b"PGDMP")
        && (at == 0 || at == 512)
    {
        return archive_remote_version(&head[at..]).map(|v| v.major);
    }
    let text = String::from_utf8_lossy(head);
    text.lines()
        .find_map(|l| l.strip_prefix(PLAIN))
        .and_then(Version::parse)
        .map(|v| v.major)
}

/// The server version stored in a custom archive's header (`toc.dat` in a tar archive).
fn archive_remote_version(bytes: &[u8]) -> Option<Version> {
    let mut r = Header {
        bytes,
        at: 5,
        int_size: 0,
    };
    let (vmaj, vmin) = (r.byte()?, r.byte()?);
    let _rev = r.byte()?;
    r.int_size = usize::from(r.byte()?);
    let _off_size = r.byte()?;
    let _format = r.byte()?;
    let version = (vmaj, vmin);
    if !(1..=8).contains(&r.int_size) || version < (1, 10) {
        // Archives older than 1.10 (PostgreSQL 9.0) do not record the server version.
        return None;
    }
    if version >= (1, 15) {
        r.byte()?; // compression algorithm
    } else {
        r.int()?; // compression level
    }
    for _ in 0..7 {
        r.int()?; // creation time
    }
    r.string()?; // database name
    Version::parse(&r.string()?)
}

/// A cursor over an archive header: integers are a sign byte and `int_size` bytes, least
/// significant first; strings are a length integer, then the bytes.
struct Header<'a> {
    bytes: &'a [u8],
    at: usize,
    int_size: usize,
}

impl Header<'_> {
    fn byte(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.at)?;
        self.at += 1;
        Some(b)
    }

    fn int(&mut self) -> Option<i64> {
        let negative = self.byte()? != 0;
        let mut value: i64 = 0;
        for i in 0..self.int_size {
            value |= i64::from(self.byte()?) << (8 * i);
        }
        Some(if negative { -value } else { value })
    }

    fn string(&mut self) -> Option<String> {
        let len = usize::try_from(self.int()?).ok()?;
        let end = self.at.checked_add(len)?;
        let s = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(String::from_utf8_lossy(s).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psql_versions_parse_and_restrict_needs_the_fixed_releases() {
        let v = from_version_output("psql (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n").unwrap();
        assert_eq!(
            v,
            Version {
                major: 15,
                minor: 18
            }
        );
        assert!(v.has_restrict());
        for (text, ok) in [
            ("psql (PostgreSQL) 15.13", false),
            ("psql (PostgreSQL) 15.14", true),
            ("psql (PostgreSQL) 17.5", false),
            ("psql (PostgreSQL) 17.6", true),
            ("psql (PostgreSQL) 13.22", true),
            ("psql (PostgreSQL) 12.22", false),
            ("psql (PostgreSQL) 18beta1", true),
        ] {
            assert_eq!(
                from_version_output(text).unwrap().has_restrict(),
                ok,
                "{text}"
            );
        }
        assert_eq!(from_version_output("nothing here"), None);
    }

    #[test]
    fn a_plain_dump_names_its_server_version() {
        let head = b"--\n-- PostgreSQL database dump\n--\n\n-- Dumped from database version 16.4 (Ubuntu)\n-- Dumped by pg_dump version 17.2\n";
        assert_eq!(dump_source_major(head), Some(16));
        assert_eq!(dump_source_major(b"select 1;\n"), None);
    }

    /// A header as pg_dump 15 writes it (archive version 1.14, 4-byte integers).
    fn header(remote: &str) -> Vec<u8> {
        let int = |v: i64| {
            let mut b = vec![u8::from(v < 0)];
            b.extend_from_slice(&(v.unsigned_abs() as u32).to_le_bytes());
            b
        };
        let mut h = b"PGDMP".to_vec();
        h.extend_from_slice(&[1, 14, 0, 4, 8, 1]);
        h.extend(int(-1));
        for v in [0, 59, 1, 1, 11, 126, 0] {
            h.extend(int(v));
        }
        for s in ["shop", remote, remote] {
            h.extend(int(s.len() as i64));
            h.extend_from_slice(s.as_bytes());
        }
        h
    }

    #[test]
    fn custom_and_tar_archives_name_their_server_version() {
        assert_eq!(dump_source_major(&header("17.2 (Debian)")), Some(17));
        let mut tar = vec![0u8; 512];
        tar.extend(header("9.6.24"));
        assert_eq!(dump_source_major(&tar), Some(9));
        let cut = header("16.1");
        assert_eq!(dump_source_major(&cut[..60]), None);
    }
}
