//! The txn-list-append checker: Elle's list-append analysis
//! ([`super::elle::list_append`]) as Maelstrom runs it
//! (`maelstrom: src/maelstrom/workload/txn_list_append.clj`, `checker`),
//! with `--consistency-models` (default strict-serializable; Elle 0.1.6's
//! verdict, probes as warnings, unless `--strict`), plus the
//! malformed- and mismatched-response counts txn-rw-register reports
//! ([`super::txn_rw_register::with_response_checks`]).

use super::elle::list_append::check_with;
use super::elle::{Probes, CYCLE_SEARCH_TIMEOUT};
use super::txn_rw_register::with_response_checks;
use super::{Checker, Input};
use serde_json::Value;

/// The txn-list-append checker.
#[derive(Debug, Clone, Copy, Default)]
pub struct TxnListAppend;

impl Checker for TxnListAppend {
    fn check(&self, input: &Input<'_>) -> Value {
        let verdict = check_with(
            input.history,
            &input.opts.consistency_models,
            CYCLE_SEARCH_TIMEOUT,
            Probes::for_run(input.opts.strict),
        );
        with_response_checks(verdict, input.history, input.opts.strict)
    }
}
