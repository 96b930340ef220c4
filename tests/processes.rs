//! The real binaries, spawned as Maelstrom spawns them: lines piped into
//! stdin, replies read from stdout, the exit status checked after EOF.

use serde_json::Value;
use std::collections::HashSet;
use std::io::{Read, Write};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A spawned node, killed if the test fails before it exits.
struct NodeProcess(Child);

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Run {
    stdout: Vec<String>,
    stderr: String,
    status: ExitStatus,
    /// From closing stdin to the process's exit.
    exit_after_eof: Duration,
}

/// Run `bin` with `input` on stdin (written by a thread while stdout is
/// read), close stdin, and wait for the exit.
fn run_node(bin: &str, input: Vec<u8>) -> Run {
    let child = Command::new(bin)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the node");
    let mut node = NodeProcess(child);
    let mut stdin = node.0.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        stdin.write_all(&input).expect("write stdin");
        drop(stdin);
        Instant::now()
    });
    let mut stderr_pipe = node.0.stderr.take().unwrap();
    let stderr_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr_pipe.read_to_string(&mut s);
        s
    });
    let mut stdout = String::new();
    node.0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .expect("stdout is UTF-8");
    let eof_at = writer.join().unwrap();
    let status = node.0.wait().unwrap();
    let exit_after_eof = eof_at.elapsed();
    Run {
        stdout: stdout.lines().map(str::to_owned).collect(),
        stderr: stderr_reader.join().unwrap(),
        status,
        exit_after_eof,
    }
}

fn init(node: &str) -> String {
    format!(
        r#"{{"src":"c0","dest":"{node}","body":{{"type":"init","msg_id":1,"node_id":"{node}","node_ids":["n0","n1","n2"]}}}}"#
    )
}

fn body(line: &str) -> Value {
    let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    v["body"].clone()
}

#[test]
fn echo_binary_serves_every_request_and_exits_on_eof() {
    let mut input = String::new();
    input.push_str(&init("n0"));
    input.push('\n');
    for i in 0..1000 {
        input.push_str(&format!(
            r#"{{"src":"c1","dest":"n0","body":{{"type":"echo","msg_id":{},"echo":"Please echo {i}"}}}}"#,
            i + 2
        ));
        input.push('\n');
    }
    input.push_str(r#"{"src":"c1","dest":"n0","body":{"type":"mystery","msg_id":5000}}"#);
    input.push('\n');
    input.push_str("this line is not JSON\n");
    let big = "y".repeat(1 << 20);
    input.push_str(&format!(
        r#"{{"src":"c1","dest":"n0","body":{{"type":"echo","msg_id":5001,"echo":"{big}"}}}}"#
    ));
    input.push('\n');

    let run = run_node(env!("CARGO_BIN_EXE_echo"), input.into_bytes());
    assert!(run.status.success(), "{:?}: {}", run.status, run.stderr);
    assert!(
        run.exit_after_eof < Duration::from_secs(1),
        "exit {:?} after EOF",
        run.exit_after_eof
    );
    assert_eq!(run.stdout.len(), 1 + 1000 + 1 + 1, "one reply per request");
    assert_eq!(body(&run.stdout[0])["type"], "init_ok");
    assert_eq!(body(&run.stdout[0])["in_reply_to"], 1);
    for i in 0..1000 {
        let b = body(&run.stdout[1 + i]);
        assert_eq!(b["type"], "echo_ok");
        assert_eq!(b["in_reply_to"], i as u64 + 2);
        assert_eq!(b["echo"], format!("Please echo {i}"));
    }
    let unknown = body(&run.stdout[1001]);
    assert_eq!(unknown["type"], "error");
    assert_eq!(unknown["code"], 10);
    assert_eq!(unknown["in_reply_to"], 5000);
    let b = body(&run.stdout[1002]);
    assert_eq!(b["type"], "echo_ok");
    assert_eq!(b["in_reply_to"], 5001);
    assert_eq!(b["echo"].as_str().map(str::len), Some(1 << 20));
    assert!(
        run.stderr.contains("this line is not JSON"),
        "{}",
        run.stderr
    );
}

/// Ask a fresh `unique-ids` process, as node `node`, for `count` ids.
fn generate(node: &str, count: u64) -> Vec<u64> {
    let mut input = String::with_capacity(count as usize * 80);
    input.push_str(&init(node));
    input.push('\n');
    for i in 0..count {
        input.push_str(&format!(
            r#"{{"src":"c1","dest":"{node}","body":{{"type":"generate","msg_id":{}}}}}"#,
            i + 2
        ));
        input.push('\n');
    }
    let run = run_node(env!("CARGO_BIN_EXE_unique-ids"), input.into_bytes());
    assert!(run.status.success(), "{:?}: {}", run.status, run.stderr);
    assert_eq!(run.stdout.len() as u64, count + 1);
    run.stdout[1..]
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let b = body(line);
            assert_eq!(b["type"], "generate_ok", "{line}");
            assert_eq!(b["in_reply_to"], i as u64 + 2);
            b["id"].as_u64().expect("the id is a JSON integer")
        })
        .collect()
}

#[test]
fn unique_ids_stay_unique_across_nodes_and_a_restart() {
    const N: u64 = 100_000;
    let mut seen = HashSet::with_capacity(4 * N as usize);
    // n1 runs twice: the second process is a restart under the same id.
    for node in ["n0", "n1", "n2", "n1"] {
        for id in generate(node, N) {
            assert!(seen.insert(id), "duplicate id {id} from {node}");
        }
    }
    assert_eq!(seen.len() as u64, 4 * N);
}
