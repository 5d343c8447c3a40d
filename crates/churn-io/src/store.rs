//! Object stores: the same keys (`raw/customers/2026-11-01.csv`, `models/<version>/...`)
//! on a local directory and on S3, behind narrow ports ([`ObjectGet`], [`ObjectPut`],
//! [`ObjectList`]) so each use case asks for exactly what it does.
//!
//! Writes are whole-object: the local store writes a temporary file and renames it, S3
//! publishes a multipart upload only when it completes. A crash never leaves a
//! half-written object that a reader would take as complete.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::IoError;

/// An object's key and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
}

/// Reads objects.
pub trait ObjectGet {
    /// The whole object in memory (for small objects: artifacts, manifests).
    fn get(&self, key: &str) -> impl Future<Output = Result<Vec<u8>, IoError>> + Send;
    /// Streams the object to a local file, replacing it only when complete; returns
    /// the bytes written.
    fn download(&self, key: &str, path: &Path)
    -> impl Future<Output = Result<u64, IoError>> + Send;
}

/// Writes whole objects.
pub trait ObjectPut {
    fn put(&self, key: &str, bytes: Vec<u8>) -> impl Future<Output = Result<(), IoError>> + Send;
    /// Uploads a local file, streaming it (multipart on S3 for large files).
    fn upload(&self, path: &Path, key: &str) -> impl Future<Output = Result<u64, IoError>> + Send;
}

/// Deletes objects (deleting what is not there is not an error).
pub trait ObjectDelete {
    fn delete(&self, key: &str) -> impl Future<Output = Result<(), IoError>> + Send;
}

/// Lists objects under a prefix, sorted by key.
pub trait ObjectList {
    fn list(&self, prefix: &str) -> impl Future<Output = Result<Vec<ObjectInfo>, IoError>> + Send;
}

/// Refuses keys that would escape the store or that S3 and a file system would read
/// differently.
fn check_key(key: &str) -> Result<(), IoError> {
    let bad = key.is_empty()
        || key.starts_with('/')
        || key.contains('\\')
        || key.contains('\0')
        || key
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == "..");
    if bad {
        return Err(IoError::Corrupt {
            target: format!("key '{key}'"),
            message: "not a relative path of non-empty parts".into(),
        });
    }
    Ok(())
}

/// Decodes an object key as S3 event notifications carry it: URL-encoded, with `+` for
/// a space (`raw/my+file%C3%A9.csv` is `raw/my fileé.csv`).
pub fn decode_event_key(raw: &str) -> Result<String, IoError> {
    let corrupt = |message: &str| IoError::Corrupt {
        target: format!("S3 event key '{raw}'"),
        message: message.into(),
    };
    let mut bytes = Vec::with_capacity(raw.len());
    let mut input = raw.bytes();
    while let Some(byte) = input.next() {
        match byte {
            b'+' => bytes.push(b' '),
            b'%' => {
                let hex = [input.next(), input.next()];
                let [Some(high), Some(low)] = hex else {
                    return Err(corrupt("a '%' is not followed by two hex digits"));
                };
                let digit = |d: u8| (d as char).to_digit(16);
                match (digit(high), digit(low)) {
                    (Some(h), Some(l)) => bytes.push((h * 16 + l) as u8),
                    _ => return Err(corrupt("a '%' is not followed by two hex digits")),
                }
            }
            other => bytes.push(other),
        }
    }
    String::from_utf8(bytes).map_err(|_| corrupt("the decoded key is not UTF-8"))
}

/// A temporary name beside `path`, unique in this process.
fn temporary_beside(path: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.partial-{}-{n}", std::process::id()))
}

/// A local directory as an object store (the CLI's default, and the tests' fake).
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    fn path(&self, key: &str) -> Result<PathBuf, IoError> {
        check_key(key)?;
        Ok(self.root.join(key))
    }

    /// Writes `bytes` to `path` through a temporary file and a rename.
    async fn write_whole(path: &Path, bytes: &[u8]) -> Result<(), IoError> {
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| IoError::local(parent, e))?;
        }
        let temporary = temporary_beside(path);
        let written = async {
            let mut file = tokio::fs::File::create(&temporary).await?;
            file.write_all(bytes).await?;
            file.sync_all().await
        }
        .await;
        if let Err(error) = written {
            let _ = tokio::fs::remove_file(&temporary).await;
            return Err(IoError::local(path, error));
        }
        tokio::fs::rename(&temporary, path)
            .await
            .map_err(|e| IoError::local(path, e))
    }

    async fn copy_whole(from: &Path, to: &Path) -> Result<u64, IoError> {
        if let Some(parent) = to.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| IoError::local(parent, e))?;
        }
        let temporary = temporary_beside(to);
        match tokio::fs::copy(from, &temporary).await {
            Ok(bytes) => {
                tokio::fs::rename(&temporary, to)
                    .await
                    .map_err(|e| IoError::local(to, e))?;
                Ok(bytes)
            }
            Err(error) => {
                let _ = tokio::fs::remove_file(&temporary).await;
                Err(not_found_or_local(from, error))
            }
        }
    }
}

fn not_found_or_local(path: &Path, error: std::io::Error) -> IoError {
    if error.kind() == std::io::ErrorKind::NotFound {
        IoError::NotFound(path.display().to_string())
    } else {
        IoError::local(path, error)
    }
}

impl ObjectGet for LocalStore {
    async fn get(&self, key: &str) -> Result<Vec<u8>, IoError> {
        let path = self.path(key)?;
        tokio::fs::read(&path)
            .await
            .map_err(|e| not_found_or_local(&path, e))
    }

    async fn download(&self, key: &str, path: &Path) -> Result<u64, IoError> {
        Self::copy_whole(&self.path(key)?, path).await
    }
}

impl ObjectPut for LocalStore {
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), IoError> {
        Self::write_whole(&self.path(key)?, &bytes).await
    }

    async fn upload(&self, path: &Path, key: &str) -> Result<u64, IoError> {
        Self::copy_whole(path, &self.path(key)?).await
    }
}

impl ObjectDelete for LocalStore {
    async fn delete(&self, key: &str) -> Result<(), IoError> {
        let path = self.path(key)?;
        match tokio::fs::remove_file(&path).await {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                Err(IoError::local(path, error))
            }
            _ => Ok(()),
        }
    }
}

impl ObjectList for LocalStore {
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, IoError> {
        let mut found = Vec::new();
        let mut pending = vec![self.root.clone()];
        while let Some(dir) = pending.pop() {
            let mut entries = match tokio::fs::read_dir(&dir).await {
                Ok(entries) => entries,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
                Err(error) => return Err(IoError::local(&dir, error)),
            };
            while let Some(entry) = entries
                .next_entry()
                .await
                .map_err(|e| IoError::local(&dir, e))?
            {
                let path = entry.path();
                let kind = entry
                    .file_type()
                    .await
                    .map_err(|e| IoError::local(&path, e))?;
                let Ok(relative) = path.strip_prefix(&self.root) else {
                    continue;
                };
                let key = relative.to_string_lossy().replace('\\', "/");
                let hidden = relative
                    .file_name()
                    .is_some_and(|name| name.to_string_lossy().starts_with('.'));
                if kind.is_dir() {
                    if prefix.starts_with(&format!("{key}/")) || key.starts_with(prefix) {
                        pending.push(path);
                    }
                } else if !hidden && key.starts_with(prefix) {
                    let size = entry
                        .metadata()
                        .await
                        .map_err(|e| IoError::local(&path, e))?
                        .len();
                    found.push(ObjectInfo { key, size });
                }
            }
        }
        found.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(found)
    }
}

/// An S3 bucket as an object store.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: aws_sdk_s3::Client,
    bucket: String,
    part_size: usize,
}

impl S3Store {
    /// Files larger than this go up in parts of this size (S3's minimum part is 5 MiB).
    pub const DEFAULT_PART_SIZE: usize = 16 * 1024 * 1024;

    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
            part_size: Self::DEFAULT_PART_SIZE,
        }
    }

    /// Sets the multipart part size (at least 5 MiB, as S3 requires).
    pub fn with_part_size(mut self, bytes: usize) -> Self {
        self.part_size = bytes.max(5 * 1024 * 1024);
        self
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    fn target(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    async fn get_object(
        &self,
        key: &str,
    ) -> Result<aws_sdk_s3::operation::get_object::GetObjectOutput, IoError> {
        check_key(key)?;
        self.client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|error| {
                if error.as_service_error().is_some_and(|e| e.is_no_such_key()) {
                    IoError::NotFound(self.target(key))
                } else {
                    IoError::sdk("GetObject", self.target(key), error)
                }
            })
    }

    /// Uploads a large file in parts; publishes it only when every part is in, and
    /// aborts the upload (so S3 keeps no parts) on any failure.
    async fn upload_in_parts(&self, path: &Path, key: &str, size: u64) -> Result<u64, IoError> {
        let started = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| IoError::sdk("CreateMultipartUpload", self.target(key), e))?;
        let upload_id = started
            .upload_id()
            .ok_or_else(|| IoError::Service {
                operation: "CreateMultipartUpload",
                target: self.target(key),
                message: "the answer named no upload id".into(),
                retryable: true,
            })?
            .to_owned();
        let result = self.send_parts(path, key, &upload_id).await;
        match result {
            Ok(parts) => {
                self.client
                    .complete_multipart_upload()
                    .bucket(&self.bucket)
                    .key(key)
                    .upload_id(&upload_id)
                    .multipart_upload(
                        CompletedMultipartUpload::builder()
                            .set_parts(Some(parts))
                            .build(),
                    )
                    .send()
                    .await
                    .map_err(|e| IoError::sdk("CompleteMultipartUpload", self.target(key), e))?;
                Ok(size)
            }
            Err(error) => {
                let aborted = self
                    .client
                    .abort_multipart_upload()
                    .bucket(&self.bucket)
                    .key(key)
                    .upload_id(&upload_id)
                    .send()
                    .await;
                if let Err(abort) = aborted {
                    tracing::warn!(key, error = %aws_sdk_s3::error::DisplayErrorContext(&abort), "could not abort a failed multipart upload");
                }
                Err(error)
            }
        }
    }

    async fn send_parts(
        &self,
        path: &Path,
        key: &str,
        upload_id: &str,
    ) -> Result<Vec<CompletedPart>, IoError> {
        let mut file = tokio::fs::File::open(path)
            .await
            .map_err(|e| IoError::local(path, e))?;
        let mut parts = Vec::new();
        let mut number = 1;
        loop {
            // One part in memory at a time: memory stays at the part size.
            let mut buffer = Vec::with_capacity(self.part_size);
            let read = (&mut file)
                .take(self.part_size as u64)
                .read_to_end(&mut buffer)
                .await
                .map_err(|e| IoError::local(path, e))?;
            if read == 0 {
                break;
            }
            let sent = self
                .client
                .upload_part()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(upload_id)
                .part_number(number)
                .body(ByteStream::from(buffer))
                .send()
                .await
                .map_err(|e| IoError::sdk("UploadPart", self.target(key), e))?;
            parts.push(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(sent.e_tag().map(str::to_owned))
                    .build(),
            );
            number += 1;
        }
        Ok(parts)
    }
}

impl ObjectGet for S3Store {
    async fn get(&self, key: &str) -> Result<Vec<u8>, IoError> {
        let object = self.get_object(key).await?;
        let bytes = object.body.collect().await.map_err(|e| IoError::Service {
            operation: "GetObject",
            target: self.target(key),
            message: e.to_string(),
            retryable: true,
        })?;
        Ok(bytes.to_vec())
    }

    async fn download(&self, key: &str, path: &Path) -> Result<u64, IoError> {
        let object = self.get_object(key).await?;
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| IoError::local(parent, e))?;
        }
        let temporary = temporary_beside(path);
        let copied = async {
            let mut file = tokio::fs::File::create(&temporary).await?;
            let mut body = object.body.into_async_read();
            let bytes = tokio::io::copy_buf(&mut body, &mut file).await?;
            file.sync_all().await?;
            Ok::<_, std::io::Error>(bytes)
        }
        .await;
        match copied {
            Ok(bytes) => {
                tokio::fs::rename(&temporary, path)
                    .await
                    .map_err(|e| IoError::local(path, e))?;
                Ok(bytes)
            }
            Err(error) => {
                let _ = tokio::fs::remove_file(&temporary).await;
                // A body cut off mid-stream is worth retrying; a full disk is not, but
                // tells the operator which file.
                Err(IoError::Service {
                    operation: "GetObject",
                    target: self.target(key),
                    message: format!("reading the body into {}: {error}", path.display()),
                    retryable: error.kind() != std::io::ErrorKind::StorageFull,
                })
            }
        }
    }
}

impl ObjectPut for S3Store {
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), IoError> {
        check_key(key)?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| IoError::sdk("PutObject", self.target(key), e))?;
        Ok(())
    }

    async fn upload(&self, path: &Path, key: &str) -> Result<u64, IoError> {
        check_key(key)?;
        let size = tokio::fs::metadata(path)
            .await
            .map_err(|e| not_found_or_local(path, e))?
            .len();
        if size > self.part_size as u64 {
            return self.upload_in_parts(path, key, size).await;
        }
        let body = ByteStream::from_path(path)
            .await
            .map_err(|e| IoError::local(path, std::io::Error::other(e)))?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(body)
            .send()
            .await
            .map_err(|e| IoError::sdk("PutObject", self.target(key), e))?;
        Ok(size)
    }
}

impl ObjectDelete for S3Store {
    async fn delete(&self, key: &str) -> Result<(), IoError> {
        check_key(key)?;
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| IoError::sdk("DeleteObject", self.target(key), e))?;
        Ok(())
    }
}

impl ObjectList for S3Store {
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, IoError> {
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| IoError::sdk("ListObjectsV2", self.target(prefix), e))?;
            for object in page.contents() {
                if let Some(key) = object.key() {
                    found.push(ObjectInfo {
                        key: key.to_owned(),
                        size: object.size().unwrap_or(0).max(0) as u64,
                    });
                }
            }
        }
        found.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_keys_are_url_decoded() {
        let decoded = |raw| decode_event_key(raw).expect(raw);
        assert_eq!(
            decoded("raw/customers/my+file.csv"),
            "raw/customers/my file.csv"
        );
        assert_eq!(decoded("raw/a%2Bb%20c%C3%A9.csv"), "raw/a+b cé.csv");
        assert_eq!(decoded("plain/key.parquet"), "plain/key.parquet");
        for bad in ["raw/%", "raw/%4", "raw/%zz", "raw/%FF%FE"] {
            let error = decode_event_key(bad).expect_err(bad).to_string();
            assert!(error.contains(bad), "{error}");
        }
    }

    #[test]
    fn keys_that_escape_the_store_are_refused() {
        for bad in [
            "",
            "/etc/passwd",
            "raw/../../x",
            "raw//x",
            "raw/./x",
            "raw\\x",
        ] {
            assert!(check_key(bad).is_err(), "{bad}");
        }
        assert!(check_key("raw/customers/2026-11-01.csv").is_ok());
    }

    #[tokio::test]
    async fn the_local_store_writes_whole_objects_and_lists_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = LocalStore::new(dir.path());
        store
            .put("models/v1/model.bin", vec![1, 2, 3])
            .await
            .expect("put");
        store
            .put("models/v2/model.bin", vec![4])
            .await
            .expect("put");
        store
            .put("raw/customers/a b.csv", b"id\n1\n".to_vec())
            .await
            .expect("put");
        assert_eq!(
            store.get("models/v1/model.bin").await.expect("get"),
            [1, 2, 3]
        );
        let listed = store.list("models/").await.expect("list");
        assert_eq!(
            listed,
            [
                ObjectInfo {
                    key: "models/v1/model.bin".into(),
                    size: 3
                },
                ObjectInfo {
                    key: "models/v2/model.bin".into(),
                    size: 1
                },
            ]
        );
        assert_eq!(store.list("raw/customers/a").await.expect("list").len(), 1);
        assert!(store.list("nothing/").await.expect("list").is_empty());
        assert!(matches!(
            store.get("models/v3/model.bin").await,
            Err(IoError::NotFound(_))
        ));
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path().join("models/v1"))
            .expect("dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, ["model.bin"]);
    }
}
