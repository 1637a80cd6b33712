//! A plain SQL dump is a psql script, and a psql script can do more than fill one database:
//! `pg_dump -C` writes `CREATE DATABASE orders` and `\connect orders` (the restore would leave
//! the scratch database for a real one), `pg_dump -c -C` adds `DROP DATABASE orders`, and a
//! tampered backup could hold `\! rm -rf ~` or `\o /some/file`. [`SqlGuard`] sits between the
//! stream and `psql` and stops the stream before such a line reaches it: statements that act
//! on a database other than the one connected to (`CREATE` / `DROP` / `ALTER DATABASE`) and
//! the meta-commands that reach outside it (connect, shell, files, editor, environment).
//!
//! The guard is the early, readable refusal, not the barrier: it judges lines by their start,
//! and a statement or meta-command in the middle of a line passes it. The barrier is psql's
//! `\restrict` (no meta-command runs at all) and the unprivileged role the script runs as. For
//! those, the guard also removes lines a genuine pg_dump writes at the start of a line:
//! `\restrict` / `\unrestrict` (their key is known to whoever wrote the dump, and psql is
//! already restricted with a key of ours), and the ownership and privilege statements
//! (`ALTER … OWNER TO …;`, `GRANT …;`, `REVOKE …;`, `ALTER DEFAULT PRIVILEGES …;`), which a
//! throwaway role may not run — the equivalent of pg_restore's `--no-owner --no-acl` — and
//! `COMMENT ON EXTENSION …;` (an extension the admin created belongs to the admin).
//!
//! Lines are judged by their start, as they pass, with a bounded look-ahead; a line that may be
//! removed is held whole (up to [`HOLD_MAX`]) first. The data lines of a `COPY … FROM stdin;`
//! block (up to `\.`) are data, not commands, and pass unjudged.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

/// How much of a line's start is looked at.
const HEAD_MAX: usize = 64;
/// How many leading blanks of a line are held with its head before they pass on.
const BLANKS_MAX: usize = 4096;
/// How much of a line's end is kept, to see `FROM stdin;` at the end of a `COPY` line.
const TAIL_MAX: usize = 16;
/// The longest line that may be removed; a longer one passes (and fails as the role).
pub const HOLD_MAX: usize = 16 * 1024;

/// Statements (lower case, after leading blanks) a restore into a scratch database refuses.
const STATEMENTS: &[&str] = &["create database", "drop database", "alter database"];

/// psql meta-commands that act outside the connected database: other connections, the shell,
/// files, the editor, the environment.
const META_COMMANDS: &[&str] = &[
    "c",
    "connect",
    "!",
    "o",
    "out",
    "w",
    "write",
    "copy",
    "i",
    "include",
    "ir",
    "include_relative",
    "cd",
    "setenv",
    "getenv",
    "lo_export",
    "lo_import",
    "g",
    "gx",
    "gexec",
    "s",
    "e",
    "edit",
    "ef",
    "ev",
    "password",
];

/// Why the guard stopped the stream, readable after it is dropped.
#[derive(Clone, Default)]
pub struct Refusal(Arc<Mutex<Option<String>>>);

impl Refusal {
    pub fn get(&self) -> Option<String> {
        self.0.lock().ok().and_then(|r| r.clone())
    }
}

pub struct SqlGuard<'a> {
    inner: &'a mut (dyn AsyncRead + Unpin + Send),
    chunk: Vec<u8>,
    out: Vec<u8>,
    out_pos: usize,
    head: Vec<u8>,
    tail: Vec<u8>,
    /// How many of the head's bytes are leading blanks.
    blanks: usize,
    /// Inside the current line, past its head.
    passing: bool,
    /// Holding the current line whole, to decide whether it is removed.
    holding: bool,
    /// The current line began with `COPY `.
    copy_line: bool,
    in_copy: bool,
    eof: bool,
    refusal: Refusal,
}

impl<'a> SqlGuard<'a> {
    pub fn new(inner: &'a mut (dyn AsyncRead + Unpin + Send)) -> (Self, Refusal) {
        let refusal = Refusal::default();
        let guard = SqlGuard {
            inner,
            chunk: vec![0u8; 64 * 1024],
            out: Vec::new(),
            out_pos: 0,
            head: Vec::new(),
            tail: Vec::new(),
            blanks: 0,
            passing: false,
            holding: false,
            copy_line: false,
            in_copy: false,
            eof: false,
            refusal: refusal.clone(),
        };
        (guard, refusal)
    }

    fn refused(&self) -> Option<String> {
        self.refusal.get()
    }

    /// Moves the bytes of `chunk[..n]` to `out`, judging each line's head.
    fn process(&mut self, n: usize) {
        for i in 0..n {
            let b = self.chunk[i];
            if self.holding {
                self.head.push(b);
                if b == b'\n' {
                    self.holding = false;
                    if !removed(&self.head) {
                        self.out.extend_from_slice(&self.head);
                    }
                    self.head.clear();
                    self.end_line();
                } else if self.head.len() >= HOLD_MAX {
                    self.holding = false;
                    self.out.append(&mut self.head);
                    self.passing = true;
                }
                continue;
            }
            if self.passing {
                self.no_copy_after_comment(b);
                self.out.push(b);
                self.keep_tail(b);
                if b == b'\n' {
                    self.end_line();
                }
                continue;
            }
            // Leading blanks do not count towards the head: psql skips them, so a run of them
            // must not push the command past what is looked at. A very long run passes on
            // early, so the head stays small.
            if self.blanks == self.head.len()
                && !self.in_copy
                && b != b'\n'
                && b.is_ascii_whitespace()
            {
                self.blanks += 1;
                self.head.push(b);
                if self.blanks >= BLANKS_MAX {
                    self.out.append(&mut self.head);
                    self.blanks = 0;
                }
                continue;
            }
            self.head.push(b);
            if b == b'\n' || self.head.len() - self.blanks >= HEAD_MAX {
                if !self.judge_head() {
                    return;
                }
                if b == b'\n' {
                    self.end_line();
                } else {
                    self.passing = true;
                }
            }
        }
    }

    /// A `--` comment on a `COPY` line: `FROM stdin;` at its end is no longer the statement's
    /// (psql would not read data after it, but run the next lines as commands).
    fn no_copy_after_comment(&mut self, b: u8) {
        if b == b'-' && self.tail.last() == Some(&b'-') {
            self.copy_line = false;
        }
    }

    fn keep_tail(&mut self, b: u8) {
        self.tail.push(b);
        if self.tail.len() > TAIL_MAX {
            self.tail.remove(0);
        }
    }

    /// Judges the head; passes it on when it is fine, or starts holding the line when it may
    /// be removed. `false` when the stream must stop.
    fn judge_head(&mut self) -> bool {
        self.blanks = 0;
        if !self.in_copy && judge(&self.head).is_none() && may_be_removed(&self.head) {
            if self.head.ends_with(b"\n") || self.eof {
                if !removed(&self.head) {
                    self.out.extend_from_slice(&self.head);
                }
                self.head.clear();
            } else {
                self.holding = true;
            }
            return true;
        }
        let head = std::mem::take(&mut self.head);
        if self.in_copy {
            if head == b"\\.\n" || head == b"\\." || head == b"\\.\r\n" {
                self.in_copy = false;
            }
        } else if let Some(why) = judge(&head) {
            if let Ok(mut r) = self.refusal.0.lock() {
                *r = Some(why);
            }
            return false;
        } else {
            self.copy_line =
                starts_with_ci(trim_start(&head), b"copy ") && !head.windows(2).any(|w| w == b"--");
        }
        for &b in &head {
            self.keep_tail(b);
        }
        self.out.extend_from_slice(&head);
        true
    }

    fn end_line(&mut self) {
        if self.copy_line {
            let tail = String::from_utf8_lossy(&self.tail).to_ascii_lowercase();
            if tail.trim_end().ends_with("from stdin;") {
                self.in_copy = true;
            }
        }
        self.copy_line = false;
        self.passing = false;
        self.tail.clear();
    }
}

fn trim_start(line: &[u8]) -> &[u8] {
    let start = line
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(line.len());
    &line[start..]
}

fn starts_with_ci(line: &[u8], prefix: &[u8]) -> bool {
    line.len() >= prefix.len() && line[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// Whether a line starting with `head` is one [`removed`] may drop.
fn may_be_removed(head: &[u8]) -> bool {
    let meta = trim_start(head);
    starts_with_ci(meta, b"\\restrict")
        || starts_with_ci(meta, b"\\unrestrict")
        || [
            &b"alter "[..],
            b"grant ",
            b"revoke ",
            b"comment on extension ",
        ]
        .iter()
        .any(|p| starts_with_ci(head, p))
}

/// Whether a whole line is one the restore drops: psql's `\restrict` / `\unrestrict`, and the
/// single-line ownership and privilege statements pg_dump writes at the start of a line.
pub fn removed(line: &[u8]) -> bool {
    let text = String::from_utf8_lossy(line);
    let meta = text.trim_start().to_ascii_lowercase();
    let word = meta.split_whitespace().next().unwrap_or("");
    if word == "\\restrict" || word == "\\unrestrict" {
        return true;
    }
    let lower = text.trim_end().to_ascii_lowercase();
    if !lower.ends_with(';') || lower.starts_with(char::is_whitespace) {
        return false;
    }
    lower.starts_with("grant ")
        || lower.starts_with("revoke ")
        || lower.starts_with("comment on extension ")
        || lower.starts_with("alter default privileges ")
        || (lower.starts_with("alter ") && lower.contains(" owner to "))
}

/// Why a line (its start) may not reach psql, if it may not.
pub fn judge(head: &[u8]) -> Option<String> {
    let line = trim_start(head);
    let shown = || {
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end();
        text.chars().take(48).collect::<String>()
    };
    if let Some(rest) = line.strip_prefix(b"\\") {
        let word: Vec<u8> = if rest.first() == Some(&b'!') {
            b"!".to_vec()
        } else {
            rest.iter()
                .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                .copied()
                .collect()
        };
        let word = String::from_utf8_lossy(&word).to_ascii_lowercase();
        if META_COMMANDS.contains(&word.as_str()) {
            return Some(format!(
                "the SQL dump holds the psql meta-command `{}`, which reaches outside the scratch database; a restore does not run it (plain dumps from pg_dump without -C have none)",
                shown()
            ));
        }
        return None;
    }
    let lower = String::from_utf8_lossy(line).to_ascii_lowercase();
    let lower = lower.split_whitespace().collect::<Vec<_>>().join(" ");
    STATEMENTS
        .iter()
        .find(|s| lower.starts_with(*s))
        .map(|_| {
            format!(
                "the SQL dump runs `{}`, which acts on a database other than the scratch one; make plain dumps without -C/--create",
                shown()
            )
        })
}

impl AsyncRead for SqlGuard<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        loop {
            if this.out_pos < this.out.len() {
                let n = (this.out.len() - this.out_pos).min(buf.remaining());
                buf.put_slice(&this.out[this.out_pos..this.out_pos + n]);
                this.out_pos += n;
                if this.out_pos == this.out.len() {
                    this.out.clear();
                    this.out_pos = 0;
                }
                return Poll::Ready(Ok(()));
            }
            if let Some(why) = this.refused() {
                return Poll::Ready(Err(std::io::Error::other(why)));
            }
            if this.eof {
                if this.head.is_empty() {
                    return Poll::Ready(Ok(()));
                }
                // The last line has no newline: judge it now (a refusal shows on the next turn).
                this.holding = false;
                this.judge_head();
                continue;
            }
            let mut rb = ReadBuf::new(&mut this.chunk);
            match Pin::new(&mut *this.inner).poll_read(cx, &mut rb) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(())) => {
                    let n = rb.filled().len();
                    if n == 0 {
                        this.eof = true;
                    } else {
                        this.process(n);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    async fn pass(script: &str) -> (String, Option<String>) {
        let mut reader: Pin<Box<dyn AsyncRead + Send>> =
            Box::pin(std::io::Cursor::new(script.as_bytes().to_vec()));
        let (mut guard, refusal) = SqlGuard::new(&mut reader);
        let mut out = Vec::new();
        let _ = guard.read_to_end(&mut out).await;
        (String::from_utf8(out).unwrap(), refusal.get())
    }

    #[tokio::test]
    async fn a_pg_dump_script_passes_unchanged() {
        let long = "x".repeat(500);
        let script = format!(
            "--\n-- PostgreSQL database dump\n--\nSET statement_timeout = 0;\nCREATE TABLE public.t (a text);\nCOPY public.t (a) FROM stdin;\n\\N\n\\connect not a command in COPY data\ncreate database neither\nGRANT ALL ON t TO x;\n{long}\n\\.\nSELECT 1;\nALTER TABLE public.t ADD COLUMN b int;\n  GRANT inside a function body;\nno newline at the end"
        );
        let (out, refused) = pass(&script).await;
        assert_eq!(refused, None);
        assert_eq!(out, script);
    }

    #[tokio::test]
    async fn restrict_lines_and_ownership_and_privileges_are_removed() {
        let key = "k".repeat(70);
        let owner = format!(
            "ALTER TABLE public.{} OWNER TO postgres;\n",
            "t".repeat(100)
        );
        let script = format!(
            "\\restrict {key}\nCREATE TABLE public.t (a int);\n{owner}GRANT SELECT ON TABLE public.t TO reader;\nREVOKE ALL ON SCHEMA public FROM PUBLIC;\nALTER DEFAULT PRIVILEGES FOR ROLE postgres GRANT ALL ON TABLES TO x;\nCOMMENT ON EXTENSION dblink IS 'connect';\nCOPY public.t (a) FROM stdin;\nGRANT in data;\n\\.\nSELECT 1;\n\\unrestrict {key}"
        );
        let (out, refused) = pass(&script).await;
        assert_eq!(refused, None);
        assert_eq!(
            out,
            "CREATE TABLE public.t (a int);\nCOPY public.t (a) FROM stdin;\nGRANT in data;\n\\.\nSELECT 1;\n"
        );
    }

    #[tokio::test]
    async fn database_switches_and_shell_escapes_never_reach_psql() {
        for (script, want) in [
            (
                "SELECT 1;\nCREATE DATABASE shop WITH TEMPLATE = template0;\n",
                "CREATE DATABASE shop",
            ),
            (
                "SELECT 1;\n  drop   database shop;\n",
                "drop   database shop",
            ),
            ("\\connect shop\n", "`\\connect shop`"),
            ("SELECT 1;\n\\! rm -rf ~\n", "`\\! rm -rf ~`"),
            ("\\o /tmp/x\n", "`\\o /tmp/x`"),
            ("COPY t TO stdout;\n\\! id\n", "`\\! id`"),
        ] {
            let (out, refused) = pass(script).await;
            let refused = refused.unwrap_or_else(|| panic!("{script:?} passed"));
            assert!(refused.contains(want), "{refused}");
            assert!(!out.contains(want.trim_matches('`')), "{out:?}");
        }
    }
}
