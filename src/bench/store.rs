//! The run directory: where one test's files are written, and the only
//! code that writes them.
//!
//! # Layout
//!
//! Like Jepsen's store (jepsen: src/jepsen/store.clj; maelstrom:
//! doc/results.md), each run gets `<store>/<workload>/<timestamp>/`, with
//! `latest` symlinks at `<store>/latest` and `<store>/<workload>/latest`.
//! The timestamp is a UTC "basic date-time" such as `20260126T084312.123Z`
//! (a `-1`, `-2`… suffix keeps two runs in the same millisecond apart).
//! Inside:
//!
//! - `results.json`: the result map, pretty-printed;
//! - `history.jsonl`: one history op per line;
//! - `messages.jsonl`: the network journal, one send or delivery per line
//!   (both JSON-lines files are written and read back by the wire module,
//!   `crate::runtime::message`);
//! - `node-logs/<node>.log`: each node's stderr.
//! - `nodes/<node>/` (process mode): each node's working directory, which
//!   survives its restarts and is its disk ([`super::backend`]).
//!
//! Jepsen's EDN files, `test.jepsen`, the plots and `jepsen.log` are not
//! written.
//!
//! # Errors
//!
//! A write that fails is not ignored: [`RunDir`] keeps every failure
//! (path and reason) and [`RunDir::finish`] reports them all, so a full disk
//! turns into a clear error instead of a run directory with files missing.
//! Only the `latest` links are best-effort (a file system without symlinks
//! still gets every file); their failures are returned as warnings.

use std::path::{Path, PathBuf};

/// One run's directory, collecting write errors.
#[derive(Debug)]
pub struct RunDir {
    /// `<store>/<workload>/<timestamp>`.
    path: PathBuf,
    /// Every failed write, as `path: reason`.
    errors: Vec<String>,
    /// Failed `latest` links (not fatal).
    warnings: Vec<String>,
}

impl RunDir {
    /// Create `<store>/<workload>/<timestamp>/node-logs` (a fresh name) and
    /// point the `latest` links at it.
    pub fn create(store: &Path, workload: &str) -> std::io::Result<RunDir> {
        let base = store.join(workload);
        std::fs::create_dir_all(&base)?;
        let stamp = timestamp(std::time::SystemTime::now());
        let mut name = stamp.clone();
        let mut k = 1;
        while base.join(&name).exists() {
            name = format!("{stamp}-{k}");
            k += 1;
        }
        let path = base.join(&name);
        std::fs::create_dir_all(path.join("node-logs"))?;
        let mut dir = RunDir {
            path,
            errors: Vec::new(),
            warnings: Vec::new(),
        };
        dir.link_latest(&base.join("latest"), Path::new(&name));
        dir.link_latest(&store.join("latest"), &Path::new(workload).join(&name));
        Ok(dir)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where node logs go.
    pub fn node_logs(&self) -> PathBuf {
        self.path.join("node-logs")
    }

    /// Write `contents` to `name` inside the directory; a failure is kept
    /// for [`RunDir::finish`].
    pub fn write(&mut self, name: &str, contents: impl AsRef<[u8]>) {
        let p = self.path.join(name);
        if let Err(e) = std::fs::write(&p, contents) {
            self.errors.push(format!("{}: {e}", p.display()));
        }
    }

    /// Record the outcome of a write done elsewhere (node logs).
    pub fn note(&mut self, what: &Path, result: std::io::Result<()>) {
        if let Err(e) = result {
            self.errors.push(format!("{}: {e}", what.display()));
        }
    }

    /// The directory, or every write that failed.
    pub fn finish(self) -> Result<(PathBuf, Vec<String>), String> {
        if self.errors.is_empty() {
            Ok((self.path, self.warnings))
        } else {
            Err(format!(
                "cannot write the run directory {}:\n  {}",
                self.path.display(),
                self.errors.join("\n  ")
            ))
        }
    }

    #[cfg(unix)]
    fn link_latest(&mut self, link: &Path, target: &Path) {
        let tmp = link.with_extension(format!("tmp{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        let linked =
            std::os::unix::fs::symlink(target, &tmp).and_then(|()| std::fs::rename(&tmp, link));
        if let Err(e) = linked {
            self.warnings
                .push(format!("cannot link {}: {e}", link.display()));
        }
    }

    #[cfg(not(unix))]
    fn link_latest(&mut self, _link: &Path, _target: &Path) {}
}

/// A UTC timestamp like Jepsen's store names: `20260126T084312.123Z`.
pub fn timestamp(t: std::time::SystemTime) -> String {
    let d = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let ms = d.subsec_millis();
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, mo, da) = civil_from_days(days);
    format!(
        "{y:04}{mo:02}{da:02}T{:02}{:02}{:02}.{ms:03}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(1_769_416_992_123);
        assert_eq!(timestamp(t), "20260126T084312.123Z");
    }

    #[test]
    fn runs_get_fresh_names_and_failed_writes_are_reported() {
        let store = std::env::temp_dir().join(format!("glomers-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&store);
        let mut a = RunDir::create(&store, "echo").unwrap();
        let b = RunDir::create(&store, "echo").unwrap();
        assert_ne!(a.path(), b.path());
        a.write("results.json", "{}\n");
        assert!(a.path().join("results.json").exists());
        assert!(store.join("echo/latest").exists() && store.join("latest").exists());
        // A file where a directory should be: the write fails, and says so.
        a.write("node-logs/x/y.log", "");
        let err = a.finish().unwrap_err();
        assert!(err.contains("y.log"), "{err}");
        let (path, warnings) = b.finish().unwrap();
        assert!(path.starts_with(&store) && warnings.is_empty());
        let _ = std::fs::remove_dir_all(&store);
    }
}
