//! A learner's own node on the bench, end to end through the `glomers`
//! binary with python fixture nodes (tests/fixtures/): the Fly.io presets
//! for any binary (`challenge --bin`, `--bin-dir`) with a hint per failed
//! figure, `test --test-count`, and process-mode sweeps. Each run is a
//! second or two; the 25-node flooding run about ten.

use std::path::{Path, PathBuf};
use std::process::Output;

mod common;
use common::{fixture, glomers, stderr};

fn store(name: &str) -> PathBuf {
    common::store("learner", name)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The fixture that fails about one run in five, by seed: of seeds 8 to
/// 12, only 12 (its first echo asks for a multiple of 5).
const FAILS_BY_SEED: &str = "echo_fails_by_seed.py";

/// A short echo test of `FAILS_BY_SEED`'s kind.
const SHORT_ECHO: &[&str] = &[
    "-w",
    "echo",
    "--node-count",
    "1",
    "--time-limit",
    "1",
    "--rate",
    "10",
];

#[test]
fn a_flooding_broadcast_node_fails_3d_on_msgs_per_op_with_its_hint() {
    let s = store("flood");
    let o = glomers()
        .args([
            "challenge",
            "3d",
            "--bin",
            &fixture("broadcast_flood.py"),
            "--seed",
            "1",
        ])
        .arg("--store")
        .arg(&s)
        .args(["--time-limit", "1", "--rate", "20", "--recovery-wait", "1"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("3d         FAIL    valid? true"), "{out}");
    let why = out
        .lines()
        .find(|l| l.trim_start().starts_with("why: servers msgs-per-op is "))
        .unwrap_or_else(|| panic!("no hint for msgs-per-op in {out}"));
    assert!(why.contains("target < 30: "), "{why}");
    assert!(
        why.contains("you broadcast to every node on every message"),
        "{why}"
    );
    // The figure in the hint is the run's own.
    let r = common::results(&s);
    let m = r["net"]["servers"]["msgs-per-op"].as_f64().unwrap();
    assert!(m > 30.0, "{m}");
    let shown: f64 = why
        .split("msgs-per-op is ")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .and_then(|x| x.parse().ok())
        .unwrap_or_else(|| panic!("no figure in {why}"));
    assert!((shown - m).abs() < 1e-3, "{why} vs {m}");
    // The fixture got none of our broadcast node's arguments.
    assert!(
        stderr(&o).contains("--latency 100 --store"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn bin_dir_runs_what_is_there_and_lists_what_is_missing() {
    let s = store("bindir");
    let dir = s.join("bins");
    std::fs::create_dir_all(&dir).unwrap();
    // Our name for one, Fly.io's Go name for the other.
    std::os::unix::fs::symlink(fixture("echo_ok.py"), dir.join("echo")).unwrap();
    let uids = dir.join("maelstrom-unique-ids");
    std::os::unix::fs::symlink(fixture("unique_ids_collide.py"), &uids).unwrap();
    let o = glomers()
        .args(["challenge", "all", "--seed", "1", "--bin-dir"])
        .arg(&dir)
        .arg("--store")
        .arg(&s)
        .args(["--time-limit", "1"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("1          PASS"), "{out}");
    assert!(out.contains("2          FAIL    valid? false"), "{out}");
    assert!(
        out.contains("why: workload duplicated-count is ")
            && out.contains("should be 0: two requests got the same id"),
        "{out}"
    );
    assert!(out.contains(&format!(
        "3a         MISSING no executable broadcast, broadcast.py, maelstrom-broadcast in {}",
        dir.display()
    )));
    assert!(
        out.contains("no binary for 12 of 14: 3a 3b 3c 3d 3e 4 5a 5b 5c 6a 6b 6c"),
        "{out}"
    );
    assert!(stderr(&o).contains(&format!("--bin {}", uids.display())));
}

#[test]
fn bad_learner_arguments_are_refused_before_running() {
    let s = store("badargs");
    let missing = s.join("nope");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "challenge".into(),
                "1".into(),
                "--bin".into(),
                missing.display().to_string(),
            ],
            "cannot use it as a node binary",
        ),
        (
            vec![
                "challenge".into(),
                "1".into(),
                "--bin".into(),
                fixture("echo_ok.py"),
                "--bin-dir".into(),
                ".".into(),
            ],
            "either --bin or --bin-dir",
        ),
        (
            vec![
                "challenge".into(),
                "1".into(),
                "--bin-dir".into(),
                env!("CARGO_MANIFEST_DIR").into(),
            ],
            "no executable echo, echo.py, maelstrom-echo in",
        ),
        (
            vec![
                "sweep".into(),
                "-w".into(),
                "echo".into(),
                "--bin".into(),
                missing.display().to_string(),
            ],
            "cannot use it as a node binary",
        ),
        (
            vec![
                "sweep".into(),
                "-w".into(),
                "echo".into(),
                "--jobs".into(),
                "2".into(),
            ],
            "--jobs is for process-mode sweeps",
        ),
        (
            vec![
                "test".into(),
                "-w".into(),
                "echo".into(),
                "--test-count".into(),
                "0".into(),
            ],
            "--test-count",
        ),
    ];
    for (args, says) in cases {
        let o = glomers().args(&args).output().unwrap();
        assert_eq!(o.status.code(), Some(254), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{args:?}: {}", stderr(&o));
    }
    assert!(!s.exists(), "nothing ran, nothing was stored");
}

#[test]
fn test_count_5_reports_the_failing_run_and_exits_1() {
    let s = store("count");
    let o = glomers()
        .arg("test")
        .args(SHORT_ECHO)
        .args([
            "--bin",
            &fixture(FAILS_BY_SEED),
            "--seed",
            "8",
            "--test-count",
            "5",
        ])
        .arg("--store")
        .arg(&s)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("5 of 5 tests run:"), "{out}");
    assert!(
        out.contains("4 valid, 1 invalid, 0 unknown, 0 crashed"),
        "{out}"
    );
    assert!(out.contains("failed: seed 12 invalid"), "{out}");
    let listed: Vec<&str> = out.lines().filter(|l| l.starts_with("  test ")).collect();
    assert_eq!(listed.len(), 5, "{out}");
    // Each run has its own directory, and the failing one is the invalid run.
    let dirs: Vec<&str> = listed
        .iter()
        .map(|l| l.rsplit(' ').next().unwrap())
        .collect();
    for (i, d) in dirs.iter().enumerate() {
        assert!(Path::new(d).join("results.json").exists(), "{d}");
        assert!(!dirs[..i].contains(d), "{d} twice");
    }
    assert!(
        listed[4].contains("seed 12") && listed[4].contains("INVALID"),
        "{out}"
    );
    let r: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(dirs[4]).join("results.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(r["valid?"], false);
}

#[test]
fn a_process_sweep_lists_the_failing_seed_with_a_replay_command_that_fails_again() {
    let s = store("sweep");
    let o = glomers()
        .arg("sweep")
        .args(SHORT_ECHO)
        .args([
            "--bin",
            &fixture(FAILS_BY_SEED),
            "--seeds",
            "5",
            "--first-seed",
            "8",
            "--jobs",
            "2",
        ])
        .arg("--store")
        .arg(&s)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("1 of 5 seeds failed"), "{out}");
    let err = stderr(&o);
    for seed in 8..=12 {
        assert!(
            err.contains(&format!("glomers: sweep: seed {seed} ")),
            "{err}"
        );
    }
    assert!(err.contains("(5 of 5 done, 1 failed, 0 running)"), "{err}");
    let replay = out
        .lines()
        .find_map(|l| l.strip_prefix("seed 12 invalid: glomers "))
        .unwrap_or_else(|| panic!("no replay line in {out}"));
    // Each seed ran in its own store directory.
    let sweeps: Vec<PathBuf> = std::fs::read_dir(s.join("sweep"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(sweeps.len(), 1);
    for seed in 8..=12 {
        let run = sweeps[0].join(format!("seed-{seed}/latest/results.json"));
        assert!(run.exists(), "{}", run.display());
    }
    // The replay command, as printed, fails the same way.
    let replay_store = s.join("replay");
    let o = glomers()
        .args(replay.split(' '))
        .arg("--store")
        .arg(&replay_store)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{replay}: {}", stderr(&o));
}

#[test]
fn a_process_sweep_names_a_crashed_seed_with_its_console() {
    let s = store("crash");
    let o = glomers()
        .args([
            "sweep",
            "-w",
            "echo",
            "--node-count",
            "1",
            "--time-limit",
            "1",
        ])
        .args([
            "--bin",
            &fixture("crash.py"),
            "--seeds",
            "1",
            "--first-seed",
            "3",
        ])
        .arg("--store")
        .arg(&s)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("seed 3 crashed: glomers test -w echo "),
        "{out}"
    );
    assert!(
        out.contains("/seed-3/console.log (Node n0 crashed with exit status 3."),
        "{out}"
    );
    assert!(out.contains("1 of 1 seeds failed"), "{out}");
}
