//! The `node-output` checker: lines a node printed that are not valid
//! Maelstrom messages.
//!
//! Maelstrom logs such a line and stops reading that node
//! (`maelstrom: src/maelstrom/process.clj`, `stdout-thread`), so the rest
//! of the node's output never reaches the network and the test is judged by
//! the other checkers alone. The bench reads on, records the first few bad
//! lines, and fails the run, so that a node that breaks the protocol is
//! noticed at once rather than through a puzzling checker result. The
//! result appears only when there was at least one bad line
//! ([`super::test_checker`]).

use super::{Checker, Input};
use serde_json::{json, Value};

/// What the run saw: how many bad lines, and the first few of them.
#[derive(Debug, Clone, Copy, Default)]
pub struct NodeOutput<'a> {
    /// Every bad line counts, also those not kept in `errors`.
    pub count: usize,
    /// The first bad lines, each with its node and why it was refused.
    pub errors: &'a [Value],
}

/// The `node-output` checker.
#[derive(Debug, Clone, Copy, Default)]
pub struct NodeOutputChecker;

impl Checker for NodeOutputChecker {
    fn check(&self, input: &Input<'_>) -> Value {
        let out = input.node_output;
        json!({
            "valid?": out.count == 0,
            "error-count": out.count,
            "errors": out.errors,
            "note": "a node printed lines that are not valid Maelstrom messages; Maelstrom would stop reading that node (maelstrom: src/maelstrom/process.clj), this bench reports them and fails the run",
        })
    }
}
