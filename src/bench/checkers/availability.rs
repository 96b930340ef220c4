//! Maelstrom's `availability` checker (`maelstrom: src/maelstrom/checker.clj`,
//! `availability-checker`), run on every test.
//!
//! The ok-fraction is the number of client `ok` completions over the number
//! of client invocations (1 when there are none). `--availability total`
//! requires every invocation to succeed, a number requires at least that
//! fraction, and no flag accepts anything (the result still reports the
//! fraction, which Maelstrom prints too).

use super::{Checker, Input};
use crate::bench::history::{History, OpType};
use crate::bench::opts::{Availability as Required, TestOpts};
use serde_json::{json, Value};

/// The `availability` checker.
#[derive(Debug, Clone, Copy, Default)]
pub struct Availability;

impl Checker for Availability {
    fn check(&self, input: &Input<'_>) -> Value {
        availability(input.history, input.opts)
    }
}

/// The number of client invocations (also the denominator of the `net`
/// checker's msgs-per-op).
pub fn op_count(history: &History) -> usize {
    history
        .ops
        .iter()
        .filter(|o| o.is_client() && o.kind == OpType::Invoke)
        .count()
}

/// The `availability` result: `ok-fraction`, judged against
/// `--availability`.
pub fn availability(history: &History, opts: &TestOpts) -> Value {
    let invokes = op_count(history);
    let oks = history
        .ops
        .iter()
        .filter(|o| o.is_client() && o.kind == OpType::Ok)
        .count();
    let frac = if invokes == 0 {
        1.0
    } else {
        oks as f64 / invokes as f64
    };
    let valid = match opts.availability {
        None => true,
        Some(Required::Total) => oks == invokes,
        Some(Required::Fraction(a)) => frac >= a,
    };
    json!({"valid?": valid, "ok-fraction": frac})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::history::Op;

    fn op(p: u64, kind: OpType) -> Op {
        Op::client(0, p, kind, "read", Value::Null)
    }

    #[test]
    fn ok_fraction_against_the_requirement() {
        let mut h = History::new();
        let mut opts = TestOpts::with_nodes(1);
        assert_eq!(availability(&h, &opts)["ok-fraction"], 1.0, "no ops");
        h.push(op(0, OpType::Invoke));
        h.push(op(0, OpType::Ok));
        h.push(op(1, OpType::Invoke));
        h.push(op(1, OpType::Info));
        assert_eq!(op_count(&h), 2);
        assert_eq!(availability(&h, &opts)["valid?"], true);
        assert_eq!(availability(&h, &opts)["ok-fraction"], 0.5);
        opts.availability = Some(Required::Total);
        assert_eq!(availability(&h, &opts)["valid?"], false);
        opts.availability = Some(Required::Fraction(0.5));
        assert_eq!(availability(&h, &opts)["valid?"], true);
        opts.availability = Some(Required::Fraction(0.51));
        assert_eq!(availability(&h, &opts)["valid?"], false);
    }
}
