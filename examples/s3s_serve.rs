//! A plain S3 server on loopback over a folder, for `scripts/bench-restore.sh` to time a
//! restore from S3 against the same restore from the local store. Each subfolder of the folder
//! is a bucket (s3s-fs); requests are signed with `dr-bench` / `dr-bench-secret`. It prints the
//! port it listens on, then serves until it is killed.
//!
//! s3s-fs answers everything but the body of a GET. Its own body comes in 4 KiB pieces, each a
//! read on tokio's blocking pool, which costs the server more CPU than the whole restore costs
//! dr-action on the same two cores; a server meant to be fast streams in large reads, so this
//! one sends the same bytes (the same range of the same file) in 1 MiB pieces. s3s-fs keeps an
//! object's ETag only when the object was PUT through it, so the benchmark uploads the backup
//! with a PUT (else every GET would hash the whole file first). It is a test server, not a
//! production one.
//!
//! Usage: `cargo run --profile bench-lite --example s3s_serve -- FOLDER`

use std::io::Write;
use std::path::{Component, Path, PathBuf};

use s3s::dto::{
    CreateBucketInput, CreateBucketOutput, GetBucketLocationInput, GetBucketLocationOutput,
    GetObjectInput, GetObjectOutput, HeadBucketInput, HeadBucketOutput, HeadObjectInput,
    HeadObjectOutput, ListBucketsInput, ListBucketsOutput, ListObjectsInput, ListObjectsOutput,
    ListObjectsV2Input, ListObjectsV2Output, PutObjectInput, PutObjectOutput, StreamingBlob,
};
use s3s::{S3, S3Request, S3Response, S3Result, s3_error};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// How much of the file each piece of a GET's body carries.
const PIECE: usize = 1 << 20;

struct Served {
    fs: s3s_fs::FileSystem,
    root: PathBuf,
}

/// The S3 implementation: each listed request handed to s3s-fs unchanged, and GET through
/// [`Served::get_object_wide`]. (`async_trait` must see the methods, so the macro writes the
/// whole `impl`.)
macro_rules! served {
    ($($name:ident($input:ty) -> $output:ty;)*) => {
        #[async_trait::async_trait]
        impl S3 for Served {
            $(async fn $name(&self, req: S3Request<$input>) -> S3Result<S3Response<$output>> {
                self.fs.$name(req).await
            })*

            async fn get_object(
                &self,
                req: S3Request<GetObjectInput>,
            ) -> S3Result<S3Response<GetObjectOutput>> {
                self.get_object_wide(req).await
            }
        }
    };
}

served! {
    create_bucket(CreateBucketInput) -> CreateBucketOutput;
    get_bucket_location(GetBucketLocationInput) -> GetBucketLocationOutput;
    head_bucket(HeadBucketInput) -> HeadBucketOutput;
    head_object(HeadObjectInput) -> HeadObjectOutput;
    list_buckets(ListBucketsInput) -> ListBucketsOutput;
    list_objects(ListObjectsInput) -> ListObjectsOutput;
    list_objects_v2(ListObjectsV2Input) -> ListObjectsV2Output;
    put_object(PutObjectInput) -> PutObjectOutput;
}

impl Served {
    /// s3s-fs's answer to a GET (its headers, its checks of the range), with the body read
    /// again from the same file in [`PIECE`]s.
    async fn get_object_wide(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let path = object_path(&self.root, &req.input.bucket, &req.input.key)?;
        let mut response = self.fs.get_object(req).await?;
        let output = &mut response.output;
        let length = output.content_length.unwrap_or(0);
        // "bytes FIRST-LAST/TOTAL" for a range, else the whole file.
        let first = match &output.content_range {
            Some(range) => range
                .strip_prefix("bytes ")
                .and_then(|r| r.split('-').next())
                .and_then(|f| f.parse::<u64>().ok())
                .ok_or_else(|| s3_error!(InternalError, "content range {range}"))?,
            None => 0,
        };
        let mut file = tokio::fs::File::open(&path)
            .await
            .map_err(|e| s3_error!(e, NoSuchKey))?;
        file.seek(std::io::SeekFrom::Start(first))
            .await
            .map_err(|e| s3_error!(e, InternalError))?;
        let taken = file.take(u64::try_from(length).unwrap_or(0));
        let body = tokio_util::io::ReaderStream::with_capacity(taken, PIECE);
        output.body = Some(StreamingBlob::wrap(body));
        Ok(response)
    }
}

/// Where s3s-fs keeps `bucket`/`key`; a key that would leave the bucket is refused.
fn object_path(root: &Path, bucket: &str, key: &str) -> S3Result<PathBuf> {
    let relative = Path::new(bucket).join(key);
    if relative
        .components()
        .any(|c| !matches!(c, Component::Normal(_)))
    {
        return Err(s3_error!(InvalidArgument, "key {key}"));
    }
    Ok(root.join(relative))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let Some(root) = std::env::args_os().nth(1) else {
        eprintln!("usage: s3s_serve FOLDER");
        std::process::exit(2);
    };
    let root = std::fs::canonicalize(root)?;
    let fs = s3s_fs::FileSystem::new(&root).map_err(|e| std::io::Error::other(format!("{e:?}")))?;
    let mut builder = s3s::service::S3ServiceBuilder::new(Served { fs, root });
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
