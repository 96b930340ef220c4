//! Composing results like Maelstrom (maelstrom: src/maelstrom/core.clj,
//! `:checker`; jepsen: src/jepsen/checker.clj, `compose`, `merge-valid`,
//! `stats`; maelstrom: src/maelstrom/checker.clj, `availability-checker`).
//!
//! The result map has Maelstrom's keys without the leading colon:
//! `stats`, `availability`, `net`, `workload`, plus `node-output` when a
//! node printed something that is not a valid message (our louder policy
//! than maelstrom: src/maelstrom/process.clj), and the merged `valid?`
//! (false beats unknown beats true). The run directory is written by
//! [`super::store`].

use super::check::Validity;
use super::history::{History, OpType};
use super::opts::{Availability, TestOpts};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

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

/// Jepsen's `stats` checker over client completions: counts overall and per
/// `f`; each `f` is valid iff it has an `ok` (ignoring Kafka's `crash` and
/// `debug-topic-partitions`).
pub fn stats(history: &History) -> Value {
    #[derive(Default)]
    struct C {
        count: u64,
        ok: u64,
        fail: u64,
        info: u64,
    }
    let mut all = C::default();
    let mut by_f: BTreeMap<&str, C> = BTreeMap::new();
    for op in history.ops.iter().filter(|o| o.is_client()) {
        if op.kind == OpType::Invoke {
            continue;
        }
        for c in [&mut all, by_f.entry(op.f.as_str()).or_default()] {
            c.count += 1;
            match op.kind {
                OpType::Ok => c.ok += 1,
                OpType::Fail => c.fail += 1,
                OpType::Info => c.info += 1,
                OpType::Invoke => {}
            }
        }
    }
    let render = |c: &C, valid: bool| {
        json!({
            "valid?": valid,
            "count": c.count,
            "ok-count": c.ok,
            "fail-count": c.fail,
            "info-count": c.info,
        })
    };
    let mut fs = Map::new();
    let mut valid = true;
    for (f, c) in &by_f {
        let v = c.ok > 0;
        if !v && *f != "crash" && *f != "debug-topic-partitions" {
            valid = false;
        }
        fs.insert(f.to_string(), render(c, v));
    }
    let mut out = render(&all, valid);
    out["by-f"] = Value::Object(fs);
    out
}

/// Maelstrom's `availability` checker: ok-fraction = client oks / client
/// invokes (1 when there are none), judged against `--availability`.
pub fn availability(history: &History, opts: &TestOpts) -> Value {
    let invokes = history
        .ops
        .iter()
        .filter(|o| o.is_client() && o.kind == OpType::Invoke)
        .count();
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
        Some(Availability::Total) => oks == invokes,
        Some(Availability::Fraction(a)) => frac >= a,
    };
    json!({"valid?": valid, "ok-fraction": frac})
}

/// The number of client invocations (the denominator of msgs-per-op).
pub fn op_count(history: &History) -> usize {
    history
        .ops
        .iter()
        .filter(|o| o.is_client() && o.kind == OpType::Invoke)
        .count()
}

/// Put the checkers' results together and merge their validity.
pub fn compose(parts: Vec<(&str, Value)>) -> (Value, Validity) {
    let mut m = Map::new();
    let mut v = Validity::Valid;
    for (k, r) in parts {
        v = v.merge(Validity::of(&r));
        m.insert(k.to_string(), r);
    }
    m.insert(
        "valid?".into(),
        serde_json::to_value(v).unwrap_or(Value::Null),
    );
    (Value::Object(m), v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::history::{Op, Process};

    fn op(p: u64, kind: OpType, f: &str) -> Op {
        Op {
            index: 0,
            time: 0,
            process: Process::Client(p),
            kind,
            f: f.into(),
            value: Value::Null,
            error: None,
            final_phase: false,
        }
    }

    #[test]
    fn stats_and_availability() {
        let mut h = History::new();
        h.push(op(0, OpType::Invoke, "read"));
        h.push(op(0, OpType::Ok, "read"));
        h.push(op(1, OpType::Invoke, "add"));
        h.push(op(1, OpType::Info, "add"));
        let s = stats(&h);
        assert_eq!(s["valid?"], false, "add never succeeded");
        assert_eq!(s["by-f"]["read"]["ok-count"], 1);
        assert_eq!(s["info-count"], 1);
        let mut opts = TestOpts::with_nodes(1);
        assert_eq!(availability(&h, &opts)["valid?"], true);
        assert_eq!(availability(&h, &opts)["ok-fraction"], 0.5);
        opts.availability = Some(Availability::Total);
        assert_eq!(availability(&h, &opts)["valid?"], false);
        opts.availability = Some(Availability::Fraction(0.5));
        assert_eq!(availability(&h, &opts)["valid?"], true);
        let (r, v) = compose(vec![
            ("a", json!({"valid?": true})),
            ("b", json!({"valid?": "unknown"})),
        ]);
        assert_eq!(v, Validity::Unknown);
        assert_eq!(r["valid?"], "unknown");
    }
}
