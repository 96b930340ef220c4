//! Verdicts and stored runs, like Maelstrom's (`jepsen: jepsen/src/jepsen/store.clj`).
//!
//! The result map itself comes from [`crate::bench::checkers::check_test`].
//! Runs are stored under `<store>/<workload>/<timestamp>/` with `latest`
//! symlinks, holding `results.json`, `history.jsonl`, `messages.jsonl` and
//! `node-logs/`.

use super::check::Validity;
use std::path::{Path, PathBuf};

/// Maelstrom's verdict lines.
pub const VERDICT_VALID: &str = "Everything looks good! ヽ(‘ー`)ノ";
/// The line for an invalid run.
pub const VERDICT_INVALID: &str = "Analysis invalid! (ﾉಥ益ಥ）ﾉ ┻━┻";
/// The line for an unknown verdict.
pub const VERDICT_UNKNOWN: &str = "Errors occurred during analysis, but no anomalies found. ಠ~ಠ";

/// The console line for a verdict.
pub fn verdict_line(v: Validity) -> &'static str {
    match v {
        Validity::Valid => VERDICT_VALID,
        Validity::Invalid => VERDICT_INVALID,
        Validity::Unknown => VERDICT_UNKNOWN,
    }
}

/// The exit code for a verdict: 0 valid, 1 invalid, 2 unknown.
pub fn exit_code(v: Validity) -> i32 {
    match v {
        Validity::Valid => 0,
        Validity::Invalid => 1,
        Validity::Unknown => 2,
    }
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

/// Create `<store>/<workload>/<timestamp>/` (unique) and point the
/// `latest` symlinks at it.
pub fn create_run_dir(store: &Path, workload: &str) -> std::io::Result<PathBuf> {
    let base = store.join(workload);
    std::fs::create_dir_all(&base)?;
    let stamp = timestamp(std::time::SystemTime::now());
    let mut name = stamp.clone();
    let mut k = 1;
    while base.join(&name).exists() {
        name = format!("{stamp}-{k}");
        k += 1;
    }
    let dir = base.join(&name);
    std::fs::create_dir_all(dir.join("node-logs"))?;
    link_latest(&base.join("latest"), Path::new(&name));
    link_latest(&store.join("latest"), &Path::new(workload).join(&name));
    Ok(dir)
}

fn link_latest(link: &Path, target: &Path) {
    #[cfg(unix)]
    {
        let tmp = link.with_extension(format!("tmp{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        if std::os::unix::fs::symlink(target, &tmp).is_ok() {
            let _ = std::fs::rename(&tmp, link);
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (link, target);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(1_769_416_992_123);
        assert_eq!(timestamp(t), "20260126T084312.123Z");
    }
}
