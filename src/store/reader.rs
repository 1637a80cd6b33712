//! [`ObjectReader`]: an object's bytes as a store hands them over. Either a stream, read on the
//! runtime (S3, Azure), or a local file, which the read pipeline takes on a blocking thread and
//! reads straight into its own buffers ([`LocalFile`]): no hop through the runtime's blocking
//! pool per read and no copy out of an async file's buffer. Both are also an `AsyncRead`, for a
//! reader that wants a little of the object on the runtime; either way the bytes read are
//! added to the counters a counting store hangs on the reader.

use std::io::{self, Read};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};

/// A byte stream of an object's content (see the module's header).
pub struct ObjectReader(Source);

enum Source {
    Stream(Pin<Box<dyn AsyncRead + Send>>),
    File(LocalFile),
}

/// A local object, to be read by blocking reads.
pub struct LocalFile {
    /// Bytes already taken from the front of the file (by a sniff) and counted, which come
    /// before what is left in `file`.
    pub head: Vec<u8>,
    pub file: std::fs::File,
    /// Counters that every byte read from `file` from now on is added to.
    counters: Vec<Arc<AtomicU64>>,
}

impl LocalFile {
    /// Adds `n` bytes read from the file to every counter.
    pub fn count(&self, n: usize) {
        for c in &self.counters {
            c.fetch_add(n as u64, Ordering::Relaxed);
        }
    }
}

impl ObjectReader {
    pub fn stream(reader: impl AsyncRead + Send + 'static) -> Self {
        ObjectReader(Source::Stream(Box::pin(reader)))
    }

    pub fn file(file: std::fs::File) -> Self {
        ObjectReader(Source::File(LocalFile {
            head: Vec::new(),
            file,
            counters: Vec::new(),
        }))
    }

    /// The same reader, adding every byte read from now on to `counter`.
    pub fn counted(self, counter: Arc<AtomicU64>) -> Self {
        match self.0 {
            Source::Stream(inner) => ObjectReader::stream(Counted { inner, counter }),
            Source::File(mut local) => {
                local.counters.push(counter);
                ObjectReader(Source::File(local))
            }
        }
    }

    /// The local file, for a reader on a blocking thread; a stream is handed back as it was.
    pub fn into_file(self) -> Result<LocalFile, Self> {
        match self.0 {
            Source::File(local) => Ok(local),
            stream => Err(ObjectReader(stream)),
        }
    }

    /// Reads the first `n` bytes (fewer if the object is shorter) and hands back a reader that
    /// still yields them.
    pub async fn sniff(self, n: usize) -> io::Result<(ObjectReader, Vec<u8>)> {
        match self.0 {
            Source::Stream(mut inner) => {
                let mut head = Vec::with_capacity(n);
                (&mut inner).take(n as u64).read_to_end(&mut head).await?;
                let again = AsyncReadExt::chain(std::io::Cursor::new(head.clone()), inner);
                Ok((ObjectReader::stream(again), head))
            }
            Source::File(mut local) => {
                let wanted = n.saturating_sub(local.head.len());
                let local = tokio::task::spawn_blocking(move || {
                    let mut more = Vec::with_capacity(wanted);
                    (&mut local.file)
                        .take(wanted as u64)
                        .read_to_end(&mut more)?;
                    local.count(more.len());
                    local.head.extend_from_slice(&more);
                    Ok::<_, io::Error>(local)
                })
                .await
                .map_err(io::Error::other)??;
                let head = local.head[..n.min(local.head.len())].to_vec();
                Ok((ObjectReader(Source::File(local)), head))
            }
        }
    }
}

impl AsyncRead for ObjectReader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // The stream is taken out for the read and put back (the placeholder allocates
        // nothing); a local file read on the runtime after all becomes an async file, counted
        // the same way.
        let placeholder = Source::Stream(Box::pin(tokio::io::empty()));
        let mut inner = match std::mem::replace(&mut this.0, placeholder) {
            Source::Stream(inner) => inner,
            Source::File(local) => as_stream(local),
        };
        let poll = inner.as_mut().poll_read(cx, buf);
        this.0 = Source::Stream(inner);
        poll
    }
}

/// A local file as an async stream: its head, then the file's bytes, which alone are counted
/// (the head was counted when it was read).
fn as_stream(local: LocalFile) -> Pin<Box<dyn AsyncRead + Send>> {
    let LocalFile {
        head,
        file,
        counters,
    } = local;
    let mut rest: Pin<Box<dyn AsyncRead + Send>> = Box::pin(tokio::fs::File::from_std(file));
    for counter in counters {
        rest = Box::pin(Counted {
            inner: rest,
            counter,
        });
    }
    Box::pin(AsyncReadExt::chain(std::io::Cursor::new(head), rest))
}

/// Adds the bytes read through it to a counter.
struct Counted {
    inner: Pin<Box<dyn AsyncRead + Send>>,
    counter: Arc<AtomicU64>,
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let poll = self.inner.as_mut().poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &poll {
            let n = (buf.filled().len() - before) as u64;
            self.counter.fetch_add(n, Ordering::Relaxed);
        }
        poll
    }
}
