//! The Azure Blob test server: a real Azurite (`azurite-blob`, npm) on a free loopback port with
//! in-memory storage, one per test, killed on drop. It comes from `$DR_AZURITE_BLOB` or the
//! repo's `.tools/azurite` (installed by `scripts/setup-tools.sh`); when neither exists the test
//! fails and says so — it never skips. Tests seed it with Microsoft's blob client through an
//! account SAS allowed to write (dr-action's own is read-and-list only), which Azurite verifies
//! against the emulator's well-known key.

#![allow(dead_code)]

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use azure_core::http::{RequestContent, Url};
use azure_storage_blob::models::AccessTier;
use azure_storage_blob::{BlobContainerClient, BlobServiceClient};
use dr_action::azure::sas;
use secrecy::{ExposeSecret, SecretString};

use crate::moto::free_port;

pub const ACCOUNT: &str = "devstoreaccount1";

pub struct Azurite {
    child: Child,
    pub port: u16,
    /// The CA of the certificate it serves HTTPS with, when it does.
    tls: Option<PathBuf>,
    log: tempfile::NamedTempFile,
    _workspace: tempfile::TempDir,
}

/// The `azurite-blob` to run, or a failure that says how to install it.
pub fn azurite_path() -> PathBuf {
    if let Ok(p) = std::env::var("DR_AZURITE_BLOB")
        && !p.is_empty()
    {
        return PathBuf::from(p);
    }
    let local = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(".tools/azurite/node_modules/.bin/azurite-blob");
    assert!(
        local.exists(),
        "azurite-blob not found at {} and DR_AZURITE_BLOB is not set: run scripts/setup-tools.sh",
        local.display()
    );
    local
}

impl Azurite {
    pub fn start() -> Azurite {
        Self::start_with(None)
    }

    /// Azurite over HTTPS with `cert` / `key` (PEM), accepting Entra ID bearer tokens
    /// (`--oauth basic`: claims are checked, signatures are not).
    pub fn start_tls(
        ca: &std::path::Path,
        cert: &std::path::Path,
        key: &std::path::Path,
    ) -> Azurite {
        let mut az = Self::start_with(Some((cert, key)));
        az.tls = Some(ca.to_path_buf());
        az
    }

    fn start_with(tls: Option<(&std::path::Path, &std::path::Path)>) -> Azurite {
        let bin = azurite_path();
        let log = tempfile::NamedTempFile::new().unwrap();
        let workspace = tempfile::tempdir().unwrap();
        let port = free_port();
        let child = Command::new(&bin)
            .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
            .args(["--inMemoryPersistence", "--skipApiVersionCheck"])
            .args(["--disableTelemetry"])
            .args(tls.iter().flat_map(|(cert, key)| {
                [
                    "--oauth".as_ref(),
                    "basic".as_ref(),
                    "--cert".as_ref(),
                    cert.as_os_str(),
                    "--key".as_ref(),
                    key.as_os_str(),
                ]
            }))
            .current_dir(workspace.path())
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
        let azurite = Azurite {
            child,
            port,
            tls: tls.map(|(cert, _)| cert.to_path_buf()),
            log,
            _workspace: workspace,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "azurite-blob did not listen on {port} within 30s:\n{}",
                azurite.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        azurite
    }

    /// The blob service URL, account in the path (`http://127.0.0.1:PORT/devstoreaccount1`).
    pub fn endpoint(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}/{ACCOUNT}", self.port)
    }

    /// A connection string with the emulator's well-known key.
    pub fn connection_string(&self) -> String {
        format!(
            "DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={};BlobEndpoint={};",
            sas::DEV_STORE_KEY,
            self.endpoint()
        )
    }

    /// What Azurite printed: one line per request it served.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// A service client allowed to create containers and write blobs.
    pub fn service(&self) -> BlobServiceClient {
        let now = chrono::Utc::now();
        let token = sas::account_sas(
            ACCOUNT,
            &SecretString::from(sas::DEV_STORE_KEY),
            "racwdl",
            now,
            now + chrono::Duration::hours(1),
        )
        .unwrap();
        let mut url = Url::parse(&self.endpoint()).unwrap();
        url.set_query(Some(token.expose_secret()));
        let mut http = reqwest::Client::builder();
        if let Some(cert) = &self.tls {
            let pem = std::fs::read(cert).unwrap();
            http = http.add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap());
        }
        let options = azure_storage_blob::BlobServiceClientOptions {
            client_options: azure_core::http::ClientOptions {
                transport: Some(azure_core::http::Transport::new(std::sync::Arc::new(
                    http.build().unwrap(),
                ))),
                ..Default::default()
            },
            ..Default::default()
        };
        BlobServiceClient::new(url, None, Some(options)).unwrap()
    }

    pub fn container(&self, name: &str) -> BlobContainerClient {
        self.service().blob_container_client(name)
    }

    pub async fn create_container(&self, name: &str) {
        self.container(name)
            .create(None)
            .await
            .unwrap_or_else(|e| panic!("creating container {name}: {e:?}"));
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub async fn upload(container: &BlobContainerClient, name: &str, body: Vec<u8>) {
    container
        .blob_client(name)
        .upload(RequestContent::from(body), None)
        .await
        .unwrap_or_else(|e| panic!("uploading {name}: {e}"));
}

pub async fn set_tier(container: &BlobContainerClient, name: &str, tier: AccessTier) {
    container
        .blob_client(name)
        .set_tier(tier, None)
        .await
        .unwrap_or_else(|e| panic!("setting the tier of {name}: {e}"));
}

/// A certificate for 127.0.0.1 and its key, issued by a throwaway CA, all made by the `openssl`
/// tool: `(ca.pem, cert.pem, key.pem)` in `dir` (rustls refuses a CA certificate as a server's).
pub fn loopback_certificate(dir: &std::path::Path) -> (PathBuf, PathBuf, PathBuf) {
    let path = |name: &str| dir.join(name);
    let openssl = |args: &[&str]| {
        let status = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("running openssl");
        assert!(status.success(), "openssl {args:?} failed");
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=dr test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "key.pem",
        "-out",
        "cert.csr",
    ]);
    std::fs::write(
        path("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "cert.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        "ext.cnf",
        "-out",
        "cert.pem",
    ]);
    (path("ca.pem"), path("cert.pem"), path("key.pem"))
}

/// The fake Entra ID token endpoint (tests/entra_fake.py, HTTPS with `cert`), killed on drop;
/// its log has one JSON line per token request.
pub struct EntraFake {
    child: Child,
    pub port: u16,
    log: tempfile::NamedTempFile,
}

impl EntraFake {
    pub fn start(
        cert: &std::path::Path,
        key: &std::path::Path,
        tenant: &str,
        client: &str,
        assertion: &str,
    ) -> EntraFake {
        let python = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/entra_fake.py");
        let log = tempfile::NamedTempFile::new().unwrap();
        let port = free_port();
        let child = Command::new(python)
            .arg(script)
            .arg(port.to_string())
            .args([cert, key])
            .args([tenant, client, assertion])
            .stdin(Stdio::null())
            .stdout(log.reopen().unwrap())
            .stderr(log.reopen().unwrap())
            .spawn()
            .expect("starting tests/entra_fake.py (run scripts/setup-tools.sh)");
        let fake = EntraFake { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(15);
        while !fake.log().contains("listening") {
            assert!(
                Instant::now() < deadline,
                "entra_fake.py did not start:\n{}",
                fake.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        fake
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// The token requests' forms, in order.
    pub fn requests(&self) -> Vec<serde_json::Value> {
        self.log()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

impl Drop for EntraFake {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
