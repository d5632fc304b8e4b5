//! The on-disk cache of pulled artifacts: blobs by digest (`blobs/sha256/<hex>`, as in an
//! OCI image layout) and `index.json`, which maps each `oci://HOST/REPO:TAG` to the manifest
//! digest it last resolved to. It is what lets a pipeline start without its registry.
//!
//! Every blob is hashed again when read: a truncated or altered file is dropped and fetched
//! anew, never loaded. Writes go to a temporary file renamed into place, so a reader never
//! sees half a blob; failures to write are logged and the pull goes on without caching.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::reference::Digest;

/// The cache under one directory.
#[derive(Debug, Clone)]
pub struct OciCache {
    dir: PathBuf,
}

impl OciCache {
    /// A cache in `dir` (created on first write).
    pub fn new(dir: PathBuf) -> OciCache {
        OciCache { dir }
    }

    /// The cache's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.dir.join("blobs").join("sha256").join(digest.hex())
    }

    fn index_path(&self) -> PathBuf {
        self.dir.join("index.json")
    }

    /// The blob with `digest`, if cached and intact.
    pub fn blob(&self, digest: &Digest) -> Option<Vec<u8>> {
        let path = self.blob_path(digest);
        let bytes = std::fs::read(&path).ok()?;
        let actual = Digest::of(&bytes);
        if actual != *digest {
            tracing::warn!(file = %path.display(), expected = %digest, actual = %actual, "Cached blob does not match its digest; dropping it.");
            let _ = std::fs::remove_file(&path);
            return None;
        }
        Some(bytes)
    }

    /// Keeps `bytes` under their digest (the caller has checked it).
    pub fn put_blob(&self, digest: &Digest, bytes: &[u8]) {
        let path = self.blob_path(digest);
        if path.is_file() {
            return;
        }
        if let Err(error) = write_whole(&path, bytes) {
            tracing::warn!(file = %path.display(), %error, "Could not cache a pulled blob; the next start needs the registry.");
        }
    }

    /// The manifest digest `tag_key` last resolved to.
    pub fn tag(&self, tag_key: &str) -> Option<Digest> {
        self.index().remove(tag_key)
    }

    /// Remembers that `tag_key` resolved to `digest`.
    pub fn set_tag(&self, tag_key: &str, digest: &Digest) {
        let mut index = self.index();
        if index.get(tag_key) == Some(digest) {
            return;
        }
        index.insert(tag_key.to_owned(), digest.clone());
        let text: BTreeMap<&str, &str> = index
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let mut json = serde_json::to_vec_pretty(&text).expect("a map of strings serialises");
        json.push(b'\n');
        if let Err(error) = write_whole(&self.index_path(), &json) {
            tracing::warn!(file = %self.index_path().display(), %error, "Could not record a tag's digest in the cache.");
        }
    }

    /// The index; an unreadable or damaged one reads as empty.
    fn index(&self) -> BTreeMap<String, Digest> {
        let Ok(bytes) = std::fs::read(self.index_path()) else {
            return BTreeMap::new();
        };
        let raw: BTreeMap<String, String> = serde_json::from_slice(&bytes).unwrap_or_default();
        raw.into_iter()
            .filter_map(|(k, v)| Digest::parse(&v).ok().map(|d| (k, d)))
            .collect()
    }
}

/// Writes `bytes` to a temporary file beside `path`, then renames it into place.
fn write_whole(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("blob");
    let temporary = dir.join(format!(".{name}.{}.partial", std::process::id()));
    std::fs::write(&temporary, bytes)?;
    std::fs::rename(&temporary, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&temporary);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(name: &str) -> OciCache {
        let dir =
            std::env::temp_dir().join(format!("weft-oci-cache-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        OciCache::new(dir)
    }

    #[test]
    fn blobs_are_kept_by_digest_and_checked_when_read() {
        let cache = cache("blobs");
        let digest = Digest::of(b"component");
        assert_eq!(cache.blob(&digest), None);
        cache.put_blob(&digest, b"component");
        assert_eq!(cache.blob(&digest).as_deref(), Some(&b"component"[..]));
        let file = cache.dir().join("blobs/sha256").join(digest.hex());
        assert!(file.is_file());

        // An altered file is dropped, not served.
        std::fs::write(&file, b"tampered").unwrap();
        assert_eq!(cache.blob(&digest), None);
        assert!(!file.exists());
        let _ = std::fs::remove_dir_all(cache.dir());
    }

    #[test]
    fn the_index_remembers_each_tags_last_digest() {
        let cache = cache("index");
        let (one, two) = (Digest::of(b"1"), Digest::of(b"2"));
        assert_eq!(cache.tag("oci://r/p:1"), None);
        cache.set_tag("oci://r/p:1", &one);
        cache.set_tag("oci://r/q:1", &one);
        cache.set_tag("oci://r/p:1", &two);
        assert_eq!(cache.tag("oci://r/p:1"), Some(two));
        assert_eq!(cache.tag("oci://r/q:1"), Some(one));

        // A damaged index reads as empty and is rewritten on the next pull.
        std::fs::write(cache.dir().join("index.json"), b"{ not json").unwrap();
        assert_eq!(cache.tag("oci://r/q:1"), None);
        let _ = std::fs::remove_dir_all(cache.dir());
    }
}
