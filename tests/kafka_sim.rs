//! Whole-system tests of the kafka node against the kafka workload, run by
//! the bench engine in-process: node↔node latency drawn per message,
//! random partitions, the workload's own generator, clients, final phase
//! and checker (`tests/kafka_engine.rs` runs the Fly.io settings).
//! A broken node runs too, through `inprocess::with_hosts`, to show that
//! the engine and the checker do catch faults.

use glomers::bench::engine;
use glomers::bench::history::{History, Op, OpType};
use glomers::bench::inprocess::{factory, with_hosts};
use glomers::bench::opts::{LatencyDist, TestOpts};
use glomers::challenges::kafka::Kafka;
use glomers::runtime::{Ctx, Error, Init, Node, Request};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

mod common;

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
            .filter(|o| o.is_client() && matches!(o.kind, OpType::Fail | OpType::Info))
            .filter(|o| o.f != "crash")
            .collect()
    }
}

/// Run `setup` with hosts of type `N` on every node.
fn run<N: Node + 'static>(setup: Setup) -> Outcome {
    let o = TestOpts {
        workload: "kafka".into(),
        in_process: true,
        concurrency: setup.concurrency,
        time_limit: setup.seconds as f64,
        rate: setup.rate,
        latency: setup.latency_ms,
        latency_dist: LatencyDist::Uniform,
        nemesis: if setup.partitions {
            [glomers::bench::nemesis::Fault::Partition].into()
        } else {
            Default::default()
        },
        nemesis_interval: 0.5,
        recovery_wait: 2.0,
        seed: setup.seed,
        ..TestOpts::with_nodes(setup.nodes)
    };
    let out = with_hosts(factory::<N>(), || engine::run(&o, &common::quiet()));
    let out = out.expect("a verdict");
    let servers = &out.results["net"]["servers"];
    if setup.partitions {
        assert!(
            servers["send-count"].as_u64() > servers["recv-count"].as_u64(),
            "nothing dropped: {servers}"
        );
    }
    let invocations = out.history.ops.iter();
    let invocations = invocations.filter(|o| o.is_client() && o.kind == OpType::Invoke);
    Outcome {
        result: out.results["workload"].clone(),
        server_msgs: servers["msg-count"].as_u64().unwrap_or(u64::MAX),
        invocations: invocations.count() as u64,
        history: out.history,
    }
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

    fn init(_: &Init, _: &mut Ctx<'_, Self>) -> anyhow::Result<Self> {
        Ok(Self::default())
    }

    fn on_message(
        &mut self,
        msg: Request<Self::Payload>,
        ctx: &mut Ctx<'_, Self>,
    ) -> Result<(), Error> {
        use glomers::challenges::kafka::{ListCommittedOffsetsOk, Payload as P, PollOk, SendOk};
        match &msg.payload {
            P::Send { key, msg: body } => {
                let log = self.logs.entry(key.clone()).or_default();
                log.push(body.clone());
                let offset = log.len() as u64 - 1;
                ctx.reply(&msg, &SendOk { offset });
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
                ctx.reply(&msg, &PollOk { msgs });
            }
            P::CommitOffsets { offsets } => {
                for (k, o) in offsets {
                    self.committed.insert(k.clone(), *o);
                }
                ctx.ack(&msg, "commit_offsets_ok");
            }
            P::ListCommittedOffsets { keys } => {
                let offsets = keys
                    .iter()
                    .filter_map(|k| Some((k.clone(), *self.committed.get(k)?)))
                    .collect();
                ctx.reply(&msg, &ListCommittedOffsetsOk { offsets });
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
