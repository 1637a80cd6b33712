//! Sample backups for the local store: gzip-compressed content with `sha256sum` sidecars,
//! dated by file modification time.

#![allow(dead_code)]

use std::io::Write;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::util::Dir;

pub const DAY: Duration = Duration::from_secs(86_400);

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// SQLite-looking content: the real magic bytes, then `size` pseudo-random bytes (so gzip
/// cannot shrink it and sizes stay comparable).
pub fn sqlite_like(size: usize, seed: u32) -> Vec<u8> {
    let mut v = b"SQLite format 3\0".to_vec();
    let mut x = u64::from(seed).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    v.extend((0..size).map(|_| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x as u8
    }));
    v
}

/// Writes one backup (`bytes` as stored) with its sidecar, aged `age`.
pub fn put_backup(dir: &Dir, key: &str, bytes: &[u8], age: Duration) {
    let name = key.rsplit('/').next().unwrap();
    dir.write(&format!("backups/{key}"), bytes);
    let sum = format!("{}  {name}\n", hex::encode(Sha256::digest(bytes)));
    dir.write(&format!("backups/{key}.sha256"), sum);
    dir.age(&format!("backups/{key}"), age);
    dir.age(&format!("backups/{key}.sha256"), age);
}

/// `days` daily backups of target `db` under `db/`, the newest `first_age` old.
pub fn dailies(dir: &Dir, days: u32, first_age: Duration) {
    for d in 0..days {
        let age = first_age + DAY * d;
        let bytes = gzip(&sqlite_like(20_000 + d as usize * 10, d));
        put_backup(dir, &format!("db/db-{d:03}.sqlite.gz"), &bytes, age);
    }
}

pub const CONFIG: &str = r#"version: 1
storage:
  local: ./backups
targets:
  - name: db
    prefix: db/
    match: "*.sqlite.gz"
    format: sqlite
    rpo: 26h
    min-size: 1KiB
    retention: { daily: 7 }
"#;

/// A store of ten healthy dailies and the config that checks it.
pub fn healthy_store() -> Dir {
    let dir = Dir::new();
    dir.write("dr.yml", CONFIG);
    dailies(&dir, 10, Duration::from_secs(3600));
    dir
}
