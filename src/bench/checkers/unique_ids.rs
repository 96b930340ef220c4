//! Jepsen's `unique-ids` checker (`jepsen: jepsen/src/jepsen/checker.clj`,
//! `unique-ids`), as Maelstrom runs it on the unique-ids workload.

use super::{Checker, Input};
use crate::bench::history::{History, OpType};
use serde_json::{json, Map, Value};
use std::cmp::Ordering;
use std::collections::HashMap;

/// How many duplicated ids the result lists.
const SHOW_DUPLICATES: usize = 48;

/// The unique-ids checker.
#[derive(Debug, Clone, Copy, Default)]
pub struct UniqueIds;

impl Checker for UniqueIds {
    fn check(&self, input: &Input<'_>) -> Value {
        check(input.history)
    }
}

/// Order two ids if they are mutually comparable (both numbers or both
/// strings), as Clojure's `compare` would.
fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

pub fn check(history: &History) -> Value {
    let client = || {
        history
            .ops
            .iter()
            .filter(|o| o.is_client() && o.f == "generate")
    };
    let attempted = client().filter(|o| o.kind == OpType::Invoke).count();
    let oks: Vec<&Value> = client()
        .filter(|o| o.kind == OpType::Ok)
        .map(|o| &o.value)
        .collect();
    // Key by canonical JSON text: structural equality, 1 ≠ 1.0 ≠ "1".
    let mut counts: HashMap<String, (usize, &Value)> = HashMap::new();
    for v in &oks {
        counts.entry(v.to_string()).or_insert((0, v)).0 += 1;
    }
    let mut dups: Vec<(&String, usize)> = counts
        .iter()
        .filter(|(_, (n, _))| *n > 1)
        .map(|(k, (n, _))| (k, *n))
        .collect();
    dups.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let mut shown = Map::new();
    for (k, n) in dups.iter().take(SHOW_DUPLICATES) {
        // Show string ids without their JSON quotes.
        let label = match counts.get(*k) {
            Some((_, Value::String(s))) => s.clone(),
            _ => (*k).clone(),
        };
        shown.insert(label, (*n).into());
    }
    let mut range = Some((None::<&Value>, None::<&Value>));
    for v in &oks {
        let Some((lo, hi)) = range.as_mut() else {
            break;
        };
        let ok = [&*lo, &*hi].into_iter().all(|slot| match slot {
            None => matches!(v, Value::Number(_) | Value::String(_)),
            Some(x) => compare(v, x).is_some(),
        });
        if !ok {
            range = None;
            break;
        }
        if lo.is_none_or(|x| compare(v, x) == Some(Ordering::Less)) {
            *lo = Some(v);
        }
        if hi.is_none_or(|x| compare(v, x) == Some(Ordering::Greater)) {
            *hi = Some(v);
        }
    }
    let valid = if !dups.is_empty() {
        json!(false)
    } else if range.is_none() {
        json!("unknown")
    } else {
        json!(true)
    };
    let mut out = json!({
        "valid?": valid,
        "attempted-count": attempted,
        "acknowledged-count": oks.len(),
        "duplicated-count": dups.len(),
        "duplicated": shown,
    });
    match range {
        Some((Some(lo), Some(hi))) => out["range"] = json!([lo, hi]),
        Some(_) => out["range"] = json!([null, null]),
        None => {
            out["error"] = json!(
                "ids are not mutually comparable (mixed types), as Jepsen's checker would throw"
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::history::{Op, Process};

    fn push(h: &mut History, kind: OpType, value: Value) {
        h.push(Op {
            index: 0,
            time: 0,
            process: Process::Client(0),
            kind,
            f: "generate".into(),
            value,
            error: None,
            final_phase: false,
        });
    }

    #[test]
    fn duplicates_and_structural_equality() {
        let mut h = History::new();
        for v in [json!(1), json!(2), json!(3)] {
            push(&mut h, OpType::Invoke, Value::Null);
            push(&mut h, OpType::Ok, v);
        }
        let r = check(&h);
        assert_eq!(r["valid?"], true);
        assert_eq!(r["range"], json!([1, 3]));
        assert_eq!(r["attempted-count"], 3);
        push(&mut h, OpType::Invoke, Value::Null);
        push(&mut h, OpType::Ok, json!(1.0));
        assert_eq!(check(&h)["valid?"], true, "1.0 is not 1");
        push(&mut h, OpType::Invoke, Value::Null);
        push(&mut h, OpType::Ok, json!(2));
        let r = check(&h);
        assert_eq!(r["valid?"], false);
        assert_eq!(r["duplicated"]["2"], 2);
        assert_eq!(r["duplicated-count"], 1);
        let mut m = History::new();
        push(&mut m, OpType::Invoke, Value::Null);
        push(&mut m, OpType::Ok, json!("a"));
        push(&mut m, OpType::Invoke, Value::Null);
        push(&mut m, OpType::Ok, json!(1));
        assert_eq!(check(&m)["valid?"], "unknown");
    }
}
