//! The broadcast node in a small deterministic simulation: a cluster of
//! [`NodeHost`]s on a virtual clock, a network with constant latency and
//! partitions, Maelstrom-like clients (50/50 broadcast/read at a global
//! rate, one worker per node, final reads after heal + 10 s), and the bench's
//! set-full checker over the resulting history.

use glomers::bench::checkers::set_full::check_set_full;
use glomers::bench::history::{History, Op, OpType, Process};
use glomers::challenges::broadcast::Broadcast;
use glomers::runtime::NodeHost;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::time::Duration;

/// One simulated test's settings.
#[derive(Clone)]
struct Sim {
    nodes: usize,
    seconds: u64,
    rate: f64,
    latency_ms: u64,
    partitions: bool,
    seed: u64,
    /// The node binary's arguments (the `--batch-ms` knob).
    args: Vec<String>,
}

/// What a run produced.
struct Outcome {
    result: Value,
    server_msgs: usize,
    ops: usize,
}

impl Outcome {
    fn msgs_per_op(&self) -> f64 {
        self.server_msgs as f64 / self.ops as f64
    }
    fn latency(&self, q: &str) -> u64 {
        self.result["stable-latencies"][q]
            .as_u64()
            .unwrap_or(u64::MAX)
    }
}

struct Msg {
    dest: usize,
    src: String,
    line: String,
}

fn run(sim: Sim) -> Outcome {
    let n = sim.nodes;
    let ids: Vec<String> = (0..n).map(|i| format!("n{i}")).collect();
    let mut rng = StdRng::seed_from_u64(sim.seed);
    let mut hosts: Vec<NodeHost<Broadcast>> = (0..n)
        .map(|i| {
            let mut h = NodeHost::new(sim.seed * 1000 + i as u64);
            h.set_args(sim.args.clone());
            h
        })
        .collect();
    let mut now = Duration::ZERO;
    // In-flight node-bound messages: (deliver at, seq) → message.
    let mut queue: BinaryHeap<Reverse<(Duration, u64)>> = BinaryHeap::new();
    let mut msgs: std::collections::HashMap<u64, Msg> = Default::default();
    let mut seq = 0u64;
    let mut blocked: HashSet<(usize, usize)> = HashSet::new();
    let mut history = History::new();
    // Per worker: the open op (process, f, value) if any.
    let mut open: Vec<Option<(String, Value)>> = vec![None; n];
    let mut server_msgs = 0usize;
    let mut next_value = 0u64;
    let latency = Duration::from_millis(sim.latency_ms);
    let end = Duration::from_secs(sim.seconds);
    let final_at = end + Duration::from_secs(10);
    let mut next_op = Duration::ZERO;
    let mut next_nemesis = Duration::ZERO;
    let mut finals_sent = false;

    for (i, h) in hosts.iter_mut().enumerate() {
        let init = json!({"src": format!("c{i}"), "dest": ids[i], "body":
            {"type": "init", "msg_id": 1, "node_id": ids[i], "node_ids": ids}});
        h.handle_line(init.to_string().as_bytes(), now);
        let topo = json!({"src": format!("c{}", n + i), "dest": ids[i], "body":
            {"type": "topology", "msg_id": 1, "topology": {}}});
        h.handle_line(topo.to_string().as_bytes(), now);
        h.output().clear();
    }

    let record = |history: &mut History, now: Duration, w: usize, kind, f: &str, value| {
        history.push(Op {
            index: 0,
            time: now.as_nanos() as u64,
            process: Process::Client(w as u64),
            kind,
            f: f.into(),
            value,
            error: None,
            final_phase: false,
        });
    };

    loop {
        // Drain outputs: replies to clients complete ops; node messages are
        // queued with latency.
        for i in 0..n {
            let out = std::mem::take(hosts[i].output());
            for line in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                let env: Value = serde_json::from_slice(line).expect("node printed bad JSON");
                let dest = env["dest"].as_str().unwrap_or_default();
                if let Some(w) = dest.strip_prefix('c').and_then(|c| c.parse::<usize>().ok()) {
                    let w = w % n;
                    if let Some((f, v)) = open[w].take() {
                        let value = if f == "read" {
                            env["body"]["messages"].clone()
                        } else {
                            v
                        };
                        record(&mut history, now, w, OpType::Ok, &f, value);
                    }
                } else {
                    let d: usize = dest.trim_start_matches('n').parse().expect("node id");
                    server_msgs += 1;
                    seq += 1;
                    queue.push(Reverse((now + latency, seq)));
                    msgs.insert(
                        seq,
                        Msg {
                            dest: d,
                            src: ids[i].clone(),
                            line: String::from_utf8_lossy(line).into_owned(),
                        },
                    );
                }
            }
        }
        let quiet_done = finals_sent && open.iter().all(Option::is_none);
        if quiet_done {
            break;
        }
        // The next event.
        let mut t = queue
            .peek()
            .map(|Reverse((t, _))| *t)
            .unwrap_or(Duration::MAX);
        for h in &hosts {
            if let Some(d) = h.next_deadline() {
                t = t.min(d);
            }
        }
        if now < end {
            t = t.min(next_op);
            if sim.partitions {
                t = t.min(next_nemesis);
            }
        } else if !finals_sent {
            t = t.min(final_at);
        }
        now = t.max(now);
        if now < end && now >= next_op {
            next_op = now + Duration::from_secs_f64(rng.gen::<f64>() * 2.0 / sim.rate);
            let free: Vec<usize> = (0..n).filter(|&w| open[w].is_none()).collect();
            if !free.is_empty() {
                let w = free[rng.gen_range(0..free.len())];
                let (f, v, body) = if rng.gen_bool(0.5) {
                    let v = next_value;
                    next_value += 1;
                    (
                        "broadcast",
                        json!(v),
                        json!({"type": "broadcast", "message": v, "msg_id": 1}),
                    )
                } else {
                    ("read", Value::Null, json!({"type": "read", "msg_id": 1}))
                };
                record(&mut history, now, w, OpType::Invoke, f, v.clone());
                open[w] = Some((f.to_string(), v));
                let line = json!({"src": format!("c{}", 2 * n + w), "dest": ids[w], "body": body});
                hosts[w].handle_line(line.to_string().as_bytes(), now);
            }
            continue;
        }
        if sim.partitions && now < end && now >= next_nemesis {
            next_nemesis = now + Duration::from_secs_f64(rng.gen::<f64>() * 4.0);
            if blocked.is_empty() {
                let mut order: Vec<usize> = (0..n).collect();
                for i in (1..n).rev() {
                    order.swap(i, rng.gen_range(0..=i));
                }
                let cut = if rng.gen_bool(0.5) { 1 } else { n / 2 };
                let (a, b) = order.split_at(cut);
                for &x in a {
                    for &y in b {
                        blocked.insert((x, y));
                        blocked.insert((y, x));
                    }
                }
            } else {
                blocked.clear();
            }
            continue;
        }
        if now >= end && !finals_sent && now >= final_at {
            finals_sent = true;
            for w in 0..n {
                record(&mut history, now, w, OpType::Invoke, "read", Value::Null);
                if let Some(op) = history.ops.last_mut() {
                    op.final_phase = true;
                }
                open[w] = Some(("read".into(), Value::Null));
                let line = json!({"src": format!("c{}", 3 * n + w), "dest": ids[w],
                    "body": {"type": "read", "msg_id": 1}});
                hosts[w].handle_line(line.to_string().as_bytes(), now);
            }
            continue;
        }
        if now >= end {
            blocked.clear();
        }
        while let Some(&Reverse((at, id))) = queue.peek() {
            if at > now {
                break;
            }
            queue.pop();
            if let Some(m) = msgs.remove(&id) {
                let s: usize = m.src.trim_start_matches('n').parse().unwrap_or(0);
                if !blocked.contains(&(s, m.dest)) {
                    hosts[m.dest].handle_line(m.line.as_bytes(), now);
                }
            }
        }
        for h in hosts.iter_mut() {
            h.tick(now);
        }
    }
    let ops = history
        .ops
        .iter()
        .filter(|o| o.kind == OpType::Invoke)
        .count();
    Outcome {
        result: check_set_full(&history, "broadcast"),
        server_msgs,
        ops,
    }
}

fn sim(nodes: usize, rate: f64, latency_ms: u64, partitions: bool, seed: u64) -> Sim {
    Sim {
        nodes,
        seconds: if nodes > 5 { 10 } else { 20 },
        rate,
        latency_ms,
        partitions,
        seed,
        args: Vec::new(),
    }
}

#[test]
fn single_node_and_five_nodes_are_valid() {
    for s in [sim(1, 10.0, 0, false, 1), sim(5, 10.0, 0, false, 2)] {
        let out = run(s);
        assert_eq!(out.result["valid?"], true, "{}", out.result);
        assert_eq!(out.result["never-read-count"], 0);
    }
}

#[test]
fn five_nodes_survive_partitions() {
    for seed in 0..4 {
        let out = run(sim(5, 10.0, 0, true, 100 + seed));
        assert_eq!(out.result["valid?"], true, "seed {seed}: {}", out.result);
        assert_eq!(out.result["lost-count"], 0);
    }
}

#[test]
fn twenty_five_nodes_meet_the_3d_targets_by_default() {
    // The 3d command, cut to 10 s of operations to keep the test short; the
    // figures are per operation, so they do not depend on the length.
    let out = run(sim(25, 100.0, 100, false, 7));
    assert_eq!(out.result["valid?"], true, "{}", out.result);
    let mpo = out.msgs_per_op();
    eprintln!(
        "3d default: msgs-per-op {mpo:.3}, stable-latencies {}",
        out.result["stable-latencies"]
    );
    assert!(mpo <= 2.0, "msgs-per-op {mpo}");
    assert!(
        out.latency("0.5") <= 350,
        "{}",
        out.result["stable-latencies"]
    );
    assert!(
        out.latency("1") <= 550,
        "{}",
        out.result["stable-latencies"]
    );
}

#[test]
fn twenty_five_nodes_with_partitions_lose_nothing() {
    let out = run(sim(25, 100.0, 100, true, 11));
    assert_eq!(out.result["valid?"], true, "{}", out.result);
}

#[test]
fn a_longer_batch_trades_latency_for_messages() {
    let out = run(Sim {
        args: vec!["--batch-ms".into(), "800".into()],
        ..sim(25, 100.0, 100, false, 7)
    });
    assert_eq!(out.result["valid?"], true, "{}", out.result);
    let mpo = out.msgs_per_op();
    eprintln!(
        "batch 800 ms: msgs-per-op {mpo:.3}, stable-latencies {}",
        out.result["stable-latencies"]
    );
    assert!(mpo <= 0.8, "msgs-per-op {mpo}");
    assert!(out.latency("0.5") < 1000);
    assert!(out.latency("1") < 2000);
}
