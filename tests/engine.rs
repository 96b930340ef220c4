//! Engine semantics on a virtual clock: our echo handler in-process, driven
//! by a test workload that has a final phase, so the phase sequence (time
//! limit, heal, recovery wait, final ops, final time limit) can be checked
//! on the history exactly.

use glomers::bench::checkers::{Checker, Input};
use glomers::bench::engine::{run_with, EngineConfig};
use glomers::bench::history::{OpType, Process};
use glomers::bench::nemesis::Fault;
use glomers::bench::opts::TestOpts;
use glomers::bench::workload::{
    ClientStep, Completion, FinalStep, GenCtx, Invocation, RpcOutcome, Workload, WorkloadClient,
};
use rand::rngs::StdRng;
use serde_json::{json, Value};
use std::time::Duration;

mod common;
use common::quiet;

/// Echo ops; in the final phase each worker sleeps 1 s, then does two
/// final echoes, then is done.
struct FinalEcho {
    final_steps: Vec<u32>,
}

struct Client;

impl WorkloadClient for Client {
    fn invoke(&mut self, inv: &Invocation) -> ClientStep {
        ClientStep::Call(json!({"type": "echo", "echo": inv.value}))
    }
    fn on_reply(&mut self, _inv: &Invocation, outcome: RpcOutcome) -> ClientStep {
        ClientStep::Done(match outcome {
            Ok(body) => Completion::ok(body),
            Err(_) => Completion {
                kind: OpType::Info,
                value: Value::Null,
                error: Some(json!("failed")),
            },
        })
    }
}

impl Workload for FinalEcho {
    fn name(&self) -> &'static str {
        "echo"
    }
    fn next_op(&mut self, ctx: &GenCtx<'_>, _rng: &mut StdRng) -> Option<Invocation> {
        Some(Invocation::new("echo", json!(format!("w{}", ctx.worker))))
    }
    fn has_final_phase(&self) -> bool {
        true
    }
    fn final_step(&mut self, ctx: &GenCtx<'_>, _rng: &mut StdRng) -> FinalStep {
        let n = &mut self.final_steps[ctx.worker];
        *n += 1;
        match *n {
            1 => FinalStep::Sleep(Duration::from_secs(1)),
            2 | 3 => FinalStep::Op(Invocation {
                f: "echo".into(),
                value: json!("final"),
                final_phase: true,
            }),
            _ => FinalStep::Done,
        }
    }
    fn new_client(&self, _ctx: &GenCtx<'_>) -> Box<dyn WorkloadClient> {
        Box::new(Client)
    }
    fn checker(&self) -> Box<dyn Checker> {
        Box::new(|i: &Input<'_>| json!({"valid?": true, "ops": i.history.ops.len()}))
    }
}

fn opts(seed: u64) -> TestOpts {
    let mut o = TestOpts::with_nodes(3);
    o.workload = "echo".into();
    o.in_process = true;
    o.time_limit = 20.0;
    o.rate = 10.0;
    o.latency = 10;
    o.nemesis = [Fault::Partition].into();
    o.nemesis_interval = 2.0;
    o.seed = seed;
    o
}

#[test]
fn phases_follow_maelstrom() {
    let o = opts(21);
    let wl = Box::new(FinalEcho {
        final_steps: vec![0; 3],
    });
    let out = run_with(&o, &quiet(), wl, Vec::new()).expect("run");
    assert_eq!(out.results["valid?"], true, "{}", out.results);
    let h = &out.history;
    let nem: Vec<_> = h
        .ops
        .iter()
        .filter(|op| op.process == Process::Nemesis)
        .collect();
    // Nemesis ops come in info/info pairs at the same instant (Jepsen records
    // both ends of a nemesis op as info), the first at the start of the main
    // phase, alternating start and stop.
    assert!(nem.len() >= 6);
    for pair in nem.chunks(2) {
        assert_eq!(pair[0].kind, OpType::Info);
        assert_eq!(pair[1].kind, OpType::Info);
        assert_eq!(pair[0].time, pair[1].time);
        assert_eq!(pair[0].f, pair[1].f);
    }
    assert_eq!(nem[0].f, "start-partition");
    assert_eq!(nem[1].value[0], "isolated");
    assert_eq!(nem[2].f, "stop-partition");
    assert_eq!(nem[3].value, "network-healed");
    // Main-phase ops end by the time limit (+ in-flight completion).
    let first = h.ops.iter().find(|op| op.is_client()).unwrap().time;
    let limit = Duration::from_secs(20).as_nanos() as u64;
    let main: Vec<_> = h
        .ops
        .iter()
        .filter(|op| op.is_client() && !op.final_phase)
        .collect();
    assert!(main
        .iter()
        .all(|op| op.time < first + limit + 1_000_000_000));
    let invokes = main.iter().filter(|op| op.kind == OpType::Invoke).count();
    assert!(
        (120..=280).contains(&invokes),
        "about 10/s for 20 s: {invokes}"
    );
    // The last nemesis op is the final heal, after every main op.
    let heal = nem.last().unwrap();
    assert_eq!(heal.f, "stop-partition");
    let last_main = main.iter().map(|op| op.time).max().unwrap();
    assert!(heal.time >= last_main);
    // Final ops: after heal + 10 s recovery + the 1 s sleep, two per worker.
    let finals: Vec<_> = h.ops.iter().filter(|op| op.final_phase).collect();
    assert_eq!(finals.len(), 3 * 2 * 2, "two final ops per worker");
    let recovery = Duration::from_secs(11).as_nanos() as u64;
    assert!(finals.iter().all(|op| op.time >= heal.time + recovery));
    // msgs-per-op counts the final ops in the denominator.
    let ops = h
        .ops
        .iter()
        .filter(|op| op.is_client() && op.kind == OpType::Invoke)
        .count();
    let all = out.results["net"]["all"]["msg-count"].as_f64().unwrap();
    let per_op = out.results["net"]["all"]["msgs-per-op"].as_f64().unwrap();
    assert!((per_op - all / ops as f64).abs() < 1e-9);
    // Virtual time: 30+ s of test in well under a second of wall time.
    assert!(out.wall < Duration::from_secs(5), "{:?}", out.wall);
}

#[test]
fn rate_zero_means_no_client_ops_and_same_seed_same_history() {
    let mut o = opts(5);
    o.rate = 0.0;
    o.time_limit = 3.0;
    let wl = Box::new(FinalEcho {
        final_steps: vec![0; 3],
    });
    let out = run_with(&o, &quiet(), wl, Vec::new()).expect("run");
    let main = out
        .history
        .ops
        .iter()
        .filter(|op| op.is_client() && !op.final_phase)
        .count();
    assert_eq!(main, 0);
    let a = run_with(
        &opts(9),
        &quiet(),
        Box::new(FinalEcho {
            final_steps: vec![0; 3],
        }),
        Vec::new(),
    )
    .unwrap();
    let b = run_with(
        &opts(9),
        &quiet(),
        Box::new(FinalEcho {
            final_steps: vec![0; 3],
        }),
        Vec::new(),
    )
    .unwrap();
    assert_eq!(a.history.to_jsonl(), b.history.to_jsonl());
}

/// Every workload that has both a bench workload and an in-process handler
/// replays byte for byte from its seed, with latency and partitions on.
#[test]
fn every_in_process_workload_replays_byte_for_byte() {
    let mut checked = Vec::new();
    for entry in glomers::bench::workloads::REGISTRY {
        if entry.host.is_none() {
            continue;
        }
        let w = &entry.name;
        let mut o = opts(5);
        o.workload = w.to_string();
        if *w == "lin-kv" {
            // Jepsen's per-key generator: 2n threads per key.
            o.concurrency = 2 * o.nodes.len();
        }
        o.time_limit = 3.0;
        o.rate = 100.0;
        o.nemesis_interval = 1.0;
        o.recovery_wait = 1.0;
        let mut files = Vec::new();
        for i in 0..2 {
            let store =
                std::env::temp_dir().join(format!("glomers-det-{}-{w}-{i}", std::process::id()));
            let _ = std::fs::remove_dir_all(&store);
            o.store = store.clone();
            let cfg = EngineConfig {
                verbose: false,
                ..EngineConfig::default()
            };
            glomers::bench::engine::run(&o, &cfg).expect("run");
            let h = std::fs::read(store.join("latest/history.jsonl")).unwrap();
            let m = std::fs::read(store.join("latest/messages.jsonl")).unwrap();
            let _ = std::fs::remove_dir_all(&store);
            files.push((h, m));
        }
        assert!(files[0].0 == files[1].0, "{w}: history.jsonl differs");
        assert!(files[0].1 == files[1].1, "{w}: messages.jsonl differs");
        checked.push(*w);
    }
    // Every workload with a solver is covered; one that lost its bench
    // workload or its in-process handler would drop out silently above.
    // A workload without a solver of ours says so in the registry
    // (`host: None`); every other one must be covered.
    for e in glomers::bench::workloads::REGISTRY {
        assert!(
            checked.contains(&e.name) || e.host.is_none(),
            "{} not checked: {checked:?}",
            e.name
        );
    }
}

/// FinalEcho with a setup request per node.
struct SetupEcho {
    request: Value,
}

impl Workload for SetupEcho {
    fn name(&self) -> &'static str {
        "echo"
    }
    fn setup_request(&mut self, node: &str, _opts: &TestOpts) -> Option<Value> {
        let mut r = self.request.clone();
        r["node"] = json!(node);
        Some(r)
    }
    fn next_op(&mut self, _ctx: &GenCtx<'_>, _rng: &mut StdRng) -> Option<Invocation> {
        Some(Invocation::new("echo", json!("x")))
    }
    fn new_client(&self, _ctx: &GenCtx<'_>) -> Box<dyn WorkloadClient> {
        Box::new(Client)
    }
    fn checker(&self) -> Box<dyn Checker> {
        Box::new(|_: &Input<'_>| json!({"valid?": true}))
    }
}

#[test]
fn setup_requests_come_from_setup_clients_and_errors_abort() {
    let mut o = opts(3);
    o.nemesis.clear();
    o.time_limit = 2.0;
    let store = std::env::temp_dir().join(format!("glomers-setup-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&store);
    o.store = store.clone();
    let cfg = EngineConfig {
        verbose: false,
        ..EngineConfig::default()
    };
    // The echo handler answers an echo setup request: the test proceeds.
    let wl = Box::new(SetupEcho {
        request: json!({"type": "echo", "echo": "setup"}),
    });
    let out = run_with(&o, &cfg, wl, Vec::new()).expect("run");
    assert_eq!(out.results["valid?"], true);
    let journal = std::fs::read_to_string(store.join("latest/messages.jsonl")).unwrap();
    let first_line = |needle: &str| journal.lines().position(|l| l.contains(needle));
    // Init clients c0..c2, setup clients c3..c5 (each to its own node),
    // worker clients from c6 on, and every setup before any op.
    for (c, n) in [("c3", "n0"), ("c4", "n1"), ("c5", "n2")] {
        let l = first_line(&format!("\"src\":\"{c}\",\"dest\":\"{n}\"")).expect(c);
        assert!(journal
            .lines()
            .nth(l)
            .unwrap()
            .contains("\"echo\":\"setup\""));
        assert!(l < first_line("\"echo\":\"x\"").unwrap());
    }
    assert!(first_line("\"src\":\"c6\"").is_some());
    let _ = std::fs::remove_dir_all(&store);
    // The echo handler rejects an unknown type with error 10: abort.
    let wl = Box::new(SetupEcho {
        request: json!({"type": "topology"}),
    });
    let quiet_cfg = quiet();
    let err = run_with(&o, &quiet_cfg, wl, Vec::new()).expect_err("setup error aborts");
    assert_eq!(err.exit_code(), 255);
    assert!(err.to_string().contains("setup failed: node n"), "{err}");
}

/// A real run's `history.jsonl` and `messages.jsonl` read back through the
/// wire module and written again give the same bytes, and agree with the
/// run's outcome.
#[test]
fn run_files_round_trip_through_the_wire_module() {
    use glomers::bench::history::History;
    use glomers::runtime::message::{self, JournalKind};
    let mut o = opts(7);
    o.workload = "broadcast".into();
    o.time_limit = 3.0;
    o.recovery_wait = 1.0;
    let store = common::store("engine", "roundtrip");
    o.store = store.clone();
    let cfg = EngineConfig {
        verbose: false,
        ..EngineConfig::default()
    };
    let out = glomers::bench::engine::run(&o, &cfg).expect("run");
    let dir = out.dir.clone().expect("a run directory");
    let history_text = std::fs::read_to_string(dir.join("history.jsonl")).unwrap();
    let history = History::from_jsonl(&history_text).expect("history reads back");
    assert_eq!(history, out.history);
    assert_eq!(history.to_jsonl(), history_text);
    let journal_text = std::fs::read_to_string(dir.join("messages.jsonl")).unwrap();
    let journal = message::read_journal(&journal_text).expect("journal reads back");
    assert_eq!(message::write_jsonl(&journal).unwrap(), journal_text);
    let sends = journal
        .iter()
        .filter(|e| e.kind == JournalKind::Send)
        .count();
    assert_eq!(
        out.results["net"]["all"]["send-count"].as_u64(),
        Some(sends as u64)
    );
    assert!(journal
        .iter()
        .any(|e| e.message.src == "c0" && e.message.body.get().contains("\"init\"")));
    let _ = std::fs::remove_dir_all(&store);
}
