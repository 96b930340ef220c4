//! Verdict lines and exit codes, as Maelstrom prints them (`maelstrom:
//! src/maelstrom/core.clj`, `jepsen: jepsen/src/jepsen/cli.clj`).
//!
//! The result map itself comes from [`crate::bench::checkers::check_test`];
//! the run directory is written by [`super::store`].

use super::check::Validity;

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
