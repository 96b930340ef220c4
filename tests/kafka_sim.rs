//! Whole-system tests of the kafka node against the kafka workload, on a
//! small deterministic simulator: virtual time in 1 ms steps, node↔node
//! latency drawn per message, full partitions between halves of the cluster,
//! the workload's own generator, clients, final phase and checker.
//!
//! This is not the bench engine (which lives in `src/bench`); it is the
//! least machinery that exercises the node the way Maelstrom does, so the
//! solver can be tested before and independently of the engine. A broken
//! node is run too, to show the harness and checker do catch faults.

use glomers::bench::history::{History, Op, OpType, Process};
use glomers::bench::opts::TestOpts;
use glomers::bench::workload::{
    ClientStep, FinalStep, GenCtx, Invocation, RpcFailure, Workload, WorkloadClient,
};
use glomers::bench::workloads::kafka as workload;
use glomers::challenges::kafka::Kafka;
use glomers::runtime::{Ctx, Error, Init, Node, NodeHost, Request};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::time::Duration;

const MS: Duration = Duration::from_millis(1);
const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);

/// Settings of one simulated run.
#[derive(Clone, Copy)]
struct Setup {
    nodes: usize,
    concurrency: usize,
    seconds: u64,
    rate: f64,
    /// Node↔node latency is uniform in `[0, 2·latency_ms)`.
    latency_ms: u64,
    partitions: bool,
    seed: u64,
}

/// What a run produced.
struct Outcome {
    result: Value,
    history: History,
    server_msgs: u64,
    invocations: u64,
}

impl Outcome {
    fn msgs_per_op(&self) -> f64 {
        self.server_msgs as f64 / self.invocations as f64
    }

    /// Completions that are neither ok nor the workload's own crash ops.
    fn unexpected(&self) -> Vec<&Op> {
        self.history
            .ops
            .iter()
            .filter(|o| matches!(o.kind, OpType::Fail | OpType::Info) && o.f != "crash")
            .collect()
    }
}

struct Worker {
    client_id: String,
    process: u64,
    client: Box<dyn WorkloadClient>,
    /// The operation in flight: invocation, outstanding msg_id, deadline.
    op: Option<(Invocation, u64, Duration)>,
    next_msg_id: u64,
    sleep_until: Duration,
    final_done: bool,
}

struct Sim<N: Node> {
    setup: Setup,
    opts: TestOpts,
    now: Duration,
    hosts: Vec<NodeHost<N>>,
    ids: Vec<String>,
    queue: BinaryHeap<Reverse<(Duration, u64, usize, String)>>,
    seq: u64,
    partition: Option<Vec<bool>>,
    rng: StdRng,
    workload: workload::Kafka,
    workers: Vec<Worker>,
    next_client: u64,
    history: History,
    server_msgs: u64,
    invocations: u64,
}

impl<N: Node> Sim<N> {
    fn new(setup: Setup) -> Self {
        let ids: Vec<String> = (0..setup.nodes).map(|i| format!("n{i}")).collect();
        let opts = TestOpts {
            workload: "kafka".into(),
            concurrency: setup.concurrency,
            time_limit: setup.seconds as f64,
            rate: setup.rate,
            seed: setup.seed,
            ..TestOpts::with_nodes(setup.nodes)
        };
        let mut sim = Sim {
            setup,
            workload: workload::Kafka::new(&opts),
            opts,
            now: Duration::ZERO,
            hosts: (0..setup.nodes)
                .map(|i| NodeHost::new(setup.seed * 100 + i as u64))
                .collect(),
            ids,
            queue: BinaryHeap::new(),
            seq: 0,
            partition: None,
            rng: StdRng::seed_from_u64(setup.seed),
            workers: Vec::new(),
            next_client: 0,
            history: History::new(),
            server_msgs: 0,
            invocations: 0,
        };
        let node_ids = json!(sim.ids);
        for i in 0..setup.nodes {
            let init = json!({"src": "c-init", "dest": sim.ids[i], "body":
                {"type": "init", "msg_id": 1, "node_id": sim.ids[i], "node_ids": node_ids}});
            sim.hosts[i].handle_line(init.to_string().as_bytes(), Duration::ZERO);
            sim.hosts[i].output().clear();
        }
        for w in 0..setup.concurrency {
            let client_id = sim.fresh_client_id();
            let client = sim
                .workload
                .new_client(&gen_ctx(&sim.opts, w, 0, "n0", sim.now));
            sim.workers.push(Worker {
                client_id,
                process: w as u64,
                client,
                op: None,
                next_msg_id: 1,
                sleep_until: Duration::ZERO,
                final_done: false,
            });
        }
        sim
    }

    fn fresh_client_id(&mut self) -> String {
        self.next_client += 1;
        format!("c{}", self.next_client)
    }

    fn node_of(&self, worker: usize) -> usize {
        worker % self.setup.nodes
    }

    fn record(
        &mut self,
        process: u64,
        kind: OpType,
        inv: &Invocation,
        value: Value,
        error: Option<Value>,
    ) {
        self.history.push(Op {
            index: 0,
            time: self.now.as_nanos() as u64,
            process: Process::Client(process),
            kind,
            f: inv.f.clone(),
            value,
            error,
            final_phase: inv.final_phase,
        });
    }

    fn invoke(&mut self, w: usize, inv: Invocation) {
        self.invocations += 1;
        let p = self.workers[w].process;
        self.record(p, OpType::Invoke, &inv, inv.value.clone(), None);
        let step = self.workers[w].client.invoke(&inv);
        self.step(w, inv, step);
    }

    fn step(&mut self, w: usize, inv: Invocation, step: ClientStep) {
        match step {
            ClientStep::Call(mut body) => {
                let node = self.node_of(w);
                let worker = &mut self.workers[w];
                let id = worker.next_msg_id;
                worker.next_msg_id += 1;
                body["msg_id"] = json!(id);
                let line = json!({"src": worker.client_id, "dest": self.ids[node], "body": body});
                worker.op = Some((inv, id, self.now + CLIENT_TIMEOUT));
                self.hosts[node].handle_line(line.to_string().as_bytes(), self.now);
            }
            ClientStep::Done(done) => {
                let p = self.workers[w].process;
                self.record(p, done.kind, &inv, done.value.clone(), done.error.clone());
                let node = self.ids[self.node_of(w)].clone();
                let ctx = gen_ctx(&self.opts, w, p, &node, self.now);
                self.workload.on_complete(&ctx, &inv, &done);
                self.workers[w].op = None;
                if done.kind == OpType::Info {
                    let client_id = self.fresh_client_id();
                    let worker = &mut self.workers[w];
                    worker.process += self.setup.concurrency as u64;
                    worker.client_id = client_id;
                    worker.next_msg_id = 1;
                    let ctx = gen_ctx(&self.opts, w, worker.process, &node, self.now);
                    self.workers[w].client = self.workload.new_client(&ctx);
                }
            }
        }
    }

    /// Drain every node's output: node messages into the network, client
    /// replies to their workers (which may send more).
    fn pump(&mut self) {
        loop {
            let mut lines = Vec::new();
            for i in 0..self.hosts.len() {
                let out = std::mem::take(self.hosts[i].output());
                self.hosts[i].logs().clear();
                for l in out.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                    lines.push(String::from_utf8_lossy(l).into_owned());
                }
            }
            if lines.is_empty() {
                return;
            }
            for line in lines {
                let msg: Value = serde_json::from_str(&line).expect("nodes print JSON");
                let dest = msg["dest"].as_str().unwrap_or_default().to_string();
                if let Some(n) = self.ids.iter().position(|i| *i == dest) {
                    self.server_msgs += 1;
                    let lat = if self.setup.latency_ms == 0 {
                        0
                    } else {
                        self.rng.gen_range(0..2 * self.setup.latency_ms)
                    };
                    self.seq += 1;
                    let at = self.now + MS * lat as u32;
                    self.queue.push(Reverse((at, self.seq, n, line)));
                } else if let Some(w) = self.workers.iter().position(|w| w.client_id == dest) {
                    let irt = msg["body"]["in_reply_to"].as_u64();
                    let Some((inv, id, _)) = self.workers[w].op.clone() else {
                        continue;
                    };
                    if irt != Some(id) {
                        continue;
                    }
                    let body = msg["body"].clone();
                    let outcome = if body["type"] == "error" {
                        Err(RpcFailure::Error {
                            code: body["code"].as_u64().unwrap_or(13),
                            text: body["text"].as_str().unwrap_or_default().into(),
                            body,
                        })
                    } else {
                        Ok(body)
                    };
                    let step = self.workers[w].client.on_reply(&inv, outcome);
                    self.step(w, inv, step);
                }
            }
        }
    }

    fn deliver_and_tick(&mut self) {
        while let Some(Reverse((at, _, _, _))) = self.queue.peek() {
            if *at > self.now {
                break;
            }
            let Some(Reverse((_, _, dest, line))) = self.queue.pop() else {
                break;
            };
            let src: Value = serde_json::from_str(&line).unwrap_or_default();
            let src = self.ids.iter().position(|i| src["src"] == json!(i));
            let cut = match (&self.partition, src) {
                (Some(side), Some(s)) => side[s] != side[dest],
                _ => false,
            };
            if !cut {
                self.hosts[dest].handle_line(line.as_bytes(), self.now);
            }
        }
        for h in &mut self.hosts {
            h.tick(self.now);
        }
        for w in 0..self.workers.len() {
            let expired = matches!(&self.workers[w].op, Some((_, _, d)) if *d <= self.now);
            if expired {
                let (inv, _, _) = self.workers[w].op.take().expect("checked");
                let step = self.workers[w]
                    .client
                    .on_reply(&inv, Err(RpcFailure::Timeout));
                self.step(w, inv, step);
            }
        }
        self.pump();
    }

    fn run(mut self) -> Outcome {
        let end = Duration::from_secs(self.setup.seconds);
        let per_ms = self.setup.rate / 1000.0;
        let mut next_nemesis = Duration::from_millis(500);
        while self.now < end {
            if self.setup.partitions && self.now >= next_nemesis {
                self.partition = match self.partition {
                    Some(_) => None,
                    None => Some(
                        (0..self.setup.nodes)
                            .map(|_| self.rng.gen_bool(0.5))
                            .collect(),
                    ),
                };
                next_nemesis = self.now + MS * self.rng.gen_range(200..2000);
            }
            self.deliver_and_tick();
            // Ops arrive at about `rate` per second, each to a free worker.
            let mut budget = per_ms;
            while budget > 0.0 && self.rng.gen_bool(budget.min(1.0)) {
                budget -= 1.0;
                let free: Vec<usize> = (0..self.workers.len())
                    .filter(|&w| self.workers[w].op.is_none())
                    .collect();
                if free.is_empty() {
                    break;
                }
                let w = free[self.rng.gen_range(0..free.len())];
                let node = self.ids[self.node_of(w)].clone();
                let ctx = gen_ctx(&self.opts, w, self.workers[w].process, &node, self.now);
                if let Some(inv) = self.workload.next_op(&ctx, &mut self.rng) {
                    self.invoke(w, inv);
                    self.pump();
                }
            }
            self.now += MS;
        }
        // Heal, let in-flight ops finish and the cluster recover, then run
        // the final phase, clipped at its limit.
        self.partition = None;
        let recover = self.now + Duration::from_secs(2);
        while self.now < recover {
            self.deliver_and_tick();
            self.now += MS;
        }
        let limit = self.now + self.workload.final_time_limit().unwrap_or(Duration::MAX);
        while self.now < limit && !self.workers.iter().all(|w| w.final_done) {
            self.deliver_and_tick();
            for w in 0..self.workers.len() {
                let worker = &self.workers[w];
                if worker.final_done || worker.op.is_some() || worker.sleep_until > self.now {
                    continue;
                }
                let node = self.ids[self.node_of(w)].clone();
                let ctx = gen_ctx(&self.opts, w, worker.process, &node, self.now);
                match self.workload.final_step(&ctx, &mut self.rng) {
                    FinalStep::Op(inv) => {
                        self.invoke(w, inv);
                        self.pump();
                    }
                    FinalStep::Sleep(d) => self.workers[w].sleep_until = self.now + d,
                    FinalStep::Done => self.workers[w].final_done = true,
                }
            }
            self.now += MS;
        }
        let input = glomers::bench::checkers::Input::new(&self.history, &self.opts);
        let result = self.workload.checker().check(&input);
        Outcome {
            result,
            history: self.history,
            server_msgs: self.server_msgs,
            invocations: self.invocations,
        }
    }
}

fn gen_ctx<'a>(
    opts: &'a TestOpts,
    worker: usize,
    process: u64,
    node: &'a str,
    now: Duration,
) -> GenCtx<'a> {
    GenCtx {
        worker,
        process,
        node,
        time: now,
        opts,
    }
}

fn run<N: Node>(setup: Setup) -> Outcome {
    Sim::<N>::new(setup).run()
}

fn base(nodes: usize, seed: u64) -> Setup {
    Setup {
        nodes,
        concurrency: 2 * nodes,
        seconds: 4,
        rate: 1000.0,
        latency_ms: 0,
        partitions: false,
        seed,
    }
}

fn assert_valid(o: &Outcome) {
    assert_eq!(o.result["valid?"], true, "{:#}", o.result);
    let stray = o.unexpected();
    assert!(
        stray.is_empty(),
        "unexpected fail/info: {:?}",
        &stray[..stray.len().min(3)]
    );
    let polls = o
        .history
        .ops
        .iter()
        .filter(|op| op.f == "poll" && op.kind == OpType::Ok);
    let nonempty = polls
        .filter(|op| op.value[0][1].as_object().is_some_and(|m| !m.is_empty()))
        .count();
    assert!(nonempty > 10, "polls returned messages: {nonempty}");
}

#[test]
fn kafka_sim_5a_one_node_is_valid() {
    let o = run::<Kafka>(base(1, 1));
    assert_valid(&o);
    assert_eq!(o.server_msgs, 0);
    assert!(o.invocations > 2500, "{}", o.invocations);
}

#[test]
fn kafka_sim_5b_two_nodes_valid_and_cheap() {
    for seed in [1, 2] {
        let o = run::<Kafka>(Setup {
            latency_ms: 5,
            ..base(2, seed)
        });
        assert_valid(&o);
        assert!(o.msgs_per_op() < 0.1, "msgs-per-op {}", o.msgs_per_op());
    }
}

#[test]
fn kafka_sim_three_nodes_with_partitions_stay_valid() {
    for seed in 1..=2 {
        let o = run::<Kafka>(Setup {
            nodes: 3,
            concurrency: 6,
            latency_ms: 10,
            partitions: true,
            ..base(3, seed)
        });
        assert_valid(&o);
    }
}

#[test]
fn kafka_sim_two_nodes_with_partitions_stay_valid() {
    for seed in 1..=2 {
        let o = run::<Kafka>(Setup {
            latency_ms: 20,
            partitions: true,
            ..base(2, seed)
        });
        assert_valid(&o);
    }
}

/// A broken node for the negative control: per-key counters on each node,
/// no replication. Offsets collide across nodes and nothing sent to one node
/// is ever seen on the other.
#[derive(Debug, Default)]
struct Unreplicated {
    logs: BTreeMap<String, Vec<Value>>,
    committed: HashMap<String, u64>,
}

impl Node for Unreplicated {
    type Payload = glomers::challenges::kafka::Payload;
    type Timer = ();
    type Call = ();

    fn init(_: &Init, _: &mut Ctx<'_, Self>) -> anyhow::Result<Self> {
        Ok(Self::default())
    }

    fn on_message(
        &mut self,
        msg: Request<Self::Payload>,
        ctx: &mut Ctx<'_, Self>,
    ) -> Result<(), Error> {
        use glomers::challenges::kafka::Payload as P;
        match &msg.payload {
            P::Send { key, msg: body } => {
                let log = self.logs.entry(key.clone()).or_default();
                log.push(body.clone());
                let offset = log.len() as u64 - 1;
                ctx.reply(&msg, &P::SendOk { offset });
            }
            P::Poll { offsets } => {
                let msgs = offsets
                    .iter()
                    .filter_map(|(k, &from)| {
                        let log = self.logs.get(k)?;
                        let pairs: Vec<(u64, Value)> = log
                            .iter()
                            .enumerate()
                            .skip(from as usize)
                            .map(|(o, v)| (o as u64, v.clone()))
                            .collect();
                        Some((k.clone(), pairs))
                    })
                    .collect();
                ctx.reply(&msg, &P::PollOk { msgs });
            }
            P::CommitOffsets { offsets } => {
                for (k, o) in offsets {
                    self.committed.insert(k.clone(), *o);
                }
                ctx.reply(&msg, &P::CommitOffsetsOk);
            }
            P::ListCommittedOffsets { keys } => {
                let offsets = keys
                    .iter()
                    .filter_map(|k| Some((k.clone(), *self.committed.get(k)?)))
                    .collect();
                ctx.reply(&msg, &P::ListCommittedOffsetsOk { offsets });
            }
            _ => {}
        }
        Ok(())
    }
}

#[test]
fn kafka_sim_catches_an_unreplicated_node() {
    // Alone it is correct (that is challenge 5a)...
    assert_valid(&run::<Unreplicated>(base(1, 3)));
    // ...but on two nodes the checker must object.
    let o = run::<Unreplicated>(Setup {
        seconds: 2,
        ..base(2, 3)
    });
    assert_eq!(o.result["valid?"], false);
    let bad: Vec<String> = serde_json::from_value(o.result["bad-error-types"].clone()).unwrap();
    assert!(bad.contains(&"inconsistent-offsets".to_string()), "{bad:?}");
}

/// Full-length runs with the Fly.io settings; run with
/// `cargo test --release --test kafka_sim -- --ignored --nocapture`.
#[test]
#[ignore]
fn kafka_sim_full_length_report() {
    for (name, nodes, partitions) in [
        ("5a", 1, false),
        ("5b", 2, false),
        ("5b+partition", 2, true),
    ] {
        for seed in 1..=3 {
            let o = run::<Kafka>(Setup {
                seconds: 20,
                partitions,
                ..base(nodes, seed)
            });
            println!(
                "{name} seed {seed}: valid {} ops {} server msgs {} msgs-per-op {:.4} unexpected {} lag {}",
                o.result["valid?"],
                o.invocations,
                o.server_msgs,
                o.msgs_per_op(),
                o.unexpected().len(),
                o.result["worst-realtime-lag"]["lag"],
            );
            assert_valid(&o);
        }
    }
}
