//! Where a use case runs pipeline code on a cloud store: a temporary work folder holding
//! what it downloaded (the same layout as the bucket), and pipeline code run off the
//! async runtime.

use std::path::{Path, PathBuf};

use churn_core::layout::{self, Key};
use churn_io::IoError;
use churn_io::store::{ObjectGet, ObjectList};
use churn_io::sync::download_prefix;
use churn_pipeline::dataset::Published;

use crate::AppError;

/// A temporary folder laid out like the bucket, removed when dropped.
#[derive(Debug)]
pub struct WorkDir {
    dir: tempfile::TempDir,
}

impl WorkDir {
    /// A new folder under the system's temporary directory (`/tmp` on Lambda).
    pub fn new() -> Result<Self, AppError> {
        let dir = tempfile::tempdir().map_err(|e| {
            AppError::retryable(format!("a work folder in the temporary directory: {e}"))
        })?;
        Ok(Self { dir })
    }

    /// Its root.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// The local path of a key.
    pub fn at(&self, key: &Key) -> PathBuf {
        key.local(self.root())
    }

    /// Downloads every object under the folder `key`.
    pub async fn download(
        &self,
        store: &(impl ObjectGet + ObjectList + Sync),
        key: &Key,
    ) -> Result<usize, AppError> {
        Ok(download_prefix(store, &key.prefix(), self.root())
            .await?
            .objects)
    }

    /// Downloads the published dataset version: its curated tables, then its pointer, so
    /// that the pipeline reads exactly that version here.
    pub async fn download_dataset(
        &self,
        store: &(impl ObjectGet + ObjectList + Sync),
    ) -> Result<Published, AppError> {
        let published = published(store).await?.ok_or_else(|| {
            AppError::permanent(format!(
                "no published dataset ({} does not exist): upload raw data under raw/, which the ingest publishes",
                layout::dataset_pointer()
            ))
        })?;
        self.download(
            store,
            &layout::version_folder(layout::CURATED, &published.version),
        )
        .await?;
        let pointer = layout::dataset_pointer();
        store.download(pointer.as_str(), &self.at(&pointer)).await?;
        Ok(published)
    }

    /// A pipeline store on this folder.
    pub fn store(&self) -> churn_pipeline::store::Store {
        churn_pipeline::store::Store::new(self.root())
    }

    /// An error's message with the folder's paths shown as the objects they are
    /// (`s3://bucket/raw/...`), so that messages name what the user uploaded.
    pub fn readable(&self, message: &str, remote_root: &str) -> String {
        message.replace(&format!("{}/", self.root().display()), remote_root)
    }
}

/// Runs pipeline code (synchronous, CPU-bound) on the blocking pool. Its errors keep
/// the pipeline's retry decision, and say which `step` failed.
pub async fn blocking<T: Send + 'static>(
    step: &'static str,
    work: impl FnOnce() -> churn_pipeline::Result<T> + Send + 'static,
) -> Result<T, AppError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result.map_err(|e| AppError::from(e).during(step)),
        // A panic is a bug: running it again panics again.
        Err(e) => Err(AppError::permanent(format!("{step} stopped: {e}"))),
    }
}

/// The published dataset version of a store, if any.
pub async fn published(store: &(impl ObjectGet + Sync)) -> Result<Option<Published>, AppError> {
    let key = layout::dataset_pointer();
    match store.get(key.as_str()).await {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            AppError::from(IoError::Corrupt {
                target: key.to_string(),
                message: e.to_string(),
            })
        }),
        Err(IoError::NotFound(_)) => Ok(None),
        Err(error) => Err(error.into()),
    }
}
