//! Moving whole folders between an object store and a local work directory: a Lambda
//! downloads what a use case reads into `/tmp`, runs it there (the same code as the CLI),
//! then uploads what it wrote under the same keys.

use std::path::{Path, PathBuf};

use crate::IoError;
use crate::store::{ObjectGet, ObjectList, ObjectPut};

/// What a transfer moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Transfer {
    pub objects: usize,
    pub bytes: u64,
}

/// Downloads every object under `prefix` to the same relative paths under `root`.
pub async fn download_prefix<S>(store: &S, prefix: &str, root: &Path) -> Result<Transfer, IoError>
where
    S: ObjectGet + ObjectList + Sync,
{
    let mut moved = Transfer::default();
    for object in store.list(prefix).await? {
        moved.bytes += store.download(&object.key, &root.join(&object.key)).await?;
        moved.objects += 1;
    }
    Ok(moved)
}

/// Uploads every file under `root/dir` to the same keys, in key order, except that files
/// named in `last` go after all others: a reader that waits for them (a summary, a
/// report) never sees a folder half uploaded.
pub async fn upload_dir<S>(
    store: &S,
    root: &Path,
    dir: &str,
    last: &[&str],
) -> Result<Transfer, IoError>
where
    S: ObjectPut + Sync,
{
    let mut files = Vec::new();
    collect_files(&root.join(dir), &mut files)?;
    let mut keyed: Vec<(bool, String, PathBuf)> = files
        .into_iter()
        .filter_map(|path| {
            let relative = path.strip_prefix(root).ok()?;
            let key = relative.to_string_lossy().replace('\\', "/");
            let name = path.file_name()?.to_string_lossy().into_owned();
            (!name.starts_with('.')).then(|| (last.contains(&name.as_str()), key, path.clone()))
        })
        .collect();
    keyed.sort();
    let mut moved = Transfer::default();
    for (_, key, path) in keyed {
        moved.bytes += store.upload(&path, &key).await?;
        moved.objects += 1;
    }
    Ok(moved)
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), IoError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(IoError::local(dir, error)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| IoError::local(dir, e))?;
        let path = entry.path();
        if entry
            .file_type()
            .map_err(|e| IoError::local(&path, e))?
            .is_dir()
        {
            collect_files(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::LocalStore;

    #[tokio::test]
    async fn folders_go_up_with_their_marker_last_and_come_back() {
        let work = tempfile::tempdir().expect("tempdir");
        let dir = work.path().join("predictions/dt=2026-11-25");
        std::fs::create_dir_all(&dir).expect("mkdir");
        for (name, text) in [
            ("summary.json", "{}"),
            ("a.parquet", "aa"),
            ("z.csv", "z"),
            (".partial-1", "x"),
        ] {
            std::fs::write(dir.join(name), text).expect("write");
        }
        let remote = tempfile::tempdir().expect("tempdir");
        let store = LocalStore::new(remote.path());
        let moved = upload_dir(
            &store,
            work.path(),
            "predictions/dt=2026-11-25",
            &["summary.json"],
        )
        .await
        .expect("upload");
        assert_eq!(
            moved,
            Transfer {
                objects: 3,
                bytes: 5
            }
        );
        // The marker was written last.
        let modified = |name: &str| {
            std::fs::metadata(remote.path().join("predictions/dt=2026-11-25").join(name))
                .and_then(|m| m.modified())
                .expect("mtime")
        };
        assert!(modified("summary.json") >= modified("z.csv"));

        let back = tempfile::tempdir().expect("tempdir");
        let moved = download_prefix(&store, "predictions/", back.path())
            .await
            .expect("download");
        assert_eq!(moved.objects, 3);
        assert_eq!(
            std::fs::read_to_string(back.path().join("predictions/dt=2026-11-25/a.parquet"))
                .expect("read"),
            "aa"
        );
    }
}
