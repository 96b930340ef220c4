//! The bench engine: a test as a list of phases, run by one discrete-event
//! interpreter shared by process and in-process runs.
//!
//! # Design
//!
//! Maelstrom assembles a test from parts: a generator in phases, a nemesis
//! package, a composed checker (maelstrom: src/maelstrom/core.clj,
//! `maelstrom-test`; jepsen: src/jepsen/generator.clj `phases`). The engine
//! does the same with plain data. [`phases::plan`] turns the options and
//! the workload into the test's phases:
//!
//! - **init**: one client per node (`c0…`) sends `init`; no `init_ok` within
//!   10 s aborts the test (maelstrom: src/maelstrom/db.clj);
//! - **setup**: one client per node next, sending the workload's setup
//!   request (broadcast's `topology`); an error or timeout aborts;
//! - **main**, with its time limit: `concurrency` workers, worker `i` on
//!   node `i mod N`; Jepsen's global stagger emits an op `U(0, 2/rate)`
//!   after the previous one to a random free worker; each RPC has a 5 s
//!   timeout; an `info` completion bumps the worker's process by the
//!   concurrency and (unless the workload's clients are reusable) gives it a
//!   fresh client id (jepsen: src/jepsen/generator/interpreter.clj); the
//!   nemesis ([`super::nemesis`]) runs on its own stagger; at the time limit
//!   in-flight ops finish;
//! - and, for workloads with a final phase: **heal** (the nemesis undoes
//!   every fault), **recover** (wait `--recovery-wait`), **final** (each
//!   worker runs the workload's final steps).
//!
//! One interpreter ([`phases`]) enters each phase and moves on when it is
//! over. Everything else happens in one event queue ordered by
//! `(time, seq)` ([`queue`]): deliveries, RPC timeouts, generator ticks,
//! nemesis ops, phase deadlines. The loop runs every event that is due,
//! then asks the [`Backend`] to wait until the next one: the process
//! backend blocks on its children's output with the real clock, the
//! in-process backend jumps a virtual clock. Every line a node prints is
//! validated ([`nodes`]) and sent into the [`Network`]; clients and workers
//! live in [`clients`]; the run directory is written by
//! [`super::store`]; the result map comes from [`check`].
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
//!   envelope, or addressed to an unknown or closed id mutes the node, as
//!   Maelstrom's stdout reader stops there (maelstrom:
//!   src/maelstrom/process.clj), but loudly: a console WARNING and
//!   `node-output` in the results (node, line, reason, muted nodes, lines
//!   dropped). The verdict is Maelstrom's; under `--strict` the line is
//!   dropped, the node keeps being read, and the run is not valid.
//! - In process mode the run measures how late it runs against its
//!   schedule and says so when that distorts the figures ([`overload`]).
//! - A node that exits is reported as soon as its stdout closes, with
//!   Maelstrom's crash message and exit 255, instead of at teardown —
//!   unless the nemesis killed it.
//! - Results are JSON (`results.json`, `history.jsonl`, `messages.jsonl`);
//!   there is no perf, timeline or exceptions checker: the plots, `messages.html`
//!   and `timeline.html` are drawn afterwards from the run's files by
//!   [`super::report::write_run`].
//! - Times in the history and the journal count from the start of the
//!   run (before init), not from the first operation.
//! - `--latency-dist exponential --latency 0` gives zero latency instead of
//!   Maelstrom's division by zero; `--time-limit` may be fractional.
//! - Ctrl-C stops every node and exits 130.
//! - Faults beyond Maelstrom, `kill` and `pause` ([`super::nemesis`]),
//!   only when asked for: a kill ends the RPCs waiting on the node at once
//!   and a request to a node that is down is not sent (both end as a
//!   timeout would, [`clients`]); a reply to a closed client is then
//!   dropped rather than muting its node ([`nodes`]); a restarted node is
//!   sent `init` again, and an unanswered re-init is excused if the node
//!   was killed or paused again meanwhile. With `--nemesis partition`
//!   alone none of this happens.

mod check;
mod clients;
mod nodes;
mod overload;
pub mod phases;
mod queue;

use super::backend::{Backend, NodeDirs, NodeEvent, ProcessBackend, SpawnError};
use super::check::Validity;
use super::history::History;
use super::inprocess::InProcessBackend;
use super::nemesis::Nemesis;
use super::net::{EpKind, Network};
use super::opts::TestOpts;
use super::services::{self, Service};
use super::store::RunDir;
use super::workload::Workload;
use super::workloads;
use clients::{Client, Worker};
use nodes::Nodes;
use phases::Phases;
use queue::EventQueue;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use std::path::PathBuf;
use std::time::{Duration, Instant};

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
    /// What the verdict does not show but the user must hear: nodes muted
    /// by a bad line, a run that fell behind its schedule. Printed after
    /// the verdict (each also in `results.json`).
    pub warnings: Vec<String>,
}

/// Seeds for the engine's independent random streams.
struct Seeds {
    gen: u64,
    net: u64,
    nemesis: u64,
    services: u64,
    nodes: Vec<u64>,
}

impl Seeds {
    /// The streams of test seed `seed` with `n` nodes (the draw order is
    /// part of every recorded run: do not reorder).
    fn derive(seed: u64, n: usize) -> Seeds {
        let mut r = StdRng::seed_from_u64(seed);
        Seeds {
            gen: r.gen(),
            net: r.gen(),
            nemesis: r.gen(),
            services: r.gen(),
            nodes: (0..n).map(|_| r.gen()).collect(),
        }
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
    let seeds = Seeds::derive(opts.seed, opts.nodes.len());
    let mut dir = open_run_dir(opts, cfg)?;
    if cfg.verbose {
        banner(opts, dir.as_ref());
    }
    let backend = open_backend(opts, &seeds, dir.as_ref())?;
    let mut eng = Engine::new(opts, cfg, workload, backend, service_list, &seeds);
    let run_result = eng.run_loop();
    let shut = eng.backend.shutdown();
    if let Some(d) = &mut dir {
        eng.store_run(d);
    }
    let checked = run_result
        .and_then(|()| shut.map_err(BenchError::Fatal))
        .map(|()| check::check(&eng));
    let dir = close_run_dir(dir, checked.as_ref().ok().map(|(r, v, _)| (r, *v)), cfg)?;
    let (results, validity, warnings) = checked?;
    if let Some(d) = &dir {
        // Pictures never change a verdict: a failure to draw is only said.
        if let Err(e) = super::report::write_run(d) {
            eprintln!("glomers: could not draw the run's pictures: {e}");
        }
    }
    Ok(Outcome {
        results,
        validity,
        dir,
        wall: wall_start.elapsed(),
        seed: opts.seed,
        history: std::mem::take(&mut eng.history),
        warnings,
    })
}

fn open_run_dir(opts: &TestOpts, cfg: &EngineConfig) -> Result<Option<RunDir>, BenchError> {
    if !cfg.write_store {
        return Ok(None);
    }
    RunDir::create(&opts.store, &opts.workload)
        .map(Some)
        .map_err(|e| {
            BenchError::Fatal(format!(
                "cannot create a run directory under {}: {e}",
                opts.store.display()
            ))
        })
}

/// Write `results.json` (when the run produced results) and report every
/// write that failed: as the error of a run that succeeded, as a warning
/// beside the error of one that did not.
fn close_run_dir(
    dir: Option<RunDir>,
    results: Option<(&Value, Validity)>,
    cfg: &EngineConfig,
) -> Result<Option<PathBuf>, BenchError> {
    let Some(mut d) = dir else {
        return Ok(None);
    };
    if let Some((r, _)) = results {
        let text = serde_json::to_string_pretty(r).unwrap_or_default();
        d.write("results.json", text + "\n");
    }
    match d.finish() {
        Ok((path, warnings)) => {
            if cfg.verbose {
                warnings
                    .iter()
                    .for_each(|w| eprintln!("glomers: warning: {w}"));
            }
            Ok(Some(path))
        }
        Err(e) if results.is_some() => Err(BenchError::Fatal(e)),
        Err(e) => {
            eprintln!("glomers: warning: {e}");
            Ok(None)
        }
    }
}

/// The console lines that open a run.
fn banner(opts: &TestOpts, dir: Option<&RunDir>) {
    eprintln!(
        "glomers: seed {} (replay with --seed {}){}",
        opts.seed,
        opts.seed,
        dir.map(|d| format!(", results in {}", d.path().display()))
            .unwrap_or_default()
    );
    let nemesis = if opts.nemesis.is_empty() {
        "none".to_string()
    } else {
        let names: Vec<&str> = opts.nemesis.iter().map(|f| f.name()).collect();
        format!("{} every ~{} s", names.join(","), opts.nemesis_interval)
    };
    eprintln!(
        "glomers: {} on {} node(s) ({}), concurrency {}, rate {}/s, time limit {} s, latency {} ms {}, nemesis {nemesis}",
        opts.workload,
        opts.nodes.len(),
        if opts.in_process { "in-process, virtual clock" } else { "processes" },
        opts.concurrency,
        opts.rate,
        opts.time_limit,
        opts.latency,
        format!("{:?}", opts.latency_dist).to_lowercase(),
    );
    if opts.in_process && opts.bin.is_some() {
        eprintln!("glomers: --in-process runs our own handler; --bin is ignored");
    }
}

/// The nodes: our handlers in-process, or one process per node.
fn open_backend(
    opts: &TestOpts,
    seeds: &Seeds,
    dir: Option<&RunDir>,
) -> Result<Box<dyn Backend>, BenchError> {
    if opts.in_process {
        // The lead reconciles this call with the simulator's host factories
        // (each node built from the workload registry's `host`).
        let backend = InProcessBackend::new(
            &opts.workload,
            &opts.nodes,
            &seeds.nodes,
            &opts.bin_args,
            opts.log_stderr,
        );
        return backend
            .map(|b| Box::new(b) as Box<dyn Backend>)
            .ok_or_else(|| {
                BenchError::BadArgs(format!(
                    "--in-process: no in-process handler for workload {:?}",
                    opts.workload
                ))
            });
    }
    let Some(bin) = &opts.bin else {
        return Err(BenchError::BadArgs(
            "Expected a --bin PATH_TO_BINARY to test".into(),
        ));
    };
    let disk = opts.nemesis.contains(&super::nemesis::Fault::Kill);
    let (log_dir, dirs) = match dir {
        Some(d) => (
            d.node_logs(),
            NodeDirs {
                root: d.path().join("nodes"),
                disk,
                temporary: false,
            },
        ),
        None => (
            std::env::temp_dir().join(format!("glomers-logs-{}", std::process::id())),
            NodeDirs::temporary(disk),
        ),
    };
    super::backend::install_interrupt_handler();
    let backend = ProcessBackend::spawn(
        bin,
        &opts.bin_args,
        &opts.nodes,
        &log_dir,
        opts.log_stderr,
        &dirs,
    )
    .map_err(|e| match e {
        SpawnError::BadBinary(m) => BenchError::BadArgs(m),
        SpawnError::Other(m) => BenchError::Fatal(m),
    })?;
    Ok(Box::new(backend))
}

/// Console progress of a long (real-clock) run.
struct Progress {
    wall_start: Instant,
    last: Instant,
    ok: u64,
    invoked: u64,
}

/// The services and their random stream.
struct Services {
    list: Vec<Box<dyn Service>>,
    rng: StdRng,
}

/// One running test. Each part keeps its own state; the methods live in
/// the submodules: [`phases`] (the interpreter), [`clients`] (clients,
/// workers, the generator), [`nodes`] (node output, the network, services,
/// the nemesis's operations).
struct Engine<'a> {
    opts: &'a TestOpts,
    cfg: &'a EngineConfig,
    workload: Box<dyn Workload>,
    backend: Box<dyn Backend>,
    net: Network,
    services: Services,
    nodes: Nodes,
    clients: Vec<Client>,
    workers: Vec<Worker>,
    generator: clients::Generator,
    nemesis: Nemesis,
    phases: Phases,
    history: History,
    queue: EventQueue,
    /// The engine's clock: the time of the event being handled.
    now: Duration,
    /// Set when the test must stop (a crash, a failed init, Ctrl-C).
    fatal: Option<BenchError>,
    /// Node events, reused between waits.
    buf: Vec<NodeEvent>,
    progress: Progress,
    /// How late the run runs against its schedule (process mode).
    overload: overload::Overload,
}

impl<'a> Engine<'a> {
    fn new(
        opts: &'a TestOpts,
        cfg: &'a EngineConfig,
        workload: Box<dyn Workload>,
        backend: Box<dyn Backend>,
        service_list: Vec<(&'static str, Box<dyn Service>)>,
        seeds: &Seeds,
    ) -> Self {
        let mut net = Network::new(opts, StdRng::seed_from_u64(seeds.net));
        let eps = opts
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| net.add(n, EpKind::Node(i)))
            .collect();
        let mut list = Vec::new();
        for (i, (name, s)) in service_list.into_iter().enumerate() {
            net.add(name, EpKind::Service(i));
            list.push(s);
        }
        let workers = (0..opts.concurrency)
            .map(|i| Worker::new(i % opts.nodes.len(), i as u64))
            .collect();
        let overload = overload::Overload::new(!backend.is_virtual());
        Engine {
            opts,
            cfg,
            phases: Phases::new(phases::plan(opts, workload.as_ref())),
            workload,
            backend,
            net,
            services: Services {
                list,
                rng: StdRng::seed_from_u64(seeds.services),
            },
            nodes: Nodes::new(eps),
            clients: Vec::new(),
            workers,
            generator: clients::Generator::new(StdRng::seed_from_u64(seeds.gen)),
            nemesis: Nemesis::new(opts.nemesis.clone(), opts.nemesis_interval, seeds.nemesis),
            history: History::new(),
            queue: EventQueue::default(),
            now: Duration::ZERO,
            fatal: None,
            buf: Vec::new(),
            progress: Progress {
                wall_start: Instant::now(),
                last: Instant::now(),
                ok: 0,
                invoked: 0,
            },
            overload,
        }
    }

    /// Write the history, the journal and the node logs.
    fn store_run(&mut self, dir: &mut RunDir) {
        let logs = dir.node_logs();
        let written = self.backend.write_logs(&logs);
        dir.note(&logs, written);
        dir.write("history.jsonl", self.history.to_jsonl());
        dir.write("messages.jsonl", self.net.journal_jsonl());
    }

    fn schedule(&mut self, time: Duration, event: queue::Event) {
        self.queue.push(time.max(self.now), event);
    }

    /// Run until the last phase is over or the test must stop.
    fn run_loop(&mut self) -> Result<(), BenchError> {
        self.start();
        loop {
            while self.fatal.is_none() && !self.phases.done() {
                let Some((due, ev)) = self.queue.pop_due(self.now) else {
                    break;
                };
                self.note_lateness(due, ev);
                self.handle(ev);
            }
            if let Some(e) = self.fatal.take() {
                return Err(e);
            }
            if self.phases.done() {
                return Ok(());
            }
            self.show_progress();
            let until = self.queue.next_time();
            if until.is_none() && self.backend.is_virtual() {
                return Err(BenchError::Fatal(format!(
                    "internal error: the engine has nothing left to do in phase {}",
                    self.phases.name()
                )));
            }
            let mut buf = std::mem::take(&mut self.buf);
            let t = self.backend.wait(until, &mut buf);
            self.now = self.now.max(t);
            self.process_node_events(&mut buf);
            self.buf = buf;
        }
    }

    fn show_progress(&mut self) {
        let p = &mut self.progress;
        if !self.cfg.verbose || p.last.elapsed() < Duration::from_secs(5) {
            return;
        }
        p.last = Instant::now();
        let faults = self.nemesis.describe(&self.opts.nodes);
        eprintln!(
            "glomers: {:>6.1}s {}: {} ops invoked, {} ok, {} messages{} (wall {:.1}s)",
            self.now.as_secs_f64(),
            self.phases.name(),
            p.invoked,
            p.ok,
            self.net.messages.len(),
            if faults.is_empty() {
                String::new()
            } else {
                format!(", {faults}")
            },
            p.wall_start.elapsed().as_secs_f64()
        );
    }

    /// Feed the overload measurements ([`overload`]) with how late a
    /// generator tick or a delivery is handled against the real clock.
    fn note_lateness(&mut self, due: Duration, ev: queue::Event) {
        if !self.overload.active {
            return;
        }
        match ev {
            queue::Event::Generate => self.overload.on_generate(due, self.backend.now()),
            queue::Event::Deliver(_) => self.overload.on_deliver_event(due, self.backend.now()),
            _ => {}
        }
    }

    fn handle(&mut self, ev: queue::Event) {
        use queue::Event;
        match ev {
            Event::Deliver(ep) => self.deliver(ep),
            Event::RpcTimeout { client, msg_id } => self.rpc_timeout(client, msg_id),
            Event::RpcRefused { client, msg_id } => self.refused(client, msg_id),
            Event::Generate => self.generate(),
            Event::Nemesis(stream) => self.nemesis_tick(stream),
            Event::TimeLimit => self.time_limit(),
            Event::WaitOver => self.wait_over(),
            Event::FinalLimit => self.final_limit(),
            Event::WorkerWake(w) => self.worker_wake(w),
        }
    }
}
