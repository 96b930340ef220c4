//! The `broadcast` workload (spec §5.3): Maelstrom's eventually consistent
//! set, with a topology hint, checked by Jepsen's `set-full` rules.
//!
//! - **Setup.** Each node's setup client sends one `topology` message
//!   holding the *whole* map built by [`topology`] for `--topology` (grid by
//!   default; line, total, tree/tree2, tree3 and tree4), laid out the way
//!   Maelstrom lays them out; the reply must be a bare `topology_ok`
//!   (`Workload::check_setup_reply`).
//! - **Generator.** A 50/50 random mix of `broadcast` (values 0, 1, 2, …:
//!   globally unique and increasing) and `read`. Final phase: after the heal
//!   and the recovery wait, every worker performs exactly one
//!   `read` marked final.
//! - **Client.** `broadcast` → `broadcast_ok` (no fields); `read` →
//!   `read_ok` with `messages` (an array). Replies are checked as closed
//!   schemas; anything else is an indeterminate `malformed-rpc-response`.
//!   Only `read` is idempotent, so a timed-out read fails and a timed-out
//!   broadcast is `info`.
//! - **Checker.** [`check_set_full`]: per element, the *known* op, the
//!   invocation of the *last* read that contained it and of the last that
//!   did not; an element is stable, lost or never read by comparing those
//!   invocation indices (a final read that misses an element only makes it
//!   lost if that read was invoked after every read that saw it).
//!   Duplicates inside one read are reported as a warning
//!   (`duplicated-count`, `duplicated`) and never change the verdict: this
//!   is the project's stricter-but-not-more-lenient answer to Maelstrom's
//!   duplicate check, which can never fire.

use crate::bench::check::{quantiles, Validity};
use crate::bench::history::{History, Op, OpType};
use crate::bench::opts::TestOpts;
use crate::bench::workload::{
    check_closed_body, malformed_reply, map_failure, one_final_read, ClientStep, Completion,
    FinalStep, GenCtx, Invocation, RpcOutcome, Workload, WorkloadClient,
};
use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap, HashSet};

/// The topology names `--topology` accepts, as Maelstrom spells them.
pub const TOPOLOGIES: &[&str] = &["grid", "line", "total", "tree", "tree2", "tree3", "tree4"];

/// Operations whose timeouts and error replies count as definite failures.
const IDEMPOTENT: &[&str] = &["read"];

/// The neighbour map Maelstrom sends for topology `name` over `nodes`, each
/// list in Maelstrom's order.
pub fn topology(name: &str, nodes: &[String]) -> anyhow::Result<BTreeMap<String, Vec<String>>> {
    let n = nodes.len();
    let neighbours: Box<dyn Fn(usize) -> Vec<usize>> = match name {
        "grid" => {
            // A roughly square grid, `side` = ⌈√n⌉ columns, filled row by row;
            // neighbours in the order below, above, right, left.
            let mut side = 1usize;
            while side * side < n {
                side += 1;
            }
            Box::new(move |idx| {
                let (row, col) = (idx / side, idx % side);
                [
                    Some((row + 1, col)),
                    row.checked_sub(1).map(|r| (r, col)),
                    (col + 1 < side).then_some((row, col + 1)),
                    col.checked_sub(1).map(|c| (row, c)),
                ]
                .into_iter()
                .flatten()
                .map(|(r, c)| r * side + c)
                .filter(|&i| i < n)
                .collect()
            })
        }
        // Left and right; no map at all below two nodes.
        "line" if n < 2 => return Ok(BTreeMap::new()),
        "line" => Box::new(move |idx| {
            [idx.checked_sub(1), Some(idx + 1)]
                .into_iter()
                .flatten()
                .filter(|&i| i < n)
                .collect()
        }),
        "total" => Box::new(move |idx| (0..n).filter(|&i| i != idx).collect()),
        "tree" | "tree2" | "tree3" | "tree4" => {
            // Breadth-first tiers of 1, b, b², … nodes: node i's parent is
            // (i−1)/b and its children are b·i+1 … b·i+b; parent first.
            let b = match name {
                "tree3" => 3,
                "tree4" => 4,
                _ => 2,
            };
            Box::new(move |idx| {
                let parent = idx.checked_sub(1).map(|p| p / b);
                let children = (b * idx + 1..=b * idx + b).filter(|&c| c < n);
                parent.into_iter().chain(children).collect()
            })
        }
        other => anyhow::bail!(
            "unknown topology {other:?}; known topologies: {}",
            TOPOLOGIES.join(", ")
        ),
    };
    Ok(nodes
        .iter()
        .enumerate()
        .map(|(idx, node)| {
            let list = neighbours(idx).into_iter().map(|i| nodes[i].clone());
            (node.clone(), list.collect())
        })
        .collect())
}

/// The broadcast workload, configured by `opts`.
pub fn new(opts: &TestOpts) -> anyhow::Result<Box<dyn Workload>> {
    let topo = topology(&opts.topology, &opts.nodes)?;
    Ok(Box::new(Broadcast {
        topology: serde_json::to_value(topo)?,
        next_value: 0,
        finished: HashSet::new(),
    }))
}

/// Generator state and the topology message.
struct Broadcast {
    /// The whole topology map, sent to every node.
    topology: Value,
    /// The next broadcast value (globally unique, increasing).
    next_value: u64,
    /// Workers that have already performed their final read.
    finished: HashSet<usize>,
}

impl Workload for Broadcast {
    fn name(&self) -> &'static str {
        "broadcast"
    }

    fn setup_request(&mut self, _node: &str, _opts: &TestOpts) -> Option<Value> {
        Some(json!({"type": "topology", "topology": self.topology}))
    }

    fn check_setup_reply(&self, body: &Value) -> Result<(), String> {
        check_closed_body(body, "topology_ok", &[])
    }

    fn next_op(&mut self, _ctx: &GenCtx<'_>, rng: &mut StdRng) -> Option<Invocation> {
        if rng.gen_bool(0.5) {
            let v = self.next_value;
            self.next_value += 1;
            Some(Invocation::new("broadcast", Value::from(v)))
        } else {
            Some(Invocation::new("read", Value::Null))
        }
    }

    fn has_final_phase(&self) -> bool {
        true
    }

    fn final_step(&mut self, ctx: &GenCtx<'_>, _rng: &mut StdRng) -> FinalStep {
        one_final_read(&mut self.finished, ctx.worker)
    }

    fn new_client(&self, _ctx: &GenCtx<'_>) -> Box<dyn WorkloadClient> {
        Box::new(Client)
    }

    fn check(&self, history: &History, _opts: &TestOpts) -> Value {
        check_set_full(history)
    }
}

/// A broadcast client; it keeps nothing between operations.
struct Client;

impl WorkloadClient for Client {
    fn invoke(&mut self, inv: &Invocation) -> ClientStep {
        match inv.f.as_str() {
            "broadcast" => ClientStep::Call(json!({"type": "broadcast", "message": inv.value})),
            "read" => ClientStep::Call(json!({"type": "read"})),
            other => ClientStep::Done(Completion {
                kind: OpType::Fail,
                value: inv.value.clone(),
                error: Some(Value::from(format!("unknown operation {other:?}"))),
            }),
        }
    }

    fn on_reply(&mut self, inv: &Invocation, outcome: RpcOutcome) -> ClientStep {
        let body = match outcome {
            Ok(body) => body,
            Err(failure) => {
                return ClientStep::Done(map_failure(&inv.f, IDEMPOTENT, &inv.value, &failure))
            }
        };
        let done = if inv.f == "read" {
            match check_closed_body(&body, "read_ok", &["messages"]) {
                Ok(()) => match body.get("messages") {
                    Some(Value::Array(msgs)) => Completion::ok(Value::Array(msgs.clone())),
                    _ => malformed_reply(&inv.value, &body, "messages missing or not an array"),
                },
                Err(why) => malformed_reply(&inv.value, &body, &why),
            }
        } else {
            match check_closed_body(&body, "broadcast_ok", &[]) {
                Ok(()) => Completion::ok(inv.value.clone()),
                Err(why) => malformed_reply(&inv.value, &body, &why),
            }
        };
        ClientStep::Done(done)
    }
}

/// A set element as a hashable, ordered key. JSON equality is structural, so
/// `1`, `1.0` and `"1"` are three different elements; integers sort
/// numerically before everything else, which sorts by its JSON text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Elem {
    Int(i128),
    Other(String),
}

impl Elem {
    fn of(v: &Value) -> Elem {
        if let Some(i) = v.as_i64() {
            Elem::Int(i128::from(i))
        } else if let Some(u) = v.as_u64() {
            Elem::Int(i128::from(u))
        } else {
            Elem::Other(v.to_string())
        }
    }
}

/// What set-full tracks per element (history indices).
struct ElemState {
    /// The element as broadcast.
    value: Value,
    /// The `ok` broadcast completion, or the first `ok` read completion that
    /// contained the element, whichever came first.
    known: Option<usize>,
    /// The invocation of the latest-invoked `ok` read containing it.
    last_present: Option<usize>,
    /// The invocation of the latest-invoked `ok` read missing it.
    last_absent: Option<usize>,
}

/// How an element ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Stable,
    Lost,
    NeverRead,
}

/// Jepsen's `set-full` checker (`linearizable? false`) over a broadcast
/// history, with `broadcast` playing `add` (spec §5.3).
pub fn check_set_full(history: &History) -> Value {
    let ops = &history.ops;
    let partner = history.pairs();
    let mut states: Vec<ElemState> = Vec::new();
    let mut by_elem: HashMap<Elem, usize> = HashMap::new();
    let mut dups: BTreeMap<Elem, (Value, usize)> = BTreeMap::new();
    for op in ops.iter().filter(|op| op.is_client()) {
        match (op.f.as_str(), op.kind) {
            ("broadcast", OpType::Invoke) => {
                let st = ElemState {
                    value: op.value.clone(),
                    known: None,
                    last_present: None,
                    last_absent: None,
                };
                match by_elem.get(&Elem::of(&op.value)) {
                    Some(&i) => states[i] = st,
                    None => {
                        by_elem.insert(Elem::of(&op.value), states.len());
                        states.push(st);
                    }
                }
            }
            ("broadcast", OpType::Ok) => {
                if let Some(&i) = by_elem.get(&Elem::of(&op.value)) {
                    states[i].known.get_or_insert(op.index);
                }
            }
            ("read", OpType::Ok) => {
                let Some(inv) = partner.get(op.index).copied().flatten() else {
                    continue;
                };
                let mut seen: HashMap<Elem, (usize, &Value)> = HashMap::new();
                if let Value::Array(vals) = &op.value {
                    for v in vals {
                        seen.entry(Elem::of(v)).or_insert((0, v)).0 += 1;
                    }
                }
                for (e, (count, v)) in &seen {
                    if *count > 1 {
                        let d = dups.entry(e.clone()).or_insert(((*v).clone(), 0));
                        d.1 = d.1.max(*count);
                    }
                }
                let ids: HashSet<usize> = seen
                    .keys()
                    .filter_map(|e| by_elem.get(e).copied())
                    .collect();
                for (i, st) in states.iter_mut().enumerate() {
                    if ids.contains(&i) {
                        st.known.get_or_insert(op.index);
                        if st.last_present.is_none_or(|p| p < inv) {
                            st.last_present = Some(inv);
                        }
                    } else if st.last_absent.is_none_or(|a| a < inv) {
                        st.last_absent = Some(inv);
                    }
                }
            }
            _ => {}
        }
    }
    summarize(ops, states, dups)
}

/// Whole milliseconds from `known` to `until`, never negative.
fn latency_ms(ops: &[Op], known: usize, until: u64) -> u64 {
    until.saturating_sub(ops[known].time) / 1_000_000
}

fn op_json(ops: &[Op], i: Option<usize>) -> Value {
    i.and_then(|i| serde_json::to_value(&ops[i]).ok())
        .unwrap_or(Value::Null)
}

fn summarize(ops: &[Op], states: Vec<ElemState>, dups: BTreeMap<Elem, (Value, usize)>) -> Value {
    struct Res {
        elem: Elem,
        value: Value,
        outcome: Outcome,
        stable_latency: Option<u64>,
        lost_latency: Option<u64>,
        known: Option<usize>,
        last_absent: Option<usize>,
    }
    let mut results: Vec<Res> = states
        .into_iter()
        .map(|st| {
            let present = st.last_present.map(|i| i as i64).unwrap_or(-1);
            let absent = st.last_absent.map(|i| i as i64).unwrap_or(-1);
            let stable = st.last_present.is_some() && absent < present;
            let lost = matches!((st.known, st.last_absent), (Some(k), Some(a)) if present < a as i64 && k < a);
            let time_after = |i: Option<usize>| i.map(|i| ops[i].time + 1).unwrap_or(0);
            let (outcome, stable_latency, lost_latency) = match st.known {
                Some(k) if stable => (
                    Outcome::Stable,
                    Some(latency_ms(ops, k, time_after(st.last_absent))),
                    None,
                ),
                Some(k) if lost => (
                    Outcome::Lost,
                    None,
                    Some(latency_ms(ops, k, time_after(st.last_present))),
                ),
                _ => (Outcome::NeverRead, None, None),
            };
            Res {
                elem: Elem::of(&st.value),
                value: st.value,
                outcome,
                stable_latency,
                lost_latency,
                known: st.known,
                last_absent: st.last_absent,
            }
        })
        .collect();
    results.sort_by(|a, b| a.elem.cmp(&b.elem));
    let of = |o: Outcome| -> Vec<Value> {
        results
            .iter()
            .filter(|r| r.outcome == o)
            .map(|r| r.value.clone())
            .collect()
    };
    let stable = of(Outcome::Stable);
    let lost = of(Outcome::Lost);
    let never_read = of(Outcome::NeverRead);
    let mut stale: Vec<&Res> = results
        .iter()
        .filter(|r| r.outcome == Outcome::Stable && r.stable_latency.unwrap_or(0) > 0)
        .collect();
    let stale_values: Vec<Value> = stale.iter().map(|r| r.value.clone()).collect();
    stale.sort_by(|a, b| (b.stable_latency, &b.elem).cmp(&(a.stable_latency, &a.elem)));
    let worst_stale: Vec<Value> = stale
        .iter()
        .take(8)
        .map(|r| {
            json!({
                "element": r.value,
                "outcome": "stable",
                "stable-latency": r.stable_latency,
                "lost-latency": r.lost_latency,
                "known": op_json(ops, r.known),
                "last-absent": op_json(ops, r.last_absent),
            })
        })
        .collect();
    let valid = if !lost.is_empty() {
        Validity::Invalid
    } else if stable.is_empty() {
        Validity::Unknown
    } else {
        Validity::Valid
    };
    let mut m = Map::new();
    m.insert("valid?".into(), json!(valid));
    m.insert("attempt-count".into(), json!(results.len()));
    m.insert("stable-count".into(), json!(stable.len()));
    m.insert("lost-count".into(), json!(lost.len()));
    m.insert("lost".into(), Value::Array(lost));
    m.insert("never-read-count".into(), json!(never_read.len()));
    m.insert("never-read".into(), Value::Array(never_read));
    m.insert("stale-count".into(), json!(stale_values.len()));
    m.insert("stale".into(), Value::Array(stale_values));
    m.insert("worst-stale".into(), Value::Array(worst_stale));
    let stable_lat: Vec<u64> = results.iter().filter_map(|r| r.stable_latency).collect();
    if let Some(q) = quantiles(&stable_lat) {
        m.insert("stable-latencies".into(), q);
    }
    let lost_lat: Vec<u64> = results.iter().filter_map(|r| r.lost_latency).collect();
    if let Some(q) = quantiles(&lost_lat) {
        m.insert("lost-latencies".into(), q);
    }
    m.insert("duplicated-count".into(), json!(dups.len()));
    let dup_map: Map<String, Value> = dups
        .values()
        .map(|(v, n)| (v.to_string(), json!(n)))
        .collect();
    if !dups.is_empty() {
        m.insert(
            "warnings".into(),
            json!([format!(
                "{} element(s) appeared more than once in a single read; Maelstrom's \
                 set-full never reports this, so the verdict ignores it",
                dups.len()
            )]),
        );
    }
    m.insert("duplicated".into(), Value::Object(dup_map));
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::history::Process;
    use crate::bench::workload::RpcFailure;

    /// A history builder: `at(ms, process, type, f, value)`.
    struct H(History);

    impl H {
        fn new() -> Self {
            H(History::new())
        }
        fn at(&mut self, ms: f64, p: u64, kind: OpType, f: &str, value: Value) -> usize {
            self.0.push(Op {
                index: 0,
                time: (ms * 1e6) as u64,
                process: Process::Client(p),
                kind,
                f: f.into(),
                value,
                error: None,
                final_phase: false,
            })
        }
        fn check(&self) -> Value {
            check_set_full(&self.0)
        }
    }

    use OpType::{Fail, Info, Invoke, Ok as Done};

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("n{i}")).collect()
    }

    fn topo(name: &str, n: usize) -> Value {
        serde_json::to_value(topology(name, &names(n)).unwrap()).unwrap()
    }

    #[test]
    fn topologies_match_maelstrom_layouts() {
        assert_eq!(
            topo("grid", 5),
            json!({"n0": ["n3", "n1"], "n1": ["n4", "n2", "n0"], "n2": ["n1"],
                   "n3": ["n0", "n4"], "n4": ["n1", "n3"]})
        );
        assert_eq!(topo("grid", 1), json!({"n0": []}));
        let grid25 = topology("grid", &names(25)).unwrap();
        assert_eq!(grid25["n12"], ["n17", "n7", "n13", "n11"]);
        assert_eq!(grid25["n24"], ["n19", "n23"]);
        assert_eq!(topo("line", 1), json!({}));
        assert_eq!(
            topo("line", 3),
            json!({"n0": ["n1"], "n1": ["n0", "n2"], "n2": ["n1"]})
        );
        assert_eq!(
            topo("total", 3),
            json!({"n0": ["n1", "n2"], "n1": ["n0", "n2"], "n2": ["n0", "n1"]})
        );
        let tree = json!({"n0": ["n1", "n2"], "n1": ["n0", "n3", "n4"], "n2": ["n0", "n5"],
                          "n3": ["n1"], "n4": ["n1"], "n5": ["n2"]});
        assert_eq!(topo("tree", 6), tree);
        assert_eq!(topo("tree2", 6), tree);
        assert_eq!(
            topo("tree3", 5),
            json!({"n0": ["n1", "n2", "n3"], "n1": ["n0", "n4"], "n2": ["n0"],
                   "n3": ["n0"], "n4": ["n1"]})
        );
        assert_eq!(topo("tree4", 1), json!({"n0": []}));
        assert_eq!(topology("tree4", &names(6)).unwrap()["n1"], ["n0", "n5"]);
        assert!(topology("star", &names(3)).is_err());
    }

    #[test]
    fn setup_generator_and_final_reads() {
        let mut opts = TestOpts::with_nodes(2);
        opts.topology = "line".into();
        let mut w = new(&opts).unwrap();
        assert_eq!(
            w.setup_request("n1", &opts),
            Some(json!({"type": "topology", "topology": {"n0": ["n1"], "n1": ["n0"]}}))
        );
        let ctx = GenCtx {
            worker: 0,
            process: 0,
            node: "n0",
            time: std::time::Duration::ZERO,
            opts: &opts,
        };
        let mut rng = <StdRng as rand::SeedableRng>::seed_from_u64(7);
        let ops: Vec<Invocation> = (0..400).filter_map(|_| w.next_op(&ctx, &mut rng)).collect();
        let values: Vec<u64> = ops
            .iter()
            .filter(|i| i.f == "broadcast")
            .map(|i| i.value.as_u64().unwrap())
            .collect();
        assert!((150..250).contains(&values.len()), "{}", values.len());
        assert_eq!(values, (0..values.len() as u64).collect::<Vec<_>>());
        assert!(w.has_final_phase());
        let FinalStep::Op(fin) = w.final_step(&ctx, &mut rng) else {
            panic!("expected a final read");
        };
        assert_eq!((fin.f.as_str(), fin.final_phase), ("read", true));
        assert_eq!(w.final_step(&ctx, &mut rng), FinalStep::Done);
        let ok = json!({"type": "topology_ok", "in_reply_to": 1});
        assert_eq!(w.check_setup_reply(&ok), Ok(()));
        let extra = json!({"type": "topology_ok", "in_reply_to": 1, "topology": {}});
        assert!(w.check_setup_reply(&extra).is_err());
        assert!(w
            .check_setup_reply(&json!({"type": "init_ok", "in_reply_to": 1}))
            .is_err());
        let other = GenCtx { worker: 1, ..ctx };
        assert!(matches!(w.final_step(&other, &mut rng), FinalStep::Op(_)));
    }

    #[test]
    fn client_validates_replies_and_maps_errors() {
        let bcast = Invocation::new("broadcast", json!(3));
        let read = Invocation::new("read", Value::Null);
        let mut c = Client;
        assert_eq!(
            c.invoke(&bcast),
            ClientStep::Call(json!({"type": "broadcast", "message": 3}))
        );
        assert_eq!(c.invoke(&read), ClientStep::Call(json!({"type": "read"})));
        let done = |s: ClientStep| match s {
            ClientStep::Done(c) => c,
            other => panic!("{other:?}"),
        };
        let ok = done(c.on_reply(
            &bcast,
            Ok(json!({"type": "broadcast_ok", "in_reply_to": 1})),
        ));
        assert_eq!((ok.kind, ok.value), (Done, json!(3)));
        let extra = json!({"type": "broadcast_ok", "in_reply_to": 1, "x": 1});
        assert_eq!(done(c.on_reply(&bcast, Ok(extra))).kind, Info);
        let r = json!({"type": "read_ok", "in_reply_to": 2, "messages": [1, 2]});
        assert_eq!(done(c.on_reply(&read, Ok(r))).value, json!([1, 2]));
        let no_msgs = json!({"type": "read_ok", "in_reply_to": 2});
        assert_eq!(done(c.on_reply(&read, Ok(no_msgs))).kind, Info);
        let not_array = json!({"type": "read_ok", "in_reply_to": 2, "messages": 5});
        assert_eq!(done(c.on_reply(&read, Ok(not_array))).kind, Info);
        assert_eq!(done(c.on_reply(&read, Err(RpcFailure::Timeout))).kind, Fail);
        assert_eq!(
            done(c.on_reply(&bcast, Err(RpcFailure::Timeout))).kind,
            Info
        );
        let crash = RpcFailure::Error {
            code: 13,
            text: String::new(),
            body: Value::Null,
        };
        assert_eq!(done(c.on_reply(&bcast, Err(crash.clone()))).kind, Info);
        assert_eq!(done(c.on_reply(&read, Err(crash))).kind, Fail);
    }

    #[test]
    fn stable_element_with_latency_in_whole_ms() {
        let mut h = H::new();
        h.at(0.0, 0, Invoke, "broadcast", json!(0));
        h.at(1.0, 0, Done, "broadcast", json!(0));
        // A read on another node misses it, invoked 3.999998 ms in.
        h.at(3.999998, 1, Invoke, "read", Value::Null);
        h.at(4.5, 1, Done, "read", json!([]));
        h.at(5.0, 1, Invoke, "read", Value::Null);
        h.at(5.5, 1, Done, "read", json!([0]));
        let r = h.check();
        assert_eq!(r["valid?"], true);
        assert_eq!(r["stable-count"], 1);
        assert_eq!(r["stale"], json!([0]));
        // (3.999998 ms + 1 ns) − 1 ms = 2.999999 ms → 2.
        assert_eq!(r["stable-latencies"]["1"], 2);
        assert_eq!(r["worst-stale"][0]["stable-latency"], 2);
        assert_eq!(r["worst-stale"][0]["last-absent"]["index"], 2);
        assert!(r.get("lost-latencies").is_none());
    }

    #[test]
    fn last_invocation_decides_not_last_completion() {
        // The read that saw 0 was invoked *after* the read that missed it,
        // though it completed first: 0 is stable.
        let mut h = H::new();
        h.at(0.0, 0, Invoke, "broadcast", json!(0));
        h.at(1.0, 0, Done, "broadcast", json!(0));
        h.at(2.0, 1, Invoke, "read", Value::Null);
        h.at(3.0, 2, Invoke, "read", Value::Null);
        h.at(4.0, 2, Done, "read", json!([0]));
        h.at(5.0, 1, Done, "read", json!([]));
        let r = h.check();
        assert_eq!(r["valid?"], true);
        assert_eq!(r["stable-count"], 1);
        assert_eq!(r["lost-count"], 0);

        // Swapped invocation order: the missing read was invoked last, so 0
        // is lost, with its lost latency measured to the last present read.
        let mut h = H::new();
        h.at(0.0, 0, Invoke, "broadcast", json!(0));
        h.at(1.0, 0, Done, "broadcast", json!(0));
        h.at(2.0, 2, Invoke, "read", Value::Null);
        h.at(3.0, 1, Invoke, "read", Value::Null);
        h.at(4.0, 2, Done, "read", json!([0]));
        h.at(5.0, 1, Done, "read", json!([]));
        let r = h.check();
        assert_eq!(r["valid?"], false);
        assert_eq!(r["lost"], json!([0]));
        assert_eq!(r["lost-latencies"]["0"], 1);
        assert!(r.get("stable-latencies").is_none());
    }

    #[test]
    fn concurrent_miss_is_never_read_and_nothing_stable_is_unknown() {
        // The only read missing 0 was invoked before 0 was known: never read.
        let mut h = H::new();
        h.at(0.0, 0, Invoke, "broadcast", json!(0));
        h.at(1.0, 1, Invoke, "read", Value::Null);
        h.at(2.0, 0, Done, "broadcast", json!(0));
        h.at(3.0, 1, Done, "read", json!([]));
        let r = h.check();
        assert_eq!(r["valid?"], "unknown");
        assert_eq!(r["never-read"], json!([0]));
        assert_eq!(r["attempt-count"], 1);
    }

    #[test]
    fn unacknowledged_but_read_elements_count_and_failures_are_ignored() {
        let mut h = H::new();
        h.at(0.0, 0, Invoke, "broadcast", json!(7));
        h.at(5000.0, 0, Info, "broadcast", json!(7));
        h.at(1.0, 1, Invoke, "read", Value::Null);
        h.at(2.0, 1, Done, "read", json!([7]));
        h.at(3.0, 1, Invoke, "read", Value::Null);
        h.at(4.0, 1, Fail, "read", Value::Null);
        // A later miss of 7 (known from the read) makes it lost.
        h.at(6000.0, 2, Invoke, "read", Value::Null);
        h.at(6001.0, 2, Done, "read", json!([1.0, "7"]));
        let mut nemesis = Op {
            index: 0,
            time: 0,
            process: Process::Nemesis,
            kind: Info,
            f: "start-partition".into(),
            value: json!("one"),
            error: None,
            final_phase: false,
        };
        nemesis.time = 6_002_000_000;
        h.0.push(nemesis);
        let r = h.check();
        assert_eq!(r["lost"], json!([7]));
        assert_eq!(r["valid?"], false);
        assert_eq!(r["lost-latencies"]["1"], 0);
    }

    #[test]
    fn duplicates_warn_without_changing_the_verdict() {
        let mut h = H::new();
        h.at(0.0, 0, Invoke, "broadcast", json!(1));
        h.at(1.0, 0, Done, "broadcast", json!(1));
        h.at(2.0, 1, Invoke, "read", Value::Null);
        h.at(3.0, 1, Done, "read", json!([1, 1, 1, 9, 9]));
        let r = h.check();
        assert_eq!(r["valid?"], true);
        assert_eq!(r["duplicated-count"], 2);
        assert_eq!(r["duplicated"], json!({"1": 3, "9": 2}));
        assert!(r["warnings"].is_array());
    }

    #[test]
    fn quantiles_over_many_elements_and_sorted_outputs() {
        let mut h = H::new();
        // Elements 0..10 known at t = 0 ms; read k (at k·10 ms) sees only the
        // elements below k, so element e is last missed at e·10 ms.
        for k in (0..10u64).rev() {
            h.at(0.0, 0, Invoke, "broadcast", json!(k));
            h.at(0.0, 0, Done, "broadcast", json!(k));
        }
        for k in 0..10u64 {
            let present: Vec<u64> = (0..10).filter(|&e| e < k).collect();
            h.at((k * 10) as f64, 1, Invoke, "read", Value::Null);
            h.at((k * 10) as f64 + 0.5, 1, Done, "read", json!(present));
        }
        h.at(200.0, 1, Invoke, "read", Value::Null);
        h.at(201.0, 1, Done, "read", json!((0..10).collect::<Vec<u64>>()));
        let r = h.check();
        assert_eq!(r["valid?"], true);
        assert_eq!(r["stable-count"], 10);
        // Element k was last absent at k·10 ms → latencies 0, 10, …, 90.
        assert_eq!(
            r["stable-latencies"],
            json!({"0": 0, "0.5": 50, "0.95": 90, "0.99": 90, "1": 90})
        );
        assert_eq!(r["stale"], json!([1, 2, 3, 4, 5, 6, 7, 8, 9]));
        let worst: Vec<Value> = r["worst-stale"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["element"].clone())
            .collect();
        assert_eq!(
            worst,
            vec![
                json!(9),
                json!(8),
                json!(7),
                json!(6),
                json!(5),
                json!(4),
                json!(3),
                json!(2)
            ]
        );
    }
}
