//! Where a use case runs pipeline code on a cloud store: a temporary work folder holding
//! what it downloaded (the same layout as the bucket), and pipeline code run off the
//! async runtime.

use std::path::{Path, PathBuf};

use churn_io::store::{ObjectGet, ObjectList};
use churn_io::sync::download_prefix;
use churn_pipeline::layout::Key;

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

/// A fingerprint of the files under `dir` (names and contents, in name order): the same
/// data gives the same fingerprint, and any change to it gives another.
pub fn fingerprint(dir: &Path) -> Result<String, AppError> {
    let mut files = Vec::new();
    collect(dir, &mut files)?;
    files.sort();
    let mut hash = churn_core::Fnv64::default();
    for path in files {
        let name = path.strip_prefix(dir).unwrap_or(&path);
        hash.write_str(&name.to_string_lossy());
        // In blocks: curated sessions of a million customers are hundreds of megabytes.
        let io = |e| AppError::from(churn_pipeline::PipelineError::io(&path, e));
        let mut file = std::fs::File::open(&path).map_err(io)?;
        let mut block = vec![0u8; 1 << 20];
        loop {
            let read = std::io::Read::read(&mut file, &mut block).map_err(io)?;
            if read == 0 {
                break;
            }
            hash.write(&block[..read]);
        }
        hash.write(&[0xff]);
    }
    Ok(hash.finish_hex())
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), AppError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(churn_pipeline::PipelineError::io(dir, e).into()),
    };
    for entry in entries {
        let path = entry
            .map_err(|e| churn_pipeline::PipelineError::io(dir, e))?
            .path();
        if path.is_dir() {
            collect(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}
