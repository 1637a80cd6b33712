//! Where commands write the lines a person (or the Actions runner) reads, as the work happens.
//!
//! A command is handed a [`Sink`] and writes each line when it has it: the `::add-mask::` lines
//! the moment credentials exist, a line per target as its checks finish, progress during a long
//! restore. The binary builds the one real sink over locked stdout ([`Streamed`]); tests and
//! callers that want the lines as values use [`Captured`]. The library never prints otherwise.
//!
//! Writing never fails a command: a run whose stdout went away must still write its report,
//! publish its badge and send its alerts. The first write error is kept, later lines are
//! dropped, and the binary decides what the error means for the exit code once the command is
//! done (a closed pipe is not an error; a full disk is).

use std::io::{self, Write};
use std::sync::{Mutex, PoisonError};

/// Receives the command's output, one line at a time (without its newline).
pub trait Sink {
    fn line(&self, line: &str);

    /// Writes each of `lines`.
    fn lines(&self, lines: &[String]) {
        for l in lines {
            self.line(l);
        }
    }

    /// A progress line of a long task (a restore's bytes and rate, a deep read's objects done):
    /// the binary writes these to stderr, or drops them with `-q`. Other sinks keep them as
    /// lines.
    fn progress(&self, line: &str) {
        self.line(line);
    }

    /// The long task that wrote progress lines is over (in Actions, its fold is closed).
    fn progress_done(&self) {}
}

/// The binary's sink: lines to stdout as they come; progress lines to stderr (none with
/// `-q`), each long task's folded in a `::group::` when running in GitHub Actions, so a
/// multi-hour restore shows one line in the log until it is opened.
pub struct Console<O: Write, E: Write> {
    out: Streamed<O>,
    progress: Option<Mutex<Progress<E>>>,
}

struct Progress<E> {
    err: E,
    /// Fold the lines in groups (GitHub Actions).
    fold: bool,
    open: bool,
    /// Once stderr fails, progress stops; it never fails a command.
    broken: bool,
}

impl<O: Write, E: Write> Console<O, E> {
    /// `progress`: where progress lines go (`None` with `-q`); `fold`: in GitHub Actions.
    pub fn new(out: O, progress: Option<E>, fold: bool) -> Self {
        Console {
            out: Streamed::new(out),
            progress: progress.map(|err| {
                Mutex::new(Progress {
                    err,
                    fold,
                    open: false,
                    broken: false,
                })
            }),
        }
    }

    /// The first error writing stdout, if any (see [`Streamed::finish`]).
    pub fn finish(self) -> Option<io::Error> {
        self.progress_done();
        self.out.finish()
    }

    fn with_progress(&self, f: impl FnOnce(&mut Progress<E>) -> io::Result<()>) {
        let Some(p) = &self.progress else { return };
        let mut p = p.lock().unwrap_or_else(PoisonError::into_inner);
        if p.broken {
            return;
        }
        if f(&mut p).and_then(|()| p.err.flush()).is_err() {
            p.broken = true;
        }
    }
}

impl<O: Write, E: Write> Sink for Console<O, E> {
    fn line(&self, line: &str) {
        self.out.line(line);
    }

    fn progress(&self, line: &str) {
        self.with_progress(|p| {
            if p.fold && !p.open {
                // Titled by the task's name (`orders-db: restoring… 1.0 GiB …` → `orders-db`).
                let task = line.split_once(": ").map_or(line, |(name, _)| name);
                writeln!(p.err, "::group::{task}: progress")?;
                p.open = true;
            }
            writeln!(p.err, "{line}")
        });
    }

    fn progress_done(&self) {
        self.with_progress(|p| {
            if p.open {
                p.open = false;
                writeln!(p.err, "::endgroup::")?;
            }
            Ok(())
        });
    }
}

/// A sink over a writer: every line is written and flushed at once, so a line reaches the job
/// log when it is produced, not at exit.
pub struct Streamed<W: Write> {
    state: Mutex<State<W>>,
}

struct State<W> {
    out: W,
    /// The first write error; once set, nothing more is written.
    error: Option<io::Error>,
}

impl<W: Write> Streamed<W> {
    pub fn new(out: W) -> Self {
        Streamed {
            state: Mutex::new(State { out, error: None }),
        }
    }

    /// The first write error, if any.
    pub fn finish(self) -> Option<io::Error> {
        let state = self
            .state
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        state.error
    }
}

impl<W: Write> Sink for Streamed<W> {
    fn line(&self, line: &str) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.error.is_some() {
            return;
        }
        let written = state
            .out
            .write_all(line.as_bytes())
            .and_then(|()| state.out.write_all(b"\n"))
            .and_then(|()| state.out.flush());
        if let Err(e) = written {
            state.error = Some(e);
        }
    }
}

/// Keeps the lines in memory, for tests and for callers that post-process them.
#[derive(Debug, Default)]
pub struct Captured(Mutex<Vec<String>>);

impl Captured {
    pub fn new() -> Self {
        Captured::default()
    }

    /// The lines written so far.
    pub fn lines(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Sink for Captured {
    fn line(&self, line: &str) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(line.to_string());
    }
}

/// Whether logs may be coloured: only for a person at a terminal (CI logs and files get plain
/// text), and never when `NO_COLOR` has any non-empty value.
pub fn colour(is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    is_terminal && no_color.is_none_or(|v| v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that fails every write with `kind` after `ok` successful ones.
    struct Failing {
        ok: usize,
        kind: io::ErrorKind,
        written: Vec<u8>,
    }

    impl Write for Failing {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.ok == 0 {
                return Err(io::Error::from(self.kind));
            }
            self.ok -= 1;
            self.written.extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_write_error_is_kept_and_later_lines_are_dropped() {
        let sink = Streamed::new(Failing {
            ok: 2,
            kind: io::ErrorKind::BrokenPipe,
            written: Vec::new(),
        });
        sink.line("one");
        sink.line("two");
        sink.line("three");
        let err = sink.finish().expect("the error is kept");
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
    }

    #[test]
    fn colour_only_at_a_terminal_without_no_color() {
        use std::ffi::OsStr;
        assert!(colour(true, None));
        assert!(colour(true, Some(OsStr::new(""))));
        assert!(!colour(true, Some(OsStr::new("1"))));
        assert!(!colour(false, None));
    }

    /// A writer whose bytes the test can read after the sink is done with it.
    #[derive(Clone, Default)]
    struct Shared(std::sync::Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Shared {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    #[test]
    fn progress_goes_to_stderr_folded_in_actions_and_nowhere_with_quiet() {
        let (out, err) = (Shared::default(), Shared::default());
        let console = Console::new(out.clone(), Some(err.clone()), true);
        console.line("db: restoring db/1.gz (1.0 GiB, gzip tar archive)");
        console.progress("db: restoring… 10.0 MiB of 1.0 GiB read (0%)");
        console.progress("db: restoring… 20.0 MiB of 1.0 GiB read (1%)");
        console.progress_done();
        console.line("db: restore finished after 3s (1.0 GiB read)");
        assert!(console.finish().is_none());
        assert_eq!(
            out.text(),
            "db: restoring db/1.gz (1.0 GiB, gzip tar archive)\ndb: restore finished after 3s (1.0 GiB read)\n"
        );
        assert_eq!(
            err.text(),
            "::group::db: progress\ndb: restoring… 10.0 MiB of 1.0 GiB read (0%)\ndb: restoring… 20.0 MiB of 1.0 GiB read (1%)\n::endgroup::\n"
        );

        // Outside Actions: the lines alone; an unclosed fold is closed at the end.
        let err = Shared::default();
        let console = Console::new(Shared::default(), Some(err.clone()), false);
        console.progress("t: deep read 1 of 2");
        assert!(console.finish().is_none());
        assert_eq!(err.text(), "t: deep read 1 of 2\n");

        // -q: nothing.
        let out = Shared::default();
        let console: Console<Shared, Shared> = Console::new(out.clone(), None, true);
        console.progress("t: deep read 1 of 2");
        console.progress_done();
        console.line("kept");
        assert!(console.finish().is_none());
        assert_eq!(out.text(), "kept\n");
    }

    #[test]
    fn lines_are_written_with_a_newline_each() {
        let sink = Streamed::new(Vec::new());
        sink.lines(&["a".to_string(), "b".to_string()]);
        let state = sink.state.into_inner().unwrap();
        assert_eq!(state.out, b"a\nb\n");
        assert!(state.error.is_none());
    }
}
