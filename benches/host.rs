//! In-process cost of the runtime's hot path: echo requests fed straight to
//! a [`NodeHost`], no pipes. `cargo bench --bench host [-- N]`; N defaults to
//! 2,000,000 requests. Prints nanoseconds per request (replies included).
//! For instruction counts independent of machine load, run the built bench
//! binary under `valgrind --tool=callgrind` with two values of N and divide
//! the difference.

use glomers::challenges::echo::Echo;
use glomers::runtime::NodeHost;
use std::time::{Duration, Instant};

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(2_000_000);
    let mut host: NodeHost<Echo> = NodeHost::new(1);
    host.handle_line(
        br#"{"src":"c0","dest":"n0","body":{"type":"init","msg_id":1,"node_id":"n0","node_ids":["n0"]}}"#,
        Duration::ZERO,
    );
    let lines: Vec<String> = (0..1000)
        .map(|i| {
            format!(
                r#"{{"src":"c1","dest":"n0","body":{{"type":"echo","msg_id":{},"echo":"Please echo {i}"}}}}"#,
                i + 2
            )
        })
        .collect();
    let start = Instant::now();
    for i in 0..n {
        host.handle_line(lines[i % lines.len()].as_bytes(), Duration::ZERO);
        if i % 256 == 255 {
            host.output().clear();
        }
    }
    let took = start.elapsed();
    println!(
        "{n} echo requests in {took:?}: {:.0} ns per request",
        took.as_nanos() as f64 / n as f64
    );
}
