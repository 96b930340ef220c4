//! Echo round-trip load generator for `scripts/bench-runtime.sh`.
//!
//! Spawns each node binary through real pipes, answers `init`, then:
//!
//! * **throughput**: writes `--requests` echo requests while reading the
//!   replies, keeping at most `--window` requests in flight (writes are
//!   batched: whenever there is room, every request that fits goes out in one
//!   `write`); round-trips/s = requests / (time from the first write to the
//!   last reply);
//! * **latency**: `--latency-requests` requests one at a time (window 1);
//!   median and p99 round-trip time;
//! * **peak RSS** of the node process (`VmHWM` in `/proc/<pid>/status`,
//!   read just before its stdin is closed).
//!
//! The binaries are run alternately, `--reps` times each, and the medians
//! and the ratio of the first binary to each other one are printed as
//! Markdown. Usage:
//!
//! ```text
//! loadgen [--requests N] [--window W] [--latency-requests M] [--reps R] NAME=BINARY...
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

const INIT: &[u8] = br#"{"src":"c0","dest":"n0","body":{"type":"init","msg_id":1,"node_id":"n0","node_ids":["n0"]}}
"#;

struct Node {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Node {
    fn start(bin: &str) -> Node {
        let mut child = Command::new(bin)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
        let mut stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::with_capacity(1 << 18, child.stdout.take().unwrap());
        stdin.write_all(INIT).unwrap();
        stdin.flush().unwrap();
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        assert!(line.contains("init_ok"), "{bin}: bad init reply {line:?}");
        Node {
            child,
            stdin: Some(stdin),
            stdout,
        }
    }

    fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }

    fn stop(mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            if Instant::now() > deadline {
                eprintln!("node did not exit within 5 s of EOF; killing it");
                let _ = self.child.kill();
                let _ = self.child.wait();
                return;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

/// All requests, back to back, and where each one starts.
fn requests(n: usize) -> (Vec<u8>, Vec<usize>) {
    let mut buf = Vec::with_capacity(n * 90);
    let mut offsets = Vec::with_capacity(n + 1);
    for i in 0..n {
        offsets.push(buf.len());
        writeln!(
            buf,
            r#"{{"src":"c1","dest":"n0","body":{{"type":"echo","msg_id":{},"echo":"Please echo {}"}}}}"#,
            i + 2,
            i
        )
        .unwrap();
    }
    offsets.push(buf.len());
    (buf, offsets)
}

struct Throughput {
    rt_per_s: f64,
    rss_kib: u64,
}

fn throughput(bin: &str, n: usize, window: usize) -> Throughput {
    let mut node = Node::start(bin);
    let (buf, offsets) = requests(n);
    let received = Arc::new((Mutex::new(0usize), Condvar::new()));
    let mut stdin = node.stdin.take().unwrap();
    let start = Instant::now();
    let writer = {
        let received = Arc::clone(&received);
        std::thread::spawn(move || {
            let mut sent = 0;
            while sent < n {
                let done = {
                    let (lock, cv) = &*received;
                    let mut got = lock.lock().unwrap();
                    while sent - *got >= window {
                        got = cv.wait(got).unwrap();
                    }
                    *got
                };
                let k = (window - (sent - done)).min(n - sent);
                stdin
                    .write_all(&buf[offsets[sent]..offsets[sent + k]])
                    .unwrap();
                sent += k;
            }
            stdin
        })
    };
    let mut lines = 0;
    let mut chunk = vec![0u8; 1 << 18];
    let mut checked_first = false;
    while lines < n {
        let got = node.stdout.read(&mut chunk).unwrap();
        assert!(got > 0, "{bin}: EOF after {lines} replies");
        let new = chunk[..got].iter().filter(|&&b| b == b'\n').count();
        if !checked_first {
            let s = String::from_utf8_lossy(&chunk[..got]);
            let first = s.lines().next().unwrap_or("");
            assert!(first.contains("echo_ok"), "{bin}: bad reply {first:?}");
            checked_first = true;
        }
        lines += new;
        let (lock, cv) = &*received;
        *lock.lock().unwrap() = lines;
        cv.notify_one();
    }
    let elapsed = start.elapsed();
    assert_eq!(lines, n, "{bin}: more replies than requests");
    let rss_kib = node.peak_rss_kib();
    node.stdin = Some(writer.join().unwrap());
    node.stop();
    Throughput {
        rt_per_s: n as f64 / elapsed.as_secs_f64(),
        rss_kib,
    }
}

struct Latency {
    median_us: f64,
    p99_us: f64,
}

fn latency(bin: &str, m: usize) -> Latency {
    let mut node = Node::start(bin);
    let (buf, offsets) = requests(m);
    let mut times = Vec::with_capacity(m);
    let mut line = String::new();
    for i in 0..m {
        let stdin = node.stdin.as_mut().unwrap();
        let t = Instant::now();
        stdin.write_all(&buf[offsets[i]..offsets[i + 1]]).unwrap();
        stdin.flush().unwrap();
        line.clear();
        node.stdout.read_line(&mut line).unwrap();
        times.push(t.elapsed());
        debug_assert!(line.contains("echo_ok"));
    }
    node.stop();
    times.sort();
    Latency {
        median_us: times[m / 2].as_secs_f64() * 1e6,
        p99_us: times[m * 99 / 100].as_secs_f64() * 1e6,
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn main() {
    let mut n = 200_000;
    let mut window = 256;
    let mut m = 20_000;
    let mut reps = 5;
    let mut nodes: Vec<(String, String)> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut num = |name: &str| -> usize {
            args.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{name} needs a number"))
        };
        match a.as_str() {
            "--requests" => n = num("--requests"),
            "--window" => window = num("--window"),
            "--latency-requests" => m = num("--latency-requests"),
            "--reps" => reps = num("--reps"),
            _ => {
                let (name, bin) = a.split_once('=').expect("NAME=BINARY");
                nodes.push((name.into(), bin.into()));
            }
        }
    }
    assert!(!nodes.is_empty(), "usage: loadgen [opts] NAME=BINARY...");
    let mut rts = vec![Vec::new(); nodes.len()];
    let mut rss = vec![Vec::new(); nodes.len()];
    let mut lat = vec![Vec::new(); nodes.len()];
    let mut p99 = vec![Vec::new(); nodes.len()];
    println!("| rep | node | round-trips/s (window {window}) | peak RSS KiB | window-1 median µs | window-1 p99 µs |");
    println!("|---|---|---:|---:|---:|---:|");
    for rep in 1..=reps {
        for (i, (name, bin)) in nodes.iter().enumerate() {
            let t = throughput(bin, n, window);
            let l = latency(bin, m);
            println!(
                "| {rep} | {name} | {:.0} | {} | {:.1} | {:.1} |",
                t.rt_per_s, t.rss_kib, l.median_us, l.p99_us
            );
            rts[i].push(t.rt_per_s);
            rss[i].push(t.rss_kib as f64);
            lat[i].push(l.median_us);
            p99[i].push(l.p99_us);
        }
    }
    println!();
    println!("Medians over {reps} alternating repetitions ({n} requests, window {window}; {m} window-1 requests):");
    println!();
    println!("| node | round-trips/s | × {} | peak RSS KiB | window-1 median µs | window-1 p99 µs |", nodes[0].0);
    println!("|---|---:|---:|---:|---:|---:|");
    let base = median(&mut rts[0].clone());
    for (i, (name, _)) in nodes.iter().enumerate() {
        let r = median(&mut rts[i]);
        println!(
            "| {name} | {r:.0} | {:.3} | {:.0} | {:.1} | {:.1} |",
            r / base,
            median(&mut rss[i]),
            median(&mut lat[i]),
            median(&mut p99[i])
        );
    }
}
