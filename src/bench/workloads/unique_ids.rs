//! The `unique-ids` workload (spec §5.2): every op is `generate`; the reply
//! `generate_ok` carries an `id` of any JSON type. The checker (Jepsen's
//! `unique-ids`) counts how often each acknowledged id occurs and is invalid
//! iff any occurs twice; ids are compared as JSON values, so `1`, `1.0` and
//! `"1"` are different ids. Clients are reusable; no final phase.

use crate::bench::history::{History, OpType};
use crate::bench::opts::TestOpts;
use crate::bench::workload::{
    check_closed_body, malformed_reply, map_failure, ClientStep, Completion, GenCtx, Invocation,
    RpcOutcome, Workload, WorkloadClient,
};
use rand::rngs::StdRng;
use serde_json::{json, Map, Value};
use std::cmp::Ordering;
use std::collections::HashMap;

/// How many duplicated ids the result lists.
const SHOW_DUPLICATES: usize = 48;

/// The workload, configured by `opts`.
pub fn new(_opts: &TestOpts) -> anyhow::Result<Box<dyn Workload>> {
    Ok(Box::new(UniqueIds))
}

/// The unique-ids workload.
#[derive(Debug, Default)]
pub struct UniqueIds;

struct Client;

impl WorkloadClient for Client {
    fn invoke(&mut self, _inv: &Invocation) -> ClientStep {
        ClientStep::Call(json!({"type": "generate"}))
    }

    fn on_reply(&mut self, inv: &Invocation, outcome: RpcOutcome) -> ClientStep {
        ClientStep::Done(match outcome {
            Ok(body) => match check_closed_body(&body, "generate_ok", &["id"]) {
                Ok(()) => match body.get("id") {
                    Some(id) => Completion::ok(id.clone()),
                    None => malformed_reply(&inv.value, &body, "generate_ok has no id"),
                },
                Err(why) => malformed_reply(&inv.value, &body, &why),
            },
            Err(failure) => map_failure(&inv.f, &[], &inv.value, &failure),
        })
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

impl Workload for UniqueIds {
    fn name(&self) -> &'static str {
        "unique-ids"
    }

    fn reusable_client(&self) -> bool {
        true
    }

    fn next_op(&mut self, _ctx: &GenCtx<'_>, _rng: &mut StdRng) -> Option<Invocation> {
        Some(Invocation::new("generate", Value::Null))
    }

    fn new_client(&self, _ctx: &GenCtx<'_>) -> Box<dyn WorkloadClient> {
        Box::new(Client)
    }

    fn check(&self, history: &History, _opts: &TestOpts) -> Value {
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
                out["error"] = json!("ids are not mutually comparable (mixed types), as Jepsen's checker would throw");
            }
        }
        out
    }
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
        let opts = TestOpts::with_nodes(1);
        let mut h = History::new();
        for v in [json!(1), json!(2), json!(3)] {
            push(&mut h, OpType::Invoke, Value::Null);
            push(&mut h, OpType::Ok, v);
        }
        let r = UniqueIds.check(&h, &opts);
        assert_eq!(r["valid?"], true);
        assert_eq!(r["range"], json!([1, 3]));
        assert_eq!(r["attempted-count"], 3);
        push(&mut h, OpType::Invoke, Value::Null);
        push(&mut h, OpType::Ok, json!(1.0));
        assert_eq!(UniqueIds.check(&h, &opts)["valid?"], true, "1.0 is not 1");
        push(&mut h, OpType::Invoke, Value::Null);
        push(&mut h, OpType::Ok, json!(2));
        let r = UniqueIds.check(&h, &opts);
        assert_eq!(r["valid?"], false);
        assert_eq!(r["duplicated"]["2"], 2);
        assert_eq!(r["duplicated-count"], 1);
        let mut m = History::new();
        push(&mut m, OpType::Invoke, Value::Null);
        push(&mut m, OpType::Ok, json!("a"));
        push(&mut m, OpType::Invoke, Value::Null);
        push(&mut m, OpType::Ok, json!(1));
        assert_eq!(UniqueIds.check(&m, &opts)["valid?"], "unknown");
    }
}
