//! The txn-rw-register node under a small deterministic simulation: clients
//! send Elle-style transactions, the network delays messages and is
//! partitioned and healed, the history is judged by the bench's checker.
//! Two deliberately broken nodes show the checker catches what read
//! committed forbids.

use glomers::bench::checkers::elle::check_rw_register;
use glomers::bench::history::{History, Op, OpType, Process};
use glomers::bench::workloads::txn_rw_register::{validate_reply, TxnGen};
use glomers::challenges::txn_rw_register::{MicroOp, Payload, TxnRwRegister};
use glomers::runtime::{Ctx, Error, ErrorCode, Init, Node, NodeHost, Request};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::time::Duration;

/// A client waiting for a reply.
struct Pending {
    msg_id: u64,
    txn: Value,
}

/// A whole cluster on a virtual clock with 1 ms steps.
struct Sim<N: Node> {
    hosts: Vec<NodeHost<N>>,
    ids: Vec<String>,
    now: Duration,
    seq: u64,
    /// (deliver at, seq, dest, line)
    queue: BinaryHeap<Reverse<(Duration, u64, String, String)>>,
    /// Node pairs that cannot talk, as (a, b) with a < b.
    cut: Vec<(usize, usize)>,
    rng: StdRng,
    history: History,
    clients: Vec<Option<Pending>>,
    process: Vec<u64>,
    next_msg_id: u64,
    gen: TxnGen,
    dropped: usize,
}

impl<N: Node> Sim<N> {
    fn new(nodes: usize, clients: usize, seed: u64) -> Self {
        let ids: Vec<String> = (0..nodes).map(|i| format!("n{i}")).collect();
        let mut hosts: Vec<NodeHost<N>> =
            (0..nodes).map(|i| NodeHost::new(seed + i as u64)).collect();
        for (i, h) in hosts.iter_mut().enumerate() {
            let init = json!({"src": "c0", "dest": ids[i], "body":
                {"type": "init", "msg_id": 1, "node_id": ids[i], "node_ids": ids}});
            h.handle_line(init.to_string().as_bytes(), Duration::ZERO);
            let out = String::from_utf8(std::mem::take(h.output())).unwrap();
            assert!(out.contains("init_ok"), "{out}");
        }
        Sim {
            hosts,
            ids,
            now: Duration::ZERO,
            seq: 0,
            queue: BinaryHeap::new(),
            cut: vec![],
            rng: StdRng::seed_from_u64(seed),
            history: History::new(),
            clients: (0..clients).map(|_| None).collect(),
            process: (0..clients as u64).collect(),
            next_msg_id: 1,
            gen: TxnGen::new(10, 4, 16),
            dropped: 0,
        }
    }

    fn node_index(&self, id: &str) -> Option<usize> {
        self.ids.iter().position(|n| n == id)
    }

    fn enqueue(&mut self, dest: String, line: String) {
        let latency = Duration::from_millis(self.rng.gen_range(0..5));
        self.seq += 1;
        self.queue
            .push(Reverse((self.now + latency, self.seq, dest, line)));
    }

    fn record(&mut self, c: usize, kind: OpType, value: Value, error: Option<Value>) {
        self.history.push(Op {
            index: 0,
            time: self.now.as_nanos() as u64,
            process: Process::Client(self.process[c]),
            kind,
            f: "txn".into(),
            value,
            error,
            final_phase: false,
        });
    }

    fn client_reply(&mut self, c: usize, body: Value) {
        let Some(p) = self.clients[c].take() else {
            return;
        };
        if body["in_reply_to"] != p.msg_id {
            self.clients[c] = Some(p);
            return;
        }
        if body["type"] == "error" {
            let code = body["code"].as_u64().unwrap_or(13);
            let definite = ErrorCode::from_code(code).is_definite();
            let kind = if definite { OpType::Fail } else { OpType::Info };
            self.record(c, kind, p.txn, Some(body.clone()));
            if !definite {
                self.process[c] += self.clients.len() as u64;
            }
            return;
        }
        match validate_reply(&p.txn, &body) {
            Ok(txn) => self.record(c, OpType::Ok, txn, None),
            Err(why) => panic!("malformed reply {body}: {why}"),
        }
    }

    /// Advance one millisecond; `load` is each idle client's chance of
    /// starting a transaction.
    fn step(&mut self, load: f64) {
        self.now += Duration::from_millis(1);
        while let Some(Reverse((t, ..))) = self.queue.peek() {
            if *t > self.now {
                break;
            }
            let Some(Reverse((_, _, dest, line))) = self.queue.pop() else {
                break;
            };
            if let Some(i) = self.node_index(&dest) {
                self.hosts[i].handle_line(line.as_bytes(), self.now);
            } else if let Some(c) = dest.strip_prefix('c').and_then(|c| c.parse::<usize>().ok()) {
                let msg: Value = serde_json::from_str(&line).unwrap();
                self.client_reply(c - 1, msg["body"].clone());
            }
        }
        for h in &mut self.hosts {
            h.tick(self.now);
        }
        for i in 0..self.hosts.len() {
            let out = std::mem::take(self.hosts[i].output());
            for line in String::from_utf8(out).unwrap().lines() {
                let msg: Value = serde_json::from_str(line).unwrap();
                let dest = msg["dest"].as_str().unwrap().to_string();
                if let Some(j) = self.node_index(&dest) {
                    if self.cut.contains(&(i.min(j), i.max(j))) {
                        self.dropped += 1;
                        continue;
                    }
                }
                self.enqueue(dest, line.to_string());
            }
        }
        for c in 0..self.clients.len() {
            if self.clients[c].is_none() && self.rng.gen_bool(load) {
                let txn = self.gen.next_txn(&mut self.rng);
                let msg_id = self.next_msg_id;
                self.next_msg_id += 1;
                let node = self.ids[c % self.ids.len()].clone();
                let line = json!({"src": format!("c{}", c + 1), "dest": node,
                    "body": {"type": "txn", "msg_id": msg_id, "txn": txn}});
                self.record(c, OpType::Invoke, txn.clone(), None);
                self.clients[c] = Some(Pending { msg_id, txn });
                self.enqueue(node, line.to_string());
            }
        }
    }

    /// Run for `ms` milliseconds, partitioning the nodes into two random
    /// halves (never all on one side) every `every` ms and healing in between,
    /// if `partitions`.
    fn run(&mut self, ms: u64, load: f64, partitions: bool, every: u64) {
        for t in 0..ms {
            if partitions && t % every == 0 {
                if (t / every).is_multiple_of(2) {
                    let n = self.ids.len();
                    let mut side: Vec<bool> = (0..n).map(|_| self.rng.gen_bool(0.5)).collect();
                    if side.iter().all(|s| *s == side[0]) {
                        let lone = self.rng.gen_range(0..n);
                        side[lone] = !side[lone];
                    }
                    self.cut = (0..n)
                        .flat_map(|a| (a + 1..n).map(move |b| (a, b)))
                        .filter(|&(a, b)| side[a] != side[b])
                        .collect();
                } else {
                    self.cut.clear();
                }
            }
            self.step(load);
        }
        self.cut.clear();
    }

    /// Let in-flight requests finish without starting new ones.
    fn drain(&mut self, ms: u64) {
        for _ in 0..ms {
            self.step(0.0);
        }
    }
}

fn check(h: &History, model: &str) -> Value {
    check_rw_register(h, &[model.to_string()])
}

fn ok_fraction(h: &History) -> f64 {
    let invokes = h.ops.iter().filter(|o| o.kind == OpType::Invoke).count();
    let oks = h.ops.iter().filter(|o| o.kind == OpType::Ok).count();
    oks as f64 / invokes.max(1) as f64
}

#[test]
fn read_committed_and_totally_available_under_partitions() {
    for seed in 0..3 {
        let mut sim: Sim<TxnRwRegister> = Sim::new(2, 4, seed);
        sim.run(4000, 0.2, true, 500);
        sim.drain(1500);
        let h = &sim.history;
        assert!(
            sim.dropped > 0,
            "seed {seed}: the partitions dropped nothing"
        );
        assert_eq!(ok_fraction(h), 1.0, "seed {seed}");
        let txns = h.ops.len() / 2;
        assert!(txns > 1000, "seed {seed}: only {txns} txns");
        let r = check(h, "read-committed");
        assert_eq!(r["valid?"], true, "seed {seed}: {r}");
        // Convergence: after the heal every node holds the same registers.
        let snaps: Vec<BTreeMap<i64, i64>> = sim
            .hosts
            .iter()
            .map(|h| h.node().unwrap().snapshot())
            .collect();
        assert!(!snaps[0].is_empty());
        assert!(
            snaps.windows(2).all(|w| w[0] == w[1]),
            "seed {seed}: replicas differ"
        );
        for h in &sim.hosts {
            assert_eq!(
                h.node().unwrap().log_len(),
                0,
                "seed {seed}: log not drained"
            );
        }
    }
}

#[test]
fn five_nodes_converge_after_heal() {
    let mut sim: Sim<TxnRwRegister> = Sim::new(5, 10, 42);
    sim.run(3000, 0.1, true, 300);
    sim.drain(2000);
    assert_eq!(check(&sim.history, "read-committed")["valid?"], true);
    let snaps: Vec<_> = sim
        .hosts
        .iter()
        .map(|h| h.node().unwrap().snapshot())
        .collect();
    assert!(snaps.windows(2).all(|w| w[0] == w[1]));
}

#[test]
fn a_partitioned_node_sees_writes_only_after_heal() {
    // During a partition the two sides do not see each other's writes:
    // a write on n0 is not read on n1 until the heal.
    let mut sim: Sim<TxnRwRegister> = Sim::new(2, 2, 9);
    sim.cut = vec![(0, 1)];
    let n0 = &mut sim.hosts[0];
    let w = json!({"src": "c9", "dest": "n0", "body": {"type": "txn", "msg_id": 1, "txn": [["w", 77, 1]]}});
    n0.handle_line(w.to_string().as_bytes(), Duration::from_millis(1));
    n0.output().clear();
    for _ in 0..500 {
        sim.step(0.0);
    }
    assert_eq!(sim.hosts[1].node().unwrap().value(77), None);
    sim.cut.clear();
    for _ in 0..500 {
        sim.step(0.0);
    }
    assert_eq!(sim.hosts[1].node().unwrap().value(77), Some(1));
}

// ---------------------------------------------------------------------------
// Broken nodes.

/// Applies each write as it goes and aborts one transaction in four with
/// code 30 after applying its writes: aborted writes stay visible (G1a).
struct AbortsVisible {
    store: HashMap<i64, i64>,
    count: u64,
}

/// Installs a transaction's writes in reverse order at the end, so a key
/// written twice keeps its first, intermediate value (G1b).
struct IntermediateVisible {
    store: HashMap<i64, i64>,
}

impl Node for AbortsVisible {
    type Payload = Payload;
    type Timer = ();
    type Call = ();
    fn init(_: &Init, _: &mut Ctx<'_, Self>) -> anyhow::Result<Self> {
        Ok(AbortsVisible {
            store: HashMap::new(),
            count: 0,
        })
    }
    fn on_message(&mut self, msg: Request<Payload>, ctx: &mut Ctx<'_, Self>) -> Result<(), Error> {
        let Payload::Txn { txn } = &msg.payload else {
            return Ok(());
        };
        let done: Vec<MicroOp> = txn
            .iter()
            .map(|op| match *op {
                MicroOp::Read { key, .. } => MicroOp::Read {
                    key,
                    value: self.store.get(&key).copied(),
                },
                MicroOp::Write { key, value } => {
                    self.store.insert(key, value);
                    op.clone()
                }
            })
            .collect();
        self.count += 1;
        if self.count.is_multiple_of(4) {
            return Err(Error::new(
                ErrorCode::TxnConflict,
                "aborted (but not rolled back)",
            ));
        }
        ctx.reply(&msg, &Payload::TxnOk { txn: done });
        Ok(())
    }
}

impl Node for IntermediateVisible {
    type Payload = Payload;
    type Timer = ();
    type Call = ();
    fn init(_: &Init, _: &mut Ctx<'_, Self>) -> anyhow::Result<Self> {
        Ok(IntermediateVisible {
            store: HashMap::new(),
        })
    }
    fn on_message(&mut self, msg: Request<Payload>, ctx: &mut Ctx<'_, Self>) -> Result<(), Error> {
        let Payload::Txn { txn } = &msg.payload else {
            return Ok(());
        };
        let mut own: HashMap<i64, i64> = HashMap::new();
        let mut writes = vec![];
        let done: Vec<MicroOp> = txn
            .iter()
            .map(|op| match *op {
                MicroOp::Read { key, .. } => MicroOp::Read {
                    key,
                    value: own.get(&key).or(self.store.get(&key)).copied(),
                },
                MicroOp::Write { key, value } => {
                    own.insert(key, value);
                    writes.push((key, value));
                    op.clone()
                }
            })
            .collect();
        for (k, v) in writes.into_iter().rev() {
            self.store.insert(k, v);
        }
        ctx.reply(&msg, &Payload::TxnOk { txn: done });
        Ok(())
    }
}

#[test]
fn aborted_writes_made_visible_are_g1a() {
    let mut sim: Sim<AbortsVisible> = Sim::new(1, 2, 5);
    sim.run(2000, 0.3, false, 1);
    sim.drain(100);
    let r = check(&sim.history, "read-committed");
    assert_eq!(r["valid?"], false, "{r}");
    assert!(
        r["anomaly-types"]
            .as_array()
            .unwrap()
            .contains(&json!("G1a")),
        "{r}"
    );
    // Read uncommitted does not forbid it (but the aborts still break total
    // availability).
    assert!(ok_fraction(&sim.history) < 1.0);
}

#[test]
fn intermediate_writes_made_visible_are_g1b() {
    let mut sim: Sim<IntermediateVisible> = Sim::new(1, 2, 6);
    sim.run(2000, 0.3, false, 1);
    sim.drain(100);
    let r = check(&sim.history, "read-committed");
    assert_eq!(r["valid?"], false, "{r}");
    assert!(
        r["anomaly-types"]
            .as_array()
            .unwrap()
            .contains(&json!("G1b")),
        "{r}"
    );
}
