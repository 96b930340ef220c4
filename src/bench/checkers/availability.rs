//! Maelstrom's `availability` checker (`maelstrom: src/maelstrom/checker.clj`,
//! `availability-checker`), run on every test.
//!
//! The ok-fraction is the number of client `ok` completions over the number
//! of client invocations (1 when there are none). `--availability total`
//! requires every invocation to succeed, a number requires at least that
//! fraction, and no flag accepts anything (the result still reports the
//! fraction, which Maelstrom prints too).
//!
//! # Beyond Maelstrom: killed and paused nodes
//!
//! A killed or paused node cannot answer, so no system is totally available
//! under our `kill` and `pause` faults; what a Fly.io workload can promise
//! is total availability of the nodes that are up. So when the history
//! holds kill or pause ops, an operation whose node (the node its worker
//! talks to: worker `p mod concurrency`, node `worker mod N`) was killed or
//! paused at any instant between its invocation and its completion (both
//! ends included) is
//! *excused*: it counts in neither the numerator nor the denominator of
//! `ok-fraction`, and `excused-count` says how many there were. A history
//! without kill or pause ops (every Maelstrom test) is judged exactly as
//! before, and its result has no `excused-count`.

use super::{Checker, Input};
use crate::bench::history::{History, OpType, Process};
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
    let Some(excused) = excused_invocations(history, opts) else {
        let invokes = op_count(history);
        let oks = history
            .ops
            .iter()
            .filter(|o| o.is_client() && o.kind == OpType::Ok)
            .count();
        return judge(invokes, oks, opts);
    };
    let pairs = history.pairs();
    let (mut invokes, mut oks) = (0, 0);
    for op in &history.ops {
        if op.is_client() && op.kind == OpType::Invoke && !excused[op.index] {
            invokes += 1;
            let done = pairs[op.index].map(|c| history.ops[c].kind);
            oks += usize::from(done == Some(OpType::Ok));
        }
    }
    let mut result = judge(invokes, oks, opts);
    result["excused-count"] = json!(excused.iter().filter(|&&e| e).count());
    result
}

/// Which invocations are excused because their node was killed or paused
/// while they were outstanding (see the module docs); None when the history
/// has no kill or pause op.
fn excused_invocations(history: &History, opts: &TestOpts) -> Option<Vec<bool>> {
    let n = opts.nodes.len();
    // Per node, the intervals [from, to) during which it was down or paused.
    let mut windows: Vec<Vec<(u64, u64)>> = vec![Vec::new(); n];
    let mut since: Vec<Option<u64>> = vec![None; n];
    let mut any = false;
    for op in history.ops.iter().filter(|o| o.process == Process::Nemesis) {
        // The request entry lists the node names; the completion maps them.
        let Some(names) = op.value.as_array() else {
            continue;
        };
        let starts = matches!(op.f.as_str(), "kill" | "pause");
        if !starts && !matches!(op.f.as_str(), "start" | "resume") {
            continue;
        }
        any = true;
        for name in names.iter().filter_map(|v| v.as_str()) {
            let Some(i) = opts.nodes.iter().position(|x| x == name) else {
                continue;
            };
            match (starts, since[i]) {
                (true, None) => since[i] = Some(op.time),
                (false, Some(from)) => {
                    windows[i].push((from, op.time));
                    since[i] = None;
                }
                _ => {}
            }
        }
    }
    if !any {
        return None;
    }
    for (i, s) in since.iter().enumerate() {
        if let Some(from) = s {
            windows[i].push((*from, u64::MAX));
        }
    }
    let pairs = history.pairs();
    let concurrency = opts.concurrency.max(1) as u64;
    let excused = history
        .ops
        .iter()
        .map(|op| {
            let Process::Client(p) = op.process else {
                return false;
            };
            if op.kind != OpType::Invoke || n == 0 {
                return false;
            }
            let node = ((p % concurrency) % n as u64) as usize;
            let end = pairs[op.index].map_or(u64::MAX, |c| history.ops[c].time);
            // Closed at both ends: an op invoked at the very instant its
            // node is started again may have been refused just before.
            windows[node]
                .iter()
                .any(|&(from, to)| from <= end && op.time <= to)
        })
        .collect();
    Some(excused)
}

/// The result for `oks` of `invokes`, judged against `--availability`.
fn judge(invokes: usize, oks: usize, opts: &TestOpts) -> Value {
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

    #[test]
    fn ops_on_killed_or_paused_nodes_are_excused() {
        let mut opts = TestOpts::with_nodes(2);
        opts.concurrency = 2;
        opts.availability = Some(Required::Total);
        let nemesis = |t: u64, f: &str, node: &str| {
            let mut op = Op::client(0, 0, OpType::Info, f, json!([node]));
            op.process = Process::Nemesis;
            op.time = t;
            op
        };
        let at = |t: u64, p: u64, kind: OpType| {
            let mut op = Op::client(0, p, kind, "read", Value::Null);
            op.time = t;
            op
        };
        let mut h = History::new();
        // Process 0 talks to n0, process 1 to n1.
        h.push(at(0, 0, OpType::Invoke));
        h.push(at(1, 0, OpType::Ok));
        h.push(nemesis(2, "kill", "n0"));
        h.push(at(3, 0, OpType::Invoke)); // while n0 is down
        h.push(at(4, 0, OpType::Info));
        h.push(at(3, 1, OpType::Invoke)); // n1 is up: it counts
        h.push(at(4, 1, OpType::Fail));
        h.push(nemesis(5, "start", "n0"));
        h.push(at(6, 0, OpType::Invoke)); // n0 is back
        h.push(at(7, 0, OpType::Ok));
        let r = availability(&h, &opts);
        assert_eq!(r["excused-count"], 1, "{r}");
        assert_eq!(r["ok-fraction"], 2.0 / 3.0, "{r}");
        assert_eq!(r["valid?"], false, "n1's failure is not excused");
        // Without n1's failure the run is totally available where it could be.
        h.ops[6].kind = OpType::Ok;
        assert_eq!(availability(&h, &opts)["valid?"], true);
        // A history without kill or pause is judged as before.
        assert!(availability(&History::new(), &opts)
            .get("excused-count")
            .is_none());
    }
}
