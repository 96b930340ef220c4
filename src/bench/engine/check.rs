//! The result map of a finished run: the test's composed checkers
//! ([`crate::bench::checkers::check_test`]; maelstrom:
//! src/maelstrom/core.clj, `:checker`) over the history, the journal and
//! the lines nodes printed that were not messages.

use super::Engine;
use crate::bench::check::Validity;
use crate::bench::checkers::{self, net::Traffic, node_output::NodeOutput, Input};
use serde_json::Value;

/// Every checker's result, and the merged verdict.
pub(super) fn check(eng: &Engine<'_>) -> (Value, Validity) {
    let input = Input {
        traffic: Traffic::of(&eng.net),
        node_output: NodeOutput {
            count: eng.nodes.error_count,
            errors: &eng.nodes.errors,
        },
        ..Input::new(&eng.history, eng.opts)
    };
    checkers::check_test(eng.workload.checker(), &input)
}
