//! The S3 / KMS / STS test server: a real `moto_server` on a free loopback port, one per test,
//! killed on drop. It comes from `$DR_MOTO_SERVER` or the repo's `.venv` (installed by
//! `scripts/setup-tools.sh`); when neither exists the test fails and says so — it never skips.
//! Tests seed it with the real aws-sdk-s3 client; KMS keys are made with one JSON request (moto
//! routes by the credential scope in the Authorization header and checks no signature).

#![allow(dead_code)]

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, ServerSideEncryption};

pub const REGION: &str = "eu-west-1";

pub struct Moto {
    child: Child,
    pub port: u16,
    log: tempfile::NamedTempFile,
}

/// The `moto_server` to run, or a failure that says how to install it.
pub fn moto_server_path() -> PathBuf {
    if let Ok(p) = std::env::var("DR_MOTO_SERVER")
        && !p.is_empty()
    {
        return PathBuf::from(p);
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/moto_server");
    assert!(
        venv.exists(),
        "moto_server not found at {} and DR_MOTO_SERVER is not set: run scripts/setup-tools.sh",
        venv.display()
    );
    venv
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("binding a free port");
    l.local_addr().unwrap().port()
}

impl Moto {
    pub fn start() -> Moto {
        let bin = moto_server_path();
        let log = tempfile::NamedTempFile::new().unwrap();
        let port = free_port();
        let child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(log.reopen().unwrap())
            .stderr(log.reopen().unwrap())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "starting {}: {e} (run scripts/setup-tools.sh)",
                    bin.display()
                )
            });
        let moto = Moto { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not listen on {port} within 30s:\n{}",
                moto.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The environment a `dr-action` process needs to reach this moto with test credentials
    /// and nothing else (no profile files, no instance metadata).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        crate::s3::TEST_AWS_ENV
            .iter()
            .map(|(k, v)| (*k, v.to_string()))
            .chain([("AWS_ENDPOINT_URL", self.endpoint())])
            .collect()
    }

    /// What moto printed: one line per request it served.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// A client with test credentials, path-style, for seeding.
    pub fn s3(&self) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(self.endpoint())
            .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    pub async fn create_bucket(&self, bucket: &str) {
        use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
        self.s3()
            .create_bucket()
            .bucket(bucket)
            .create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(REGION))
                    .build(),
            )
            .send()
            .await
            .expect("creating the bucket");
    }

    /// A new KMS key; returns its ARN.
    pub async fn create_kms_key(&self) -> String {
        let response = reqwest::Client::new()
            .post(self.endpoint())
            .header("X-Amz-Target", "TrentService.CreateKey")
            .header("Content-Type", "application/x-amz-json-1.1")
            .header(
                "Authorization",
                format!(
                    "AWS4-HMAC-SHA256 Credential=testing/20260101/{REGION}/kms/aws4_request, SignedHeaders=host, Signature=0"
                ),
            )
            .body("{}")
            .send()
            .await
            .expect("CreateKey");
        let status = response.status();
        let body: serde_json::Value = response.json().await.expect("CreateKey JSON");
        assert!(status.is_success(), "CreateKey: {status} {body}");
        body["KeyMetadata"]["Arn"]
            .as_str()
            .expect("KeyMetadata.Arn")
            .to_string()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How an object is put: its encryption and whether S3 keeps its SHA-256.
#[derive(Clone, Copy)]
pub enum Sse<'a> {
    None,
    Aes256,
    Kms(&'a str),
}

pub async fn put(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    body: Vec<u8>,
    sse: Sse<'_>,
    sha256: bool,
) {
    let mut req = s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body));
    req = match sse {
        Sse::None => req,
        Sse::Aes256 => req.server_side_encryption(ServerSideEncryption::Aes256),
        Sse::Kms(key_id) => req
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id(key_id),
    };
    if sha256 {
        req = req.checksum_algorithm(ChecksumAlgorithm::Sha256);
    }
    req.send()
        .await
        .unwrap_or_else(|e| panic!("PutObject {key}: {e:?}"));
}
