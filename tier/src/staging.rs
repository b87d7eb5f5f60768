//! Staging files a `file://` tier leaves behind.
//!
//! The local filesystem store writes every PUT to `KEY#N` beside its
//! destination, fsyncs it and renames it into place. A process killed in
//! between leaves the `KEY#N` file, and the store's LIST never shows it (a
//! name ending in `#` and digits is not an object), so the compactor's
//! orphan scan never saw it either and such files piled up forever. This
//! module finds them by walking the tier's directory and deletes those old
//! enough that no live writer can own them.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// What one sweep found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StagingSweep {
    /// Staging files deleted.
    pub deleted: u64,
    /// Staging files left because they were written to recently.
    pub recent: u64,
}

/// The directory of a `file://` tier URL, `None` for any other scheme.
pub fn file_tier_dir(url: &str) -> Option<PathBuf> {
    let parsed = url::Url::parse(url).ok()?;
    (parsed.scheme() == "file")
        .then(|| parsed.to_file_path().ok())
        .flatten()
}

/// Whether `name` is a staging file's name: `KEY#N`, N all digits, as the
/// local filesystem store names them.
pub fn is_staging_name(name: &str) -> bool {
    name.rsplit_once('#').is_some_and(|(key, suffix)| {
        !key.is_empty() && !suffix.is_empty() && suffix.bytes().all(|b| b.is_ascii_digit())
    })
}

/// Deletes every staging file under `dir` last modified more than `min_age`
/// ago. A writer appends to its staging file until it renames it, so one not
/// modified for `min_age` (the compactor passes `orphan_grace`, at least
/// twice the commit deadline, past which no object may be committed) has no
/// live writer: its process was killed mid-PUT. Blocking: run it off the
/// async worker threads.
pub fn sweep_staging_files(dir: &Path, min_age: Duration) -> std::io::Result<StagingSweep> {
    let mut sweep = StagingSweep::default();
    let now = SystemTime::now();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            // Removed meanwhile (an emptied prefix): nothing to sweep there.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let file_type = entry.file_type()?;
            if file_type.is_dir() {
                pending.push(entry.path());
                continue;
            }
            let name = entry.file_name();
            if !file_type.is_file() || !name.to_str().is_some_and(is_staging_name) {
                continue;
            }
            let modified = match entry.metadata().and_then(|m| m.modified()) {
                Ok(modified) => modified,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            // A clock set back makes the file look new: keep it.
            let age = now.duration_since(modified).unwrap_or(Duration::ZERO);
            if age < min_age {
                sweep.recent += 1;
                continue;
            }
            match std::fs::remove_file(entry.path()) {
                Ok(()) => {
                    tracing::info!(
                        file = %entry.path().display(),
                        age_s = age.as_secs(),
                        "deleted a staging file of a PUT that never completed"
                    );
                    sweep.deleted += 1;
                }
                // Another compactor swept it first.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(sweep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staging_names_are_key_hash_digits() {
        assert!(is_staging_name("0000.wal#1"));
        assert!(is_staging_name("x.seg#12"));
        assert!(!is_staging_name("x.seg"));
        assert!(!is_staging_name("x.seg#"));
        assert!(!is_staging_name("#3"));
        assert!(!is_staging_name("x#1a"));
    }

    #[test]
    fn only_file_urls_have_a_directory() {
        assert_eq!(
            file_tier_dir("file:///var/lib/stratus/wal/"),
            Some(PathBuf::from("/var/lib/stratus/wal/"))
        );
        assert_eq!(file_tier_dir("s3://bucket/prefix"), None);
        assert_eq!(file_tier_dir("memory://"), None);
    }

    #[test]
    fn sweeps_only_old_staging_files() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("wal/00/11");
        std::fs::create_dir_all(&nested).unwrap();
        let old = nested.join("a.wal#1");
        let fresh = nested.join("b.wal#1");
        let object = nested.join("c.wal");
        for path in [&old, &fresh, &object] {
            std::fs::write(path, b"bytes").unwrap();
        }
        let an_hour_ago = SystemTime::now() - Duration::from_secs(3600);
        for path in [&old, &object] {
            let file = std::fs::File::options().write(true).open(path).unwrap();
            file.set_modified(an_hour_ago).unwrap();
        }
        let sweep = sweep_staging_files(dir.path(), Duration::from_secs(600)).unwrap();
        assert_eq!(
            sweep,
            StagingSweep {
                deleted: 1,
                recent: 1
            }
        );
        assert!(!old.exists());
        assert!(fresh.exists() && object.exists());
    }
}
