//! The kill and pause faults in process mode: real processes killed with
//! SIGKILL, started again in the same working directory, stopped and
//! continued; the broken fixtures they exist to catch; and no process left
//! behind, by a finished run or by Ctrl-C in the middle of a fault.
//!
//! Every run is short (a few seconds, a nemesis interval of about a second
//! so several faults come and go). A process is "ours" when its working
//! directory lies under the run's `nodes/` directory, which is how these
//! tests find leftovers without knowing any pid.
#![cfg(target_os = "linux")]

mod common;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// The pids of live processes whose working directory is under `dir`, and
/// whether each is stopped (SIGSTOP). Zombies count: a zombie is a child
/// nobody reaped.
fn processes_under(dir: &Path) -> Vec<(u32, bool)> {
    let Ok(dir) = dir.canonicalize() else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cwd) = std::fs::read_link(entry.path().join("cwd")) else {
            continue;
        };
        if cwd.starts_with(&dir) {
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            let state = stat
                .rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .to_string();
            found.push((pid, state.starts_with('T')));
        }
    }
    found
}

/// The one run directory under `store/<workload>/`.
fn run_dir(store: &Path, workload: &str) -> PathBuf {
    let dir = store.join(workload);
    std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .find(|p| p.is_dir())
        .expect("a run directory")
}

/// The nemesis ops of a run's history, by `f` (request entries only).
fn nemesis_fs(run: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(run.join("history.jsonl")).expect("history");
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|op| op["process"] == "nemesis" && op["value"].is_array())
        .filter_map(|op| op["f"].as_str().map(String::from))
        .collect()
}

#[test]
fn our_broadcast_survives_kill_and_pause_in_its_own_directories() {
    let store = common::store("faults", "broadcast");
    let bin = env!("CARGO_BIN_EXE_broadcast");
    let out = common::run(
        &[
            "-w",
            "broadcast",
            "--bin",
            bin,
            "--node-count",
            "3",
            "--time-limit",
            "6",
            "--rate",
            "20",
            "--nemesis",
            "partition,kill,pause",
            "--nemesis-interval",
            "1",
            "--recovery-wait",
            "2",
            "--seed",
            "3",
        ],
        &store,
    );
    let err = common::stderr(&out);
    assert!(out.status.success(), "{err}");
    let run = run_dir(&store, "broadcast");
    let fs = nemesis_fs(&run);
    assert!(fs.iter().any(|f| f == "kill"), "{fs:?}");
    assert!(fs.iter().any(|f| f == "start"), "{fs:?}");
    // Each node ran in nodes/<id>/, and under kill its disk is there.
    for n in ["n0", "n1", "n2"] {
        let dir = run.join("nodes").join(n);
        assert!(dir.is_dir(), "{}", dir.display());
    }
    let disks = ["n0", "n1", "n2"]
        .iter()
        .filter(|n| run.join("nodes").join(n).join(format!("{n}.log")).exists())
        .count();
    assert!(disks > 0, "no node wrote its disk under {}", run.display());
    let results = common::results(&store);
    assert!(results["faults"]["kills"].as_u64() > Some(0), "{results}");
    assert!(
        processes_under(&run.join("nodes")).is_empty(),
        "a node outlived the run"
    );
}

/// Start a long run with kills and pauses every ~0.3 s, wait until a node
/// is stopped and another has been killed (a pid of ours went away), press
/// Ctrl-C (SIGINT): the bench exits 130 and no node process remains,
/// stopped or not.
#[test]
fn ctrl_c_during_a_kill_or_pause_leaves_no_process() {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    let store = common::store("faults", "ctrlc");
    let mut bench = common::glomers()
        .args([
            "test",
            "-w",
            "echo",
            "--bin",
            env!("CARGO_BIN_EXE_echo"),
            "--node-count",
            "3",
            "--time-limit",
            "60",
            "--nemesis",
            "kill,pause",
            "--nemesis-interval",
            "0.3",
            "--seed",
            "5",
            "--store",
        ])
        .arg(&store)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start glomers");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = std::collections::BTreeSet::new();
    let (mut stopped, mut killed) = (false, false);
    let mut nodes = None;
    while Instant::now() < deadline && !(stopped && killed) {
        std::thread::sleep(Duration::from_millis(20));
        let Some(dir) = nodes.clone().or_else(|| {
            let d = store.join("echo");
            let run = std::fs::read_dir(d).ok()?.flatten().next()?.path();
            Some(run.join("nodes"))
        }) else {
            continue;
        };
        nodes = Some(dir.clone());
        let now = processes_under(&dir);
        let live: std::collections::BTreeSet<u32> = now.iter().map(|p| p.0).collect();
        killed |= seen.iter().any(|pid| !live.contains(pid));
        seen.extend(live);
        stopped = now.iter().any(|p| p.1);
    }
    kill(Pid::from_raw(bench.id() as i32), Signal::SIGINT).expect("SIGINT");
    let status = bench.wait().expect("wait");
    assert!(
        stopped && killed,
        "saw a stopped node: {stopped}, a killed one: {killed}"
    );
    assert_eq!(status.code(), Some(130));
    let dir = nodes.expect("the run's nodes directory");
    let left = processes_under(&dir);
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// `glomers test` of fixture `node` with `flags` and `nemesis`; the
/// workload result.
fn fixture_run(tag: &str, node: &str, flags: &[&str], nemesis: &str) -> Value {
    let store = common::store("faults", tag);
    let bin = common::fixture(node);
    let mut args = vec!["--bin", bin.as_str(), "--nemesis", nemesis];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["--nemesis-interval", "1", "--seed", "1"]);
    let out = common::run(&args, &store);
    let results = common::results(&store);
    assert!(
        out.status.code() == Some(0) || out.status.code() == Some(1),
        "{}",
        common::stderr(&out)
    );
    results
}

#[test]
fn a_unique_ids_node_that_restarts_its_counter_hands_out_duplicates_under_kill() {
    let flags = [
        "-w",
        "unique-ids",
        "--time-limit",
        "6",
        "--rate",
        "200",
        "--node-count",
        "3",
    ];
    let node = "unique_ids_amnesiac.py";
    let killed = fixture_run("ids-kill", node, &flags, "kill");
    assert_eq!(killed["valid?"], false, "{killed}");
    let dups = killed["workload"]["duplicated-count"].as_u64().unwrap_or(0);
    assert!(dups > 0, "duplicate ids named: {}", killed["workload"]);
    let calm = fixture_run("ids-partition", node, &flags, "partition");
    assert_eq!(calm["valid?"], true, "{calm}");
}

#[test]
fn a_kafka_node_that_acknowledges_before_syncing_loses_sends_under_kill() {
    let flags = [
        "-w",
        "kafka",
        "--node-count",
        "1",
        "--concurrency",
        "2n",
        "--time-limit",
        "6",
        "--rate",
        "200",
    ];
    let node = "kafka_ack_before_sync.py";
    let killed = fixture_run("kafka-kill", node, &flags, "kill");
    assert_eq!(killed["valid?"], false, "{killed}");
    // A send acknowledged and then forgotten is named either way Jepsen's
    // queue checker names it: `lost-write` when a later poll skips it,
    // `unseen` when no poll ever returns it.
    let errors = killed["workload"]["error-types"].to_string();
    assert!(
        errors.contains("lost-write") || errors.contains("unseen"),
        "a lost send named: {errors}"
    );
    let calm = fixture_run("kafka-partition", node, &flags, "partition");
    assert_eq!(calm["valid?"], true, "{calm}");
}
