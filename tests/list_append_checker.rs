//! The list-append checker (src/bench/elle/list_append) on hand-built
//! histories, one per anomaly, under the models that do and do not
//! prohibit it; then against a brute-force serializability oracle on
//! thousands of small random histories from a deliberately faulty store.

use glomers::bench::checkers::elle::list_append::{check_list_append, check_with_timeout};
use glomers::bench::history::{History, Op, OpType, Process};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};

/// A history builder: `t(process, kind, value)` appends one entry.
#[derive(Default)]
struct H(History);

impl H {
    fn t(&mut self, p: u64, kind: OpType, value: Value) -> &mut Self {
        let time = self.0.ops.len() as u64;
        self.0.push(Op {
            index: 0,
            time,
            process: Process::Client(p),
            kind,
            f: "txn".into(),
            value,
            error: None,
            final_phase: false,
        });
        self
    }
    /// An invocation (reads null) immediately followed by its completion.
    fn txn(&mut self, p: u64, kind: OpType, done: Value) -> &mut Self {
        let inv = blank_reads(&done);
        self.t(p, OpType::Invoke, inv).t(p, kind, done)
    }
    /// Two transactions invoked together, then completed together (so
    /// neither precedes the other in real time).
    fn pair(&mut self, a: Value, b: Value) -> &mut Self {
        self.t(100, OpType::Invoke, blank_reads(&a))
            .t(101, OpType::Invoke, blank_reads(&b))
            .t(100, OpType::Ok, a)
            .t(101, OpType::Ok, b)
    }
}

fn blank_reads(txn: &Value) -> Value {
    Value::Array(
        txn.as_array()
            .unwrap()
            .iter()
            .map(|m| match m.as_array().unwrap().as_slice() {
                [f, k, _] if f == "r" => json!(["r", k, null]),
                _ => m.clone(),
            })
            .collect(),
    )
}

fn check(h: &H, model: &str) -> Value {
    check_list_append(&h.0, &[model.to_string()])
}

fn types(r: &Value) -> Vec<String> {
    r["anomaly-types"]
        .as_array()
        .map(|a| a.iter().map(|t| t.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

fn has(r: &Value, anomaly: &str) -> bool {
    types(r).iter().any(|t| t == anomaly)
}

use OpType::{Fail, Info, Invoke, Ok as Okay};

/// x: T0 appends 1; T1 reads [1] and appends 2; T2 reads [1, 2].
fn chain() -> H {
    let mut h = H::default();
    h.txn(0, Okay, json!([["append", "x", 1]]))
        .txn(1, Okay, json!([["r", "x", [1]], ["append", "x", 2]]))
        .txn(2, Okay, json!([["r", "x", [1, 2]], ["r", "y", null]]));
    h
}

const MODELS: [&str; 6] = [
    "read-uncommitted",
    "read-committed",
    "repeatable-read",
    "snapshot-isolation",
    "serializable",
    "strict-serializable",
];

#[test]
fn a_serial_history_is_valid_under_every_model() {
    let h = chain();
    for m in MODELS {
        let r = check(&h, m);
        assert_eq!(r["valid?"], true, "{m}: {r}");
    }
}

#[test]
fn g0_write_cycle() {
    // T0 appends x 1 before T1's x 2, but T1's y 1 before T0's y 2.
    let mut h = H::default();
    h.pair(
        json!([["append", "x", 1], ["append", "y", 2]]),
        json!([["append", "x", 2], ["append", "y", 1]]),
    )
    .txn(2, Okay, json!([["r", "x", [1, 2]], ["r", "y", [1, 2]]]));
    for m in MODELS {
        let r = check(&h, m);
        assert_eq!(r["valid?"], false, "{m}: {r}");
        assert!(has(&r, "G0"), "{m}: {r}");
    }
    let r = check(&h, "read-uncommitted");
    assert_eq!(r["not"], json!(["read-uncommitted"]), "{r}");
    let case = &r["anomalies"]["G0"][0];
    let steps = case["detail"]["steps"].as_array().unwrap();
    assert!(steps.iter().all(|s| s["type"] == "ww"), "{case}");
    assert!(
        case["explanation"].as_str().unwrap().contains("appended"),
        "{case}"
    );
}

#[test]
fn g1a_aborted_read_and_dirty_update() {
    // T1 failed, yet its element is read, and T2 committed after it.
    let mut h = chain();
    h.txn(3, Fail, json!([["append", "z", 1]]))
        .txn(4, Okay, json!([["append", "z", 2]]))
        .txn(5, Okay, json!([["r", "z", [1, 2]]]));
    let rc = check(&h, "read-committed");
    assert_eq!(rc["valid?"], false, "{rc}");
    assert_eq!(types(&rc), ["G1a", "dirty-update"], "{rc}");
    assert_eq!(rc["not"], json!(["read-committed"]));
    assert_eq!(rc["anomalies"]["G1a"][0]["detail"]["element"], 1);
    assert_eq!(
        rc["anomalies"]["dirty-update"][0]["detail"]["values"],
        json!([1, 2])
    );
    assert_eq!(check(&h, "read-uncommitted")["valid?"], true);
    // An info append is not known to have failed: neither anomaly.
    let mut h = chain();
    h.txn(3, Info, json!([["append", "z", 1]]))
        .txn(4, Okay, json!([["append", "z", 2]]))
        .txn(5, Okay, json!([["r", "z", [1, 2]]]));
    assert_eq!(check(&h, "strict-serializable")["valid?"], true);
}

#[test]
fn g1b_intermediate_read() {
    let mut h = chain();
    h.txn(3, Okay, json!([["append", "z", 1], ["append", "z", 2]]))
        .txn(4, Okay, json!([["r", "z", [1]]]));
    let rc = check(&h, "read-committed");
    assert_eq!(types(&rc), ["G1b"], "{rc}");
    assert_eq!(check(&h, "read-uncommitted")["valid?"], true);
    // Reading one's own intermediate append is fine.
    let mut h = chain();
    h.txn(
        3,
        Okay,
        json!([["append", "z", 1], ["r", "z", [1]], ["append", "z", 2]]),
    );
    assert_eq!(check(&h, "strict-serializable")["valid?"], true);
}

#[test]
fn g1c_circular_information_flow() {
    let mut h = chain();
    h.pair(
        json!([["append", "a", 1], ["r", "b", [1]]]),
        json!([["append", "b", 1], ["r", "a", [1]]]),
    );
    let rc = check(&h, "read-committed");
    assert_eq!(types(&rc), ["G1c"], "{rc}");
    let steps = rc["anomalies"]["G1c"][0]["detail"]["steps"]
        .as_array()
        .unwrap();
    assert!(steps.iter().all(|s| s["type"] == "wr"), "{rc}");
    assert_eq!(check(&h, "read-uncommitted")["valid?"], true);
}

#[test]
fn g_single_read_skew() {
    // T1 sees T0's append to x but not its append to y.
    let mut h = H::default();
    h.pair(
        json!([["append", "x", 1], ["append", "y", 1]]),
        json!([["r", "x", [1]], ["r", "y", null]]),
    );
    assert_eq!(check(&h, "read-committed")["valid?"], true);
    for m in ["repeatable-read", "snapshot-isolation", "serializable"] {
        let r = check(&h, m);
        assert_eq!(types(&r), ["G-single-item"], "{m}: {r}");
    }
    let r = check(&h, "serializable");
    let text = r["anomalies"]["G-single-item"][0]["explanation"]
        .as_str()
        .unwrap();
    assert!(text.contains("initial (empty) state"), "{text}");
}

#[test]
fn g2_write_skew() {
    let mut h = H::default();
    h.pair(
        json!([["r", "x", null], ["append", "y", 1]]),
        json!([["r", "y", null], ["append", "x", 1]]),
    );
    assert_eq!(check(&h, "snapshot-isolation")["valid?"], true);
    for m in ["repeatable-read", "serializable", "strict-serializable"] {
        let r = check(&h, m);
        assert_eq!(r["valid?"], false, "{m}: {r}");
        assert!(has(&r, "G2-item"), "{m}: {r}");
    }
}

#[test]
fn internal_inconsistency() {
    // T1 appends x 2 after an unknown prefix, then reads a list that does
    // not end with it.
    let mut h = H::default();
    h.txn(0, Okay, json!([["append", "x", 1]]))
        .txn(1, Okay, json!([["append", "x", 2], ["r", "x", [1]]]))
        .txn(2, Okay, json!([["r", "x", [1, 2]]]));
    let r = check(&h, "serializable");
    assert!(has(&r, "internal"), "{r}");
    assert_eq!(
        r["anomalies"]["internal"][0]["detail"]["expected"],
        json!(["...", 2])
    );
    assert_eq!(check(&h, "read-committed")["valid?"], true);
    // A read that changes with no append in between.
    let mut h = chain();
    h.txn(3, Okay, json!([["r", "x", [1]], ["r", "x", [1, 2]]]));
    let r = check(&h, "serializable");
    assert_eq!(
        r["anomalies"]["internal"][0]["detail"]["expected"],
        json!([1]),
        "{r}"
    );
}

#[test]
fn incompatible_orders() {
    let mut h = H::default();
    h.pair(json!([["append", "x", 1]]), json!([["append", "x", 2]]))
        .txn(2, Okay, json!([["r", "x", [1, 2]]]))
        .txn(3, Okay, json!([["r", "x", [2, 1]]]));
    let rc = check(&h, "read-committed");
    assert_eq!(rc["valid?"], false, "{rc}");
    assert!(has(&rc, "incompatible-order"), "{rc}");
    assert_eq!(
        rc["anomalies"]["incompatible-order"][0]["detail"]["values"],
        json!([[1, 2], [2, 1]])
    );
    assert!(!has(&check(&h, "read-uncommitted"), "incompatible-order"));
}

#[test]
fn duplicate_elements_fail_even_read_uncommitted() {
    let mut h = chain();
    h.txn(3, Okay, json!([["r", "x", [1, 1, 2]]]));
    let r = check(&h, "read-uncommitted");
    assert_eq!(r["valid?"], false, "{r}");
    assert!(has(&r, "duplicate-elements"), "{r}");
    assert_eq!(
        r["anomalies"]["duplicate-elements"][0]["detail"]["duplicates"],
        json!({"1": 2})
    );
}

#[test]
fn lost_update() {
    let mut h = H::default();
    h.txn(0, Okay, json!([["append", "x", 1]])).pair(
        json!([["r", "x", [1]], ["append", "x", 2]]),
        json!([["r", "x", [1]], ["append", "x", 3]]),
    );
    assert_eq!(check(&h, "read-committed")["valid?"], true);
    for m in ["repeatable-read", "snapshot-isolation", "serializable"] {
        let r = check(&h, m);
        assert!(has(&r, "lost-update"), "{m}: {r}");
    }
}

#[test]
fn strict_serializability_needs_real_time_order() {
    // T1 starts after T0 committed its append, yet reads x empty.
    let mut h = H::default();
    h.txn(0, Okay, json!([["append", "x", 1]]))
        .txn(1, Okay, json!([["r", "x", null]]));
    assert_eq!(check(&h, "serializable")["valid?"], true);
    let r = check(&h, "strict-serializable");
    assert_eq!(r["valid?"], false, "{r}");
    assert!(has(&r, "G-single-item-realtime"), "{r}");
    assert_eq!(r["not"], json!(["strong-snapshot-isolation"]), "{r}");
    assert!(r["also-not"]
        .as_array()
        .unwrap()
        .contains(&json!("strict-serializable")));
    // Maelstrom's default is strict serializability.
    assert_eq!(
        check_list_append(&h.0, &["strict-serializable".into()]),
        glomers::bench::workloads::txn_list_append::check_history(
            &h.0,
            &glomers::bench::opts::TestOpts::default()
        )
        .as_object()
        .map(|m| {
            let mut m = m.clone();
            m.remove("malformed-responses");
            m.remove("mismatched-responses");
            Value::Object(m)
        })
        .unwrap()
    );
}

#[test]
fn observed_info_appends_count_and_unobserved_ones_cannot_close_a_cycle() {
    // An info transaction whose append was read committed.
    let mut h = H::default();
    h.txn(0, Info, json!([["append", "x", 1], ["append", "y", 1]]))
        .txn(1, Okay, json!([["r", "x", [1]], ["r", "y", null]]));
    let r = check(&h, "serializable");
    assert!(has(&r, "G-single-item"), "{r}");
    // Never read: it may not have happened at all.
    let mut h = chain();
    h.txn(3, Info, json!([["append", "x", 3], ["append", "y", 1]]))
        .txn(4, Okay, json!([["r", "y", null], ["r", "x", [1, 2]]]));
    assert_eq!(check(&h, "strict-serializable")["valid?"], true);
}

#[test]
fn what_elle_cannot_judge_is_unknown() {
    // One transaction: no dependency at all.
    let mut h = H::default();
    h.txn(0, Okay, json!([["append", "x", 1]]));
    let r = check(&h, "serializable");
    assert_eq!(r["valid?"], "unknown", "{r}");
    assert_eq!(types(&r), ["empty-transaction-graph"]);
    // An element nobody appended (Elle 0.1.6 throws).
    let mut h = chain();
    h.txn(3, Okay, json!([["r", "x", [1, 2, 99]]]));
    let r = check(&h, "serializable");
    assert_eq!(r["valid?"], "unknown", "{r}");
    assert_eq!(r["unwritten-elements"], json!([["x", 99]]));
    // The same element appended twice.
    let mut h = chain();
    h.txn(3, Okay, json!([["append", "x", 1]]));
    let r = check(&h, "serializable");
    assert_eq!(r["valid?"], "unknown", "{r}");
    assert!(
        r["error"].as_str().unwrap().contains("more than once"),
        "{r}"
    );
    // Register micro-ops in an append history.
    let mut h = chain();
    h.txn(3, Okay, json!([["w", "x", 5]]));
    assert_eq!(check(&h, "serializable")["valid?"], "unknown");
    // A model nobody knows, and one this checker does not decide.
    for m in ["serialisable", "causal-cerone"] {
        assert_eq!(check(&chain(), m)["valid?"], "unknown", "{m}");
    }
}

#[test]
fn a_timed_out_search_is_unknown_unless_something_prohibited_was_found() {
    // Write skew under snapshot isolation, with no time to search: Elle
    // reports the timeout (and a fallback cycle SI allows): unknown.
    let mut h = H::default();
    h.pair(
        json!([["r", "x", null], ["append", "y", 1]]),
        json!([["r", "y", null], ["append", "x", 1]]),
    );
    let zero = std::time::Duration::ZERO;
    let r = check_with_timeout(&h.0, &["snapshot-isolation".into()], zero);
    assert_eq!(r["valid?"], "unknown", "{r}");
    assert!(has(&r, "cycle-search-timeout"), "{r}");
    // Under serializable the same cycle is prohibited: invalid.
    let r = check_with_timeout(&h.0, &["serializable".into()], zero);
    assert_eq!(r["valid?"], false, "{r}");
}

// ---------------------------------------------------------------------
// The brute-force oracle.

/// One transaction of a random history, as the oracle sees it.
#[derive(Debug, Clone)]
struct OTxn {
    /// ok, info or fail.
    kind: OpType,
    /// (append?, key, element or read list; reads of `null` are empty).
    mops: Vec<(bool, u64, Vec<u64>)>,
    /// Invocation and completion times (info: never completes).
    invoke: u64,
    complete: u64,
}

/// Every key's list, sorted by key: what the oracle memoizes on.
type Snapshot = Vec<(u64, Vec<u64>)>;

/// The oracle's depth-first search over orders of transactions.
struct Oracle<'a> {
    /// The history's transactions.
    txns: &'a [OTxn],
    /// Those that may be placed: `ok` and `info`.
    candidates: Vec<usize>,
    /// Those that must be placed: `ok` (a bit per transaction).
    must: u32,
    /// Whether real-time order binds.
    strict: bool,
    /// (placed set, lists) already explored without success.
    seen: HashSet<(u32, Snapshot)>,
}

/// Is there an order of all `ok` transactions, plus any `info` ones,
/// that explains every `ok` read from empty lists (and, if `strict`,
/// keeps every transaction after those that completed before it began)?
fn oracle(txns: &[OTxn], strict: bool) -> bool {
    let candidates: Vec<usize> = (0..txns.len()).filter(|&i| txns[i].kind != Fail).collect();
    let must: u32 = candidates
        .iter()
        .filter(|&&i| txns[i].kind == Okay)
        .fold(0, |m, &i| m | 1 << i);
    let mut o = Oracle {
        txns,
        candidates,
        must,
        strict,
        seen: HashSet::new(),
    };
    o.search(0, &mut HashMap::new())
}

impl Oracle<'_> {
    fn search(&mut self, placed: u32, state: &mut HashMap<u64, Vec<u64>>) -> bool {
        if placed & self.must == self.must {
            return true;
        }
        let mut key: Snapshot = state.iter().map(|(k, v)| (*k, v.clone())).collect();
        key.sort();
        if !self.seen.insert((placed, key)) {
            return false;
        }
        let txns = self.txns;
        for i in self.candidates.clone() {
            if placed & (1 << i) != 0 {
                continue;
            }
            let x = &txns[i];
            // Real time: everything ok that completed before x began goes
            // first (a completion at t precedes an invocation at t: see
            // `to_history`).
            let blocked = self.strict
                && self.candidates.iter().any(|&j| {
                    placed & (1 << j) == 0 && txns[j].kind == Okay && txns[j].complete <= x.invoke
                });
            if blocked {
                continue;
            }
            let saved = state.clone();
            let mut ok = true;
            for (append, k, v) in &x.mops {
                let list = state.entry(*k).or_default();
                if *append {
                    list.push(v[0]);
                } else if x.kind == Okay && list != v {
                    ok = false;
                    break;
                }
            }
            if ok && self.search(placed | 1 << i, state) {
                return true;
            }
            *state = saved;
        }
        false
    }
}

/// A random history from a store with random faults: stale reads, lost
/// appends, failed transactions that still took effect, and executions
/// outside the transaction's real-time window. Returns the history and
/// the oracle's view of it.
fn random_history(rng: &mut StdRng) -> (History, Vec<OTxn>) {
    let n = rng.gen_range(2..=6);
    let keys = rng.gen_range(1..=3u64);
    let mut next = vec![1u64; keys as usize];
    let mut txns: Vec<OTxn> = Vec::new();
    for _ in 0..n {
        let len = rng.gen_range(1..=3);
        let mops = (0..len)
            .map(|_| {
                let k = rng.gen_range(0..keys);
                if rng.gen_bool(0.5) {
                    next[k as usize] += 1;
                    (true, k, vec![next[k as usize] - 1])
                } else {
                    (false, k, vec![])
                }
            })
            .collect();
        let invoke = rng.gen_range(0..30);
        let kind = match rng.gen_range(0..20) {
            0 | 1 => Info,
            2 => Fail,
            _ => Okay,
        };
        txns.push(OTxn {
            kind,
            mops,
            invoke,
            complete: invoke + rng.gen_range(1..10),
        });
    }
    // Execute in order of a point inside (usually) each window.
    let mut order: Vec<(u64, usize)> = txns
        .iter()
        .enumerate()
        .map(|(i, x)| {
            let at = if rng.gen_bool(0.1) {
                rng.gen_range(0..40)
            } else {
                rng.gen_range(x.invoke..=x.complete)
            };
            (at, i)
        })
        .collect();
    order.sort();
    let faulty = rng.gen_bool(0.6);
    let mut store: HashMap<u64, Vec<u64>> = HashMap::new();
    for &(_, i) in &order {
        let applies = match txns[i].kind {
            Okay => true,
            Info => rng.gen_bool(0.5),
            _ => faulty && rng.gen_bool(0.3),
        };
        for m in 0..txns[i].mops.len() {
            let (append, k, v) = txns[i].mops[m].clone();
            let list = store.entry(k).or_default();
            if append {
                if applies && !(faulty && rng.gen_bool(0.1)) {
                    list.push(v[0]);
                }
            } else {
                let keep = if faulty && rng.gen_bool(0.2) {
                    rng.gen_range(0..=list.len())
                } else {
                    list.len()
                };
                txns[i].mops[m].2 = list[..keep].to_vec();
            }
        }
    }
    (to_history(&txns), txns)
}

fn to_history(txns: &[OTxn]) -> History {
    let mop = |m: &(bool, u64, Vec<u64>), fill: bool| -> Value {
        match m {
            (true, k, v) => json!(["append", k, v[0]]),
            (false, k, v) if fill && !v.is_empty() => json!(["r", k, v]),
            (false, k, _) => json!(["r", k, null]),
        }
    };
    // (time, completion first, process, entry)
    let mut entries: Vec<(u64, u8, usize, OpType, Value)> = Vec::new();
    for (p, x) in txns.iter().enumerate() {
        let inv: Vec<Value> = x.mops.iter().map(|m| mop(m, false)).collect();
        entries.push((2 * x.invoke + 1, 1, p, Invoke, json!(inv)));
        let done: Vec<Value> = x.mops.iter().map(|m| mop(m, x.kind == Okay)).collect();
        let at = if x.kind == Info { 1000 } else { 2 * x.complete };
        entries.push((at, 0, p, x.kind, json!(done)));
    }
    entries.sort_by_key(|e| (e.0, e.1, e.2));
    let mut h = History::new();
    for (time, _, p, kind, value) in entries {
        h.push(Op {
            index: 0,
            time,
            process: Process::Client(p as u64),
            kind,
            f: "txn".into(),
            value,
            error: None,
            final_phase: false,
        });
    }
    h
}

#[test]
fn verdicts_agree_with_a_brute_force_oracle() {
    let mut rng = StdRng::seed_from_u64(20261202);
    let mut tally: HashMap<(&str, String, bool), usize> = HashMap::new();
    for round in 0..4000 {
        let (h, txns) = random_history(&mut rng);
        let all_ok = txns.iter().all(|x| x.kind == Okay);
        for (model, strict) in [("serializable", false), ("strict-serializable", true)] {
            let r = check_list_append(&h, &[model.to_string()]);
            let truth = oracle(&txns, strict);
            let verdict = r["valid?"].to_string();
            *tally.entry((model, verdict.clone(), truth)).or_default() += 1;
            // Sound: an anomaly is never reported on a history that has a
            // legal order.
            if r["valid?"] == false {
                assert!(
                    !truth,
                    "round {round}, {model}: oracle found an order\n{}\n{r}",
                    h.to_jsonl()
                );
            }
            // Complete when every transaction committed: a history with no
            // legal order always shows an anomaly.
            if all_ok && r["valid?"] == true {
                assert!(
                    truth,
                    "round {round}, {model}: missed\n{}\n{r}",
                    h.to_jsonl()
                );
            }
            if all_ok && !truth {
                assert_eq!(
                    r["valid?"],
                    false,
                    "round {round}, {model}\n{}\n{r}",
                    h.to_jsonl()
                );
            }
        }
    }
    // The random histories exercise both verdicts under both models.
    for model in ["serializable", "strict-serializable"] {
        for truth in [true, false] {
            let n = tally
                .get(&(model, truth.to_string(), truth))
                .copied()
                .unwrap_or(0);
            assert!(n > 200, "{model} {truth}: only {n}: {tally:?}");
        }
    }
}
