//! A reader that decrypts AES-256-CBC as it is read, removing the PKCS#7 padding at the end.
//! Written here because RustCrypto's `cbc` decrypts whole buffers only and no kept crate offers
//! it as a `Read` adapter: the stream holds back its last block until the input ends, so the
//! padding can be checked, and decrypts everything before it in large runs of blocks.

use std::io::{self, Read};

use aes::cipher::{Array, BlockModeDecrypt, KeyIvInit};

type Decryptor = cbc::Decryptor<aes::Aes256>;

const BLOCK: usize = 16;
/// Ciphertext read from the input at a time.
const READ: usize = 256 * 1024;

pub struct CbcReader<R> {
    inner: R,
    cipher: Decryptor,
    /// Ciphertext read but not yet decrypted (always holds back at least the last block until
    /// the input ends).
    pending: Vec<u8>,
    /// Plaintext ready to hand out, from `start`.
    ready: Vec<u8>,
    start: usize,
    done: bool,
}

impl<R: Read> CbcReader<R> {
    pub fn new(inner: R, key: &[u8; 32], iv: &[u8; 16]) -> Self {
        CbcReader {
            inner,
            cipher: Decryptor::new(&Array::from(*key), &Array::from(*iv)),
            pending: Vec::with_capacity(READ + 2 * BLOCK),
            ready: Vec::with_capacity(READ + 2 * BLOCK),
            start: 0,
            done: false,
        }
    }

    /// Reads more ciphertext and decrypts what can be decrypted; `false` once nothing is left.
    fn refill(&mut self) -> io::Result<bool> {
        self.ready.clear();
        self.start = 0;
        while self.ready.is_empty() {
            if self.done {
                return Ok(false);
            }
            let have = self.pending.len();
            self.pending.resize(have + READ, 0);
            let n = loop {
                match self.inner.read(&mut self.pending[have..]) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        self.pending.truncate(have);
                        return Err(e);
                    }
                }
            };
            self.pending.truncate(have + n);
            if n == 0 {
                self.done = true;
                self.finish()?;
            } else {
                // Every whole block but the last, which may carry the padding.
                let whole = self.pending.len() / BLOCK * BLOCK;
                let take = whole.saturating_sub(BLOCK);
                self.decrypt_front(take);
            }
        }
        Ok(true)
    }

    /// Moves the first `n` bytes (whole blocks) of `pending` into `ready`, decrypted.
    fn decrypt_front(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        self.ready.extend_from_slice(&self.pending[..n]);
        let (blocks, _) = Array::slice_as_chunks_mut(&mut self.ready[..]);
        self.cipher.decrypt_blocks(blocks);
        self.pending.drain(..n);
    }

    fn finish(&mut self) -> io::Result<()> {
        let left = self.pending.len();
        if left == 0 || !left.is_multiple_of(BLOCK) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "the ciphertext is not whole AES blocks ({left} bytes left over): truncated or not aes-256-cbc"
                ),
            ));
        }
        self.decrypt_front(left);
        let pad = *self.ready.last().unwrap_or(&0) as usize;
        let len = self.ready.len();
        let valid = (1..=BLOCK).contains(&pad)
            && pad <= len
            && self.ready[len - pad..].iter().all(|&b| b as usize == pad);
        if !valid {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the last block's padding is wrong: a wrong key, or a damaged or truncated ciphertext",
            ));
        }
        self.ready.truncate(len - pad);
        Ok(())
    }
}

impl<R: Read> Read for CbcReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.start == self.ready.len() && !self.refill()? {
            return Ok(0);
        }
        let n = buf.len().min(self.ready.len() - self.start);
        buf[..n].copy_from_slice(&self.ready[self.start..self.start + n]);
        self.start += n;
        Ok(n)
    }
}
