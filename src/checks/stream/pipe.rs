//! The joints of the pipeline: bounded channels of [`Chunk`]s, a small pool that hands the
//! chunks' buffers back for reuse (so memory is a few buffers whatever the object's size), the
//! reading end a stage on a blocking thread sees ([`ChannelReader`], a `BufRead` over the
//! chunks, so a decoder reads them in place), and the end the consumer gets ([`Content`]:
//! `AsyncBufRead`, for the engines on the runtime, which write the chunks where they are, and
//! `Read`, for one on a blocking thread).

use std::io::{self, BufRead, Read};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncBufRead, AsyncRead, ReadBuf};
use tokio::sync::mpsc;

/// The size of every buffer that moves between stages: large enough that the per-chunk costs
/// (a channel hand-off, a wake-up, a write into the consumer's pipe) vanish next to the bytes
/// (against 256 KiB, 1 MiB took a tenth off the CPU time of a 1 GiB restore on two cores),
/// small enough that two of them in flight per joint keep memory flat.
pub const CHUNK: usize = 1024 * 1024;
/// Chunks a joint holds before its producer waits.
pub const DEPTH: usize = 2;

/// What moves through a joint. A channel that closes without [`Chunk::End`] means the stage
/// upstream was stopped, never a clean end.
pub enum Chunk {
    Data(Vec<u8>),
    End,
    Failed(io::ErrorKind, String),
}

pub fn joint() -> (mpsc::Sender<Chunk>, mpsc::Receiver<Chunk>) {
    mpsc::channel(DEPTH)
}

/// Buffers handed back by the stage that consumed them, for the producers to fill again.
#[derive(Clone, Default)]
pub struct Pool(Arc<Mutex<Vec<Vec<u8>>>>);

impl Pool {
    /// A buffer of [`CHUNK`] bytes (contents unspecified).
    pub fn get(&self) -> Vec<u8> {
        let mut buf = self
            .0
            .lock()
            .ok()
            .and_then(|mut p| p.pop())
            .unwrap_or_default();
        buf.resize(CHUNK, 0);
        buf
    }

    pub fn put(&self, buf: Vec<u8>) {
        if let Ok(mut p) = self.0.lock()
            && p.len() < 4 * DEPTH
            && buf.capacity() >= CHUNK
        {
            p.push(buf);
        }
    }
}

/// Raised when the pipeline's owner let go of it (a stopped restore, a dropped check): every
/// stage gives up at its next chunk.
#[derive(Clone, Default)]
pub struct StopFlag(Arc<AtomicBool>);

impl StopFlag {
    pub fn raise(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_raised(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Not `Interrupted`: readers retry that kind, and a stopped pipeline stays stopped.
pub fn stopped() -> io::Error {
    io::Error::other("the read was stopped")
}

/// The pipeline while it runs: stopping it raises the flag every stage checks and ends the
/// reading task (which may be waiting on the network).
pub struct Running {
    stop: StopFlag,
    task: Option<tokio::task::AbortHandle>,
}

impl Running {
    /// `task`: the reading task on the runtime, when there is one.
    pub fn new(stop: StopFlag, task: Option<tokio::task::AbortHandle>) -> Self {
        Running { stop, task }
    }

    fn stop_now(&self) {
        self.stop.raise();
        if let Some(t) = &self.task {
            t.abort();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop_now();
    }
}

/// Stops the pipeline when dropped, unless [`StopGuard::defuse`]d: held by a future that hands
/// the [`Content`] to a blocking thread, so dropping the future still stops the reading.
pub struct StopGuard(Option<Arc<Running>>);

impl StopGuard {
    pub fn defuse(mut self) {
        self.0 = None;
    }
}

impl Drop for StopGuard {
    fn drop(&mut self) {
        if let Some(r) = &self.0 {
            r.stop_now();
        }
    }
}

/// The chunk being read and where in it.
struct Cursor {
    buf: Vec<u8>,
    pos: usize,
    done: bool,
}

impl Cursor {
    fn new() -> Self {
        Cursor {
            buf: Vec::new(),
            pos: 0,
            done: false,
        }
    }

    fn left(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    /// Takes in the next chunk; `Ok(false)` at the end.
    fn take(&mut self, next: Option<Chunk>, pool: &Pool) -> io::Result<bool> {
        match next {
            Some(Chunk::Data(buf)) => {
                pool.put(std::mem::replace(&mut self.buf, buf));
                self.pos = 0;
                Ok(true)
            }
            Some(Chunk::End) => {
                self.done = true;
                Ok(false)
            }
            Some(Chunk::Failed(kind, message)) => {
                self.done = true;
                Err(io::Error::new(kind, message))
            }
            None => {
                self.done = true;
                Err(stopped())
            }
        }
    }
}

/// The reading end of a joint, for a stage on a blocking thread.
pub struct ChannelReader {
    rx: mpsc::Receiver<Chunk>,
    at: Cursor,
    pool: Pool,
}

impl ChannelReader {
    pub fn new(rx: mpsc::Receiver<Chunk>, pool: Pool) -> Self {
        ChannelReader {
            rx,
            at: Cursor::new(),
            pool,
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = {
            let have = self.fill_buf()?;
            let n = have.len().min(out.len());
            out[..n].copy_from_slice(&have[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for ChannelReader {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.at.left().is_empty() && !self.at.done {
            let next = self.rx.blocking_recv();
            if !self.at.take(next, &self.pool)? {
                break;
            }
        }
        Ok(self.at.left())
    }

    fn consume(&mut self, n: usize) {
        self.at.pos = (self.at.pos + n).min(self.at.buf.len());
    }
}

/// The decompressed content of an object, as the pipeline produces it. Read it on the runtime
/// (`AsyncRead`) or on a blocking thread (`Read`); an error of any stage comes out here as the
/// `io::Error` it was. Dropping it (or a [`StopGuard`] taken from it) stops every stage.
pub struct Content {
    rx: mpsc::Receiver<Chunk>,
    at: Cursor,
    pool: Pool,
    stop: StopFlag,
    running: Arc<Running>,
}

impl Content {
    pub fn new(rx: mpsc::Receiver<Chunk>, pool: Pool, running: Running) -> Self {
        Content {
            rx,
            at: Cursor::new(),
            pool,
            stop: running.stop.clone(),
            running: Arc::new(running),
        }
    }

    /// A content that is already at its end.
    pub fn ended() -> Self {
        let (tx, rx) = joint();
        let _ = tx.try_send(Chunk::End);
        let running = Running {
            stop: StopFlag::default(),
            task: None,
        };
        Content::new(rx, Pool::default(), running)
    }

    /// A guard that stops the pipeline when dropped (see [`StopGuard`]).
    pub fn stop_guard(&self) -> StopGuard {
        StopGuard(Some(self.running.clone()))
    }

    /// Up to `n` bytes from the front, without consuming them: what a format sniff needs.
    pub async fn peek(&mut self, n: usize) -> io::Result<Vec<u8>> {
        while self.at.left().len() < n && !self.at.done {
            if self.stop.is_raised() {
                return Err(stopped());
            }
            let next = self.rx.recv().await;
            let kept = self.at.left().to_vec();
            if !self.at.take(next, &self.pool)? {
                self.at.buf = kept;
                self.at.pos = 0;
                break;
            }
            if !kept.is_empty() {
                let mut joined = kept;
                joined.extend_from_slice(self.at.left());
                self.at.buf = joined;
                self.at.pos = 0;
            }
        }
        let left = self.at.left();
        Ok(left[..left.len().min(n)].to_vec())
    }

    fn copy_out(&mut self, out: &mut [u8]) -> usize {
        let left = self.at.left();
        let n = left.len().min(out.len());
        out[..n].copy_from_slice(&left[..n]);
        self.at.pos += n;
        n
    }
}

impl AsyncRead for Content {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if this.stop.is_raised() {
                return Poll::Ready(Err(stopped()));
            }
            if !this.at.left().is_empty() {
                let n = this.copy_out(buf.initialize_unfilled());
                buf.advance(n);
                return Poll::Ready(Ok(()));
            }
            if this.at.done || buf.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            let next = match this.rx.poll_recv(cx) {
                Poll::Ready(next) => next,
                Poll::Pending => return Poll::Pending,
            };
            if !this.at.take(next, &this.pool)? {
                return Poll::Ready(Ok(()));
            }
        }
    }
}

/// The chunks in place: a consumer that writes what it reads (into a program's stdin, say)
/// hands the kernel the pipeline's own buffers instead of copying each one out first.
impl AsyncBufRead for Content {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        while this.at.left().is_empty() && !this.at.done {
            if this.stop.is_raised() {
                return Poll::Ready(Err(stopped()));
            }
            let next = match this.rx.poll_recv(cx) {
                Poll::Ready(next) => next,
                Poll::Pending => return Poll::Pending,
            };
            if !this.at.take(next, &this.pool)? {
                break;
            }
        }
        if this.stop.is_raised() {
            return Poll::Ready(Err(stopped()));
        }
        Poll::Ready(Ok(this.at.left()))
    }

    fn consume(self: Pin<&mut Self>, n: usize) {
        let at = &mut self.get_mut().at;
        at.pos = (at.pos + n).min(at.buf.len());
    }
}

impl Read for Content {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.stop.is_raised() {
                return Err(stopped());
            }
            if !self.at.left().is_empty() {
                return Ok(self.copy_out(out));
            }
            if self.at.done || out.is_empty() {
                return Ok(0);
            }
            let next = self.rx.blocking_recv();
            if !self.at.take(next, &self.pool)? {
                return Ok(0);
            }
        }
    }
}
