//! The linearizability checker against a brute-force oracle on random small
//! `lin-kv` histories, and on hand-written anomalies.
//!
//! The oracle path shares nothing with the checker's but the history type:
//! its own decoding (JSON values, no interning, no dropped operations) and
//! [`oracle::linearizable`]'s enumeration of every order.
//!
//! `random_histories_agree_with_the_oracle` checks 20,000 histories in a
//! release build and 2,000 in a debug build, where the same loop is roughly
//! thirty times slower (`GLOMERS_ORACLE_HISTORIES=N` for more: the issue's
//! 100,000 are recorded in `maelstrom-runs/records/linearizable.md`); each
//! history is checked three ways: by the whole checker, by the search alone
//! without its static pre-check, and by the pre-check alone (which may only
//! ever reject keys the oracle rejects).

use glomers::bench::check::Validity;
use glomers::bench::checkers::linearizable::model::CasRegister;
use glomers::bench::checkers::linearizable::model::{Effect, Model};
use glomers::bench::checkers::linearizable::register::{by_key, check_history, decode};
use glomers::bench::checkers::linearizable::search::{check_with, static_check};
use glomers::bench::checkers::linearizable::Verdict;
use glomers::bench::checkers::linearizable::{oracle, Budget, Entry};
use glomers::bench::history::{History, Op, OpType};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

/// A register over raw JSON values, for the oracle.
struct JsonRegister;

#[derive(Debug, Clone, PartialEq, Eq)]
enum JsonOp {
    Read(Value),
    Write(Value),
    Cas(Value, Value),
}

impl Model for JsonRegister {
    type State = String;
    type Op = JsonOp;

    fn init(&self) -> String {
        "null".into()
    }

    fn step(&self, s: &String, op: &JsonOp) -> Option<String> {
        match op {
            JsonOp::Read(v) if v.is_null() || text(v) == *s => Some(s.clone()),
            JsonOp::Read(_) => None,
            JsonOp::Write(v) => Some(text(v)),
            JsonOp::Cas(a, b) => (text(a) == *s).then(|| text(b)),
        }
    }

    fn effect(&self, _: &JsonOp) -> Effect {
        Effect::Mutating
    }
}

/// A value's JSON text: the oracle's register state (structural equality).
fn text(v: &Value) -> String {
    v.to_string()
}

/// The oracle's verdict for one key of a lin-kv history.
fn oracle_verdict(h: &History, key: u64) -> bool {
    let partner = h.pairs();
    let mut entries = Vec::new();
    for op in &h.ops {
        if op.kind != OpType::Invoke || op.value[0] != key {
            continue;
        }
        let done = partner[op.index].map(|c| &h.ops[c]);
        let kind = done.map(|d| d.kind);
        if kind == Some(OpType::Fail) {
            continue;
        }
        let definite = kind == Some(OpType::Ok);
        let v = &op.value[1];
        let jop = match op.f.as_str() {
            "read" if definite => JsonOp::Read(done.unwrap().value[1].clone()),
            "read" => JsonOp::Read(Value::Null),
            "write" => JsonOp::Write(v.clone()),
            _ => JsonOp::Cas(v[0].clone(), v[1].clone()),
        };
        entries.push(Entry {
            op: jop,
            call: op.index as u64,
            ret: if definite {
                partner[op.index].map(|c| c as u64)
            } else {
                None
            },
        });
    }
    oracle::linearizable(&JsonRegister, &entries)
}

fn op(process: u64, kind: OpType, f: &str, value: Value) -> Op {
    Op::client(0, process, kind, f, value)
}

/// A random lin-kv history: a few processes, one or two keys, values 0–2,
/// reads that mostly see a simulated register and sometimes anything, cas
/// outcomes that mostly follow the simulation, some info, fail and
/// never-completed operations.
fn random_history(rng: &mut StdRng) -> History {
    let procs = rng.gen_range(1..=4u64);
    let mut left = rng.gen_range(1..=7usize);
    let keys = rng.gen_range(1..=2u64);
    let mut reg = [Value::Null, Value::Null];
    let mut pending: Vec<Option<Op>> = vec![None; procs as usize];
    let mut h = History::new();
    let val = |rng: &mut StdRng| json!(rng.gen_range(0..3));
    while left > 0 || pending.iter().any(Option::is_some) {
        let p = rng.gen_range(0..procs) as usize;
        if let Some(inv) = pending[p].take() {
            if left == 0 && rng.gen_bool(0.1) {
                continue; // never completes
            }
            let k = inv.value[0].as_u64().unwrap() as usize;
            let roll: f64 = rng.gen();
            let mut done = inv.clone();
            done.kind = if roll < 0.12 {
                OpType::Info
            } else {
                OpType::Ok
            };
            match inv.f.as_str() {
                "read" if done.kind == OpType::Ok => {
                    let seen = if rng.gen_bool(0.75) {
                        reg[k].clone()
                    } else {
                        val(rng)
                    };
                    done.value = json!([k, seen]);
                }
                "write" if done.kind == OpType::Ok || rng.gen_bool(0.5) => {
                    reg[k] = inv.value[1].clone();
                }
                "cas" => {
                    let matches = inv.value[1][0] == reg[k];
                    if matches && (done.kind == OpType::Ok || rng.gen_bool(0.5)) {
                        reg[k] = inv.value[1][1].clone();
                    } else if !matches && done.kind == OpType::Ok && rng.gen_bool(0.8) {
                        done.kind = OpType::Fail;
                    }
                }
                _ => {}
            }
            if roll > 0.95 {
                done.kind = OpType::Fail;
            }
            h.push(done);
        } else if left > 0 {
            left -= 1;
            let k = rng.gen_range(0..keys);
            let inv = match rng.gen_range(0..3) {
                0 => op(p as u64, OpType::Invoke, "read", json!([k, null])),
                1 => op(p as u64, OpType::Invoke, "write", json!([k, val(rng)])),
                _ => op(
                    p as u64,
                    OpType::Invoke,
                    "cas",
                    json!([k, [val(rng), val(rng)]]),
                ),
            };
            pending[p] = Some(inv.clone());
            h.push(inv);
        }
    }
    h
}

/// Histories the oracle cross-check runs by default: cheap enough for CI
/// (about a second in a release build). `GLOMERS_ORACLE_HISTORIES=100000`
/// runs the full cross-check (recorded in
/// `maelstrom-runs/records/linearizable.md`).
const ORACLE_HISTORIES: usize = 20_000;

#[test]
fn random_histories_agree_with_the_oracle() {
    let default = if cfg!(debug_assertions) {
        ORACLE_HISTORIES / 10
    } else {
        ORACLE_HISTORIES
    };
    let count = std::env::var("GLOMERS_ORACLE_HISTORIES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default);
    let mut rng = StdRng::seed_from_u64(14);
    let (mut valid, mut invalid, mut static_hits) = (0, 0, 0);
    for n in 0..count {
        let h = random_history(&mut rng);
        let result = check_history(&h, &Budget::default());
        let expected = (0..2).all(|k| oracle_verdict(&h, k));
        let got = Validity::of(&result);
        // The search alone (without the static pre-check) agrees too, and
        // the pre-check alone never calls a linearizable key invalid.
        let mut searched = true;
        for (key, ops) in by_key(&h) {
            let d = decode(&h, &ops, true).expect("decodes");
            let (v, _) = check_with(&CasRegister, &d.entries, &Budget::default(), false);
            searched &= v == Verdict::Linearizable;
            if static_check(&CasRegister, &d.entries).is_some() {
                static_hits += 1;
                let k = key.0.as_u64().expect("integer keys");
                assert!(
                    !oracle_verdict(&h, k),
                    "the static pre-check rejects key {k} of history {n}:\n{}",
                    h.to_jsonl()
                );
            }
        }
        assert_eq!(
            searched,
            expected,
            "search alone, history {n}:\n{}",
            h.to_jsonl()
        );
        assert_eq!(
            got,
            Validity::from(expected),
            "history {n} disagrees with the oracle:\n{}\n{result:#}",
            h.to_jsonl()
        );
        if expected {
            valid += 1;
        } else {
            invalid += 1;
        }
    }
    eprintln!("{count} histories: {valid} linearizable, {invalid} not; the pre-check decided {static_hits} key(s)");
    // Both verdicts are well represented, so the agreement means something.
    assert!(
        valid > count / 5 && invalid > count / 5 && static_hits > count / 100,
        "{valid} valid, {invalid} invalid, {static_hits} decided by the pre-check"
    );
}

/// A history from (process, type, f, value) rows.
fn history(rows: &[(u64, OpType, &str, Value)]) -> History {
    let mut h = History::new();
    for (p, kind, f, value) in rows {
        h.push(op(*p, *kind, f, value.clone()));
    }
    h
}

use OpType::{Fail, Info, Invoke, Ok as Done};

fn check(h: &History) -> Value {
    check_history(h, &Budget::default())
}

#[test]
fn stale_read_is_reported_with_its_window() {
    let h = history(&[
        (0, Invoke, "write", json!([7, 1])),
        (0, Done, "write", json!([7, 1])),
        (1, Invoke, "write", json!([7, 2])),
        (1, Done, "write", json!([7, 2])),
        (2, Invoke, "read", json!([7, null])),
        (0, Invoke, "cas", json!([7, [2, 3]])),
        (2, Done, "read", json!([7, 1])),
        (0, Done, "cas", json!([7, [2, 3]])),
    ]);
    let r = check(&h);
    assert_eq!(r["valid?"], false);
    assert_eq!(r["failures"], json!([7]));
    let lin = &r["results"]["7"]["linearizable"];
    assert_eq!(lin["op"]["index"], 6);
    assert_eq!(lin["previous-ok"]["index"], 3);
    let ex = &lin["explanation"];
    assert_eq!(ex["key"], 7);
    // Before the read, the register held 2 (or 3 after the concurrent cas).
    assert_eq!(ex["possible-values"], json!([2, 3]));
    assert_eq!(ex["window"].as_array().unwrap().len(), 2);
    assert!(
        ex["text"].as_str().unwrap().contains("read returned 1"),
        "{ex}"
    );
    assert_eq!(r["explanations"].as_array().unwrap().len(), 1);
}

#[test]
fn lost_write_and_wrong_cas_are_caught() {
    // A write acknowledged, then a read sees the older value.
    let lost = history(&[
        (0, Invoke, "write", json!([1, 4])),
        (0, Done, "write", json!([1, 4])),
        (0, Invoke, "write", json!([1, 0])),
        (0, Done, "write", json!([1, 0])),
        (1, Invoke, "read", json!([1, null])),
        (1, Done, "read", json!([1, 4])),
    ]);
    assert_eq!(check(&lost)["valid?"], false);
    // A cas from 3 succeeded while the register held 1.
    let cas = history(&[
        (0, Invoke, "write", json!([1, 1])),
        (0, Done, "write", json!([1, 1])),
        (1, Invoke, "cas", json!([1, [3, 4]])),
        (1, Done, "cas", json!([1, [3, 4]])),
    ]);
    let r = check(&cas);
    assert_eq!(r["valid?"], false);
    assert_eq!(
        r["results"]["1"]["linearizable"]["explanation"]["possible-values"],
        json!([1])
    );
    // The same cas failing (error 22) is fine: it did not happen.
    let failed = history(&[
        (0, Invoke, "write", json!([1, 1])),
        (0, Done, "write", json!([1, 1])),
        (1, Invoke, "cas", json!([1, [3, 4]])),
        (1, Fail, "cas", json!([1, [3, 4]])),
        (1, Invoke, "read", json!([1, null])),
        (1, Done, "read", json!([1, 1])),
    ]);
    assert_eq!(check(&failed)["valid?"], true);
}

#[test]
fn info_ops_may_or_may_not_have_happened() {
    // The timed-out write took effect: a later read sees it.
    let did = history(&[
        (0, Invoke, "write", json!([2, 3])),
        (0, Info, "write", json!([2, 3])),
        (1, Invoke, "read", json!([2, null])),
        (1, Done, "read", json!([2, 3])),
        (1, Invoke, "read", json!([2, null])),
        (1, Done, "read", json!([2, 3])),
    ]);
    assert_eq!(check(&did)["valid?"], true);
    // It did not: a later read sees the value before it.
    let didnt = history(&[
        (0, Invoke, "write", json!([2, 1])),
        (0, Done, "write", json!([2, 1])),
        (0, Invoke, "write", json!([2, 3])),
        (0, Info, "write", json!([2, 3])),
        (1, Invoke, "read", json!([2, null])),
        (1, Done, "read", json!([2, 1])),
    ]);
    assert_eq!(check(&didnt)["valid?"], true);
    // But it happened at most once: 1, 3, then 1 again is impossible.
    let flicker = history(&[
        (0, Invoke, "write", json!([2, 1])),
        (0, Done, "write", json!([2, 1])),
        (0, Invoke, "write", json!([2, 3])),
        (0, Info, "write", json!([2, 3])),
        (1, Invoke, "read", json!([2, null])),
        (1, Done, "read", json!([2, 3])),
        (1, Invoke, "read", json!([2, null])),
        (1, Done, "read", json!([2, 1])),
    ]);
    assert_eq!(check(&flicker)["valid?"], false);
    // A never-completed cas may have happened.
    let open = history(&[
        (0, Invoke, "write", json!([2, 1])),
        (0, Done, "write", json!([2, 1])),
        (0, Invoke, "cas", json!([2, [1, 2]])),
        (1, Invoke, "read", json!([2, null])),
        (1, Done, "read", json!([2, 2])),
    ]);
    assert_eq!(check(&open)["valid?"], true);
}

#[test]
fn concurrent_writes_may_land_in_either_order() {
    let h = history(&[
        (0, Invoke, "write", json!([0, 1])),
        (1, Invoke, "write", json!([0, 2])),
        (0, Done, "write", json!([0, 1])),
        (1, Done, "write", json!([0, 2])),
        (2, Invoke, "read", json!([0, null])),
        (2, Done, "read", json!([0, 1])),
        (2, Invoke, "read", json!([0, null])),
        (2, Done, "read", json!([0, 1])),
    ]);
    assert_eq!(check(&h)["valid?"], true);
    // …but not both orders at once.
    let mut both = h.clone();
    both.push(op(2, Invoke, "read", json!([0, null])));
    both.push(op(2, Done, "read", json!([0, 2])));
    assert_eq!(check(&both)["valid?"], false);
}

#[test]
fn keys_are_independent_and_bad_shapes_are_unknown() {
    let h = history(&[
        (0, Invoke, "write", json!([0, 1])),
        (0, Done, "write", json!([0, 1])),
        (1, Invoke, "read", json!([1, null])),
        (1, Done, "read", json!([1, 1])),
    ]);
    let r = check(&h);
    assert_eq!(r["valid?"], false);
    assert_eq!(r["failures"], json!([1]));
    assert_eq!(r["results"]["0"]["valid?"], true);
    let odd = history(&[
        (0, Invoke, "cas", json!([0, 5])),
        (0, Done, "cas", json!([0, 5])),
    ]);
    let r = check(&odd);
    assert_eq!(r["valid?"], "unknown");
    assert!(r["results"]["0"]["linearizable"]["cause"]
        .as_str()
        .unwrap()
        .contains("unexpected shape"));
}
