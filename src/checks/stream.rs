//! Reading a backup once, as a stream: the SHA-256 of the stored bytes is computed on the way
//! in and the content is decompressed on the way out, with bounded buffers, so memory stays
//! flat whatever the backup's size. The monthly check drains the decompressed side; the
//! restore engines read it.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use async_compression::tokio::bufread::{GzipDecoder, ZstdDecoder};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, BufReader, ReadBuf};

use super::format::Compression;
use crate::store::ObjectReader;

/// What the hashing side has seen so far; shared so it can be read after the stream ends.
#[derive(Clone, Default)]
pub struct Tally(Arc<Mutex<TallyInner>>);

#[derive(Default)]
struct TallyInner {
    hasher: Sha256,
    bytes: u64,
}

impl Tally {
    /// Bytes read from the store so far.
    pub fn bytes(&self) -> u64 {
        self.0.lock().map(|t| t.bytes).unwrap_or(0)
    }

    /// The SHA-256 of everything read, as lowercase hex.
    pub fn sha256_hex(&self) -> String {
        let hasher = self.0.lock().map(|t| t.hasher.clone()).unwrap_or_default();
        hex::encode(hasher.finalize())
    }
}

/// Passes bytes through unchanged, hashing and counting them.
struct Hashing {
    inner: ObjectReader,
    tally: Tally,
}

impl AsyncRead for Hashing {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let poll = self.inner.as_mut().poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &poll {
            let new = &buf.filled()[before..];
            if let Ok(mut t) = self.tally.0.lock() {
                t.hasher.update(new);
                t.bytes += new.len() as u64;
            }
        }
        poll
    }
}

/// Wraps a stored object: returns the decompressed content and the tally of the stored bytes.
pub fn open(reader: ObjectReader, compression: Compression) -> (ObjectReader, Tally) {
    let tally = Tally::default();
    let hashing = BufReader::with_capacity(
        64 * 1024,
        Hashing {
            inner: reader,
            tally: tally.clone(),
        },
    );
    let content: ObjectReader = match compression {
        Compression::Gzip => {
            let mut d = GzipDecoder::new(hashing);
            d.multiple_members(true);
            Box::pin(d)
        }
        Compression::Zstd => {
            let mut d = ZstdDecoder::new(hashing);
            d.multiple_members(true);
            Box::pin(d)
        }
        Compression::None => Box::pin(hashing),
    };
    (content, tally)
}

/// The result of reading a whole object through [`open`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Drained {
    pub stored_bytes: u64,
    pub content_bytes: u64,
    pub sha256: String,
    /// Why decompression stopped early, if it did.
    pub error: Option<String>,
}

/// Reads the whole object, decompressing it, and returns what was seen.
pub async fn drain(reader: ObjectReader, compression: Compression) -> Drained {
    let (mut content, tally) = open(reader, compression);
    let mut buf = vec![0u8; 64 * 1024];
    let mut content_bytes = 0u64;
    let error = loop {
        match content.read(&mut buf).await {
            Ok(0) => break None,
            Ok(n) => content_bytes += n as u64,
            Err(e) => break Some(describe_io(&e)),
        }
    };
    Drained {
        stored_bytes: tally.bytes(),
        content_bytes,
        sha256: tally.sha256_hex(),
        error,
    }
}

/// Decompresses as much of `head` (the first bytes of an object) as it holds.
pub async fn decompress_prefix(head: Vec<u8>, compression: Compression, limit: usize) -> Vec<u8> {
    let reader: ObjectReader = Box::pin(std::io::Cursor::new(head));
    let (content, _) = open(reader, compression);
    let mut out = Vec::new();
    let mut limited = content.take(limit as u64);
    // A prefix ends mid-stream, so an "unexpected end" error is normal here: keep what came out.
    let mut buf = [0u8; 8192];
    while let Ok(n) = limited.read(&mut buf).await {
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
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn reader(bytes: Vec<u8>) -> ObjectReader {
        Box::pin(std::io::Cursor::new(bytes))
    }

    #[tokio::test]
    async fn drain_hashes_stored_bytes_and_counts_content() {
        let content = b"hello backup ".repeat(10_000);
        let stored = gzip(&content);
        let expected = hex::encode(Sha256::digest(&stored));
        let d = drain(reader(stored.clone()), Compression::Gzip).await;
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
        let d = drain(reader(stored), Compression::Gzip).await;
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
        let d = drain(reader(stored), Compression::Zstd).await;
        assert_eq!((d.content_bytes, d.error), (content.len() as u64, None));
        let d = drain(reader(content.clone()), Compression::None).await;
        assert_eq!(d.content_bytes, content.len() as u64);
    }

    #[tokio::test]
    async fn a_prefix_decompresses_as_far_as_it_goes() {
        let content = b"PGDMP"
            .iter()
            .copied()
            .chain((0..100_000u32).map(|i| (i % 251) as u8))
            .collect::<Vec<_>>();
        let stored = gzip(&content);
        let prefix = stored[..stored.len().min(4096)].to_vec();
        let out = decompress_prefix(prefix, Compression::Gzip, 1024).await;
        assert!(out.starts_with(b"PGDMP"));
        assert!(out.len() <= 1024);
    }
}
