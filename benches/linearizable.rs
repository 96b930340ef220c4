//! Cost of the linearizability checker (`src/bench/linearizable/`) on
//! lin-kv histories, and an exporter of the same histories for Porcupine.
//!
//! ```sh
//! cargo bench --bench linearizable -- [--export DIR] [--reps N] [--files-only] [HISTORY.jsonl …]
//! ```
//!
//! (`--files-only` leaves out the built-in histories, e.g. to profile one
//! file.)
//!
//! Each `HISTORY.jsonl` is a bench run's `history.jsonl` (e.g. a
//! `glomers test -w lin-kv … --nemesis partition` run of a correct node);
//! after them come built-in adversarial single-key histories: many
//! processes, 30–50 % of the operations indeterminate, generated from a
//! simulated register (valid), with one late read shifted to another value
//! (often still explainable), or with one late read of a value nothing
//! wrote (invalid, and the worst case: every order before it is tried).
//! For each history it prints the checker's verdict and three median wall
//! times of `--reps` runs (default 5), single-threaded:
//!
//! - `core`: from the encoded in-memory history (keys and values already
//!   integers, `fail`s dropped: `register::encode`, done once outside the
//!   timing) to a verdict per key — partition and search. This is what
//!   Porcupine's `CheckOperations` covers on its `[]Operation`.
//! - `whole`: `register::check_history` from the parsed JSON history to the
//!   result map: encoding, partition, search, and any failure report (which
//!   for an invalid key includes a second, bounded search; see the module).
//! - `phase`: the check phase of `glomers test -w lin-kv`: every checker
//!   the test composes (stats, availability, net, and the workload's).
//!
//! `--export DIR` writes `DIR/<name>.json` per history for a Porcupine
//! driver: `{"name", "keys": [[op, …], …]}` with one list per key and each
//! op `{"client", "call", "ret", "f": 0 read | 1 write | 2 cas, "a", "b",
//! "value", "unknown"}`: times are history indices; `fail` operations are
//! left out (they did not happen); indeterminate operations (and reads that
//! returned `null`, which the register accepts anywhere) have `unknown`
//! set and, for indeterminate ones, `ret` = the history's length, as in
//! Porcupine's own etcd test (`porcupine: porcupine_test.go`). `null`
//! values are -1000000 as there. The driver is not part of this
//! repository; `maelstrom-runs/records/linearizable.md` describes it.

use glomers::bench::checkers::linearizable::register::{
    by_key, check_encoded, check_history, encode,
};
use glomers::bench::checkers::linearizable::Budget;
use glomers::bench::checkers::{check_test, Input};
use glomers::bench::history::{History, Op, OpType, Process};
use glomers::bench::opts::TestOpts;
use glomers::bench::workloads::lin_kv;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Porcupine's etcd-test encoding of `nil`.
const NIL: i64 = -1_000_000;

fn main() {
    let mut export: Option<PathBuf> = None;
    let mut reps = 5usize;
    let mut files = Vec::new();
    let mut adversarial_too = true;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--export" => export = args.next().map(PathBuf::from),
            "--reps" => reps = args.next().and_then(|n| n.parse().ok()).unwrap_or(reps),
            "--bench" => {}
            "--files-only" => adversarial_too = false,
            _ => files.push(PathBuf::from(a)),
        }
    }
    let mut histories: Vec<(String, History)> = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let h = History::from_jsonl(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        histories.push((name_of(f), h));
    }
    let shapes: &[(usize, usize, f64)] = if adversarial_too {
        &[(10, 500, 0.3), (20, 1000, 0.4), (32, 2000, 0.5)]
    } else {
        &[]
    };
    for &(procs, ops, info) in shapes {
        for alter in [Alter::None, Alter::Shifted, Alter::Impossible] {
            let seed = (procs * 1000 + ops) as u64;
            let h = adversarial(seed, procs, ops, info, alter);
            let tag = match alter {
                Alter::None => "valid",
                Alter::Shifted => "shifted",
                Alter::Impossible => "impossible",
            };
            histories.push((
                format!("adv-p{procs}-n{ops}-i{}-{tag}", (info * 100.0) as u32),
                h,
            ));
        }
    }
    println!(
        "{:<36} {:>6} {:>5} {:>6} {:>8} {:>9} {:>9} {:>9}",
        "history", "ops", "keys", "info", "verdict", "core ms", "whole ms", "phase ms"
    );
    for (name, h) in &histories {
        if let Some(dir) = &export {
            write_export(dir, name, h);
        }
        let (verdict, ms) = time_check(h, reps);
        let core = time_core(h, reps);
        let phase = time_phase(h, reps);
        let invokes = h
            .ops
            .iter()
            .filter(|o| o.kind == OpType::Invoke && o.is_client())
            .count();
        let info = h
            .ops
            .iter()
            .filter(|o| o.kind == OpType::Info && o.is_client())
            .count();
        println!(
            "{name:<36} {invokes:>6} {:>5} {info:>6} {verdict:>8} {core:>9.3} {ms:>9.3} {phase:>9.3}",
            by_key(h).len()
        );
    }
}

/// A file's name without directories, or its parent's for `history.jsonl`.
fn name_of(f: &Path) -> String {
    let stem = f.file_stem().and_then(|s| s.to_str()).unwrap_or("history");
    if stem == "history" {
        if let Some(p) = f
            .parent()
            .and_then(|p| p.file_name())
            .and_then(|s| s.to_str())
        {
            return p.to_string();
        }
    }
    stem.to_string()
}

/// The verdict and the median milliseconds of `reps` checks.
fn time_check(h: &History, reps: usize) -> (String, f64) {
    let mut times = Vec::new();
    let mut verdict = String::new();
    for _ in 0..reps.max(1) {
        let budget = Budget {
            deadline: Some(Instant::now() + Duration::from_secs(60)),
            max_bytes: 4 << 30,
        };
        let t = Instant::now();
        let r = check_history(h, &budget);
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        verdict = r["valid?"].to_string();
    }
    times.sort_by(f64::total_cmp);
    (verdict, times[times.len() / 2])
}

/// A budget as generous as the workload's.
fn budget() -> Budget {
    Budget {
        deadline: Some(Instant::now() + Duration::from_secs(60)),
        max_bytes: 4 << 30,
    }
}

/// The median milliseconds of `reps` runs of `f`.
fn median_ms(reps: usize, mut f: impl FnMut()) -> f64 {
    let mut times = Vec::new();
    for _ in 0..reps.max(1) {
        let t = Instant::now();
        f();
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// The core alone, what Porcupine's `CheckOperations` times: from the
/// encoded in-memory history (keys and values as integers, like
/// Porcupine's `[]Operation`) to a verdict per key, partition included.
fn time_core(h: &History, reps: usize) -> f64 {
    let e = encode(h);
    median_ms(reps, || {
        std::hint::black_box(check_encoded(&e, &budget()));
    })
}

/// The check phase of `glomers test -w lin-kv`: every checker the test
/// composes (stats, availability, net, the workload's) on the history.
fn time_phase(h: &History, reps: usize) -> f64 {
    let opts = TestOpts::with_nodes(5);
    median_ms(reps, || {
        let input = Input::new(h, &opts);
        let checker = Box::new(|i: &Input<'_>| lin_kv::check_history(i.history));
        std::hint::black_box(check_test(checker, &input));
    })
}

fn op(process: u64, kind: OpType, f: &str, value: Value) -> Op {
    Op::client(0, process, kind, f, value)
}

/// How an adversarial history is broken.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Alter {
    /// Not at all: linearizable by construction.
    None,
    /// One read in the last quarter reports the next value (mod 5): usually
    /// still explainable by some indeterminate operation.
    Shifted,
    /// One read in the last quarter reports 5, which nothing wrote: never
    /// linearizable, and the search must exhaust every order before it.
    Impossible,
}

/// A pending operation of the simulation.
struct Pending {
    inv: Op,
    /// Applied to the register yet (and what a read saw / a cas did).
    applied: Option<Value>,
    /// Will end indeterminate.
    info: bool,
}

/// A single-key history of `n` operations by `procs` concurrent processes
/// on a simulated linearizable register (values 0–4, reads 1/3, writes
/// 1/3, cas 1/3): each operation takes effect at a random moment while
/// pending; a fraction `info` of them end indeterminate (half of those
/// never take effect); `alter` breaks one read.
fn adversarial(seed: u64, procs: usize, n: usize, info: f64, alter: Alter) -> History {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut reg = Value::Null;
    let mut h = History::new();
    let mut slots: Vec<Option<Pending>> = (0..procs).map(|_| None).collect();
    let mut process: Vec<u64> = (0..procs as u64).collect();
    let mut started = 0;
    let mut alter_at = (alter != Alter::None).then_some(n * 3 / 4);
    while started < n || slots.iter().any(Option::is_some) {
        // Pending operations take effect at random.
        for p in slots.iter_mut().flatten() {
            if p.applied.is_none() && rng.gen_bool(0.3) && !(p.info && rng.gen_bool(0.5)) {
                p.applied = Some(apply(&mut reg, &p.inv));
            }
        }
        let s = rng.gen_range(0..procs);
        match slots[s].take() {
            None if started < n => {
                started += 1;
                let inv = match rng.gen_range(0..3) {
                    0 => op(process[s], OpType::Invoke, "read", json!([0, null])),
                    1 => op(
                        process[s],
                        OpType::Invoke,
                        "write",
                        json!([0, rng.gen_range(0..5)]),
                    ),
                    _ => op(
                        process[s],
                        OpType::Invoke,
                        "cas",
                        json!([0, [rng.gen_range(0..5), rng.gen_range(0..5)]]),
                    ),
                };
                h.push(inv.clone());
                slots[s] = Some(Pending {
                    inv,
                    applied: None,
                    info: rng.gen_bool(info),
                });
            }
            None => {}
            Some(mut p) => {
                let mut done = p.inv.clone();
                if p.info {
                    done.kind = OpType::Info;
                    process[s] += procs as u64;
                } else {
                    let outcome = p.applied.take().unwrap_or_else(|| apply(&mut reg, &p.inv));
                    done.kind = OpType::Ok;
                    match p.inv.f.as_str() {
                        "read" => {
                            let mut seen = outcome;
                            if alter_at.is_some_and(|a| started >= a) {
                                alter_at = None;
                                seen = match alter {
                                    Alter::Impossible => json!(5),
                                    _ => json!((seen.as_i64().unwrap_or(0) + 1) % 5),
                                };
                            }
                            done.value = json!([0, seen]);
                        }
                        "cas" if outcome == false => done.kind = OpType::Fail,
                        _ => {}
                    }
                }
                h.push(done);
            }
        }
    }
    h
}

/// Apply an operation to the register: a read's value, a cas's success.
fn apply(reg: &mut Value, inv: &Op) -> Value {
    let v = &inv.value[1];
    match inv.f.as_str() {
        "read" => reg.clone(),
        "write" => {
            *reg = v.clone();
            Value::Null
        }
        _ => {
            let ok = *reg == v[0];
            if ok {
                *reg = v[1].clone();
            }
            Value::Bool(ok)
        }
    }
}

/// A JSON value as Porcupine's driver sees it.
fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or(NIL)
}

/// Write `dir/<name>.json` for the Porcupine driver.
fn write_export(dir: &Path, name: &str, h: &History) {
    let end = h.ops.len() as i64;
    let mut keys = Vec::new();
    for (_, ops) in by_key(h) {
        let mut out = Vec::new();
        for (i, c) in ops {
            let inv = &h.ops[i];
            let done = c.map(|c| &h.ops[c]);
            let kind = done.map(|d| d.kind);
            if kind == Some(OpType::Fail) {
                continue;
            }
            let definite = kind == Some(OpType::Ok);
            let client = match inv.process {
                Process::Client(p) => p,
                Process::Nemesis => 0,
            };
            let v = &inv.value[1];
            let (f, a, b, value) = match inv.f.as_str() {
                "read" => {
                    let seen = done.filter(|_| definite).map(|d| d.value[1].clone());
                    (0, 0, 0, seen.unwrap_or(Value::Null))
                }
                "write" => (1, int(v), 0, Value::Null),
                _ => (2, int(&v[0]), int(&v[1]), Value::Null),
            };
            let unknown = !definite || (f == 0 && value.is_null());
            out.push(json!({
                "client": client,
                "call": i,
                "ret": if definite { c.map_or(end, |c| c as i64) } else { end },
                "f": f,
                "a": a,
                "b": b,
                "value": int(&value),
                "unknown": unknown,
            }));
        }
        keys.push(Value::Array(out));
    }
    let _ = std::fs::create_dir_all(dir);
    let path = dir.join(format!("{name}.json"));
    let body = json!({"name": name, "keys": keys});
    std::fs::write(&path, body.to_string()).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}
