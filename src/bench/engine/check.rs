//! The result map of a finished run: Maelstrom's composed checkers
//! (maelstrom: src/maelstrom/core.clj, `:checker`; jepsen:
//! src/jepsen/checker.clj, `compose`) over the history and the journal,
//! plus our `node-output` report.

use super::Engine;
use crate::bench::check::Validity;
use crate::bench::results;
use serde_json::{json, Value};

/// Every checker's result, and the merged verdict. A workload checker that
/// panics gives `unknown` with the panic's message, as Jepsen turns a
/// checker's exception into `:valid? :unknown`.
pub(super) fn check(eng: &Engine<'_>) -> (Value, Validity) {
    let ops = results::op_count(&eng.history);
    let workload_result = {
        let (wl, h, opts) = (&eng.workload, &eng.history, eng.opts);
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| wl.check(h, opts))) {
            Ok(v) => v,
            Err(p) => {
                let why = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "panic".into());
                json!({"valid?": "unknown", "error": format!("the workload checker panicked: {why}")})
            }
        }
    };
    let mut parts = vec![
        ("stats", results::stats(&eng.history)),
        (
            "availability",
            results::availability(&eng.history, eng.opts),
        ),
        ("net", eng.net.stats(ops)),
        ("workload", workload_result),
    ];
    if eng.nodes.error_count > 0 {
        parts.push((
            "node-output",
            json!({
                "valid?": false,
                "error-count": eng.nodes.error_count,
                "errors": eng.nodes.errors,
                "note": "a node printed lines that are not valid Maelstrom messages; Maelstrom would stop reading that node (maelstrom: src/maelstrom/process.clj), this bench reports them and fails the run",
            }),
        ));
    }
    results::compose(parts)
}
