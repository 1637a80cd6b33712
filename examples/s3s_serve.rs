//! A plain S3 server on loopback over a folder, for `scripts/bench-restore.sh` to time a
//! restore from S3 against the same restore from the local store. Each subfolder of the folder
//! is a bucket (s3s-fs); requests are signed with `dr-bench` / `dr-bench-secret`. It prints the
//! port it listens on, then serves until it is killed.
//!
//! s3s-fs sends a GET's body in 4 KiB pieces and keeps an object's ETag only when the object
//! was PUT through it, so the benchmark uploads the backup with a PUT (else every GET would
//! hash the whole file first). It is a test server, not a production one: the figure it gives
//! is an upper bound on what the network path costs.
//!
//! Usage: `cargo run --profile bench-lite --example s3s_serve -- FOLDER`

use std::io::Write;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let Some(root) = std::env::args_os().nth(1) else {
        eprintln!("usage: s3s_serve FOLDER");
        std::process::exit(2);
    };
    let fs = s3s_fs::FileSystem::new(&root).map_err(|e| std::io::Error::other(format!("{e:?}")))?;
    let mut builder = s3s::service::S3ServiceBuilder::new(fs);
    builder.set_auth(s3s::auth::SimpleAuth::from_single(
        "dr-bench",
        "dr-bench-secret",
    ));
    let service = builder.build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let mut out = std::io::stdout();
    writeln!(out, "{}", listener.local_addr()?.port())?;
    out.flush()?;
    loop {
        let (socket, _) = listener.accept().await?;
        let service = service.clone();
        tokio::spawn(async move {
            let builder =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
            let _ = builder
                .serve_connection(hyper_util::rt::TokioIo::new(socket), service)
                .await;
        });
    }
}
