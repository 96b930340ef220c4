//! The `node-output` checker: lines a node printed that are not valid
//! Maelstrom messages.
//!
//! What Maelstrom 0.2.3 does with such a line (maelstrom:
//! src/maelstrom/process.clj, `parse-msg`, `stdout-thread`, `io-thread`;
//! src/maelstrom/net.clj, `validate-msg`): a line that is not JSON throws
//! `:line-not-valid-json`, one that is not a `src`/`dest`/`body` envelope
//! throws `:malformed-message`, and one whose `src` or `dest` is not a
//! registered node, client or service fails an `assert` in `validate-msg`
//! before the message is journaled or queued, so it is dropped. The node's
//! stdout thread catches every one of these with a catch-all that logs a
//! WARN ("Error!") and returns `nil`, which becomes the loop's next line
//! sequence: the thread never reads that node's stdout again. The node is
//! *muted*: it still receives messages, its later output never reaches the
//! network (its pipe fills and its writes block), and the test goes on and
//! is judged by the other checkers alone. A closed client is unregistered
//! (maelstrom: src/maelstrom/client.clj `close!`), so a late reply to a
//! client Jepsen replaced after an indeterminate op mutes the node too;
//! clients of lin-kv, unique-ids and the txn workloads are reusable and
//! never closed mid-test.
//!
//! The engine models that (it mutes the node at its first bad line and
//! counts what it drops afterwards), and this checker reports it loudly,
//! but by default as a warning: `valid?` stays true, so the verdict is
//! Maelstrom's. Under `--strict` the node is not muted (its later lines are
//! read as today) and any bad line makes the run not valid. The result
//! appears only when there was at least one bad line
//! ([`super::test_checker`]).

use super::{Checker, Input};
use serde_json::{json, Value};

/// What the run saw: how many bad lines, the first few of them, and the
/// nodes muted by them.
#[derive(Debug, Clone, Copy, Default)]
pub struct NodeOutput<'a> {
    /// Every bad line counts, also those not kept in `errors`.
    pub count: usize,
    /// The first bad lines, each with its node and why it was refused.
    pub errors: &'a [Value],
    /// The muted nodes: `{node, time, dropped-lines}` (empty under
    /// `--strict`).
    pub muted: &'a [Value],
}

/// The `node-output` checker.
#[derive(Debug, Clone, Copy, Default)]
pub struct NodeOutputChecker;

impl Checker for NodeOutputChecker {
    fn check(&self, input: &Input<'_>) -> Value {
        let out = input.node_output;
        let strict = input.opts.strict;
        let note = if strict {
            "a node printed lines that are not deliverable Maelstrom messages; --strict fails the run (Maelstrom would log a warning, stop reading that node and judge the run by its other checkers: maelstrom: src/maelstrom/process.clj)"
        } else {
            "WARNING: a node printed lines that are not deliverable Maelstrom messages; as Maelstrom does (maelstrom: src/maelstrom/process.clj), the bench stopped reading that node at its first one, and the verdict is the other checkers'; --strict fails the run instead"
        };
        json!({
            "valid?": out.count == 0 || !strict,
            "error-count": out.count,
            "errors": out.errors,
            "muted": out.muted,
            "strict": strict,
            "note": note,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::history::History;
    use crate::bench::opts::TestOpts;

    #[test]
    fn bad_lines_warn_by_default_and_fail_under_strict() {
        let h = History::new();
        let mut opts = TestOpts::with_nodes(1);
        let errors = vec![json!({"node": "n0", "line": "oops"})];
        let muted = vec![json!({"node": "n0", "time": 5, "dropped-lines": 3})];
        let mut input = Input::new(&h, &opts);
        input.node_output = NodeOutput {
            count: 1,
            errors: &errors,
            muted: &muted,
        };
        let r = NodeOutputChecker.check(&input);
        assert_eq!(r["valid?"], true);
        assert_eq!(r["error-count"], 1);
        assert_eq!(r["muted"][0]["dropped-lines"], 3);
        assert!(r["note"].as_str().unwrap().starts_with("WARNING"));
        opts.strict = true;
        let mut input = Input::new(&h, &opts);
        input.node_output = NodeOutput {
            count: 1,
            errors: &errors,
            muted: &[],
        };
        let r = NodeOutputChecker.check(&input);
        assert_eq!(r["valid?"], false);
        assert_eq!(r["strict"], true);
    }
}
