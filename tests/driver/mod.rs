//! A workload's clients on a simulated cluster, for the whole-system tests
//! of one node type (`broadcast_sim`, `kafka_sim`): the workload's setup
//! request, its generator at a rate over `concurrency` workers (worker `i`
//! on node `i mod n`, 5 s timeouts, a fresh client and process after an
//! indeterminate op), an optional partition nemesis, heal, a recovery
//! wait, the final phase, and the workload's checker.
//!
//! The network, the services and the nodes are `glomers::bench::sim`'s;
//! this is only the client side, in 1 ms steps, so that a test can run any
//! node type (a deliberately broken one too) against a real workload. The
//! bench engine does the same with Jepsen's exact scheduling; use it
//! (`engine::run`) when the figures must be the bench's.
#![allow(dead_code)]

use glomers::bench::history::{History, Op, OpType, Process};
use glomers::bench::nemesis::{grudge, PartitionSpec};
use glomers::bench::opts::TestOpts;
use glomers::bench::sim::{Client, Sim};
use glomers::bench::workload::{ClientStep, Completion, FinalStep, GenCtx, Invocation};
use glomers::bench::workload::{RpcFailure, Workload, WorkloadClient};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use std::time::Duration;

const MS: Duration = Duration::from_millis(1);
const TIMEOUT: Duration = Duration::from_secs(5);

/// How the clients load the cluster.
pub struct Load {
    pub concurrency: usize,
    /// Operations per second, over all workers.
    pub rate: f64,
    pub time_limit: Duration,
    /// Mean time between partition starts and stops; None: no nemesis.
    pub nemesis: Option<Duration>,
    /// Quiet time after the heal, before the final phase.
    pub recovery: Duration,
    pub seed: u64,
}

/// What a run produced.
pub struct Run {
    pub result: Value,
    pub history: History,
    pub invocations: u64,
}

struct Worker {
    client: Client,
    process: u64,
    wc: Box<dyn WorkloadClient>,
    /// The op in flight, its outstanding msg_id and deadline.
    op: Option<(Invocation, u64, Duration)>,
    wake: Duration,
    done: bool,
}

struct Driver<'a> {
    sim: &'a mut Sim,
    wl: &'a mut dyn Workload,
    opts: &'a TestOpts,
    workers: Vec<Worker>,
    history: History,
    invocations: u64,
}

impl<'a> Driver<'a> {
    fn ctx(&self, w: usize) -> GenCtx<'a> {
        let opts: &'a TestOpts = self.opts;
        let node = &opts.nodes[w % opts.nodes.len()];
        let (time, process) = (self.sim.now(), self.workers.get(w).map_or(0, |x| x.process));
        GenCtx {
            worker: w,
            process,
            node,
            time,
            opts,
        }
    }

    fn record(
        &mut self,
        w: usize,
        kind: OpType,
        inv: &Invocation,
        value: Value,
        error: Option<Value>,
    ) {
        let (time, p) = (self.sim.now().as_nanos() as u64, self.workers[w].process);
        let (f, final_phase) = (inv.f.clone(), inv.final_phase);
        let process = Process::Client(p);
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

    fn invoke(&mut self, w: usize, inv: Invocation) {
        self.invocations += 1;
        self.record(w, OpType::Invoke, &inv, inv.value.clone(), None);
        let step = self.workers[w].wc.invoke(&inv);
        self.step(w, inv, step);
    }

    fn step(&mut self, w: usize, inv: Invocation, step: ClientStep) {
        match step {
            ClientStep::Call(body) => {
                let node = w % self.opts.nodes.len();
                let id = self.sim.request_from(self.workers[w].client, node, body);
                self.workers[w].op = Some((inv, id, self.sim.now() + TIMEOUT));
            }
            ClientStep::Done(c) => self.complete(w, inv, c),
        }
    }

    fn complete(&mut self, w: usize, inv: Invocation, c: Completion) {
        self.record(w, c.kind, &inv, c.value.clone(), c.error.clone());
        self.wl.on_complete(&self.ctx(w), &inv, &c);
        self.workers[w].op = None;
        if c.kind == OpType::Info {
            self.workers[w].process += self.workers.len() as u64;
            if !self.wl.reusable_client() {
                self.workers[w].client = self.sim.open_client();
                self.workers[w].wc = self.wl.new_client(&self.ctx(w));
            }
        }
    }

    /// Hand every reply (or timeout) to its worker.
    fn poll(&mut self) {
        for w in 0..self.workers.len() {
            let Some((inv, id, deadline)) = self.workers[w].op.clone() else {
                continue;
            };
            let outcome = match self.sim.take_reply(id) {
                Some((_, b)) if b["type"] == "error" => Err(RpcFailure::Error {
                    code: b["code"].as_u64().unwrap_or(13),
                    text: b["text"].as_str().unwrap_or_default().into(),
                    body: b,
                }),
                Some((_, b)) => Ok(b),
                None if deadline <= self.sim.now() => Err(RpcFailure::Timeout),
                None => continue,
            };
            let step = self.workers[w].wc.on_reply(&inv, outcome);
            self.step(w, inv, step);
        }
    }

    fn tick(&mut self) {
        self.sim.run_for(MS);
        self.poll();
    }
}

/// Run `wl` against `sim` with `opts` (its node names must be the sim's).
pub fn run(sim: &mut Sim, wl: &mut dyn Workload, opts: &TestOpts, load: &Load) -> Run {
    let mut rng = StdRng::seed_from_u64(load.seed);
    let mut d = Driver {
        sim,
        wl,
        opts,
        workers: Vec::new(),
        history: History::new(),
        invocations: 0,
    };
    for (i, name) in opts.nodes.iter().enumerate() {
        if let Some(body) = d.wl.setup_request(name, opts) {
            let reply = d.sim.call(i, body).expect("a setup reply");
            d.wl.check_setup_reply(&reply).expect("a good setup reply");
        }
    }
    for w in 0..load.concurrency {
        let (client, wc) = (d.sim.open_client(), d.wl.new_client(&d.ctx(w)));
        let process = w as u64;
        d.workers.push(Worker {
            client,
            process,
            wc,
            op: None,
            wake: Duration::ZERO,
            done: false,
        });
    }
    let n = opts.nodes.len();
    let end = d.sim.now() + load.time_limit;
    let (mut next_op, mut next_nemesis, mut cut) = (d.sim.now(), d.sim.now(), false);
    while d.sim.now() < end {
        d.tick();
        while next_op <= d.sim.now() {
            let free: Vec<usize> = (0..d.workers.len())
                .filter(|&w| d.workers[w].op.is_none())
                .collect();
            let Some(&w) = free.get(rng.gen_range(0..free.len().max(1))) else {
                break;
            };
            if let Some(inv) = d.wl.next_op(&d.ctx(w), &mut rng) {
                d.invoke(w, inv);
            }
            next_op += Duration::from_secs_f64(rng.gen_range(0.0..2.0 / load.rate));
        }
        if let Some(mean) = load.nemesis.filter(|_| next_nemesis <= d.sim.now()) {
            d.sim.heal();
            if !cut {
                let spec = PartitionSpec::ALL[rng.gen_range(0..PartitionSpec::ALL.len())];
                for (dest, srcs) in grudge(spec, n, &mut rng) {
                    d.sim
                        .partition_oneway(&srcs.into_iter().collect::<Vec<_>>(), &[dest]);
                }
            }
            cut = !cut;
            next_nemesis += mean.mul_f64(rng.gen_range(0.0..2.0));
        }
    }
    d.sim.heal();
    while d.workers.iter().any(|w| w.op.is_some()) {
        d.tick();
    }
    d.sim.run_for(load.recovery);
    let limit = d.sim.now() + d.wl.final_time_limit().unwrap_or(Duration::MAX / 4);
    while d.wl.has_final_phase() && d.sim.now() < limit && !d.workers.iter().all(|w| w.done) {
        d.tick();
        for w in 0..d.workers.len() {
            let x = &d.workers[w];
            if x.done || x.op.is_some() || x.wake > d.sim.now() {
                continue;
            }
            match d.wl.final_step(&d.ctx(w), &mut rng) {
                FinalStep::Op(inv) => d.invoke(w, inv),
                FinalStep::Sleep(t) => d.workers[w].wake = d.sim.now() + t,
                FinalStep::Done => d.workers[w].done = true,
            }
        }
    }
    while d.workers.iter().any(|w| w.op.is_some()) {
        d.tick();
    }
    let result = d.wl.check(&d.history, opts);
    Run {
        result,
        history: d.history,
        invocations: d.invocations,
    }
}
