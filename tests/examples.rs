//! The nodes in `examples/`, compiled into this test and run: echo through
//! the real driver on in-memory streams, broadcast and the key/value client
//! on the simulator (virtual clock, the bench's own `lin-kv`), under
//! partitions. An example that stops working fails `cargo test`.

#[allow(dead_code)]
#[path = "../examples/echo.rs"]
mod echo;

#[allow(dead_code)]
#[path = "../examples/broadcast.rs"]
mod broadcast;

#[allow(dead_code)]
#[path = "../examples/kv_client.rs"]
mod kv_client;

use glomers::bench::inprocess::factory;
use glomers::bench::sim::Builder;
use glomers::runtime::Driver;
use serde_json::{json, Value};
use std::io::Cursor;
use std::time::Duration;

#[test]
fn echo_answers_through_the_real_driver() {
    let input = concat!(
        r#"{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1"]}}"#,
        "\n",
        r#"{"src":"c1","dest":"n1","body":{"type":"echo","msg_id":2,"echo":{"any":[1,"json"]}}}"#,
        "\n",
    );
    let mut out = Vec::new();
    Driver::new()
        .args(Vec::new())
        .input(Cursor::new(input.as_bytes().to_vec()))
        .output(&mut out)
        .log(std::io::sink())
        .run::<echo::Echo>()
        .expect("the driver ends cleanly");
    let lines: Vec<Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0]["body"]["type"], "init_ok");
    assert_eq!(
        lines[1],
        json!({"src": "n1", "dest": "c1",
            "body": {"type": "echo_ok", "echo": {"any": [1, "json"]}, "in_reply_to": 2}})
    );
}

#[test]
fn broadcast_values_cross_a_healed_partition() {
    for seed in 0..3 {
        let b = Builder::new().nodes(3).latency(Duration::from_millis(10));
        let mut sim = b
            .seed(seed)
            .hosts(factory::<broadcast::Broadcast>())
            .build()
            .unwrap();
        let topology = json!({"type": "topology", "topology": {}});
        assert_eq!(sim.call(0, topology).unwrap()["type"], "topology_ok");
        sim.partition(&[0], &[1, 2]);
        for (node, v) in [(0, 1), (1, 2), (2, 3)] {
            let r = sim.call(node, json!({"type": "broadcast", "message": v}));
            assert_eq!(r.unwrap()["type"], "broadcast_ok");
        }
        sim.run_for(Duration::from_secs(1));
        let r = sim.call(0, json!({"type": "read"})).unwrap();
        assert_eq!(r["messages"], json!([1]), "cut off: only its own value");
        sim.heal();
        sim.run_for(Duration::from_secs(1));
        for node in 0..3 {
            let r = sim.call(node, json!({"type": "read"})).unwrap();
            assert_eq!(r["messages"], json!([1, 2, 3]), "seed {seed}, node {node}");
        }
    }
}

#[test]
fn kv_client_adds_exactly_once_each_under_contention() {
    for seed in 0..3 {
        let b = Builder::new().nodes(3).latency(Duration::from_millis(5));
        let mut sim = b
            .seed(seed)
            .hosts(factory::<kv_client::Counter>())
            .build()
            .unwrap();
        assert_eq!(sim.call(1, json!({"type": "read"})).unwrap()["value"], 0);
        // Nine adds in flight at once on three nodes: their CASes collide
        // and the losers retry.
        let ids: Vec<u64> = (0..9)
            .map(|i| sim.request(i % 3, json!({"type": "add", "delta": i + 1})))
            .collect();
        sim.run_for(Duration::from_secs(3));
        for id in ids {
            let (_, body) = sim.take_reply(id).expect("every add is answered");
            assert_eq!(body["type"], "add_ok", "seed {seed}: {body}");
        }
        for node in 0..3 {
            let r = sim.call(node, json!({"type": "read"})).unwrap();
            assert_eq!(r["value"], 45, "seed {seed}, node {node}");
        }
    }
}

#[test]
fn kv_client_passes_an_error_on_when_lin_kv_never_answers() {
    // No services at all: the read goes nowhere and times out.
    let b = Builder::new().nodes(1).services(Vec::new());
    let mut sim = b.hosts(factory::<kv_client::Counter>()).build().unwrap();
    let id = sim.request(0, json!({"type": "add", "delta": 1}));
    sim.run_for(Duration::from_secs(3));
    let (at, body) = sim.take_reply(id).expect("the add is answered");
    assert_eq!(body["type"], "error", "{body}");
    assert_eq!(body["code"], 0, "a timeout is indefinite: {body}");
    assert!(
        at >= Duration::from_secs(1),
        "answered at the deadline, {at:?}"
    );
}
