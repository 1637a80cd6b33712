//! Large objects read from S3 as ranged GETs in flight at once (`storage.parallel-reads`): the
//! bytes come back whole and in order on moto and on s3s, and a range the server refuses once
//! is asked again. moto re-reads the whole object for every range, so these tests judge
//! correctness, never speed.

use std::sync::{Arc, Mutex};

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use dr_action::config::ParallelReads;
use dr_action::store::BackupStore;
use dr_action::store::s3::S3Store;
use dr_action::units::Size;
use tokio::io::AsyncReadExt;

use crate::moto::{Moto, Sse, put};
use crate::util::Dir;

/// Parts of 64 KiB, 3 in flight, objects above 256 KiB in parts.
fn small_parts() -> ParallelReads {
    ParallelReads {
        part_size: Size::parse("64KiB").unwrap(),
        in_flight: 3,
        threshold: Size::parse("256KiB").unwrap(),
    }
}

/// Bytes that differ at every offset, so a part out of order or read twice shows.
fn object(len: usize) -> Vec<u8> {
    (0..len as u64)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

async fn read_all(store: &S3Store, key: &str) -> Vec<u8> {
    let mut reader = store.read(key).await.unwrap();
    let mut out = Vec::new();
    reader.read_to_end(&mut out).await.unwrap();
    out
}

#[test]
fn moto_a_multi_range_read_equals_the_object_byte_for_byte() {
    let moto = Moto::start();
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        moto.create_bucket("big").await;
        let s3 = moto.s3();
        // Empty, one part, up to the threshold (two GETs), and many parts with a short last one.
        let sizes = [0usize, 1000, 64 * 1024, 200_000, 1_000_003];
        for len in sizes {
            put(
                &s3,
                "big",
                &format!("o/{len}"),
                object(len),
                Sse::None,
                false,
            )
            .await;
        }
        let store = S3Store::new(s3, "big", None).with_parallel_reads(small_parts());
        for len in sizes {
            let got = read_all(&store, &format!("o/{len}")).await;
            assert_eq!(got.len(), len, "length of o/{len}");
            assert!(got == object(len), "o/{len} differs from what was put");
        }
    });
}

/// An s3s-fs server that answers `SlowDown` (503) to the first GET of each range in `flaky`,
/// and records every range asked.
fn s3s_flaky_server(root: &std::path::Path, flaky: Vec<String>) -> (u16, Arc<Mutex<Vec<String>>>) {
    struct Flaky {
        flaky: Mutex<Vec<String>>,
        seen: Arc<Mutex<Vec<String>>>,
    }
    #[async_trait::async_trait]
    impl s3s::access::S3Access for Flaky {
        async fn check(&self, cx: &mut s3s::access::S3AccessContext<'_>) -> s3s::S3Result<()> {
            let Some(range) = cx.headers().get("range").and_then(|r| r.to_str().ok()) else {
                return Ok(());
            };
            self.seen.lock().unwrap().push(range.to_string());
            let mut flaky = self.flaky.lock().unwrap();
            if let Some(i) = flaky.iter().position(|r| r == range) {
                flaky.remove(i);
                return Err(s3s::s3_error!(SlowDown, "Please reduce your request rate."));
            }
            Ok(())
        }
    }
    let seen = Arc::new(Mutex::new(Vec::new()));
    let port = crate::s3::s3s_server(
        root,
        Flaky {
            flaky: Mutex::new(flaky),
            seen: seen.clone(),
        },
    );
    (port, seen)
}

fn s3s_client(port: u16) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .credentials_provider(Credentials::new("dr-test", "dr-secret", None, None, "test"))
        .force_path_style(true)
        .retry_config(dr_action::aws::retry_config())
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

#[test]
fn s3s_a_range_answered_503_once_is_asked_again_and_the_bytes_stay_in_order() {
    let root = Dir::new();
    let len = 1_000_003usize;
    root.write("backups/db/big.bin", object(len));
    // The third part (bytes 131072..196607) is refused once.
    let refused = "bytes=131072-196607".to_string();
    let (port, seen) = s3s_flaky_server(root.path(), vec![refused.clone()]);
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store =
            S3Store::new(s3s_client(port), "backups", None).with_parallel_reads(small_parts());
        let got = read_all(&store, "db/big.bin").await;
        assert_eq!(got.len(), len);
        assert!(got == object(len), "the bytes differ from the object's");
        let hashed = dr_action::checks::stream::drain(
            store.read("db/big.bin").await.unwrap(),
            dr_action::checks::stream::Options::new(dr_action::checks::format::Compression::None),
        )
        .await;
        assert_eq!(
            hashed.sha256,
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(object(len)))
        );
        assert_eq!(hashed.stored_bytes, len as u64);
    });
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen.iter().filter(|r| **r == refused).count(),
        3,
        "asked twice in the first read (refused, then served), once in the second: {seen:?}"
    );
    // 1,000,003 bytes in 64 KiB parts: 16 ranges per read, one more for the retry.
    assert_eq!(seen.len(), 2 * 16 + 1, "{seen:?}");
}

/// An s3s-fs server that records the operation of every request it serves.
fn s3s_recording_server(root: &std::path::Path) -> (u16, Arc<Mutex<Vec<String>>>) {
    struct Recording(Arc<Mutex<Vec<String>>>);
    #[async_trait::async_trait]
    impl s3s::access::S3Access for Recording {
        async fn check(&self, cx: &mut s3s::access::S3AccessContext<'_>) -> s3s::S3Result<()> {
            self.0.lock().unwrap().push(cx.s3_op().name().to_string());
            Ok(())
        }
    }
    let seen = Arc::new(Mutex::new(Vec::new()));
    let port = crate::s3::s3s_server(root, Recording(seen.clone()));
    (port, seen)
}

#[test]
fn s3s_a_parallel_read_counted_one_get_for_all_its_ranged_gets() {
    let root = Dir::new();
    let sizes = [
        ("db/one", 1000usize),
        ("db/two", 200_000),
        ("db/many", 1_000_003),
    ];
    for (key, len) in sizes {
        root.write(&format!("backups/{key}"), object(len));
    }
    let (port, seen) = s3s_recording_server(root.path());
    let counts = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store =
            S3Store::new(s3s_client(port), "backups", None).with_parallel_reads(small_parts());
        let counting = dr_action::store::counting::Counting::new(&store);
        for (key, len) in sizes {
            let mut out = Vec::new();
            let mut reader = counting.read(key).await.unwrap();
            reader.read_to_end(&mut out).await.unwrap();
            assert!(out == object(len), "{key} differs from what was put");
        }
        assert_eq!(
            counting.read_range("db/many", 0, 10).await.unwrap().len(),
            10
        );
        assert!(counting.head("db/many").await.unwrap().is_some());
        counting.counts()
    });
    let seen = seen.lock().unwrap();
    let of = |op: &str| seen.iter().filter(|s| *s == op).count() as u64;
    assert_eq!(
        (counts.get + counts.range, counts.head),
        (of("GetObject"), of("HeadObject")),
        "the counts differ from the server's log: {counts:?}, {seen:?}"
    );
    // One GET for one part, two up to the threshold, one per 64 KiB part above it.
    assert_eq!(counts.get, 1 + 2 + 16, "{counts:?}");
    assert_eq!(counts.range, 1);
    assert_eq!(counts.bytes, 1000 + 200_000 + 1_000_003 + 10);
}

#[test]
fn s3s_a_parallel_read_keeps_no_more_than_in_flight_gets_open_while_its_reader_waits() {
    // The first part's GET used to stream beside `in-flight` more, each held whole: one part
    // more in memory than `part-size × in-flight`.
    let root = Dir::new();
    let len = 8 * 1024 * 1024 + 3;
    root.write("backups/db/big", object(len));
    let (port, seen) = s3s_recording_server(root.path());
    // Parts of 1 MiB arrive in several pieces, so handing one on waits for the reader.
    let parallel = ParallelReads {
        part_size: Size::parse("1MiB").unwrap(),
        in_flight: 3,
        threshold: Size::parse("1MiB").unwrap(),
    };
    let gets = || {
        seen.lock()
            .unwrap()
            .iter()
            .filter(|s| *s == "GetObject")
            .count()
    };
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = S3Store::new(s3s_client(port), "backups", None).with_parallel_reads(parallel);
        let mut reader = store.read("db/big").await.unwrap();
        let mut got = vec![0u8; 1];
        reader.read_exact(&mut got).await.unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while gets() < 3 && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        // Time for any GET beyond the bound to be sent.
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        assert_eq!(
            gets(),
            3,
            "GETs sent while the reader waits in the first part"
        );
        reader.read_to_end(&mut got).await.unwrap();
        assert_eq!(got.len(), len);
        assert!(got == object(len), "the bytes differ from the object's");
    });
    assert_eq!(gets(), 9, "one GET per 1 MiB part");
}
