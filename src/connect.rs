//! Opening the store the config names: a local folder, an S3 bucket through `aws` (region,
//! endpoint, credentials through GitHub OIDC inside Actions), or an Azure container through
//! `azure`. Above the stores and the clouds' access, so neither reaches up for the other.

use crate::store::{BackupStore, local, s3};

/// A store ready to check, and the `::add-mask::` lines for the credentials obtained to open it
/// (print them before anything else).
pub struct OpenedStore {
    pub store: Box<dyn BackupStore>,
    pub masks: Vec<String>,
}

/// Builds the store the config names. For a bucket this resolves AWS access (region, endpoint,
/// credentials through GitHub OIDC inside Actions) and builds the one S3 client of the run.
pub async fn open(
    loaded: &crate::config::Loaded,
    env: &crate::env::Env,
) -> anyhow::Result<OpenedStore> {
    match loaded.storage() {
        crate::config::StorageKind::Local(path) => Ok(OpenedStore {
            store: Box::new(local::LocalStore::new(path)),
            masks: Vec::new(),
        }),
        crate::config::StorageKind::Bucket(bucket) => {
            let (client, conn) =
                crate::aws::connect_s3(loaded.config.aws.as_ref(), &bucket, env).await?;
            Ok(OpenedStore {
                store: Box::new(
                    s3::S3Store::new(client, bucket, conn.endpoint.clone()).with_parallel_reads(
                        loaded
                            .config
                            .storage
                            .parallel_reads
                            .clone()
                            .unwrap_or_default(),
                    ),
                ),
                masks: conn.masks,
            })
        }
        crate::config::StorageKind::Azure(azure) => {
            let opened = crate::azure::connect(&azure, env).await?;
            Ok(OpenedStore {
                store: Box::new(opened.store),
                masks: opened.masks,
            })
        }
    }
}
