//! Jepsen's `stats` checker (`jepsen: jepsen/src/jepsen/checker.clj`,
//! `stats`), as Maelstrom runs it on every test.
//!
//! It counts client completions, overall and per `f`: how many ended `ok`,
//! `fail` and `info`. A test is invalid when some `f` never succeeded,
//! which usually means the nodes do not implement it at all. Kafka's
//! `crash` and `debug-topic-partitions` are exempt, as Maelstrom wraps the
//! checker with `jepsen: jepsen/src/jepsen/tests/kafka.clj` `stats-checker`:
//! the first never completes `ok` by design, the second only when asked.
//! Nemesis operations and invocations are not counted.

use super::{Checker, Input};
use crate::bench::history::{History, OpType};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Operations that may never succeed without making the test invalid.
const EXEMPT: &[&str] = &["crash", "debug-topic-partitions"];

/// The `stats` checker.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stats;

impl Checker for Stats {
    fn check(&self, input: &Input<'_>) -> Value {
        stats(input.history)
    }
}

/// Completion counts of one `f`, or of all.
#[derive(Default)]
struct Counts {
    count: u64,
    ok: u64,
    fail: u64,
    info: u64,
}

impl Counts {
    fn render(&self, valid: bool) -> Value {
        json!({
            "valid?": valid,
            "count": self.count,
            "ok-count": self.ok,
            "fail-count": self.fail,
            "info-count": self.info,
        })
    }
}

/// The `stats` result over `history`: counts overall and under `by-f`;
/// each `f` is valid iff it has an `ok`.
pub fn stats(history: &History) -> Value {
    let mut all = Counts::default();
    let mut by_f: BTreeMap<&str, Counts> = BTreeMap::new();
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
    let mut fs = Map::new();
    let mut valid = true;
    for (f, c) in &by_f {
        let v = c.ok > 0;
        if !v && !EXEMPT.contains(f) {
            valid = false;
        }
        fs.insert(f.to_string(), c.render(v));
    }
    let mut out = all.render(valid);
    out["by-f"] = Value::Object(fs);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::history::Op;

    pub(crate) fn op(p: u64, kind: OpType, f: &str) -> Op {
        Op::client(0, p, kind, f, Value::Null)
    }

    #[test]
    fn counts_per_f_and_an_f_without_ok_is_invalid() {
        let mut h = History::new();
        h.push(op(0, OpType::Invoke, "read"));
        h.push(op(0, OpType::Ok, "read"));
        h.push(op(1, OpType::Invoke, "add"));
        h.push(op(1, OpType::Info, "add"));
        let s = stats(&h);
        assert_eq!(s["valid?"], false, "add never succeeded");
        assert_eq!(s["by-f"]["read"]["ok-count"], 1);
        assert_eq!(s["by-f"]["add"]["valid?"], false);
        assert_eq!(s["info-count"], 1);
        assert_eq!(s["count"], 2);
        let mut k = History::new();
        k.push(op(0, OpType::Invoke, "crash"));
        k.push(op(0, OpType::Info, "crash"));
        k.push(op(1, OpType::Invoke, "send"));
        k.push(op(1, OpType::Ok, "send"));
        assert_eq!(stats(&k)["valid?"], true, "crash is exempt");
    }
}
