//! The launcher's guarantee: a node started through it dies when the
//! process that started it is killed with SIGKILL (which runs no cleanup),
//! even a node that ignores SIGTERM and the end of its input. And the
//! control: the same node started directly survives, so the test can fail.
//!
//! The "bench" here is this test binary run again as a child (the role is
//! chosen by an environment variable): it starts the node, prints the
//! node's pid and waits to be killed.
#![cfg(target_os = "linux")]

mod common;

use glomers::bench::launcher;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Set in the child to make [`bench_role`] act as the bench.
const ROLE_ENV: &str = "GLOMERS_LAUNCHER_TEST_ROLE";

/// Not a test of its own: the body of the child "bench". In a normal test
/// run (no role set) it returns at once.
#[test]
fn bench_role() {
    let Ok(role) = std::env::var(ROLE_ENV) else {
        return;
    };
    let node = common::fixture("stubborn.py");
    let mut cmd = match role.as_str() {
        "launcher" => launcher::command(
            Path::new(env!("CARGO_BIN_EXE_glomers")),
            Path::new(&node),
            &[],
        ),
        _ => Command::new(&node),
    };
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the node");
    let mut line = String::new();
    let out = child.stdout.take().expect("stdout");
    BufReader::new(out).read_line(&mut line).expect("pid line");
    println!("node {}", line.trim().trim_start_matches("pid "));
    // Close the node's stdin: it must not care.
    drop(child.stdin.take());
    // Wait for the node, as a bench would; only SIGKILL ends this process
    // (the node never exits by itself).
    let _ = child.wait();
}

/// Whether `pid` is gone (or a zombie nobody reaped yet).
fn dead(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => {
            let state = stat.rsplit(')').next().unwrap_or("").trim_start();
            state.starts_with('Z') || state.starts_with('X')
        }
    }
}

/// Start the child bench in `role`, read the node's pid, SIGKILL the
/// bench; return the pid and whether the node died within `wait`.
fn kill_bench(role: &str, wait: Duration) -> (u32, bool) {
    let mut bench = Command::new(std::env::current_exe().unwrap())
        .args(["bench_role", "--exact", "--nocapture", "--test-threads=1"])
        .env(ROLE_ENV, role)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // libtest prints "test bench_role ... " before the test's own output,
    // so the report is found inside a line, not at its start. A reader
    // thread and a timeout keep a broken child from hanging the test.
    let out = BufReader::new(bench.stdout.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let pid = out.lines().map_while(Result::ok).find_map(|l| {
            let (_, rest) = l.split_once("node ")?;
            rest.trim().parse::<u32>().ok()
        });
        let _ = tx.send(pid);
    });
    let reported = rx.recv_timeout(Duration::from_secs(30)).ok().flatten();
    let Some(pid) = reported else {
        let _ = bench.kill();
        let _ = bench.wait();
        panic!("the child bench did not report its node's pid");
    };
    assert!(!dead(pid), "the node is running before the bench dies");
    bench.kill().unwrap(); // SIGKILL: no cleanup runs in the bench
    bench.wait().unwrap();
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline {
        if dead(pid) {
            return (pid, true);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    (pid, false)
}

#[test]
fn a_launched_node_dies_with_a_sigkilled_bench() {
    let (pid, died) = kill_bench("launcher", Duration::from_secs(10));
    assert!(died, "node {pid} outlived its SIGKILLed bench");
}

#[test]
fn a_node_started_directly_outlives_a_sigkilled_bench() {
    let (pid, died) = kill_bench("direct", Duration::from_secs(2));
    let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
    assert!(
        !died,
        "control: without the launcher node {pid} should survive"
    );
}

#[test]
fn the_launcher_refuses_bad_arguments_and_a_missing_binary() {
    let out = common::glomers()
        .arg(launcher::SUBCOMMAND)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let parent = std::process::id().to_string();
    let out = common::glomers()
        .args([launcher::SUBCOMMAND, &parent, "/nonexistent/node"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(127), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot run"));
    // A launcher whose parent is not the one named does not start the node.
    let out = common::glomers()
        .args([launcher::SUBCOMMAND, "1", "/bin/true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already gone"));
}

#[test]
fn a_launched_node_keeps_its_stdio_and_exit_status() {
    let out = launcher::command(
        Path::new(env!("CARGO_BIN_EXE_glomers")),
        Path::new("/bin/sh"),
        &["-c".into(), "read x; echo got $x; exit 7".into()],
    )
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .spawn()
    .and_then(|mut c| {
        use std::io::Write;
        c.stdin.take().unwrap().write_all(b"hello\n")?;
        c.wait_with_output()
    })
    .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "got hello\n");
    assert_eq!(out.status.code(), Some(7));
}
