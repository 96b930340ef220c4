//! End-to-end tests of the bench: the real `glomers` binary against our
//! nodes and against small, deliberately broken python3 nodes
//! (tests/fixtures/), plus in-process determinism. Each run is short.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

mod common;
use common::{fixture, glomers, results, run, stderr};

fn store(name: &str) -> PathBuf {
    common::store("test", name)
}

/// Node pids the python fixtures log on their first stderr line.
fn fixture_pids(store: &Path) -> Vec<u32> {
    let mut pids = Vec::new();
    for e in std::fs::read_dir(store.join("latest/node-logs")).expect("node-logs") {
        let text = std::fs::read_to_string(e.expect("entry").path()).unwrap_or_default();
        if let Some(p) = text
            .lines()
            .find_map(|l| l.strip_prefix("pid "))
            .and_then(|p| p.trim().parse().ok())
        {
            pids.push(p);
        }
    }
    pids
}

fn alive(pid: u32) -> bool {
    // A reaped child has no /proc entry; a zombie would show state Z.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s.contains(") Z "),
        Err(_) => false,
    }
}

#[test]
fn our_echo_passes_challenge_1_shortened() {
    let s = store("echo");
    let t = Instant::now();
    let o = run(
        &[
            "-w",
            "echo",
            "--bin",
            env!("CARGO_BIN_EXE_echo"),
            "--node-count",
            "1",
            "--time-limit",
            "2",
            "--seed",
            "1",
        ],
        &s,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        t.elapsed() < Duration::from_secs(4),
        "took {:?}",
        t.elapsed()
    );
    let r = results(&s);
    assert_eq!(r["valid?"], true);
    assert_eq!(r["workload"]["valid?"], true);
    assert_eq!(r["availability"]["ok-fraction"], 1.0);
    assert!(r["stats"]["ok-count"].as_u64().unwrap() >= 3);
    assert_eq!(r["schedule"]["clock"], "real");
    assert_eq!(r["schedule"]["overloaded"], false, "{}", r["schedule"]);
    assert!(!stderr(&o).contains("fell behind"), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out
        .trim_end()
        .ends_with("Everything looks good! ヽ(‘ー`)ノ"));
    for f in ["history.jsonl", "messages.jsonl", "node-logs/n0.log"] {
        assert!(s.join("latest").join(f).exists(), "{f}");
    }
    assert!(s.join("echo/latest/results.json").exists());
}

#[test]
fn unique_ids_with_partitions_is_totally_available() {
    let s = store("uids");
    let o = run(
        &[
            "-w",
            "unique-ids",
            "--bin",
            &fixture("unique_ids_ok.py"),
            "--time-limit",
            "3",
            "--rate",
            "300",
            "--node-count",
            "3",
            "--availability",
            "total",
            "--nemesis",
            "partition",
            "--nemesis-interval",
            "1",
            "--seed",
            "5",
        ],
        &s,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = results(&s);
    assert_eq!(r["availability"]["ok-fraction"], 1.0);
    assert_eq!(r["net"]["servers"]["msgs-per-op"], 0.0);
    assert!(r["workload"]["acknowledged-count"].as_u64().unwrap() > 100);
    let history = std::fs::read_to_string(s.join("latest/history.jsonl")).unwrap();
    assert!(history.contains("\"f\":\"start-partition\""));
    for pid in fixture_pids(&s) {
        assert!(!alive(pid), "node process {pid} survived the bench");
    }
}

#[test]
fn altered_echo_is_invalid() {
    let s = store("echo-bad");
    let o = run(
        &[
            "-w",
            "echo",
            "--bin",
            &fixture("echo_altered.py"),
            "--node-count",
            "1",
            "--time-limit",
            "2",
            "--rate",
            "10",
        ],
        &s,
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let r = results(&s);
    assert_eq!(r["valid?"], false);
    assert_eq!(r["workload"]["valid?"], false);
    assert!(String::from_utf8_lossy(&o.stdout).contains("Analysis invalid!"));
}

#[test]
fn colliding_unique_ids_are_invalid() {
    let s = store("uids-bad");
    let o = run(
        &[
            "-w",
            "unique-ids",
            "--bin",
            &fixture("unique_ids_collide.py"),
            "--node-count",
            "3",
            "--time-limit",
            "2",
            "--rate",
            "50",
        ],
        &s,
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let r = results(&s);
    assert_eq!(r["valid?"], false);
    assert!(r["workload"]["duplicated-count"].as_u64().unwrap() > 0);
}

#[test]
fn crashed_node_is_reported_with_its_output() {
    let s = store("crash");
    let o = run(
        &[
            "-w",
            "echo",
            "--bin",
            &fixture("crash.py"),
            "--node-count",
            "1",
            "--time-limit",
            "5",
            "--rate",
            "20",
        ],
        &s,
    );
    assert_eq!(o.status.code(), Some(255));
    let e = stderr(&o);
    assert!(e.contains("Node n0 crashed with exit status 3"), "{e}");
    assert!(e.contains("fixture: giving up now"), "{e}");
    assert!(e.contains("echo_ok"), "stdout tail: {e}");
}

fn garbage_run(name: &str, extra: &[&str]) -> (std::process::Output, Value) {
    let bin = fixture("garbage.py");
    run_with_results(
        name,
        &[
            "-w",
            "echo",
            "--bin",
            &bin,
            "--node-count",
            "1",
            "--time-limit",
            "2",
            "--rate",
            "10",
            "--seed",
            "1",
        ],
        extra,
    )
}

#[test]
fn garbage_output_mutes_the_node_as_maelstrom_does_and_warns() {
    // Maelstrom stops reading a node at its first line that is not a
    // message: the echoes after it time out (info, which the echo checker
    // skips), and the run is valid.
    let (o, r) = garbage_run("garbage", &[]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("WARNING: node n0"), "{err}");
    assert!(err.contains("hello from a debug print"), "{err}");
    assert!(err.contains("stops reading"), "{err}");
    assert_eq!(r["valid?"], true, "{r}");
    let out = &r["node-output"];
    assert_eq!(out["valid?"], true);
    assert_eq!(out["error-count"], 1);
    assert_eq!(out["errors"][0]["node"], "n0");
    assert_eq!(out["errors"][0]["line"], "hello from a debug print");
    assert_eq!(out["muted"][0]["node"], "n0");
    // The reply after the bad line, and every later one, was dropped.
    assert!(
        out["muted"][0]["dropped-lines"].as_u64().unwrap() >= 1,
        "{out}"
    );
    assert_eq!(r["stats"]["ok-count"], 1, "{}", r["stats"]);
    assert!(
        r["stats"]["info-count"].as_u64().unwrap() >= 1,
        "{}",
        r["stats"]
    );
}

#[test]
fn garbage_output_fails_the_run_under_strict() {
    let (o, r) = garbage_run("garbage-strict", &["--strict"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("ERROR: node n0"), "{err}");
    assert_eq!(r["valid?"], false);
    assert_eq!(r["node-output"]["valid?"], false);
    assert_eq!(r["node-output"]["muted"], serde_json::json!([]));
    // Not muted: every echo was answered.
    assert_eq!(r["stats"]["info-count"], 0, "{}", r["stats"]);
    assert_eq!(
        r["node-output"]["errors"][0]["line"],
        "hello from a debug print"
    );
}

fn bad_dest_run(name: &str, extra: &[&str]) -> (std::process::Output, Value) {
    let bin = fixture("broadcast_bad_dest.py");
    run_with_results(
        name,
        &[
            "-w",
            "broadcast",
            "--bin",
            &bin,
            "--node-count",
            "3",
            "--time-limit",
            "2",
            "--rate",
            "10",
            "--recovery-wait",
            "1",
            "--seed",
            "1",
        ],
        extra,
    )
}

/// Run `glomers test` with `base` then `extra` arguments in a fresh store
/// named `name`; its output and `results.json`.
fn run_with_results(name: &str, base: &[&str], extra: &[&str]) -> (std::process::Output, Value) {
    let s = store(name);
    let args: Vec<&str> = base.iter().chain(extra).copied().collect();
    let o = run(&args, &s);
    let r = results(&s);
    (o, r)
}

#[test]
fn a_send_to_a_node_that_does_not_exist_is_a_loud_warning_by_default() {
    let (o, r) = bad_dest_run("baddest", &[]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert_eq!(r["valid?"], true, "{r}");
    assert!(err.contains("\"n3\" is not a node"), "{err}");
    assert!(err.contains("glomers: WARNING: node n0 printed"), "{err}");
    let out = &r["node-output"];
    assert_eq!(out["valid?"], true);
    assert_eq!(out["muted"][0]["node"], "n0", "{out}");
    assert_eq!(out["muted"].as_array().unwrap().len(), 1, "{out}");
    // n0 no longer answers: its ops after the bad line are indeterminate.
    assert!(
        r["stats"]["info-count"].as_u64().unwrap() >= 1,
        "{}",
        r["stats"]
    );
}

#[test]
fn a_send_to_a_node_that_does_not_exist_fails_under_strict() {
    let (o, r) = bad_dest_run("baddest-strict", &["--strict"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(r["valid?"], false);
    assert_eq!(r["node-output"]["valid?"], false);
    assert_eq!(r["node-output"]["error-count"], 1);
    assert_eq!(r["workload"]["valid?"], true, "{}", r["workload"]);
    assert_eq!(r["stats"]["info-count"], 0, "{}", r["stats"]);
}

#[test]
fn a_starved_node_gets_the_overload_warning() {
    let s = store("starved");
    let o = run(
        &[
            "-w",
            "echo",
            "--bin",
            &fixture("echo_starved.py"),
            "--node-count",
            "1",
            "--time-limit",
            "2",
            "--rate",
            "5",
            "--seed",
            "1",
        ],
        &s,
    );
    let err = stderr(&o);
    // Right answers, so valid; but the figures are the machine's.
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains("WARNING: this run fell behind its schedule"),
        "{err}"
    );
    assert!(err.contains("median reply delay"), "{err}");
    let r = results(&s);
    let sched = &r["schedule"];
    assert_eq!(sched["overloaded"], true, "{sched}");
    assert!(
        sched["reply-delay"]["p50-ms"].as_f64().unwrap() >= 80.0,
        "{sched}"
    );
    assert!(sched["warning"].is_string());
}

#[test]
fn an_in_process_run_is_on_a_virtual_clock_and_never_warns() {
    // The 3d preset in-process: 25 nodes, 100 ops/s, 100 ms latency.
    let s = store("virtual3d");
    let o = run(
        &[
            "-w",
            "broadcast",
            "--in-process",
            "--node-count",
            "25",
            "--time-limit",
            "20",
            "--rate",
            "100",
            "--latency",
            "100",
            "--seed",
            "1",
        ],
        &s,
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(!err.contains("WARNING"), "{err}");
    let r = results(&s);
    assert_eq!(r["schedule"]["clock"], "virtual");
    assert_eq!(r["schedule"]["overloaded"], false);
}

#[test]
fn node_that_never_answers_init_aborts() {
    let s = store("noinit");
    let t = Instant::now();
    let o = run(
        &[
            "-w",
            "echo",
            "--bin",
            &fixture("no_init.py"),
            "--node-count",
            "2",
            "--time-limit",
            "2",
            "--init-timeout",
            "1",
        ],
        &s,
    );
    assert_eq!(o.status.code(), Some(255));
    assert!(
        stderr(&o).contains("to respond to an init message"),
        "{}",
        stderr(&o)
    );
    assert!(t.elapsed() < Duration::from_secs(4));
    assert!(!s.join("latest/results.json").exists());
    for pid in fixture_pids(&s) {
        assert!(!alive(pid), "node process {pid} survived the bench");
    }
}

#[test]
fn malformed_setup_reply_aborts() {
    let s = store("badtopo");
    let o = run(
        &[
            "-w",
            "broadcast",
            "--bin",
            &fixture("broadcast_bad_topology_ok.py"),
            "--node-count",
            "2",
            "--time-limit",
            "2",
        ],
        &s,
    );
    assert_eq!(o.status.code(), Some(255), "{}", stderr(&o));
    assert!(stderr(&o).contains("malformed reply"), "{}", stderr(&o));
    assert!(stderr(&o).contains("neighbours"), "{}", stderr(&o));
    for pid in fixture_pids(&s) {
        assert!(!alive(pid), "node process {pid} survived the bench");
    }
}

#[test]
fn a_late_reply_to_a_retired_client_is_not_an_error() {
    // One node (so nothing is lost), two workers: the first broadcast times
    // out (info) and its reply comes 1 s later, while that worker has no
    // next op yet (the main phase is over). Jepsen closes a retired client only when the
    // worker's next op starts, so Maelstrom drops that reply silently.
    let s = store("lateack");
    let o = run(
        &[
            "-w",
            "broadcast",
            "--bin",
            &fixture("broadcast_late_ack.py"),
            "--node-count",
            "1",
            "--concurrency",
            "2",
            "--time-limit",
            "2",
            "--rate",
            "10",
            "--recovery-wait",
            "3",
            "--seed",
            "1",
        ],
        &s,
    );
    let r = results(&s);
    assert!(
        r.get("node-output").is_none() || r["node-output"]["valid?"] == true,
        "{r}"
    );
    assert_eq!(
        r["stats"]["by-f"]["broadcast"]["info-count"], 1,
        "{}",
        r["stats"]
    );
    assert_eq!(r["valid?"], true, "{r}");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn bad_arguments_exit_254() {
    let s = store("badargs");
    let o = run(&["-w", "echo", "--bin", "/nonexistent/echo"], &s);
    assert_eq!(o.status.code(), Some(254));
    assert!(stderr(&o).contains("/nonexistent/echo"));
    let o = run(&["-w", "echo", "--bin", "x", "–-nemesis", "partition"], &s);
    assert_eq!(o.status.code(), Some(254));
    assert!(stderr(&o).contains("\"--nemesis\""), "{}", stderr(&o));
    let o = run(&["-w", "echo", "--frobnicate"], &s);
    assert_eq!(o.status.code(), Some(254));
    let o = run(&["-w", "no-such-workload", "--in-process"], &s);
    assert_eq!(o.status.code(), Some(254));
    assert!(
        stderr(&o).contains("known workloads: lin-kv, echo"),
        "{}",
        stderr(&o)
    );
    let o = run(
        &["-w", "echo", "--in-process", "--nemesis", "partition,crash"],
        &s,
    );
    assert_eq!(o.status.code(), Some(254));
    assert!(
        stderr(&o).contains("--nemesis crash: unknown fault; known faults: partition, kill, pause"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn ctrl_c_stops_every_node() {
    let s = store("sigint");
    let mut child = glomers()
        .args(["test", "-w", "echo", "--bin", &fixture("echo_ok.py")])
        .args(["--node-count", "3", "--time-limit", "30", "--store"])
        .arg(&s)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn glomers");
    // Wait until every node has logged its pid.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut pids = Vec::new();
    while Instant::now() < deadline {
        if s.join("latest/node-logs").exists() {
            pids = fixture_pids(&s);
            if pids.len() == 3 {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(pids.len(), 3, "nodes started");
    let k = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(k.success());
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(130));
    for pid in pids {
        assert!(!alive(pid), "node process {pid} survived Ctrl-C");
    }
}

#[test]
fn in_process_runs_are_byte_identical_per_seed() {
    let mut outs = Vec::new();
    for (i, seed) in [7u64, 7, 8].iter().enumerate() {
        let s = store(&format!("det{i}"));
        let o = run(
            &[
                "-w",
                "echo",
                "--in-process",
                "--node-count",
                "3",
                "--time-limit",
                "5",
                "--rate",
                "50",
                "--latency",
                "20",
                "--latency-dist",
                "exponential",
                "--nemesis",
                "partition",
                "--seed",
                &seed.to_string(),
            ],
            &s,
        );
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let h = std::fs::read(s.join("latest/history.jsonl")).unwrap();
        let m = std::fs::read(s.join("latest/messages.jsonl")).unwrap();
        assert!(h.len() > 1000);
        outs.push((h, m));
    }
    assert!(outs[0] == outs[1], "same seed, same bytes");
    assert!(outs[0].0 != outs[2].0, "another seed, another history");
}

#[test]
fn info_ops_bump_the_process_and_open_a_new_client() {
    let s = store("flaky");
    let o = run(
        &[
            "-w",
            "echo",
            "--bin",
            &fixture("echo_flaky.py"),
            "--node-count",
            "1",
            "--time-limit",
            "2",
            "--rate",
            "20",
            "--seed",
            "3",
        ],
        &s,
    );
    // As in Maelstrom, the echo checker skips ops that ended info (real
    // Maelstrom 0.2.3 passes this node), so the run is valid.
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let history = std::fs::read_to_string(s.join("latest/history.jsonl")).unwrap();
    let ops: Vec<Value> = history
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let infos: Vec<&Value> = ops.iter().filter(|o| o["type"] == "info").collect();
    assert!(infos.len() >= 2);
    assert_eq!(
        infos[0]["error"],
        serde_json::json!(["crash", "flaky on purpose"])
    );
    // Ops alternate ok/info, so processes go 0, 0, 1, 1, 2, ...
    let procs: Vec<u64> = ops
        .iter()
        .filter(|o| o["type"] == "invoke")
        .map(|o| o["process"].as_u64().unwrap())
        .collect();
    assert_eq!(&procs[..4], &[0, 0, 1, 1]);
    // Init client c0, setup client c1, first worker client c2, then a fresh
    // client c3 after the first info op.
    let journal = std::fs::read_to_string(s.join("latest/messages.jsonl")).unwrap();
    let first = |id: &str| journal.find(&format!("\"src\":\"{id}\""));
    assert!(first("c0").unwrap() < first("c2").unwrap());
    assert!(first("c1").is_none(), "setup client sends nothing for echo");
    assert!(first("c2").unwrap() < first("c3").unwrap());
    let r = results(&s);
    assert_eq!(r["stats"]["by-f"]["echo"]["valid?"], true);
    assert!(r["availability"]["ok-fraction"].as_f64().unwrap() < 0.6);
}

/// A service that answers reads with a constant, counting requests.
struct FakeKv;

impl glomers::bench::services::Service for FakeKv {
    fn handle(&mut self, _src: &str, body: &Value, _rng: &mut rand::rngs::StdRng) -> Option<Value> {
        (body["type"] == "read").then(|| serde_json::json!({"type": "read_ok", "value": 1}))
    }
}

#[test]
fn services_get_latency_both_ways_and_reply_in_reply_to() {
    use glomers::bench::engine::{run_with_services, EngineConfig};
    let s = store("svc");
    let mut opts = glomers::bench::opts::TestOpts::with_nodes(1);
    opts.workload = "echo".into();
    opts.bin = Some(fixture("echo_via_service.py").into());
    opts.time_limit = 3.0;
    opts.rate = 5.0;
    opts.latency = 50;
    opts.seed = 11;
    opts.store = s.clone();
    let cfg = EngineConfig {
        verbose: false,
        ..EngineConfig::default()
    };
    let out = run_with_services(&opts, &cfg, vec![("fake-kv", Box::new(FakeKv))]).expect("run");
    assert_eq!(out.results["valid?"], true, "{}", out.results);
    assert!(
        out.results["net"]["servers"]["msgs-per-op"]
            .as_f64()
            .unwrap()
            >= 3.0
    );
    let journal = std::fs::read_to_string(s.join("latest/messages.jsonl")).unwrap();
    let events: Vec<Value> = journal
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let replies: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "send" && e["message"]["src"] == "fake-kv")
        .collect();
    assert!(replies.len() >= 4);
    let mut saw_null = false;
    for r in &replies {
        let body = &r["message"]["body"];
        assert!(
            body.get("msg_id").is_none(),
            "service replies carry no msg_id"
        );
        saw_null |= body["in_reply_to"].is_null();
        let id = &r["message"]["id"];
        let recv = events
            .iter()
            .find(|e| e["type"] == "recv" && &e["message"]["id"] == id)
            .expect("delivered");
        let dt = recv["time"].as_u64().unwrap() - r["time"].as_u64().unwrap();
        assert!(dt >= 50_000_000, "reply latency {dt} ns");
    }
    assert!(saw_null, "a request without msg_id gets in_reply_to null");
    // Node → service requests pay latency too.
    let req = events
        .iter()
        .find(|e| e["type"] == "send" && e["message"]["dest"] == "fake-kv")
        .unwrap();
    let recv = events
        .iter()
        .find(|e| e["type"] == "recv" && e["message"]["id"] == req["message"]["id"])
        .unwrap();
    assert!(recv["time"].as_u64().unwrap() - req["time"].as_u64().unwrap() >= 50_000_000);
}

#[test]
fn challenge_1_runs_our_echo_and_sweep_reports_seeds() {
    let s = store("challenge");
    let o = glomers()
        .args(["challenge", "1", "--seed", "4", "--store"])
        .arg(&s)
        .args(["--time-limit", "1"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("1          PASS"), "{out}");
    let o = glomers()
        .args(["sweep", "--seeds", "3", "-w", "echo", "--node-count", "2"])
        .args(["--time-limit", "2", "--rate", "20"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("0 of 3 seeds failed"));
    let opts = glomers::bench::opts::TestOpts {
        workload: "echo".into(),
        time_limit: 1.0,
        ..glomers::bench::opts::TestOpts::with_nodes(1)
    };
    let swept = glomers::bench::sweep::sweep(&opts, 10, 2);
    assert_eq!(swept.len(), 2);
    assert!(swept.iter().all(|r| r.verdict.is_ok()));
}

#[test]
fn our_unique_ids_passes_challenge_2_shortened() {
    let bin = env!("CARGO_BIN_EXE_unique-ids");
    // Until the unique-ids solver is merged, bin/unique-ids.rs is a
    // placeholder that exits at once; the python fixture test above covers
    // the bench meanwhile.
    let probe = Command::new(bin)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    if String::from_utf8_lossy(&probe.stderr).contains("not implemented yet") {
        eprintln!("unique-ids solver not merged yet; skipping");
        return;
    }
    let s = store("uids-ours");
    let o = run(
        &[
            "-w",
            "unique-ids",
            "--bin",
            bin,
            "--time-limit",
            "3",
            "--rate",
            "1000",
            "--node-count",
            "3",
            "--availability",
            "total",
            "--nemesis",
            "partition",
            "--nemesis-interval",
            "1",
        ],
        &s,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = results(&s);
    assert_eq!(r["availability"]["ok-fraction"], 1.0);
    assert_eq!(r["net"]["servers"]["msgs-per-op"], 0.0);
    assert_eq!(r["workload"]["duplicated-count"], 0);
}

/// Events from `b` until `done` holds for them or `limit` passes.
fn wait_for(
    b: &mut glomers::bench::backend::ProcessBackend,
    limit: Duration,
    done: impl Fn(&[glomers::bench::backend::NodeEvent]) -> bool,
) -> Vec<glomers::bench::backend::NodeEvent> {
    use glomers::bench::backend::Backend;
    let mut out = Vec::new();
    let end = b.now() + limit;
    while b.now() < end && !done(&out) {
        b.wait(Some(end), &mut out);
    }
    out
}

/// Whether node `node` printed a line containing `needle`.
fn printed(evs: &[glomers::bench::backend::NodeEvent], node: usize, needle: &str) -> bool {
    use glomers::bench::backend::NodeEvent;
    evs.iter().any(
        |e| matches!(e, NodeEvent::Line { node: n, line } if *n == node && line.contains(needle)),
    )
}

/// The process backend's per-node lifecycle on our echo binary: a killed
/// node's exit is not reported as a crash, a started node is a fresh
/// process that answers init again, a paused node answers only once
/// resumed, and the operations refuse what makes no sense.
#[test]
fn process_nodes_can_be_killed_started_paused_and_resumed() {
    use glomers::bench::backend::{Backend, NodeDirs, NodeEvent, ProcessBackend};
    let logs = store("lifecycle");
    let names = vec!["n0".to_string(), "n1".to_string()];
    let bin = Path::new(env!("CARGO_BIN_EXE_echo"));
    let dirs = NodeDirs::temporary(false);
    let mut b = ProcessBackend::spawn(bin, &[], &names, &logs, false, &dirs).expect("spawn");
    let init = |n: &str| {
        format!(
            r#"{{"src":"c0","dest":"{n}","body":{{"type":"init","msg_id":1,"node_id":"{n}","node_ids":["n0","n1"]}}}}"#
        )
    };
    let echo = r#"{"src":"c1","dest":"n1","body":{"type":"echo","msg_id":2,"echo":"hi"}}"#;
    let long = Duration::from_secs(10);
    let short = Duration::from_millis(300);
    let mut sink = Vec::new();
    for (i, n) in ["n0", "n1"].iter().enumerate() {
        b.deliver(i, &init(n), b.now(), &mut sink);
    }
    let evs = wait_for(&mut b, long, |e| {
        printed(e, 0, "init_ok") && printed(e, 1, "init_ok")
    });
    assert!(printed(&evs, 0, "init_ok") && printed(&evs, 1, "init_ok"));

    b.kill(0).expect("kill");
    let evs = wait_for(&mut b, short, |_| false);
    assert!(
        !evs.iter().any(|e| matches!(e, NodeEvent::Exited { .. })),
        "a killed node is not a crash"
    );
    assert!(b.pause(0).is_err(), "a killed node cannot be paused");
    b.start(0).expect("start");
    b.deliver(0, &init("n0"), b.now(), &mut sink);
    let evs = wait_for(&mut b, long, |e| printed(e, 0, "init_ok"));
    assert!(
        printed(&evs, 0, "init_ok"),
        "the restarted node answers init"
    );
    assert!(b.start(0).is_err(), "a running node cannot be started");

    b.pause(1).expect("pause");
    b.deliver(1, echo, b.now(), &mut sink);
    let evs = wait_for(&mut b, short, |_| false);
    assert!(
        !printed(&evs, 1, "echo_ok"),
        "a paused node does not answer"
    );
    b.resume(1).expect("resume");
    let evs = wait_for(&mut b, long, |e| printed(e, 1, "echo_ok"));
    assert!(printed(&evs, 1, "echo_ok"), "the resumed node answers");

    assert!(b.shutdown().is_ok(), "no node crashed");
    assert!(
        logs.join("n0.log").exists(),
        "the restarted node logs to the same file"
    );
    let _ = std::fs::remove_dir_all(&logs);
}
