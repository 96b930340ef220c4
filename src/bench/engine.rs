//! The bench engine: one discrete-event loop shared by process and
//! in-process runs.
//!
//! # Design
//!
//! Time is a [`Duration`] since the test started. Events (deliveries, RPC
//! timeouts, generator ticks, nemesis ops, phase changes) sit in one queue
//! ordered by `(time, seq)`. The loop runs every event that is due, then asks
//! the [`Backend`] to wait until the next one: the process backend blocks on
//! its children's output with the real clock, the in-process backend jumps
//! a virtual clock (firing node timers on the way). Every line a node prints
//! is parsed and validated here, then sent into the [`Network`].
//!
//! Around the network sit Maelstrom's moving parts (spec §2–§5.0):
//!
//! - **init**: one client per node (`c0…`) sends `init`; no `init_ok` within
//!   10 s aborts the test;
//! - **setup**: one client per node next, sending the workload's setup
//!   request (broadcast's `topology`); an error or timeout aborts;
//! - **main phase**: `concurrency` workers, worker `i` on node `i mod N`;
//!   a global stagger emits an op `U(0, 2/rate)` after the previous one to a
//!   random free worker; each RPC has a 5 s timeout; an `info` completion
//!   bumps the worker's process by the concurrency and (unless the workload's
//!   clients are reusable) gives it a fresh client id; the partition nemesis
//!   runs on its own stagger; everything stops at the time limit and
//!   in-flight ops finish;
//! - **final phase** (workloads that have one): heal, wait
//!   `--recovery-wait`, then each worker runs the workload's final steps.
//!
//! Services are endpoints like any other: latency both ways, never
//! partitioned, replies carry `in_reply_to` and no `msg_id`.
//!
//! Determinism: every random choice comes from an RNG seeded from the test
//! seed (separate streams for the generator, the network, the nemesis and
//! the services, and one per in-process node), and nothing iterates a hash
//! map, so an in-process run is a pure function of its options.
//!
//! # Deliberate differences from Maelstrom
//!
//! - A line a node prints that is not JSON, not a closed `src`/`dest`/`body`
//!   envelope, or addressed to an unknown or closed id is reported (node,
//!   line, reason) under `node-output` in the results and makes the run not
//!   valid; the line is dropped and the node keeps being read. Maelstrom
//!   logs a warning and silently stops reading that node (spec §1.6, §10).
//! - A node that exits is reported as soon as its stdout closes, with
//!   Maelstrom's crash message and exit 255, instead of at teardown.
//! - Results are JSON (`results.json`, `history.jsonl`, `messages.jsonl`);
//!   there is no perf, timeline or exceptions checker and no plots.
//! - Times in the history and the journal count from the start of the
//!   run (before init), not from the first operation.
//! - `--latency-dist exponential --latency 0` gives zero latency instead of
//!   Maelstrom's division by zero; `--time-limit` may be fractional.
//! - Ctrl-C stops every node and exits 130.

use super::backend::{Backend, NodeEvent, ProcessBackend, SpawnError};
use super::check::Validity;
use super::history::{History, Op, OpType, Process};
use super::inprocess::InProcessBackend;
use super::nemesis::{self, PartitionSpec};
use super::net::{Ep, EpKind, Network};
use super::opts::TestOpts;
use super::results;
use super::services::{self, Service};
use super::workload::{
    ClientStep, Completion, FinalStep, GenCtx, Invocation, RpcFailure, RpcOutcome, Workload,
    WorkloadClient,
};
use super::workloads;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How many offending node lines are kept in the results.
const MAX_NODE_ERRORS: usize = 50;

/// Engine settings that are not Maelstrom test options.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// How long a node has to answer `init` (Maelstrom: 10 s).
    pub init_timeout: Duration,
    /// Client RPC timeout (Maelstrom: 5 s).
    pub rpc_timeout: Duration,
    /// Write the run directory (results, history, journal, logs).
    pub write_store: bool,
    /// Print progress lines and the result map to the console.
    pub verbose: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            init_timeout: Duration::from_secs(10),
            rpc_timeout: Duration::from_secs(5),
            write_store: true,
            verbose: true,
        }
    }
}

/// Why a test could not produce a verdict.
#[derive(Debug)]
pub enum BenchError {
    /// Bad arguments: exit 254.
    BadArgs(String),
    /// A crashed node, a failed init or setup, an internal error: exit 255.
    Fatal(String),
    /// The user pressed Ctrl-C: exit 130.
    Interrupted,
}

impl BenchError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            BenchError::BadArgs(_) => 254,
            BenchError::Fatal(_) => 255,
            BenchError::Interrupted => 130,
        }
    }
}

impl std::fmt::Display for BenchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BenchError::BadArgs(m) | BenchError::Fatal(m) => f.write_str(m),
            BenchError::Interrupted => f.write_str("interrupted"),
        }
    }
}

/// A finished test.
#[derive(Debug)]
pub struct Outcome {
    /// The result map (as in `results.json`).
    pub results: Value,
    /// Its overall validity.
    pub validity: Validity,
    /// The run directory, when stored.
    pub dir: Option<PathBuf>,
    /// Wall-clock time of the whole run.
    pub wall: Duration,
    /// The seed used.
    pub seed: u64,
    /// The history.
    pub history: History,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Init,
    Setup,
    Main,
    Draining,
    Recovery,
    Final,
    Done,
}

#[derive(Debug, Clone, Copy)]
enum Event {
    Deliver(Ep),
    RpcTimeout { client: usize, msg_id: u64 },
    Generate,
    Nemesis,
    TimeLimit,
    FinalStart,
    FinalLimit,
    WorkerWake(usize),
}

struct Scheduled {
    time: Duration,
    seq: u64,
    event: Event,
}

impl PartialEq for Scheduled {
    fn eq(&self, o: &Self) -> bool {
        (self.time, self.seq) == (o.time, o.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Scheduled {
    fn cmp(&self, o: &Self) -> Ordering {
        (self.time, self.seq).cmp(&(o.time, o.seq))
    }
}

#[derive(Debug, Clone, Copy)]
enum Role {
    Init(usize),
    Setup(usize),
    Worker(usize),
}

struct Client {
    ep: Ep,
    next_msg_id: u64,
    pending: Option<u64>,
    role: Role,
}

struct Worker {
    node: usize,
    process: u64,
    client: Option<usize>,
    /// The client belongs to an earlier process: it is closed (and a new
    /// one opened) when the worker starts its next operation, as Jepsen's
    /// interpreter does; until then late replies to it are accepted and
    /// dropped.
    client_retired: bool,
    wclient: Option<Box<dyn WorkloadClient>>,
    op: Option<Invocation>,
    sleeping: bool,
    final_done: bool,
}

/// A node's envelope as printed: a closed map of `src`, `dest`, `body` and
/// an optional integer `id`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OutEnvelope<'a> {
    src: String,
    dest: String,
    #[serde(borrow)]
    body: &'a RawValue,
    #[serde(default)]
    id: Option<Value>,
}

struct Engine<'a> {
    opts: &'a TestOpts,
    cfg: &'a EngineConfig,
    workload: Box<dyn Workload>,
    backend: Box<dyn Backend>,
    net: Network,
    services: Vec<Box<dyn Service>>,
    node_eps: Vec<Ep>,
    gen_rng: StdRng,
    nem_rng: StdRng,
    svc_rng: StdRng,
    clients: Vec<Client>,
    workers: Vec<Worker>,
    history: History,
    events: BinaryHeap<Reverse<Scheduled>>,
    seq: u64,
    now: Duration,
    phase: Phase,
    pending_setup: usize,
    main_end: Duration,
    gen_blocked: bool,
    gen_next: Duration,
    nemesis_start_next: bool,
    final_cut: bool,
    node_errors: Vec<Value>,
    node_error_count: usize,
    fatal: Option<BenchError>,
    buf: Vec<NodeEvent>,
    wall_start: Instant,
    last_progress: Instant,
    ok_count: u64,
    invoke_count: u64,
}

/// Seeds for the engine's independent random streams.
struct Seeds {
    gen: u64,
    net: u64,
    nemesis: u64,
    services: u64,
    nodes: Vec<u64>,
}

fn derive_seeds(seed: u64, n: usize) -> Seeds {
    let mut r = StdRng::seed_from_u64(seed);
    Seeds {
        gen: r.gen(),
        net: r.gen(),
        nemesis: r.gen(),
        services: r.gen(),
        nodes: (0..n).map(|_| r.gen()).collect(),
    }
}

/// Run one test with `opts`. Prints progress when `cfg.verbose`.
pub fn run(opts: &TestOpts, cfg: &EngineConfig) -> Result<Outcome, BenchError> {
    run_with_services(opts, cfg, services::default_services())
}

/// [`run`] with the given services instead of Maelstrom's defaults (for
/// tests of the engine's service routing).
pub fn run_with_services(
    opts: &TestOpts,
    cfg: &EngineConfig,
    service_list: Vec<(&'static str, Box<dyn Service>)>,
) -> Result<Outcome, BenchError> {
    let workload = workloads::make(&opts.workload, opts)
        .map_err(|e| BenchError::BadArgs(format!("workload {}: {e}", opts.workload)))?;
    run_with(opts, cfg, workload, service_list)
}

/// [`run`] with a given workload and services (for tests of the engine).
/// `opts.workload` still names the run directory and, in-process, the
/// handler.
pub fn run_with(
    opts: &TestOpts,
    cfg: &EngineConfig,
    workload: Box<dyn Workload>,
    service_list: Vec<(&'static str, Box<dyn Service>)>,
) -> Result<Outcome, BenchError> {
    let wall_start = Instant::now();
    if opts.nodes.is_empty() {
        return Err(BenchError::BadArgs("no nodes to test".into()));
    }
    if opts.concurrency == 0 {
        return Err(BenchError::BadArgs("--concurrency must be positive".into()));
    }
    let seeds = derive_seeds(opts.seed, opts.nodes.len());
    let dir = if cfg.write_store {
        Some(
            results::create_run_dir(&opts.store, &opts.workload).map_err(|e| {
                BenchError::Fatal(format!(
                    "cannot create a run directory under {}: {e}",
                    opts.store.display()
                ))
            })?,
        )
    } else {
        None
    };
    if cfg.verbose {
        eprintln!(
            "glomers: seed {} (replay with --seed {}){}",
            opts.seed,
            opts.seed,
            dir.as_ref()
                .map(|d| format!(", results in {}", d.display()))
                .unwrap_or_default()
        );
        eprintln!(
            "glomers: {} on {} node(s) ({}), concurrency {}, rate {}/s, time limit {} s, latency {} ms {}, nemesis {}",
            opts.workload,
            opts.nodes.len(),
            if opts.in_process { "in-process, virtual clock" } else { "processes" },
            opts.concurrency,
            opts.rate,
            opts.time_limit,
            opts.latency,
            format!("{:?}", opts.latency_dist).to_lowercase(),
            if opts.nemesis_partition {
                format!("partition every ~{} s", opts.nemesis_interval)
            } else {
                "none".into()
            }
        );
    }
    if opts.in_process && opts.bin.is_some() && cfg.verbose {
        eprintln!("glomers: --in-process runs our own handler; --bin is ignored");
    }
    let backend: Box<dyn Backend> = if opts.in_process {
        Box::new(
            InProcessBackend::new(
                &opts.workload,
                &opts.nodes,
                &seeds.nodes,
                &opts.bin_args,
                opts.log_stderr,
            )
                .ok_or_else(|| {
                    BenchError::BadArgs(format!(
                        "--in-process: no in-process handler for workload {:?} yet (see src/bench/inprocess.rs)",
                        opts.workload
                    ))
                })?,
        )
    } else {
        let Some(bin) = &opts.bin else {
            return Err(BenchError::BadArgs(
                "Expected a --bin PATH_TO_BINARY to test".into(),
            ));
        };
        let log_dir = match &dir {
            Some(d) => d.join("node-logs"),
            None => std::env::temp_dir().join(format!("glomers-logs-{}", std::process::id())),
        };
        super::backend::install_interrupt_handler();
        Box::new(
            ProcessBackend::spawn(bin, &opts.bin_args, &opts.nodes, &log_dir, opts.log_stderr)
                .map_err(|e| match e {
                    SpawnError::BadBinary(m) => BenchError::BadArgs(m),
                    SpawnError::Other(m) => BenchError::Fatal(m),
                })?,
        )
    };
    let mut net = Network::new(opts, StdRng::seed_from_u64(seeds.net));
    let node_eps: Vec<Ep> = opts
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| net.add(n, EpKind::Node(i)))
        .collect();
    let mut svc = Vec::new();
    for (i, (name, s)) in service_list.into_iter().enumerate() {
        net.add(name, EpKind::Service(i));
        svc.push(s);
    }
    let workers = (0..opts.concurrency)
        .map(|i| Worker {
            node: i % opts.nodes.len(),
            process: i as u64,
            client: None,
            client_retired: false,
            wclient: None,
            op: None,
            sleeping: false,
            final_done: false,
        })
        .collect();
    let mut eng = Engine {
        opts,
        cfg,
        workload,
        backend,
        net,
        services: svc,
        node_eps,
        gen_rng: StdRng::seed_from_u64(seeds.gen),
        nem_rng: StdRng::seed_from_u64(seeds.nemesis),
        svc_rng: StdRng::seed_from_u64(seeds.services),
        clients: Vec::new(),
        workers,
        history: History::new(),
        events: BinaryHeap::new(),
        seq: 0,
        now: Duration::ZERO,
        phase: Phase::Init,
        pending_setup: 0,
        main_end: Duration::ZERO,
        gen_blocked: false,
        gen_next: Duration::ZERO,
        nemesis_start_next: true,
        final_cut: false,
        node_errors: Vec::new(),
        node_error_count: 0,
        fatal: None,
        buf: Vec::new(),
        wall_start,
        last_progress: Instant::now(),
        ok_count: 0,
        invoke_count: 0,
    };
    let run_result = eng.run_loop();
    let shut = eng.backend.shutdown();
    if let Some(d) = &dir {
        let _ = eng.backend.write_logs(&d.join("node-logs"));
        let _ = std::fs::write(d.join("history.jsonl"), eng.history.to_jsonl());
        let _ = std::fs::write(d.join("messages.jsonl"), eng.net.journal_jsonl());
    }
    run_result?;
    if let Err(report) = shut {
        return Err(BenchError::Fatal(report));
    }
    let (results, validity) = eng.check();
    if let Some(d) = &dir {
        let text = serde_json::to_string_pretty(&results).unwrap_or_default();
        std::fs::write(d.join("results.json"), text + "\n").map_err(|e| {
            BenchError::Fatal(format!(
                "cannot write {}: {e}",
                d.join("results.json").display()
            ))
        })?;
    }
    Ok(Outcome {
        results,
        validity,
        dir,
        wall: wall_start.elapsed(),
        seed: opts.seed,
        history: std::mem::take(&mut eng.history),
    })
}

impl<'a> Engine<'a> {
    fn schedule(&mut self, time: Duration, event: Event) {
        self.seq += 1;
        self.events.push(Reverse(Scheduled {
            time: time.max(self.now),
            seq: self.seq,
            event,
        }));
    }

    fn run_loop(&mut self) -> Result<(), BenchError> {
        self.start_init();
        loop {
            while let Some(Reverse(top)) = self.events.peek() {
                if top.time > self.now || self.fatal.is_some() || self.phase == Phase::Done {
                    break;
                }
                let Some(Reverse(ev)) = self.events.pop() else {
                    break;
                };
                self.handle(ev.event);
            }
            if let Some(e) = self.fatal.take() {
                return Err(e);
            }
            if self.phase == Phase::Done {
                return Ok(());
            }
            self.progress();
            let until = self.events.peek().map(|Reverse(s)| s.time);
            if until.is_none() && self.backend.is_virtual() {
                return Err(BenchError::Fatal(format!(
                    "internal error: the engine has nothing left to do in phase {:?}",
                    self.phase
                )));
            }
            let mut buf = std::mem::take(&mut self.buf);
            let t = self.backend.wait(until, &mut buf);
            self.now = self.now.max(t);
            self.process_node_events(&mut buf);
            self.buf = buf;
        }
    }

    fn progress(&mut self) {
        if !self.cfg.verbose || self.last_progress.elapsed() < Duration::from_secs(5) {
            return;
        }
        self.last_progress = Instant::now();
        eprintln!(
            "glomers: {:>6.1}s {:?}: {} ops invoked, {} ok, {} messages (wall {:.1}s)",
            self.now.as_secs_f64(),
            self.phase,
            self.invoke_count,
            self.ok_count,
            self.net.messages.len(),
            self.wall_start.elapsed().as_secs_f64()
        );
    }

    fn process_node_events(&mut self, buf: &mut Vec<NodeEvent>) {
        for ev in buf.drain(..) {
            match ev {
                NodeEvent::Line { node, line } => self.on_node_line(node, &line),
                NodeEvent::Exited { report, .. } => {
                    if self.fatal.is_none() {
                        self.fatal = Some(BenchError::Fatal(report));
                    }
                }
                NodeEvent::Interrupted => self.fatal = Some(BenchError::Interrupted),
            }
        }
    }

    fn handle(&mut self, ev: Event) {
        match ev {
            Event::Deliver(ep) => self.deliver(ep),
            Event::RpcTimeout { client, msg_id } => {
                if self.clients[client].pending == Some(msg_id) {
                    self.clients[client].pending = None;
                    self.on_client_outcome(client, Err(RpcFailure::Timeout));
                }
            }
            Event::Generate => self.generate(),
            Event::Nemesis => self.nemesis_op(),
            Event::TimeLimit => {
                if self.phase == Phase::Main {
                    self.phase = Phase::Draining;
                    self.check_main_done();
                }
            }
            Event::FinalStart => self.start_final(),
            Event::FinalLimit => {
                self.final_cut = true;
                for w in 0..self.workers.len() {
                    if self.workers[w].sleeping {
                        self.workers[w].sleeping = false;
                        self.workers[w].final_done = true;
                    }
                }
                self.check_final_done();
            }
            Event::WorkerWake(w) => {
                if self.workers[w].sleeping {
                    self.workers[w].sleeping = false;
                    if self.phase == Phase::Final {
                        self.advance_final(w);
                    }
                }
            }
        }
    }

    // ---- network -------------------------------------------------------

    fn send(&mut self, src: Ep, dest: Ep, body: Box<str>) {
        self.net.send(self.now, src, dest, body);
        if let Some(t) = self.net.next_head(dest) {
            self.schedule(t, Event::Deliver(dest));
        }
    }

    fn deliver(&mut self, ep: Ep) {
        if let Some(id) = self.net.take_head(ep, self.now) {
            match self.net.endpoints[ep].kind {
                EpKind::Node(i) => {
                    let line = self.net.wire_line(id);
                    let mut buf = std::mem::take(&mut self.buf);
                    self.backend.deliver(i, &line, self.now, &mut buf);
                    self.process_node_events(&mut buf);
                    self.buf = buf;
                }
                EpKind::Client(c) => self.client_receive(c, id),
                EpKind::Service(s) => self.service_receive(s, id),
            }
        }
        if let Some(t) = self.net.next_head(ep) {
            self.schedule(t, Event::Deliver(ep));
        }
    }

    fn node_error(&mut self, node: usize, line: &str, error: String) {
        self.node_error_count += 1;
        let opts = self.opts;
        let name = &opts.nodes[node];
        if self.node_error_count <= 5 && self.cfg.verbose {
            eprintln!("glomers: ERROR: node {name}: {error}\n    line: {line}");
        }
        if self.node_errors.len() < MAX_NODE_ERRORS {
            self.node_errors.push(json!({
                "node": name,
                "time": self.now.as_nanos() as u64,
                "error": error,
                "line": line,
            }));
        }
    }

    /// The one parse-and-validate path for everything a node prints.
    fn on_node_line(&mut self, node: usize, line: &str) {
        let env: OutEnvelope<'_> = match serde_json::from_str(line) {
            Ok(e) => e,
            Err(e) => {
                if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(line) {
                    return self.node_error(
                        node,
                        line,
                        format!("line-not-valid-json: printed a line to STDOUT which was not well-formed JSON ({e})"),
                    );
                }
                return self.node_error(
                    node,
                    line,
                    format!("malformed-message: not a message envelope of exactly src, dest, body and an optional integer id ({e})"),
                );
            }
        };
        if let Some(id) = &env.id {
            if !(id.is_i64() || id.is_u64()) {
                return self.node_error(
                    node,
                    line,
                    "malformed-message: id is not an integer".into(),
                );
            }
        }
        let Some(src) = self.net.lookup(&env.src) else {
            return self.node_error(
                node,
                line,
                format!(
                    "invalid source for message: {:?} is not a node, open client or service",
                    env.src
                ),
            );
        };
        let Some(dest) = self.net.lookup(&env.dest) else {
            let closed = env
                .dest
                .strip_prefix('c')
                .and_then(|k| k.parse::<usize>().ok())
                .is_some_and(|k| k < self.clients.len());
            let why = if closed {
                format!(
                    "invalid destination for message: client {:?} was already closed (its worker moved on to a new client after an indeterminate op); Maelstrom would stop reading this node from here on",
                    env.dest
                )
            } else {
                format!(
                    "invalid destination for message: {:?} is not a node, open client or service",
                    env.dest
                )
            };
            return self.node_error(node, line, why);
        };
        let body: Box<str> = env.body.get().into();
        self.send(src, dest, body);
    }

    // ---- clients -------------------------------------------------------

    fn open_client(&mut self, role: Role) -> usize {
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
        let src = self.clients[c].ep;
        let dest = self.node_eps[node];
        self.send(src, dest, body.to_string().into_boxed_str());
        self.schedule(
            self.now + timeout,
            Event::RpcTimeout {
                client: c,
                msg_id: id,
            },
        );
    }

    fn client_receive(&mut self, c: usize, id: u64) {
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
        let outcome = if body.get("type").and_then(Value::as_str) == Some("error") {
            Err(RpcFailure::Error {
                code: body.get("code").and_then(Value::as_u64).unwrap_or(13),
                text: body
                    .get("text")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                body: body.clone(),
            })
        } else {
            Ok(body)
        };
        self.on_client_outcome(c, outcome);
    }

    fn on_client_outcome(&mut self, c: usize, outcome: RpcOutcome) {
        match self.clients[c].role {
            Role::Init(n) => self.on_init_reply(c, n, outcome),
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

    fn start_init(&mut self) {
        let ids: Vec<Value> = self
            .opts
            .nodes
            .iter()
            .map(|n| Value::from(n.clone()))
            .collect();
        for (i, name) in self.opts.nodes.iter().enumerate() {
            let c = self.open_client(Role::Init(i));
            let body = json!({"type": "init", "node_id": name, "node_ids": ids});
            self.rpc(c, i, body, self.cfg.init_timeout);
        }
    }

    fn on_init_reply(&mut self, c: usize, node: usize, outcome: RpcOutcome) {
        let opts = self.opts;
        let name = &opts.nodes[node];
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
            self.fatal = Some(BenchError::Fatal(e));
            return;
        }
        self.close_client(c);
        let all_done = self
            .clients
            .iter()
            .all(|cl| !matches!(cl.role, Role::Init(_)) || cl.pending.is_none());
        if all_done && self.phase == Phase::Init {
            self.start_setup();
        }
    }

    fn start_setup(&mut self) {
        self.phase = Phase::Setup;
        let mut setups = Vec::new();
        for i in 0..self.opts.nodes.len() {
            let c = self.open_client(Role::Setup(i));
            if let Some(body) = self.workload.setup_request(&self.opts.nodes[i], self.opts) {
                setups.push((c, i, body));
            }
        }
        self.pending_setup = setups.len();
        for (c, i, body) in setups {
            self.rpc(c, i, body, self.cfg.rpc_timeout);
        }
        if self.pending_setup == 0 {
            self.start_main();
        }
    }

    fn on_setup_reply(&mut self, node: usize, outcome: RpcOutcome) {
        let opts = self.opts;
        let name = &opts.nodes[node];
        match outcome {
            Ok(body) => {
                if let Err(why) = self.workload.check_setup_reply(&body) {
                    self.fatal = Some(BenchError::Fatal(format!(
                        "setup failed: node {name} answered the setup request with a malformed reply ({why}): {body}"
                    )));
                    return;
                }
                self.pending_setup -= 1;
                if self.pending_setup == 0 {
                    self.start_main();
                }
            }
            Err(RpcFailure::Timeout) => {
                self.fatal = Some(BenchError::Fatal(format!(
                    "setup failed: node {name} did not answer the setup request within {} s",
                    self.cfg.rpc_timeout.as_secs_f64()
                )))
            }
            Err(RpcFailure::Error { body, .. }) => {
                self.fatal = Some(BenchError::Fatal(format!(
                    "setup failed: node {name} answered the setup request with an error: {body}"
                )))
            }
        }
    }

    // ---- main phase ----------------------------------------------------

    fn start_main(&mut self) {
        self.phase = Phase::Main;
        let limit = Duration::from_secs_f64(self.opts.time_limit.max(0.0));
        self.main_end = self.now + limit;
        self.schedule(self.main_end, Event::TimeLimit);
        if self.opts.rate > 0.0 {
            self.gen_next = self.now;
            self.schedule(self.now, Event::Generate);
        }
        if self.opts.nemesis_partition {
            self.schedule(self.now, Event::Nemesis);
        }
    }

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

    fn generate(&mut self) {
        if self.phase != Phase::Main || self.now >= self.main_end {
            return;
        }
        let free: Vec<usize> = (0..self.workers.len())
            .filter(|&w| self.workers[w].op.is_none())
            .collect();
        if free.is_empty() {
            self.gen_blocked = true;
            return;
        }
        let w = free[self.gen_rng.gen_range(0..free.len())];
        let ctx = self.gen_ctx(w);
        if let Some(inv) = self.workload.next_op(&ctx, &mut self.gen_rng) {
            self.start_op(w, inv);
        }
        // Jepsen's stagger: the next op is due U(0, 2/rate) after this op's
        // due time (which is now, unless it had to wait for a free worker),
        // so the real clock's wake-up jitter does not slow the rate down.
        let dt = 2.0 / self.opts.rate;
        let gap = Duration::from_secs_f64(self.gen_rng.gen_range(0.0..dt));
        self.gen_next += gap;
        if self.gen_next < self.main_end {
            self.schedule(self.gen_next, Event::Generate);
        }
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
            None => {
                let ctx = self.gen_ctx(w);
                self.workload.new_client(&ctx)
            }
        };
        self.invoke_count += 1;
        self.history.push(Op {
            index: 0,
            time: self.now.as_nanos() as u64,
            process: Process::Client(self.workers[w].process),
            kind: OpType::Invoke,
            f: inv.f.clone(),
            value: inv.value.clone(),
            error: None,
            final_phase: inv.final_phase,
        });
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
            self.ok_count += 1;
        }
        // A completion never has type invoke; treat a confused client's as info.
        let kind = if done.kind == OpType::Invoke {
            OpType::Info
        } else {
            done.kind
        };
        self.history.push(Op {
            index: 0,
            time: self.now.as_nanos() as u64,
            process: Process::Client(self.workers[w].process),
            kind,
            f: inv.f.clone(),
            value: done.value.clone(),
            error: done.error.clone(),
            final_phase: inv.final_phase,
        });
        let ctx = self.gen_ctx(w);
        self.workload.on_complete(&ctx, &inv, &done);
        if kind == OpType::Info {
            self.workers[w].process += self.opts.concurrency as u64;
            if !self.workload.reusable_client() {
                if let Some(c) = self.workers[w].client {
                    self.clients[c].pending = None;
                    self.workers[w].client_retired = true;
                }
                self.workers[w].wclient = None;
            }
        }
        match self.phase {
            Phase::Main if self.gen_blocked => {
                // The op waited for a free worker: it goes now, and the next
                // one is due a gap after now (Jepsen's stagger).
                self.gen_blocked = false;
                self.gen_next = self.now;
                self.schedule(self.now, Event::Generate);
            }
            Phase::Draining => self.check_main_done(),
            Phase::Final => self.advance_final(w),
            _ => {}
        }
    }

    // ---- nemesis -------------------------------------------------------

    /// Record a nemesis operation as Jepsen does: two `info` entries, the
    /// first with the request, the second with what was done.
    fn record_nemesis(&mut self, f: &str, invoke: Value, info: Value) {
        for value in [invoke, info] {
            let kind = OpType::Info;
            self.history.push(Op {
                index: 0,
                time: self.now.as_nanos() as u64,
                process: Process::Nemesis,
                kind,
                f: f.into(),
                value,
                error: None,
                final_phase: false,
            });
        }
    }

    fn nemesis_op(&mut self) {
        if self.phase != Phase::Main || self.now >= self.main_end {
            return;
        }
        if self.nemesis_start_next {
            let spec = PartitionSpec::ALL[self.nem_rng.gen_range(0..PartitionSpec::ALL.len())];
            let g = nemesis::grudge(spec, self.opts.nodes.len(), &mut self.nem_rng);
            self.net.apply_grudge(&g);
            let shown = nemesis::grudge_json(&g, &self.opts.nodes);
            self.record_nemesis(
                "start-partition",
                Value::from(spec.name()),
                json!(["isolated", shown]),
            );
        } else {
            self.net.heal();
            self.record_nemesis("stop-partition", Value::Null, Value::from("network-healed"));
        }
        self.nemesis_start_next = !self.nemesis_start_next;
        let mean = self.opts.nemesis_interval.max(0.0);
        let gap = if mean > 0.0 {
            Duration::from_secs_f64(self.nem_rng.gen_range(0.0..2.0 * mean))
        } else {
            Duration::ZERO
        };
        let next = self.now + gap;
        if next < self.main_end {
            self.schedule(next, Event::Nemesis);
        }
    }

    // ---- end of main phase and final phase -----------------------------

    fn check_main_done(&mut self) {
        if self.phase != Phase::Draining || self.workers.iter().any(|w| w.op.is_some()) {
            return;
        }
        if self.workload.has_final_phase() {
            if self.opts.nemesis_partition {
                self.net.heal();
                self.record_nemesis("stop-partition", Value::Null, Value::from("network-healed"));
            }
            if self.cfg.verbose {
                eprintln!("glomers: Waiting for recovery...");
            }
            self.phase = Phase::Recovery;
            let wait = Duration::from_secs_f64(self.opts.recovery_wait.max(0.0));
            self.schedule(self.now + wait, Event::FinalStart);
        } else {
            self.net.heal();
            self.phase = Phase::Done;
        }
    }

    fn start_final(&mut self) {
        self.phase = Phase::Final;
        if let Some(limit) = self.workload.final_time_limit() {
            self.schedule(self.now + limit, Event::FinalLimit);
        }
        for w in 0..self.workers.len() {
            if self.workers[w].op.is_none() && !self.workers[w].final_done {
                self.advance_final(w);
            }
        }
        self.check_final_done();
    }

    fn advance_final(&mut self, w: usize) {
        if self.final_cut {
            self.workers[w].final_done = true;
        } else {
            let ctx = self.gen_ctx(w);
            match self.workload.final_step(&ctx, &mut self.gen_rng) {
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

    fn check_final_done(&mut self) {
        if self.phase == Phase::Final
            && self
                .workers
                .iter()
                .all(|w| w.final_done && w.op.is_none() && !w.sleeping)
        {
            self.phase = Phase::Done;
        }
    }

    // ---- services ------------------------------------------------------

    fn service_receive(&mut self, s: usize, id: u64) {
        let msg = &self.net.messages[id as usize];
        let (src, svc_ep) = (msg.src, msg.dest);
        let Ok(body) = serde_json::from_str::<Value>(&msg.body) else {
            return;
        };
        let src_name = self.net.name(src).to_string();
        let Some(mut reply) = self.services[s].handle(&src_name, &body, &mut self.svc_rng) else {
            return;
        };
        if let Some(m) = reply.as_object_mut() {
            let irt = body.get("msg_id").cloned().unwrap_or(Value::Null);
            m.insert("in_reply_to".into(), irt);
            m.remove("msg_id");
        }
        if self.net.endpoints[src].open {
            self.send(svc_ep, src, reply.to_string().into_boxed_str());
        }
    }

    // ---- checking ------------------------------------------------------

    fn check(&mut self) -> (Value, Validity) {
        let ops = results::op_count(&self.history);
        let workload_result = {
            let wl = &self.workload;
            let h = &self.history;
            let opts = self.opts;
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| wl.check(h, opts))) {
                Ok(v) => v,
                Err(p) => {
                    let why = p
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_else(|| "panic".into());
                    json!({"valid?": "unknown", "error": format!("the workload checker panicked: {why}")})
                }
            }
        };
        let mut parts = vec![
            ("stats", results::stats(&self.history)),
            (
                "availability",
                results::availability(&self.history, self.opts),
            ),
            ("net", self.net.stats(ops)),
            ("workload", workload_result),
        ];
        if self.node_error_count > 0 {
            parts.push((
                "node-output",
                json!({
                    "valid?": false,
                    "error-count": self.node_error_count,
                    "errors": self.node_errors,
                    "note": "a node printed lines that are not valid Maelstrom messages; Maelstrom would stop reading that node (spec §1.6), this bench reports them and fails the run",
                }),
            ));
        }
        results::compose(parts)
    }
}
