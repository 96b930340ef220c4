//! Clients, workers and the generator.
//!
//! A *client* is a network endpoint (`c0`, `c1`, …) with at most one RPC in
//! flight, as Maelstrom's (maelstrom: src/maelstrom/client.clj): the init
//! and setup phases open one per node, and each worker opens one for its
//! operations, and a fresh one after an indeterminate op unless the
//! workload's clients are reusable. A *worker* is one of Jepsen's client
//! threads (jepsen: src/jepsen/generator/interpreter.clj): bound to node
//! `i mod N`, it runs one operation at a time through the workload's
//! client state machine and records both ends in the history. The
//! *generator* hands ops to free workers on Jepsen's global stagger
//! (jepsen: src/jepsen/generator.clj, `stagger`).

use super::queue::Event;
use super::{BenchError, Engine};
use crate::bench::history::{Op, OpType, Process};
use crate::bench::net::{Ep, EpKind};
use crate::bench::opts::TestOpts;
use crate::bench::workload::{
    ClientStep, Completion, FinalStep, GenCtx, Invocation, RpcFailure, RpcOutcome, WorkloadClient,
};
use crate::runtime::message;
use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Value};
use std::time::Duration;

/// What a client is for.
#[derive(Debug, Clone, Copy)]
pub(super) enum Role {
    /// Sends `init` to this node (at the start, or after a restart); the
    /// node's fault count when it was sent ([`super::nodes::Nodes`]), so a
    /// node the nemesis killed or paused since is excused for not answering.
    Init(usize, u64),
    /// Sends the workload's setup request to this node.
    Setup(usize),
    /// Carries this worker's operations.
    Worker(usize),
}

/// A network client of the engine's.
pub(super) struct Client {
    /// Its endpoint.
    ep: Ep,
    /// The next `msg_id` it sends.
    next_msg_id: u64,
    /// The `msg_id` whose reply it awaits.
    pending: Option<u64>,
    /// What it is for.
    role: Role,
}

/// One of Jepsen's worker threads.
pub(super) struct Worker {
    /// The node it talks to.
    node: usize,
    /// Its current process id (grows by the concurrency after each `info`).
    process: u64,
    /// Its client, once it has run an op.
    client: Option<usize>,
    /// The client belongs to an earlier process: it is closed (and a new
    /// one opened) when the worker starts its next operation, as Jepsen's
    /// interpreter does; until then late replies to it are accepted and
    /// dropped.
    client_retired: bool,
    /// The workload's state machine for its ops.
    wclient: Option<Box<dyn WorkloadClient>>,
    /// The op in flight.
    pub(super) op: Option<Invocation>,
    /// In the final phase: asleep until a [`Event::WorkerWake`].
    pub(super) sleeping: bool,
    /// In the final phase: no more steps.
    pub(super) final_done: bool,
}

impl Worker {
    pub(super) fn new(node: usize, process: u64) -> Self {
        Worker {
            node,
            process,
            client: None,
            client_retired: false,
            wclient: None,
            op: None,
            sleeping: false,
            final_done: false,
        }
    }
}

/// The main phase's op source: Jepsen's stagger over free workers.
pub(super) struct Generator {
    /// The generator's random stream (worker choice, gaps, op values).
    rng: StdRng,
    /// When the main phase stops emitting.
    pub(super) main_end: Duration,
    /// An op is due but every worker is busy.
    blocked: bool,
    /// When the next op is due.
    pub(super) next: Duration,
}

impl Generator {
    pub(super) fn new(rng: StdRng) -> Self {
        Generator {
            rng,
            main_end: Duration::ZERO,
            blocked: false,
            next: Duration::ZERO,
        }
    }
}

impl<'a> Engine<'a> {
    pub(super) fn open_client(&mut self, role: Role) -> usize {
        let c = self.clients.len();
        let ep = self.net.add(&format!("c{c}"), EpKind::Client(c));
        self.clients.push(Client {
            ep,
            next_msg_id: 1,
            pending: None,
            role,
        });
        c
    }

    /// Whether client number `c` was opened (and since closed).
    pub(super) fn is_known_client(&self, c: usize) -> bool {
        c < self.clients.len()
    }

    fn close_client(&mut self, c: usize) {
        self.clients[c].pending = None;
        self.net.close(self.clients[c].ep);
    }

    fn rpc(&mut self, c: usize, node: usize, mut body: Value, timeout: Duration) {
        let id = self.clients[c].next_msg_id;
        self.clients[c].next_msg_id += 1;
        if let Some(m) = body.as_object_mut() {
            m.insert("msg_id".into(), id.into());
        }
        self.clients[c].pending = Some(id);
        if self.nodes.is_down(node) && matches!(self.clients[c].role, Role::Worker(_)) {
            // Refused at once (see `refused`): nothing is sent.
            self.schedule(
                self.now,
                Event::RpcRefused {
                    client: c,
                    msg_id: id,
                },
            );
            return;
        }
        let src = self.clients[c].ep;
        let dest = self.nodes.eps[node];
        self.send(src, dest, body.to_string().into_boxed_str());
        let client = c;
        self.schedule(self.now + timeout, Event::RpcTimeout { client, msg_id: id });
    }

    /// Node `node` was killed: every RPC waiting on it ends now as if it
    /// had timed out (an `info` for an op that may have happened; a read
    /// that changes nothing may end `fail`, as on a timeout). Its reply can
    /// never come, so no client waits on until its timeout, as a Jepsen
    /// client whose connection dropped does not.
    pub(super) fn abort_rpcs_to(&mut self, node: usize) {
        let waiting: Vec<(usize, u64)> = self
            .clients
            .iter()
            .enumerate()
            .filter_map(|(c, cl)| {
                let target = match cl.role {
                    Role::Init(n, _) | Role::Setup(n) => n,
                    Role::Worker(w) => self.workers[w].node,
                };
                cl.pending.filter(|_| target == node).map(|id| (c, id))
            })
            .collect();
        for (c, id) in waiting {
            self.rpc_timeout(c, id);
        }
    }

    /// A worker's request to a node that is down (killed, not started
    /// yet) is not sent: it ends at once as a timeout would (`info`, or
    /// `fail` for a read that changes nothing). A Jepsen client meets a
    /// killed database at once too, its connection refused; Maelstrom's
    /// clients have no connection to lose, and the indeterminate outcome is
    /// the one every checker accepts (echo's, for one, counts any definite
    /// error as a wrong echo). Without this a worker of a one-node test
    /// would spend every down window waiting out its 5 s timeout, and a
    /// test could end without a single op done.
    pub(super) fn refused(&mut self, c: usize, msg_id: u64) {
        self.rpc_timeout(c, msg_id);
    }

    pub(super) fn rpc_timeout(&mut self, c: usize, msg_id: u64) {
        if self.clients[c].pending == Some(msg_id) {
            self.clients[c].pending = None;
            self.on_client_outcome(c, Err(RpcFailure::Timeout));
        }
    }

    /// Message `id` reached client `c`: if it answers the pending RPC, the
    /// client's role handles the outcome.
    pub(super) fn client_receive(&mut self, c: usize, id: u64) {
        let Some(pending) = self.clients[c].pending else {
            return;
        };
        let Ok(body) = serde_json::from_str::<Value>(&self.net.messages[id as usize].body) else {
            return;
        };
        if body.get("in_reply_to").and_then(Value::as_u64) != Some(pending) {
            return;
        }
        self.clients[c].pending = None;
        let outcome = match message::read_error(&body) {
            Some((code, text)) => Err(RpcFailure::Error {
                code,
                text,
                body: body.clone(),
            }),
            None => Ok(body),
        };
        self.on_client_outcome(c, outcome);
    }

    fn on_client_outcome(&mut self, c: usize, outcome: RpcOutcome) {
        match self.clients[c].role {
            Role::Init(n, faults) => self.on_init_reply(c, n, faults, outcome),
            Role::Setup(n) => self.on_setup_reply(n, outcome),
            Role::Worker(w) => {
                let Some(inv) = self.workers[w].op.clone() else {
                    return;
                };
                let Some(mut wc) = self.workers[w].wclient.take() else {
                    return;
                };
                let step = wc.on_reply(&inv, outcome);
                self.workers[w].wclient = Some(wc);
                self.do_step(w, step);
            }
        }
    }

    // ---- init and setup ------------------------------------------------

    pub(super) fn start_init(&mut self) {
        for node in 0..self.opts.nodes.len() {
            self.send_init(node);
        }
    }

    /// Send `init` to `node` from a fresh init client (at the start, and
    /// again when the nemesis restarts the node).
    pub(super) fn send_init(&mut self, node: usize) {
        let ids: Vec<Value> = self
            .opts
            .nodes
            .iter()
            .map(|n| Value::from(n.clone()))
            .collect();
        let c = self.open_client(Role::Init(node, self.nodes.faults[node]));
        let name = &self.opts.nodes[node];
        let body = json!({"type": "init", "node_id": name, "node_ids": ids});
        self.rpc(c, node, body, self.cfg.init_timeout);
    }

    fn on_init_reply(&mut self, c: usize, node: usize, faults: u64, outcome: RpcOutcome) {
        let opts = self.opts;
        let name = &opts.nodes[node];
        if outcome.is_err() && self.nodes.faults[node] != faults {
            // Killed or paused again before it could answer a re-init: not
            // the node's fault. The next start inits it again.
            self.close_client(c);
            return;
        }
        let err = match outcome {
            Err(RpcFailure::Timeout) => Some(format!(
                "Expected node {name} to respond to an init message, but node did not respond within {} s.",
                self.cfg.init_timeout.as_secs_f64()
            )),
            Err(RpcFailure::Error { body, .. }) => {
                Some(format!("node {name} answered init with an error: {body}"))
            }
            Ok(body) if body.get("type").and_then(Value::as_str) != Some("init_ok") => Some(
                format!("init-failed: node {name} answered init with {body}, expected type init_ok"),
            ),
            Ok(_) => None,
        };
        if let Some(e) = err {
            return self.fail(BenchError::Fatal(e));
        }
        self.close_client(c);
        let all_done = self
            .clients
            .iter()
            .all(|cl| !matches!(cl.role, Role::Init(..)) || cl.pending.is_none());
        if all_done && self.phases.in_init() {
            self.next_phase();
        }
    }

    pub(super) fn start_setup(&mut self) {
        let mut setups = Vec::new();
        for i in 0..self.opts.nodes.len() {
            let c = self.open_client(Role::Setup(i));
            if let Some(body) = self.workload.setup_request(&self.opts.nodes[i], self.opts) {
                setups.push((c, i, body));
            }
        }
        self.phases.pending_setup = setups.len();
        for (c, i, body) in setups {
            self.rpc(c, i, body, self.cfg.rpc_timeout);
        }
        if self.phases.pending_setup == 0 {
            self.next_phase();
        }
    }

    fn on_setup_reply(&mut self, node: usize, outcome: RpcOutcome) {
        let name = &self.opts.nodes[node];
        let why = match outcome {
            Ok(body) => match self.workload.check_setup_reply(&body) {
                Ok(()) => None,
                Err(why) => Some(format!(
                    "setup failed: node {name} answered the setup request with a malformed reply ({why}): {body}"
                )),
            },
            Err(RpcFailure::Timeout) => Some(format!(
                "setup failed: node {name} did not answer the setup request within {} s",
                self.cfg.rpc_timeout.as_secs_f64()
            )),
            Err(RpcFailure::Error { body, .. }) => Some(format!(
                "setup failed: node {name} answered the setup request with an error: {body}"
            )),
        };
        if let Some(why) = why {
            return self.fail(BenchError::Fatal(why));
        }
        self.phases.pending_setup -= 1;
        if self.phases.pending_setup == 0 {
            self.next_phase();
        }
    }

    // ---- operations ----------------------------------------------------

    fn gen_ctx(&self, w: usize) -> GenCtx<'a> {
        let opts: &'a TestOpts = self.opts;
        GenCtx {
            worker: w,
            process: self.workers[w].process,
            node: &opts.nodes[self.workers[w].node],
            time: self.now,
            opts,
        }
    }

    /// The generator's tick: hand an op to a random free worker.
    pub(super) fn generate(&mut self) {
        if !self.phases.in_main() || self.now >= self.generator.main_end {
            return;
        }
        let free: Vec<usize> = (0..self.workers.len())
            .filter(|&w| self.workers[w].op.is_none())
            .collect();
        if free.is_empty() {
            self.generator.blocked = true;
            return;
        }
        let w = free[self.generator.rng.gen_range(0..free.len())];
        let ctx = self.gen_ctx(w);
        if let Some(inv) = self.workload.next_op(&ctx, &mut self.generator.rng) {
            self.start_op(w, inv);
        }
        // Jepsen's stagger: the next op is due U(0, 2/rate) after this op's
        // due time (which is now, unless it had to wait for a free worker),
        // so the real clock's wake-up jitter does not slow the rate down.
        let dt = 2.0 / self.opts.rate;
        let gap = Duration::from_secs_f64(self.generator.rng.gen_range(0.0..dt));
        self.generator.next += gap;
        if self.generator.next < self.generator.main_end {
            self.schedule(self.generator.next, Event::Generate);
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
        self.history.push(Op {
            index: 0,
            time: self.now.as_nanos() as u64,
            process: Process::Client(self.workers[w].process),
            kind,
            f: inv.f.clone(),
            value,
            error,
            final_phase: inv.final_phase,
        });
    }

    fn start_op(&mut self, w: usize, inv: Invocation) {
        if std::mem::take(&mut self.workers[w].client_retired) {
            if let Some(c) = self.workers[w].client.take() {
                self.close_client(c);
            }
        }
        if self.workers[w].client.is_none() {
            let c = self.open_client(Role::Worker(w));
            self.workers[w].client = Some(c);
        }
        let mut wc = match self.workers[w].wclient.take() {
            Some(wc) => wc,
            None => self.workload.new_client(&self.gen_ctx(w)),
        };
        self.progress.invoked += 1;
        self.record(w, OpType::Invoke, &inv, inv.value.clone(), None);
        let step = wc.invoke(&inv);
        self.workers[w].wclient = Some(wc);
        self.workers[w].op = Some(inv);
        self.do_step(w, step);
    }

    fn do_step(&mut self, w: usize, step: ClientStep) {
        match step {
            ClientStep::Call(body) => {
                let Some(c) = self.workers[w].client else {
                    return;
                };
                let node = self.workers[w].node;
                // A workload's own client timeout (lin-kv's) never exceeds
                // the engine's.
                let timeout = self
                    .workload
                    .rpc_timeout(self.opts)
                    .map_or(self.cfg.rpc_timeout, |t| t.min(self.cfg.rpc_timeout));
                self.rpc(c, node, body, timeout);
            }
            ClientStep::Done(done) => self.complete(w, done),
        }
    }

    fn complete(&mut self, w: usize, done: Completion) {
        let Some(inv) = self.workers[w].op.take() else {
            return;
        };
        if done.kind == OpType::Ok {
            self.progress.ok += 1;
        }
        // A completion never has type invoke; treat a confused client's as info.
        let kind = if done.kind == OpType::Invoke {
            OpType::Info
        } else {
            done.kind
        };
        self.record(w, kind, &inv, done.value.clone(), done.error.clone());
        let ctx = self.gen_ctx(w);
        self.workload.on_complete(&ctx, &inv, &done);
        if kind == OpType::Info {
            self.retire_process(w);
        }
        if self.phases.in_main() && self.generator.blocked {
            // The op waited for a free worker: it goes now, and the next
            // one is due a gap after now (Jepsen's stagger).
            self.generator.blocked = false;
            self.generator.next = self.now;
            self.schedule(self.now, Event::Generate);
        } else if self.phases.in_drain() {
            self.check_main_done();
        } else if self.phases.in_final() {
            self.advance_final(w);
        }
    }

    /// After an `info` op the worker's process is a new one; unless the
    /// workload's clients are reusable, so is its client.
    fn retire_process(&mut self, w: usize) {
        self.workers[w].process += self.opts.concurrency as u64;
        if !self.workload.reusable_client() {
            if let Some(c) = self.workers[w].client {
                self.clients[c].pending = None;
                self.workers[w].client_retired = true;
            }
            self.workers[w].wclient = None;
        }
    }

    // ---- final phase ---------------------------------------------------

    pub(super) fn advance_final(&mut self, w: usize) {
        if self.phases.final_cut {
            self.workers[w].final_done = true;
        } else {
            let ctx = self.gen_ctx(w);
            match self.workload.final_step(&ctx, &mut self.generator.rng) {
                FinalStep::Op(inv) => return self.start_op(w, inv),
                FinalStep::Sleep(d) => {
                    self.workers[w].sleeping = true;
                    self.schedule(self.now + d, Event::WorkerWake(w));
                    return;
                }
                FinalStep::Done => self.workers[w].final_done = true,
            }
        }
        self.check_final_done();
    }

    pub(super) fn worker_wake(&mut self, w: usize) {
        if self.workers[w].sleeping {
            self.workers[w].sleeping = false;
            if self.phases.in_final() {
                self.advance_final(w);
            }
        }
    }
}
