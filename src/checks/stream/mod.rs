//! Reading a backup once, as a pipeline of stages that run at the same time: the store's
//! async stream is read into buffers on the runtime (a local file is read by the next stage
//! itself), the stored bytes are hashed (SHA-256 and a count) on one blocking thread, and
//! decompressed on another; the consumer — the monthly deep read's [`drain`], or a restore
//! engine — reads the decompressed [`Content`]. The stages are joined by bounded channels of
//! reusable 1 MiB buffers ([`pipe`]), so the whole runs at the speed of its slowest stage and
//! memory stays flat whatever the backup's size.
//!
//! One observer, [`Stats`], says what the stages have seen: stored bytes, content bytes, when
//! the store's stream ended, its SHA-256 once read to the end, and the first error of any stage.
//! A [`Transform`] (client-side decryption) is a stage of its own between the hashing, which
//! covers the stored bytes, and the decompression.
//!
//! Dropping the [`Content`] (or a [`StopGuard`] taken from it) stops every stage at its next
//! chunk: a restore stopped at its deadline or by a signal leaves nothing running.

use std::io::{self, BufRead, Read};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt};
use tokio::sync::mpsc;

use super::format::Compression;
use crate::store::{LocalFile, ObjectReader};

pub mod pipe;

use pipe::{ChannelReader, Chunk, Pool, StopFlag};
pub use pipe::{Content, StopGuard};

/// What a restore engine reads: the decompressed content, buffered, so an engine that writes
/// it on can write the chunks where they are ([`Content`] is one).
pub type ContentReader = Pin<Box<dyn AsyncBufRead + Send>>;

/// A sync adapter between the hashing and the decompression: it gets the stored bytes and
/// returns what the decompressor reads (decrypted bytes, say).
pub type Transform =
    Box<dyn FnOnce(Box<dyn Read + Send>) -> io::Result<Box<dyn Read + Send>> + Send>;

/// How [`open`] reads an object.
pub struct Options {
    /// `None`: found from the first bytes the decompressor sees (after the transform: the
    /// compression of an encrypted object is known only once it is decrypted).
    pub compression: Option<Compression>,
    pub transform: Option<Transform>,
}

impl Options {
    pub fn new(compression: Compression) -> Self {
        Options {
            compression: Some(compression),
            transform: None,
        }
    }

    /// Through `transform` (a decryption), with the compression found inside.
    pub fn decrypting(transform: Transform) -> Self {
        Options {
            compression: None,
            transform: Some(transform),
        }
    }
}

/// What the stages have seen so far; shared, so it can be read while they run and after.
#[derive(Clone, Default)]
pub struct Stats(Arc<Seen>);

#[derive(Default)]
struct Seen {
    stored: AtomicU64,
    content: AtomicU64,
    /// When the store's stream ended (its last byte arrived).
    eof_at: Mutex<Option<Instant>>,
    /// Set once every stored byte was hashed.
    sha256: Mutex<Option<String>>,
    /// The compression, given or found.
    compression: Mutex<Option<Compression>>,
    error: Mutex<Option<String>>,
}

impl Stats {
    /// Stored bytes hashed so far.
    pub fn stored_bytes(&self) -> u64 {
        self.0.stored.load(Ordering::Relaxed)
    }

    /// Decompressed bytes produced so far.
    pub fn content_bytes(&self) -> u64 {
        self.0.content.load(Ordering::Relaxed)
    }

    /// The SHA-256 of the stored bytes, as lowercase hex, once the stream was read to its end.
    pub fn sha256(&self) -> Option<String> {
        self.0.sha256.lock().ok().and_then(|s| s.clone())
    }

    /// The compression of the content: as given, or as found once the decompressor started.
    pub fn compression(&self) -> Option<Compression> {
        *self.0.compression.lock().ok()?
    }

    fn found(&self, compression: Compression) {
        if let Ok(mut c) = self.0.compression.lock() {
            *c = Some(compression);
        }
    }

    /// When the store's stream ended cleanly.
    pub fn eof_at(&self) -> Option<Instant> {
        *self.0.eof_at.lock().ok()?
    }

    /// The first error of any stage, described.
    pub fn error(&self) -> Option<String> {
        self.0.error.lock().ok().and_then(|e| e.clone())
    }

    /// Notes that the store's stream ended cleanly, now.
    fn stream_ended(&self) {
        if let Ok(mut at) = self.0.eof_at.lock() {
            *at = Some(Instant::now());
        }
    }

    fn fail(&self, err: &io::Error) {
        if let Ok(mut e) = self.0.error.lock()
            && e.is_none()
        {
            *e = Some(describe_io(err));
        }
    }

    /// A tally as if `stored` bytes had been read: for tests of what shows progress.
    #[cfg(test)]
    pub fn with_stored(stored: u64) -> Self {
        let s = Stats::default();
        s.0.stored.store(stored, Ordering::Relaxed);
        s
    }
}

/// Starts reading `reader` through the pipeline; returns the decompressed content and the
/// observer. Must be called on a tokio runtime (the reading stage is a task on it).
pub fn open(reader: ObjectReader, options: Options) -> (Content, Stats) {
    let stats = Stats::default();
    let pool = Pool::default();
    let stop = StopFlag::default();
    // A local file is read on the hashing thread itself; a stream by a task on the runtime.
    let (input, task) = match reader.into_file() {
        Ok(local) => (Input::File(FileInput::new(local)), None),
        Err(stream) => {
            let (read_tx, read_rx) = pipe::joint();
            let task = tokio::spawn(read_stage(stream, read_tx, pool.clone(), stats.clone()));
            (Input::Chunks(read_rx), Some(task.abort_handle()))
        }
    };
    let (out_tx, out_rx) = pipe::joint();
    let Options {
        compression,
        transform,
    } = options;
    if let Some(c) = compression {
        stats.found(c);
    }
    if compression == Some(Compression::None) && transform.is_none() {
        let mut hashing = Hashing::new(input, Some(out_tx), &pool, &stats, &stop);
        // With nothing to decompress, the stored bytes are the content.
        hashing.is_content = true;
        tokio::task::spawn_blocking(move || hashing.run());
    } else {
        let (hashed_tx, hashed_rx) = pipe::joint();
        let mut hashing = Hashing::new(input, Some(hashed_tx), &pool, &stats, &stop);
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        hashing.done = Some(done_tx);
        tokio::task::spawn_blocking(move || hashing.run());
        // A transform (a decryption) is a stage of its own, on its own thread: deciphering and
        // decompressing run at the same time instead of taking turns.
        let plain_rx = match transform {
            None => hashed_rx,
            Some(transform) => {
                let (plain_tx, plain_rx) = pipe::joint();
                let transforming = Transforming {
                    input: ChannelReader::new(hashed_rx, pool.clone()),
                    transform,
                    out: plain_tx,
                    pool: pool.clone(),
                    stats: stats.clone(),
                };
                tokio::task::spawn_blocking(move || transforming.run());
                plain_rx
            }
        };
        let decoding = Decoding {
            input: ChannelReader::new(plain_rx, pool.clone()),
            compression,
            out: out_tx,
            pool: pool.clone(),
            stats: stats.clone(),
            hashed: done_rx,
        };
        tokio::task::spawn_blocking(move || decoding.run());
    }
    let content = Content::new(out_rx, pool, pipe::Running::new(stop, task));
    (content, stats)
}

/// The first stage, on the runtime: the store's stream into buffers.
async fn read_stage(mut reader: ObjectReader, tx: mpsc::Sender<Chunk>, pool: Pool, stats: Stats) {
    loop {
        let mut buf = pool.get();
        let mut filled = 0;
        let ended = loop {
            match reader.read(&mut buf[filled..]).await {
                Ok(0) => break Ok(true),
                Ok(n) => {
                    filled += n;
                    if filled == buf.len() {
                        break Ok(false);
                    }
                }
                Err(e) => break Err(e),
            }
        };
        if filled > 0 {
            buf.truncate(filled);
            if tx.send(Chunk::Data(buf)).await.is_err() {
                return;
            }
        }
        match ended {
            Ok(false) => {}
            Ok(true) => {
                stats.stream_ended();
                let _ = tx.send(Chunk::End).await;
                return;
            }
            Err(e) => {
                let _ = tx.send(failure(e, &stats)).await;
                return;
            }
        }
    }
}

/// Where the hashing stage gets the stored bytes: the reading task's chunks, or a local file
/// it reads itself.
enum Input {
    Chunks(mpsc::Receiver<Chunk>),
    File(FileInput),
}

impl Input {
    /// The next chunk; `None` when the reading task was stopped.
    fn next(&mut self, pool: &Pool, stats: &Stats) -> Option<Chunk> {
        match self {
            Input::Chunks(rx) => rx.blocking_recv(),
            Input::File(file) => Some(file.next(pool, stats)),
        }
    }
}

/// A local file read in full chunks, as the reading task reads a stream: its data, then its
/// end or error.
struct FileInput {
    local: LocalFile,
    /// What comes after the chunk just given: the end, or the error that cut it short.
    then: Option<Chunk>,
}

impl FileInput {
    fn new(local: LocalFile) -> Self {
        FileInput { local, then: None }
    }

    fn next(&mut self, pool: &Pool, stats: &Stats) -> Chunk {
        if let Some(then) = self.then.take() {
            return then;
        }
        let mut buf = pool.get();
        // The bytes a sniff took from the front come first, once.
        let mut head = std::mem::take(&mut self.local.head);
        let mut filled = head.len().min(buf.len());
        buf[..filled].copy_from_slice(&head[..filled]);
        self.local.head = head.split_off(filled);
        let ended = loop {
            if filled == buf.len() {
                break None;
            }
            match self.local.file.read(&mut buf[filled..]) {
                Ok(0) => {
                    stats.stream_ended();
                    break Some(Chunk::End);
                }
                Ok(n) => {
                    self.local.count(n);
                    filled += n;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Some(failure(e, stats)),
            }
        };
        if filled == 0 {
            pool.put(buf);
            return ended.unwrap_or(Chunk::End);
        }
        buf.truncate(filled);
        self.then = ended;
        Chunk::Data(buf)
    }
}

/// The second stage, on a blocking thread: hashes and counts the stored bytes, handing them on.
struct Hashing {
    input: Input,
    tx: Option<mpsc::Sender<Chunk>>,
    pool: Pool,
    stats: Stats,
    stop: StopFlag,
    /// Dropped when this stage ends, so the decompressor can wait for the hash.
    done: Option<std::sync::mpsc::Sender<()>>,
    /// Whether what this stage hands on is the content itself (nothing to decompress).
    is_content: bool,
}

impl Hashing {
    fn new(
        input: Input,
        tx: Option<mpsc::Sender<Chunk>>,
        pool: &Pool,
        stats: &Stats,
        stop: &StopFlag,
    ) -> Self {
        Hashing {
            input,
            tx,
            pool: pool.clone(),
            stats: stats.clone(),
            stop: stop.clone(),
            done: None,
            is_content: false,
        }
    }

    fn run(mut self) {
        let mut hasher = Sha256::new();
        loop {
            let next = self.input.next(&self.pool, &self.stats);
            if self.stop.is_raised() {
                return;
            }
            match next {
                Some(Chunk::Data(buf)) => {
                    hasher.update(&buf);
                    let n = buf.len() as u64;
                    self.stats.0.stored.fetch_add(n, Ordering::Relaxed);
                    if self.is_content {
                        self.stats.0.content.fetch_add(n, Ordering::Relaxed);
                    }
                    let Some(tx) = &self.tx else {
                        self.pool.put(buf);
                        continue;
                    };
                    if let Err(back) = tx.blocking_send(Chunk::Data(buf)) {
                        if let Chunk::Data(buf) = back.0 {
                            self.pool.put(buf);
                        }
                        // The decompressor is done (its end, or an error): the rest is hashed
                        // all the same. A consumer that went away raised the stop flag.
                        self.tx = None;
                    }
                }
                Some(Chunk::End) => {
                    let hex = hex::encode(hasher.finalize());
                    if let Ok(mut s) = self.stats.0.sha256.lock() {
                        *s = Some(hex);
                    }
                    if let Some(tx) = &self.tx {
                        let _ = tx.blocking_send(Chunk::End);
                    }
                    return;
                }
                Some(failed @ Chunk::Failed(..)) => {
                    if let Some(tx) = &self.tx {
                        let _ = tx.blocking_send(failed);
                    }
                    return;
                }
                // The reading stage was stopped: dropping `tx` tells the next stage.
                None => return,
            }
        }
    }
}

/// Between the hashing and the decompressor when there is a transform, on a blocking thread:
/// the stored bytes in, the transformed (decrypted) bytes out.
struct Transforming {
    input: ChannelReader,
    transform: Transform,
    out: mpsc::Sender<Chunk>,
    pool: Pool,
    stats: Stats,
}

impl Transforming {
    fn run(self) {
        let Transforming {
            input,
            transform,
            out,
            pool,
            stats,
        } = self;
        let result =
            transform(Box::new(input)).and_then(|mut plain| pump(&mut plain, &out, &pool, None));
        tell_the_end(result, &out, &stats);
    }
}

/// Hands the next stage the end of a stage's output: clean, or the error (kept in `stats`).
fn tell_the_end(result: io::Result<()>, out: &mpsc::Sender<Chunk>, stats: &Stats) {
    let last = match result {
        Ok(()) => Chunk::End,
        Err(e) => failure(e, stats),
    };
    let _ = out.blocking_send(last);
}

/// A stage's error as the chunk that tells the next stage, kept in `stats` as the first error.
fn failure(e: io::Error, stats: &Stats) -> Chunk {
    stats.fail(&e);
    Chunk::Failed(e.kind(), e.to_string())
}

/// The last stage, on a blocking thread: the decompressor.
struct Decoding {
    input: ChannelReader,
    compression: Option<Compression>,
    out: mpsc::Sender<Chunk>,
    pool: Pool,
    stats: Stats,
    hashed: std::sync::mpsc::Receiver<()>,
}

impl Decoding {
    fn run(self) {
        let Decoding {
            input,
            compression,
            out,
            pool,
            stats,
            hashed,
        } = self;
        let result = decoder(input, compression, &stats)
            .and_then(|mut decoder| pump(&mut decoder, &out, &pool, Some(&stats)));
        // The decoder (and with it the reading end) is gone. What is left of the object is
        // hashed before the end is told, even after an error, so the checksum verdict never
        // depends on how far the hashing had got: a corrupt backup whose bytes match their
        // checksum was corrupt when it was written.
        let _ = hashed.recv();
        tell_the_end(result, &out, &stats);
    }
}

/// The decompressor for `compression`, or for the one the first bytes show.
fn decoder(
    mut input: ChannelReader,
    compression: Option<Compression>,
    stats: &Stats,
) -> io::Result<Box<dyn Read + Send>> {
    let compression = match compression {
        Some(c) => c,
        None => {
            let found = Compression::detect(input.fill_buf()?);
            stats.found(found);
            found
        }
    };
    decompress(input, compression)
}

fn decompress<'a, R: BufRead + Send + 'a>(
    input: R,
    compression: Compression,
) -> io::Result<Box<dyn Read + Send + 'a>> {
    Ok(match compression {
        // Every member: `gzip` concatenates members when files are appended.
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(input)),
        // Every frame, as `zstd -d` does.
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(input)?),
        Compression::None => Box::new(input),
    })
}

/// Reads `decoder` to its end into full chunks for the next stage; with `content`, counts
/// them as content (the last stage's output).
fn pump(
    decoder: &mut dyn Read,
    out: &mpsc::Sender<Chunk>,
    pool: &Pool,
    content: Option<&Stats>,
) -> io::Result<()> {
    loop {
        let mut buf = pool.get();
        let mut filled = 0;
        let ended = loop {
            match decoder.read(&mut buf[filled..]) {
                Ok(0) => break true,
                Ok(n) => {
                    filled += n;
                    if filled == buf.len() {
                        break false;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        };
        if filled > 0 {
            buf.truncate(filled);
            if let Some(stats) = content {
                stats.0.content.fetch_add(filled as u64, Ordering::Relaxed);
            }
            out.blocking_send(Chunk::Data(buf))
                .map_err(|_| pipe::stopped())?;
        }
        if ended {
            return Ok(());
        }
    }
}

/// Reads and drops what is left of `reader` in place (what an engine left unread still has
/// to be hashed), stopping at the first error, which the pipeline's [`Stats`] already hold.
pub async fn discard<R: AsyncBufRead + Unpin + ?Sized>(reader: &mut R) {
    while let Ok(chunk) = reader.fill_buf().await {
        let n = chunk.len();
        if n == 0 {
            break;
        }
        reader.consume(n);
    }
}

/// The result of reading a whole object through [`open`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Drained {
    pub stored_bytes: u64,
    pub content_bytes: u64,
    pub sha256: String,
    /// Why decompression stopped early, if it did.
    pub error: Option<String>,
    /// The compression, given or found inside the encryption.
    pub compression: Option<Compression>,
}

impl Drained {
    /// A read that failed before the pipeline started.
    pub fn failed(err: &io::Error) -> Self {
        Drained {
            stored_bytes: 0,
            content_bytes: 0,
            sha256: String::new(),
            error: Some(describe_io(err)),
            compression: None,
        }
    }
}

/// Reads the whole object through its layers, and returns what was seen.
pub async fn drain(reader: ObjectReader, options: Options) -> Drained {
    let (mut content, stats) = open(reader, options);
    discard(&mut content).await;
    drop(content);
    Drained {
        stored_bytes: stats.stored_bytes(),
        content_bytes: stats.content_bytes(),
        sha256: stats.sha256().unwrap_or_default(),
        error: stats.error(),
        compression: stats.compression(),
    }
}

/// How many first bytes a sniff ([`ObjectReader::sniff`]) takes to recognise an object's layers.
pub const SNIFF: usize = 512;

/// Decompresses as much of `head` (the first bytes of an object) as it holds, up to `limit`.
pub fn decompress_prefix(head: &[u8], compression: Compression, limit: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let Ok(decoder) = decompress(head, compression) else {
        return out;
    };
    // A prefix ends mid-stream, so an "unexpected end" error is normal here: keep what came out.
    let mut limited = decoder.take(limit as u64);
    let mut buf = [0u8; 8192];
    while let Ok(n) = limited.read(&mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    out
}

pub fn describe_io(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::UnexpectedEof => "the stream ends early (truncated)".to_string(),
        _ => err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipe::CHUNK;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn reader(bytes: Vec<u8>) -> ObjectReader {
        ObjectReader::stream(std::io::Cursor::new(bytes))
    }

    #[tokio::test]
    async fn drain_hashes_stored_bytes_and_counts_content() {
        let content = b"hello backup ".repeat(10_000);
        let stored = gzip(&content);
        let expected = hex::encode(Sha256::digest(&stored));
        let d = drain(reader(stored.clone()), Options::new(Compression::Gzip)).await;
        assert_eq!(d.error, None);
        assert_eq!(d.stored_bytes, stored.len() as u64);
        assert_eq!(d.content_bytes, content.len() as u64);
        assert_eq!(d.sha256, expected);
    }

    #[tokio::test]
    async fn a_truncated_gzip_is_reported() {
        let content: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let mut stored = gzip(&content);
        stored.truncate(stored.len() / 2);
        let d = drain(reader(stored), Options::new(Compression::Gzip)).await;
        assert!(
            d.error.as_deref().unwrap().contains("truncated"),
            "{:?}",
            d.error
        );
    }

    #[tokio::test]
    async fn zstd_and_plain_streams_decode() {
        let content = b"zstd content".repeat(1000);
        let stored = zstd::encode_all(&content[..], 3).unwrap();
        let d = drain(reader(stored), Options::new(Compression::Zstd)).await;
        assert_eq!((d.content_bytes, d.error), (content.len() as u64, None));
        let d = drain(reader(content.clone()), Options::new(Compression::None)).await;
        assert_eq!(d.content_bytes, content.len() as u64);
    }

    /// What a consumer that writes the chunks where they are sees: every byte in order, each
    /// buffer a whole chunk of the pipeline, and a stage's error at the point it happened.
    #[tokio::test]
    async fn content_read_in_place_gives_whole_chunks_then_the_error() {
        use tokio::io::AsyncBufReadExt;
        let content: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let stored = gzip(&content);
        let (mut out, _) = open(reader(stored.clone()), Options::new(Compression::Gzip));
        let (mut got, mut sizes) = (Vec::new(), Vec::new());
        loop {
            let chunk = out.fill_buf().await.unwrap();
            if chunk.is_empty() {
                break;
            }
            let n = chunk.len();
            got.extend_from_slice(chunk);
            sizes.push(n);
            out.consume(n);
        }
        assert!(got == content, "the content differs");
        let (last, whole) = sizes.split_last().unwrap();
        assert!(whole.iter().all(|&n| n == CHUNK), "{sizes:?}");
        assert!(*last <= CHUNK);

        let mut cut = stored;
        cut.truncate(cut.len() / 2);
        let (mut out, stats) = open(reader(cut), Options::new(Compression::Gzip));
        let mut read = 0;
        let err = loop {
            match out.fill_buf().await {
                Ok([]) => panic!("a truncated stream ended cleanly after {read} bytes"),
                Ok(chunk) => {
                    let n = chunk.len();
                    read += n;
                    out.consume(n);
                }
                Err(e) => break e,
            }
        };
        let seen = stats.error().unwrap_or_default();
        assert!(seen.contains("truncated"), "{seen} / {err}");
        assert!(read > 0 && read < content.len(), "{read}");
    }

    fn xor(data: &[u8]) -> Vec<u8> {
        data.iter().map(|b| b ^ 0x5a).collect()
    }

    /// A reader that undoes [`xor`]: the shape of a decrypting transform.
    struct Xor(Box<dyn Read + Send>);

    impl Read for Xor {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.0.read(buf)?;
            buf[..n].iter_mut().for_each(|b| *b ^= 0x5a);
            Ok(n)
        }
    }

    #[tokio::test]
    async fn a_transform_sits_between_the_hash_of_the_stored_bytes_and_the_decompressor() {
        let content: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
        let stored = xor(&gzip(&content));
        // The compression is found behind the transform.
        let options =
            Options::decrypting(Box::new(|r| Ok(Box::new(Xor(r)) as Box<dyn Read + Send>)));
        let (mut out, stats) = open(reader(stored.clone()), options);
        let mut got = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut out, &mut got)
            .await
            .unwrap();
        assert!(got == content, "the content differs");
        assert_eq!(stats.sha256(), Some(hex::encode(Sha256::digest(&stored))));
        assert_eq!(stats.stored_bytes(), stored.len() as u64);
        assert_eq!(stats.content_bytes(), content.len() as u64);
        assert_eq!(stats.error(), None);
        assert_eq!(stats.compression(), Some(Compression::Gzip));
    }

    #[tokio::test]
    async fn a_failing_transform_fails_the_stream() {
        let options = Options::decrypting(Box::new(|_| Err(io::Error::other("bad key"))));
        let (mut out, stats) = open(reader(vec![1; 1000]), options);
        let mut got = Vec::new();
        let err = tokio::io::AsyncReadExt::read_to_end(&mut out, &mut got)
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "bad key");
        assert_eq!(stats.error().as_deref(), Some("bad key"));
    }

    #[tokio::test]
    async fn content_reads_the_same_on_a_blocking_thread_and_hashes_trailing_bytes() {
        // Two gzip members: both are decompressed, and every stored byte is hashed.
        let a = b"first member ".repeat(50_000);
        let b = b"second member ".repeat(50_000);
        let mut stored = gzip(&a);
        stored.extend(gzip(&b));
        let (mut out, stats) = open(reader(stored.clone()), Options::new(Compression::Gzip));
        let got = tokio::task::spawn_blocking(move || {
            let mut got = Vec::new();
            Read::read_to_end(&mut out, &mut got).map(|_| got)
        })
        .await
        .unwrap()
        .unwrap();
        assert_eq!(got.len(), a.len() + b.len());
        assert!(got[..a.len()] == a[..] && got[a.len()..] == b[..]);
        assert_eq!(stats.sha256(), Some(hex::encode(Sha256::digest(&stored))));
    }

    #[tokio::test]
    async fn a_local_file_is_read_whole_after_a_sniff_and_counted_once() {
        // More than two chunks, so the file is read over several chunks after the sniff.
        let content: Vec<u8> = (0..3 * CHUNK as u32)
            .map(|i| (i % 7 + i / 4099) as u8)
            .collect();
        let stored = gzip(&content);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.gz"), &stored).unwrap();
        let local = crate::store::local::LocalStore::new(dir.path());
        let store = crate::store::counting::Counting::new(&local);
        let reader = crate::store::BackupStore::read(&store, "b.gz")
            .await
            .unwrap();
        let (reader, head) = reader.sniff(SNIFF).await.unwrap();
        assert_eq!(head, &stored[..SNIFF]);
        assert!(
            reader.into_file().is_ok(),
            "a local object stays a file after a sniff"
        );
        let reader = crate::store::BackupStore::read(&store, "b.gz")
            .await
            .unwrap();
        let (reader, _) = reader.sniff(SNIFF).await.unwrap();
        let before = store.counts();
        let drained = drain(reader, Options::new(Compression::Gzip)).await;
        assert_eq!(drained.error, None);
        assert_eq!(drained.stored_bytes, stored.len() as u64);
        assert_eq!(drained.content_bytes, content.len() as u64);
        assert_eq!(drained.sha256, hex::encode(Sha256::digest(&stored)));
        // The sniffed head was counted when it was read, the rest as the pipeline read it.
        let read = store.counts().since(&before).bytes;
        assert_eq!(read, (stored.len() - SNIFF) as u64);
        assert_eq!(store.counts().bytes, (stored.len() + SNIFF) as u64);
    }

    #[tokio::test]
    async fn dropping_the_content_stops_reading_a_local_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        std::fs::write(&path, vec![1u8; 32 * CHUNK]).unwrap();
        let reader = ObjectReader::file(std::fs::File::open(&path).unwrap());
        let (mut out, stats) = open(reader, Options::new(Compression::None));
        let mut buf = vec![0u8; CHUNK];
        tokio::io::AsyncReadExt::read_exact(&mut out, &mut buf)
            .await
            .unwrap();
        drop(out);
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let read = stats.stored_bytes();
        assert!(read < 8 * CHUNK as u64, "read on after the drop: {read}");
        assert_eq!(stats.sha256(), None, "a stopped read has no checksum");
    }

    #[tokio::test]
    async fn a_local_read_that_fails_is_the_pipelines_error() {
        let dir = tempfile::tempdir().unwrap();
        // Opening a folder succeeds; reading it fails (EISDIR).
        let reader = ObjectReader::file(std::fs::File::open(dir.path()).unwrap());
        let drained = drain(reader, Options::new(Compression::Gzip)).await;
        let error = drained.error.expect("the read error is told");
        assert!(error.contains("directory"), "{error}");
        assert_eq!(drained.stored_bytes, 0);
        assert_eq!(drained.sha256, "");
    }

    #[tokio::test]
    async fn a_local_file_read_as_a_stream_gives_its_head_then_the_rest() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b"), &data).unwrap();
        let file = std::fs::File::open(dir.path().join("b")).unwrap();
        let count = std::sync::Arc::new(AtomicU64::new(0));
        let reader = ObjectReader::file(file).counted(count.clone());
        let (mut again, head) = reader.sniff(300).await.unwrap();
        assert_eq!(head, &data[..300]);
        let mut all = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut again, &mut all)
            .await
            .unwrap();
        assert!(all == data);
        assert_eq!(count.load(Ordering::Relaxed), data.len() as u64);
    }

    #[tokio::test]
    async fn a_sniffed_stream_still_yields_every_byte() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let reader = ObjectReader::stream(std::io::Cursor::new(data.clone()));
        let (mut again, head) = reader.sniff(100).await.unwrap();
        assert_eq!(head, &data[..100]);
        let mut all = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut again, &mut all)
            .await
            .unwrap();
        assert_eq!(all, data);
    }

    #[tokio::test]
    async fn a_peek_does_not_consume() {
        let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        let (mut out, _) = open(reader(data.clone()), Options::new(Compression::None));
        let head = out.peek(4096).await.unwrap();
        assert_eq!(head, &data[..4096]);
        let mut got = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut out, &mut got)
            .await
            .unwrap();
        assert!(got == data);
    }

    #[tokio::test]
    async fn dropping_the_content_stops_reading_an_endless_stream() {
        let endless = ObjectReader::stream(tokio::io::repeat(7));
        let (mut out, stats) = open(endless, Options::new(Compression::None));
        let mut buf = vec![0u8; 1 << 20];
        tokio::io::AsyncReadExt::read_exact(&mut out, &mut buf)
            .await
            .unwrap();
        drop(out);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let then = stats.stored_bytes();
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        assert_eq!(stats.stored_bytes(), then, "still reading after the drop");
        // Bounded: a few chunks per joint, never the whole stream.
        assert!(then < 64 * CHUNK as u64, "{then}");
    }

    #[tokio::test]
    async fn corrupt_zstd_is_reported() {
        let mut stored = zstd::encode_all(&b"zstd content".repeat(100_000)[..], 3).unwrap();
        let mid = stored.len() / 2;
        stored[mid..mid + 64].fill(0xff);
        let d = drain(reader(stored.clone()), Options::new(Compression::Zstd)).await;
        assert!(d.error.is_some(), "{d:?}");
        let whole = hex::encode(Sha256::digest(&stored));
        assert_eq!(d.sha256, whole, "hashed to its end all the same");
    }

    #[test]
    fn a_prefix_decompresses_as_far_as_it_goes() {
        let content = b"PGDMP"
            .iter()
            .copied()
            .chain((0..100_000u32).map(|i| (i % 251) as u8))
            .collect::<Vec<_>>();
        let stored = gzip(&content);
        let prefix = stored[..stored.len().min(4096)].to_vec();
        let out = decompress_prefix(&prefix, Compression::Gzip, 1024);
        assert!(out.starts_with(b"PGDMP"));
        assert!(out.len() <= 1024);
    }
}
