//! The txn-rw-register node on the bench's simulator
//! (`glomers::bench::sim`): clients send Elle-style transactions, the
//! network delays messages and is partitioned and healed, the history is
//! judged by the bench's checker. Two deliberately broken nodes show the
//! checker catches what read committed forbids.

use glomers::bench::checkers::elle::check_rw_register;
use glomers::bench::history::{History, Op, OpType, Process};
use glomers::bench::inprocess::factory;
use glomers::bench::opts::LatencyDist;
use glomers::bench::sim::{self, Builder, Client};
use glomers::bench::workloads::txn_rw_register::{validate_reply, TxnGen};
use glomers::challenges::txn_rw_register::{MicroOp, Payload, TxnOk, TxnRwRegister};
use glomers::runtime::{Ctx, Error, ErrorCode, Init, Node, Request};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// A client's request in flight: its `msg_id` and transaction.
type Pending = Option<(u64, Value)>;

/// A cluster on the simulator, with clients that start transactions at
/// random, stepped 1 ms at a time.
struct Sim {
    sim: sim::Sim,
    rng: StdRng,
    history: History,
    /// Per client: its endpoint, its process, its request in flight.
    clients: Vec<(Client, u64, Pending)>,
    gen: TxnGen,
}

impl Sim {
    fn new<N: Node + 'static>(nodes: usize, clients: usize, seed: u64) -> Self {
        let b = Builder::new().nodes(nodes).seed(seed).hosts(factory::<N>());
        let b = b
            .latency(Duration::from_millis(2))
            .latency_dist(LatencyDist::Uniform);
        let mut sim = b.build().expect("every node answers init");
        let clients = (0..clients)
            .map(|c| (sim.open_client(), c as u64, None))
            .collect();
        let (rng, history) = (StdRng::seed_from_u64(seed), History::new());
        Sim {
            sim,
            rng,
            history,
            clients,
            gen: TxnGen::new(10, 4, 16),
        }
    }

    fn state(&self, i: usize) -> &TxnRwRegister {
        self.sim
            .state::<TxnRwRegister>(i)
            .expect("a running txn node")
    }

    fn record(&mut self, c: usize, kind: OpType, value: Value, error: Option<Value>) {
        let (time, process) = (
            self.sim.now().as_nanos() as u64,
            Process::Client(self.clients[c].1),
        );
        let f = "txn".into();
        let final_phase = false;
        self.history.push(Op {
            index: 0,
            time,
            process,
            kind,
            f,
            value,
            error,
            final_phase,
        });
    }

    /// Advance one millisecond; `load` is each idle client's chance of
    /// starting a transaction.
    fn step(&mut self, load: f64) {
        self.sim.run_for(Duration::from_millis(1));
        for c in 0..self.clients.len() {
            let Some((id, txn)) = self.clients[c].2.take() else {
                continue;
            };
            let Some((_, body)) = self.sim.take_reply(id) else {
                self.clients[c].2 = Some((id, txn));
                continue;
            };
            if body["type"] != "error" {
                let txn = validate_reply(&txn, &body).unwrap_or_else(|e| panic!("{body}: {e}"));
                self.record(c, OpType::Ok, txn, None);
            } else if ErrorCode::from_code(body["code"].as_u64().unwrap_or(13)).is_definite() {
                self.record(c, OpType::Fail, txn, Some(body));
            } else {
                self.record(c, OpType::Info, txn, Some(body));
                self.clients[c].1 += self.clients.len() as u64;
            }
        }
        for c in 0..self.clients.len() {
            if self.clients[c].2.is_none() && self.rng.gen_bool(load) {
                let txn = self.gen.next_txn(&mut self.rng);
                let (client, node) = (self.clients[c].0, c % self.sim.names().len());
                let id = self
                    .sim
                    .request_from(client, node, json!({"type": "txn", "txn": txn}));
                self.record(c, OpType::Invoke, txn.clone(), None);
                self.clients[c].2 = Some((id, txn));
            }
        }
    }

    /// Run for `ms` milliseconds, partitioning the nodes into two random
    /// halves (never all on one side) every `every` ms and healing in between,
    /// if `partitions`.
    fn run(&mut self, ms: u64, load: f64, partitions: bool, every: u64) {
        for t in 0..ms {
            if partitions && t % every == 0 {
                self.sim.heal();
            }
            if partitions && t % every == 0 && (t / every).is_multiple_of(2) {
                let n = self.sim.names().len();
                let mut side: Vec<bool> = (0..n).map(|_| self.rng.gen_bool(0.5)).collect();
                if side.iter().all(|s| *s == side[0]) {
                    let lone = self.rng.gen_range(0..n);
                    side[lone] = !side[lone];
                }
                let (a, b): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| side[i]);
                self.sim.partition(&a, &b);
            }
            self.step(load);
        }
        self.sim.heal();
    }

    /// Let in-flight requests finish without starting new ones.
    fn drain(&mut self, ms: u64) {
        (0..ms).for_each(|_| self.step(0.0));
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
        let mut sim = Sim::new::<TxnRwRegister>(2, 4, seed);
        sim.run(4000, 0.2, true, 500);
        sim.drain(1500);
        let h = &sim.history;
        assert!(
            sim.sim.network().dropped > 0,
            "seed {seed}: the partitions dropped nothing"
        );
        assert_eq!(ok_fraction(h), 1.0, "seed {seed}");
        let txns = h.ops.len() / 2;
        assert!(txns > 1000, "seed {seed}: only {txns} txns");
        let r = check(h, "read-committed");
        assert_eq!(r["valid?"], true, "seed {seed}: {r}");
        // Convergence: after the heal every node holds the same registers.
        let snaps: Vec<BTreeMap<i64, i64>> = (0..2).map(|i| sim.state(i).snapshot()).collect();
        assert!(!snaps[0].is_empty());
        assert!(
            snaps.windows(2).all(|w| w[0] == w[1]),
            "seed {seed}: replicas differ"
        );
        for i in 0..2 {
            assert_eq!(sim.state(i).log_len(), 0, "seed {seed}: log not drained");
        }
    }
}

#[test]
fn five_nodes_converge_after_heal() {
    let mut sim = Sim::new::<TxnRwRegister>(5, 10, 42);
    sim.run(3000, 0.1, true, 300);
    sim.drain(2000);
    assert_eq!(check(&sim.history, "read-committed")["valid?"], true);
    let snaps: Vec<_> = (0..5).map(|i| sim.state(i).snapshot()).collect();
    assert!(snaps.windows(2).all(|w| w[0] == w[1]));
}

#[test]
fn a_partitioned_node_sees_writes_only_after_heal() {
    // During a partition the two sides do not see each other's writes:
    // a write on n0 is not read on n1 until the heal.
    let mut sim = Sim::new::<TxnRwRegister>(2, 2, 9);
    sim.sim.partition(&[0], &[1]);
    let w = sim
        .sim
        .call(0, json!({"type": "txn", "txn": [["w", 77, 1]]}));
    assert_eq!(w.unwrap()["type"], "txn_ok");
    for _ in 0..500 {
        sim.step(0.0);
    }
    assert_eq!(sim.state(1).value(77), None);
    assert!(sim.sim.network().dropped > 0);
    sim.sim.heal();
    for _ in 0..500 {
        sim.step(0.0);
    }
    assert_eq!(sim.state(1).value(77), Some(1));
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
        ctx.reply(&msg, &TxnOk { txn: done });
        Ok(())
    }
}

impl Node for IntermediateVisible {
    type Payload = Payload;
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
        ctx.reply(&msg, &TxnOk { txn: done });
        Ok(())
    }
}

#[test]
fn aborted_writes_made_visible_are_g1a() {
    let mut sim = Sim::new::<AbortsVisible>(1, 2, 5);
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
    let mut sim = Sim::new::<IntermediateVisible>(1, 2, 6);
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
