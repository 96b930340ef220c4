//! The `lin-kv` workload, Maelstrom's default: a linearizable key/value
//! store of compare-and-set registers (`maelstrom:
//! src/maelstrom/workload/lin_kv.clj` on `jepsen:
//! jepsen/src/jepsen/tests/linearizable_register.clj`, Jepsen 0.3.1 as
//! Maelstrom 0.2.3 pins it).
//!
//! **RPCs.** `read` `{key}` → `read_ok` `{value}`; `write` `{key, value}` →
//! `write_ok`; `cas` `{key, from, to}` → `cas_ok`. Keys are integers and
//! values `0…4`. History values are Jepsen's `[key, v]` tuples: a read
//! invokes `[k, null]` and completes `[k, value]`, a write `[k, v]`, a cas
//! `[k, [from, to]]`.
//!
//! **Client** (Maelstrom's own, not the `defrpc` one other workloads use):
//! any reply whose type is not `error` completes `ok`, unchecked: a read's
//! value is the reply's `value` field (`null` if absent, which Knossos's
//! register accepts in any state). An error reply with code 1, 10, 11, 20
//! (key does not exist), 21 or 22 (precondition failed) is a definite
//! `fail`; any other code is `info`; the error is `[code, text]`. No reply
//! within `max(10 × latency, 1000)` ms is `info` with error `timed-out`.
//! The client is reusable (its `client/Reusable` says so): a worker keeps
//! its client id after an `info`, so a late reply to a timed-out request
//! (Maelstrom's demo `raft.py` sends them) reaches an open client, which
//! discards it, and never an unknown destination.
//!
//! **Generator** (`jepsen: jepsen/src/jepsen/independent.clj`,
//! `concurrent-generator`): the worker threads are split into groups of
//! `2n` (n = node count), so `--concurrency` must be a positive multiple
//! of `2n` (Jepsen's assertion; Maelstrom's default `1n` fails it). Each
//! group works on one key (keys 0, 1, 2, … handed out in order) until the
//! key has been used by more than 20 distinct processes (Jepsen 0.3.1's
//! `process-limit 20`; processes change when an operation ends `info`),
//! then takes the next key. Within a key, Jepsen's `reserve n r (mix [w
//! cas cas])` gives reads to threads `0…n-1` and writes or cases (1 : 2)
//! to the rest. **Faithful quirk:** `reserve` counts threads from 0
//! (Jepsen's own TODO in `generator.clj` says so), so only the first
//! group's first `n` threads ever read: with `--concurrency 2n` half the
//! operations are reads, with `10n` only a tenth, and keys of later groups
//! see only writes and cas. There is no final phase.
//!
//! **Checker**: Jepsen's `independent/checker` over Knossos's
//! `linearizable` with a `cas-register` model, here
//! [`crate::bench::checkers::linearizable::register::check_history`] within
//! [`CHECK_SECONDS`] and [`CHECK_BYTES`]: `valid?`, per-key `results`,
//! `failures`, and our `explanations`.

use crate::bench::checkers::linearizable::register;
use crate::bench::checkers::linearizable::Budget;
use crate::bench::checkers::{Checker, Input};
use crate::bench::history::{History, OpType};
use crate::bench::opts::TestOpts;
use crate::bench::workload::{
    ClientStep, Completion, GenCtx, Invocation, RpcFailure, RpcOutcome, Workload, WorkloadClient,
};
use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// Error codes lin-kv's client treats as definite failures.
pub const DEFINITE_CODES: [u64; 6] = [1, 10, 11, 20, 21, 22];
/// Distinct processes a key may see before the next key (Jepsen 0.3.1's
/// `linearizable-register` default `:process-limit`).
pub const PROCESS_LIMIT: usize = 20;
/// Values are drawn from `0 … VALUES-1` (`rand-int 5`).
pub const VALUES: u64 = 5;
/// Wall-clock budget of the linearizability check.
pub const CHECK_SECONDS: u64 = 120;
/// Memory budget of one key's search.
pub const CHECK_BYTES: usize = 2 << 30;

/// The client: one RPC per operation.
#[derive(Debug, Default)]
pub struct LinKvClient;

/// `[k, v]` → (k, v).
fn tuple(v: &Value) -> (Value, Value) {
    match v.as_array().map(Vec::as_slice) {
        Some([k, x]) => (k.clone(), x.clone()),
        _ => (Value::Null, Value::Null),
    }
}

impl WorkloadClient for LinKvClient {
    fn invoke(&mut self, inv: &Invocation) -> ClientStep {
        let (k, v) = tuple(&inv.value);
        ClientStep::Call(match inv.f.as_str() {
            "read" => json!({"type": "read", "key": k}),
            "write" => json!({"type": "write", "key": k, "value": v}),
            _ => json!({"type": "cas", "key": k, "from": v[0], "to": v[1]}),
        })
    }

    fn on_reply(&mut self, inv: &Invocation, outcome: RpcOutcome) -> ClientStep {
        ClientStep::Done(completion(inv, outcome))
    }
}

/// lin-kv's mapping of an RPC outcome to a completion.
pub fn completion(inv: &Invocation, outcome: RpcOutcome) -> Completion {
    match outcome {
        Ok(body) if inv.f == "read" => {
            let (k, _) = tuple(&inv.value);
            let v = body.get("value").cloned().unwrap_or(Value::Null);
            Completion::ok(json!([k, v]))
        }
        Ok(_) => Completion::ok(inv.value.clone()),
        Err(RpcFailure::Timeout) => Completion {
            kind: OpType::Info,
            value: inv.value.clone(),
            error: Some(Value::from("timed-out")),
        },
        Err(RpcFailure::Error { code, text, body }) => Completion {
            kind: if DEFINITE_CODES.contains(&code) {
                OpType::Fail
            } else {
                OpType::Info
            },
            value: inv.value.clone(),
            error: Some(json!([
                body.get("code").cloned().unwrap_or(json!(code)),
                text
            ])),
        },
    }
}

/// One group of `2n` threads and its current key.
#[derive(Debug, Clone)]
struct Group {
    /// The key this group works on.
    key: u64,
    /// Processes that have used the key (Jepsen's `process-limit` set).
    seen: BTreeSet<u64>,
}

/// The workload: the groups and what the generator needs to follow them.
#[derive(Debug)]
pub struct LinKv {
    /// Node count n.
    nodes: usize,
    /// Threads per group, 2n.
    group_size: usize,
    /// One entry per group.
    groups: Vec<Group>,
    /// Each worker's current process.
    process: Vec<u64>,
    /// The next key to hand out.
    next_key: u64,
    /// The client RPC timeout.
    timeout: Duration,
}

/// The workload, configured by `opts`; fails as Jepsen's generator does
/// when the concurrency is not a positive multiple of `2n`.
pub fn new(opts: &TestOpts) -> anyhow::Result<Box<dyn Workload>> {
    let nodes = opts.nodes.len().max(1);
    let group_size = 2 * nodes;
    let threads = opts.concurrency;
    if threads < group_size || !threads.is_multiple_of(group_size) {
        anyhow::bail!(
            "lin-kv runs each key with {group_size} threads (2 per node), so --concurrency \
             must be a positive multiple of {group_size} (e.g. --concurrency 2n); it is {threads}"
        );
    }
    let groups = (0..threads / group_size)
        .map(|g| Group {
            key: g as u64,
            seen: BTreeSet::new(),
        })
        .collect::<Vec<_>>();
    Ok(Box::new(LinKv {
        nodes,
        group_size,
        next_key: groups.len() as u64,
        groups,
        process: (0..threads as u64).collect(),
        timeout: Duration::from_millis((10 * opts.latency).max(1000)),
    }))
}

impl LinKv {
    /// The group's key, after Jepsen's process limit: the key is dropped
    /// for the next one once more than [`PROCESS_LIMIT`] processes used it.
    /// None if even a fresh key is over the limit (more than 10 nodes).
    fn key_for(&mut self, group: usize) -> Option<u64> {
        let members = group * self.group_size..(group + 1) * self.group_size;
        let current: Vec<u64> = members.map(|w| self.process[w]).collect();
        for _ in 0..2 {
            let g = &mut self.groups[group];
            g.seen.extend(current.iter().copied());
            if g.seen.len() <= PROCESS_LIMIT {
                return Some(g.key);
            }
            g.key = self.next_key;
            g.seen.clear();
            self.next_key += 1;
        }
        None
    }
}

impl Workload for LinKv {
    fn name(&self) -> &'static str {
        "lin-kv"
    }

    fn reusable_client(&self) -> bool {
        true
    }

    fn rpc_timeout(&self, _opts: &TestOpts) -> Option<Duration> {
        Some(self.timeout)
    }

    fn next_op(&mut self, ctx: &GenCtx<'_>, rng: &mut StdRng) -> Option<Invocation> {
        let w = ctx.worker.min(self.process.len().saturating_sub(1));
        self.process[w] = ctx.process;
        let k = self.key_for(w / self.group_size)?;
        // Jepsen's reserve counts threads from 0 across all groups.
        if w < self.nodes {
            return Some(Invocation::new("read", json!([k, null])));
        }
        Some(match rng.gen_range(0..3) {
            0 => Invocation::new("write", json!([k, rng.gen_range(0..VALUES)])),
            _ => Invocation::new(
                "cas",
                json!([k, [rng.gen_range(0..VALUES), rng.gen_range(0..VALUES)]]),
            ),
        })
    }

    fn on_complete(&mut self, ctx: &GenCtx<'_>, _inv: &Invocation, done: &Completion) {
        if done.kind == OpType::Info {
            if let Some(p) = self.process.get_mut(ctx.worker) {
                *p = ctx.process + ctx.opts.concurrency as u64;
            }
        }
    }

    fn new_client(&self, _ctx: &GenCtx<'_>) -> Box<dyn WorkloadClient> {
        Box::new(LinKvClient)
    }

    fn checker(&self) -> Box<dyn Checker> {
        Box::new(|input: &Input<'_>| check_history(input.history))
    }
}

/// The checker alone, with the workload's budget.
pub fn check_history(history: &History) -> Value {
    let budget = Budget {
        deadline: Some(Instant::now() + Duration::from_secs(CHECK_SECONDS)),
        max_bytes: CHECK_BYTES,
    };
    register::check_history(history, &budget)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn ctx<'a>(opts: &'a TestOpts, worker: usize, process: u64) -> GenCtx<'a> {
        GenCtx {
            worker,
            process,
            node: "n0",
            time: Duration::ZERO,
            opts,
        }
    }

    #[test]
    fn concurrency_must_be_a_multiple_of_two_n() {
        let mut opts = TestOpts::with_nodes(3);
        assert!(new(&opts).is_err(), "1n accepted");
        opts.concurrency = 9;
        assert!(new(&opts).is_err());
        opts.concurrency = 12;
        assert!(new(&opts).is_ok());
    }

    #[test]
    fn groups_keys_reads_and_the_process_limit() {
        let mut opts = TestOpts::with_nodes(2);
        opts.concurrency = 8; // two groups of four
        let mut w = new(&opts).unwrap();
        let mut rng = StdRng::seed_from_u64(1);
        let op = |w: &mut Box<dyn Workload>, rng: &mut StdRng, worker, process| {
            w.next_op(&ctx(&opts, worker, process), rng).unwrap()
        };
        // Threads 0 and 1 read key 0; 2 and 3 write or cas key 0.
        assert_eq!(op(&mut w, &mut rng, 0, 0).value, json!([0, null]));
        assert_eq!(op(&mut w, &mut rng, 1, 1).f, "read");
        for _ in 0..20 {
            let o = op(&mut w, &mut rng, 3, 3);
            assert!(o.f == "write" || o.f == "cas", "{o:?}");
            assert_eq!(o.value[0], 0);
        }
        // Group 1 (threads 4–7) works on key 1 and never reads (the quirk).
        for t in 4..8 {
            let o = op(&mut w, &mut rng, t, t as u64);
            assert_ne!(o.f, "read");
            assert_eq!(o.value[0], 1);
        }
        // Thread 3 crashes repeatedly: with 4 threads, the 17th new process
        // is the 21st on key 0, which then moves on to key 2.
        let mut p = 3;
        for crash in 1..=17 {
            let inv = Invocation::new("write", json!([0, 1]));
            let info = Completion {
                kind: OpType::Info,
                value: json!([0, 1]),
                error: None,
            };
            w.on_complete(&ctx(&opts, 3, p), &inv, &info);
            p += 8;
            let o = op(&mut w, &mut rng, 3, p);
            let want = if crash < 17 { 0 } else { 2 };
            assert_eq!(o.value[0], want, "after {crash} crashes");
        }
        assert_eq!(w.rpc_timeout(&opts), Some(Duration::from_secs(1)));
    }

    #[test]
    fn client_maps_replies_and_errors() {
        let read = Invocation::new("read", json!([3, null]));
        let cas = Invocation::new("cas", json!([3, [1, 2]]));
        let mut c = LinKvClient;
        assert_eq!(
            c.invoke(&cas),
            ClientStep::Call(json!({"type": "cas", "key": 3, "from": 1, "to": 2}))
        );
        let d = completion(&read, Ok(json!({"type": "read_ok", "value": 4})));
        assert_eq!((d.kind, d.value), (OpType::Ok, json!([3, 4])));
        // No value: ok with nil, which the register accepts (as Knossos).
        let d = completion(&read, Ok(json!({"type": "read_ok"})));
        assert_eq!(d.value, json!([3, null]));
        let err = |code| RpcFailure::Error {
            code,
            text: "x".into(),
            body: json!({"type": "error", "code": code, "text": "x"}),
        };
        for code in DEFINITE_CODES {
            assert_eq!(completion(&cas, Err(err(code))).kind, OpType::Fail);
        }
        for code in [0, 12, 13, 14, 30] {
            assert_eq!(completion(&cas, Err(err(code))).kind, OpType::Info);
        }
        let d = completion(&cas, Err(err(22)));
        assert_eq!(d.error, Some(json!([22, "x"])));
        let d = completion(&cas, Err(RpcFailure::Timeout));
        assert_eq!((d.kind, d.error), (OpType::Info, Some(json!("timed-out"))));
    }
}
