//! Scripted scenarios for the broadcast node: three hosts (hub `n0`, leaves
//! `n1`, `n2`), every message in flight held by the test, which delivers or
//! drops it by hand while advancing a virtual clock.

use glomers::challenges::broadcast::{Broadcast, Config};
use glomers::runtime::NodeHost;
use serde_json::{json, Value};
use std::time::Duration;

/// A message some node printed.
#[derive(Debug, Clone)]
struct Sent {
    src: String,
    dest: String,
    body: Value,
}

struct Cluster {
    hosts: Vec<NodeHost<Broadcast>>,
    now: Duration,
    /// Node-to-node messages printed and not yet delivered or dropped.
    flight: Vec<Sent>,
    /// Replies to clients.
    replies: Vec<Sent>,
}

fn idx(id: &str) -> usize {
    id.trim_start_matches('n').parse().expect("node id")
}

impl Cluster {
    fn new(n: usize) -> Self {
        let ids: Vec<String> = (0..n).map(|i| format!("n{i}")).collect();
        let mut c = Cluster {
            hosts: (0..n).map(|i| NodeHost::new(i as u64)).collect(),
            now: Duration::ZERO,
            flight: Vec::new(),
            replies: Vec::new(),
        };
        for (i, id) in ids.iter().enumerate() {
            c.client(i, json!({"type": "init", "node_id": id, "node_ids": ids}));
        }
        c.replies.clear();
        c
    }

    fn collect(&mut self) {
        for h in &mut self.hosts {
            let out = std::mem::take(h.output());
            for line in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                let v: Value = serde_json::from_slice(line).expect("valid JSON line");
                let s = Sent {
                    src: v["src"].as_str().unwrap_or_default().into(),
                    dest: v["dest"].as_str().unwrap_or_default().into(),
                    body: v["body"].clone(),
                };
                if s.dest.starts_with('c') {
                    self.replies.push(s);
                } else {
                    self.flight.push(s);
                }
            }
        }
    }

    /// A client request to node `i`.
    fn client(&mut self, i: usize, mut body: Value) {
        body["msg_id"] = json!(1);
        let line = json!({"src": "c9", "dest": format!("n{i}"), "body": body});
        self.hosts[i].handle_line(line.to_string().as_bytes(), self.now);
        self.collect();
    }

    fn read(&mut self, i: usize) -> Vec<Value> {
        self.client(i, json!({"type": "read"}));
        let r = self.replies.pop().expect("a read_ok");
        r.body["messages"].as_array().cloned().unwrap_or_default()
    }

    /// Advance the clock to `t`, firing timers on the way (nothing in flight
    /// is delivered).
    fn advance(&mut self, t: Duration) {
        loop {
            let next = self
                .hosts
                .iter()
                .filter_map(|h| h.next_deadline())
                .filter(|&d| d <= t)
                .min();
            let Some(d) = next else { break };
            self.now = self.now.max(d);
            for h in &mut self.hosts {
                h.tick(self.now);
            }
            self.collect();
        }
        self.now = t;
    }

    /// Deliver (`keep` true) or drop every message in flight that matches.
    fn route(&mut self, keep: bool, pred: impl Fn(&Sent) -> bool) -> usize {
        let (hit, rest): (Vec<Sent>, Vec<Sent>) = std::mem::take(&mut self.flight)
            .into_iter()
            .partition(|s| pred(s));
        self.flight = rest;
        let n = hit.len();
        if keep {
            for s in hit {
                let line = json!({"src": s.src, "dest": s.dest, "body": s.body});
                self.hosts[idx(&s.dest)].handle_line(line.to_string().as_bytes(), self.now);
            }
            self.collect();
        }
        n
    }

    fn deliver_all(&mut self) -> usize {
        self.route(true, |_| true)
    }
}

fn ms(x: u64) -> Duration {
    Duration::from_millis(x)
}

#[test]
fn a_value_reaches_every_node_through_the_hub_in_one_round() {
    let mut c = Cluster::new(3);
    c.client(1, json!({"type": "broadcast", "message": 7}));
    assert_eq!(c.replies.pop().unwrap().body["type"], "broadcast_ok");
    assert_eq!(c.read(1), vec![json!(7)]);
    // Short rounds: the leaf sends up at once (after its zero-delay slot).
    c.advance(ms(1));
    assert_eq!(c.flight.len(), 1);
    assert_eq!(
        (c.flight[0].dest.as_str(), &c.flight[0].body["type"]),
        ("n0", &json!("up"))
    );
    c.deliver_all();
    assert_eq!(c.read(0), vec![json!(7)]);
    assert!(c.read(2).is_empty());
    // The hub's tick sends n2 the value and n1 the acknowledgement.
    c.advance(ms(200));
    let dests: Vec<&str> = c.flight.iter().map(|s| s.dest.as_str()).collect();
    assert_eq!(dests, vec!["n1", "n2"]);
    c.deliver_all();
    assert_eq!(c.read(2), vec![json!(7)]);
    // Topology is acknowledged and ignored; a repeated value is stored once.
    c.client(2, json!({"type": "topology", "topology": {"n0": ["n1"]}}));
    assert_eq!(c.replies.pop().unwrap().body["type"], "topology_ok");
    c.client(2, json!({"type": "broadcast", "message": 7}));
    assert_eq!(c.read(2), vec![json!(7)]);
}

#[test]
fn a_lost_uplink_is_resent_until_the_hub_has_it() {
    let mut c = Cluster::new(3);
    c.client(1, json!({"type": "broadcast", "message": 1}));
    c.advance(ms(1));
    assert_eq!(c.route(false, |s| s.dest == "n0"), 1, "uplink dropped");
    // Nothing arrives at the hub, so nothing is acknowledged; the leaf keeps
    // checking and resends once its timeout (max(3T, 1 s)) has passed.
    c.advance(ms(900));
    assert!(c.flight.is_empty(), "{:?}", c.flight);
    c.advance(ms(1300));
    assert_eq!(
        c.route(true, |s| s.dest == "n0" && s.body["vals"] == json!([1])),
        1
    );
    assert_eq!(c.read(0), vec![json!(1)]);
}

#[test]
fn a_round_lost_after_activity_stops_is_resent() {
    let mut c = Cluster::new(3);
    c.client(1, json!({"type": "broadcast", "message": 5}));
    c.advance(ms(1));
    c.deliver_all();
    c.advance(ms(200));
    // The only round carrying 5 to n2 is lost; n1's acknowledgement arrives.
    assert_eq!(c.route(false, |s| s.dest == "n2"), 1);
    c.deliver_all();
    // n1 reports within its ack delay (1 s); the hub then knows n1 is whole.
    c.advance(ms(1400));
    c.deliver_all();
    assert!(c.read(2).is_empty());
    // The hub hears nothing from n2 and resends after its timeout
    // (ack delay + 2T + 1 s = 2.4 s after the lost round), not before.
    c.advance(ms(2500));
    assert_eq!(c.route(true, |s| s.dest == "n2"), 0);
    c.advance(ms(2700));
    assert_eq!(c.route(true, |s| s.dest == "n2"), 1);
    assert_eq!(c.read(2), vec![json!(5)]);
    // n2 then reports, and the hub stops resending: the cluster goes quiet.
    c.advance(ms(4000));
    assert!(c.deliver_all() >= 1);
    c.advance(ms(20_000));
    assert_eq!(
        c.deliver_all(),
        0,
        "no traffic once everyone has everything"
    );
}

#[test]
fn a_gap_seen_in_a_later_round_is_repaired() {
    let mut c = Cluster::new(3);
    c.client(1, json!({"type": "broadcast", "message": 1}));
    c.advance(ms(1));
    c.deliver_all();
    c.advance(ms(200));
    c.route(false, |s| s.dest == "n2");
    c.deliver_all();
    c.client(1, json!({"type": "broadcast", "message": 2}));
    c.advance(ms(201));
    c.deliver_all();
    c.advance(ms(400));
    c.deliver_all();
    // n2 got 2 but not 1: readable, and a gap it reports.
    assert_eq!(c.read(2), vec![json!(2)]);
    c.advance(ms(401));
    let missing = c
        .flight
        .iter()
        .any(|s| s.src == "n2" && s.body["missing"] == json!(true));
    assert!(missing, "{:?}", c.flight);
    c.deliver_all();
    c.advance(ms(600));
    c.deliver_all();
    let mut got = c.read(2);
    got.sort_by_key(|v| v.as_u64());
    assert_eq!(got, vec![json!(1), json!(2)]);
}

#[test]
fn config_parses_the_knob() {
    let parse = |args: &[&str], env: Option<&str>| {
        Config::from_args(args.iter().map(|s| s.to_string()), env.map(String::from))
    };
    assert_eq!(parse(&[], None).unwrap(), Config::default());
    assert_eq!(Config::default().batch, ms(200));
    assert!(!Config::default().slotted);
    let c = parse(&["--batch-ms", "800"], None).unwrap();
    assert_eq!((c.batch, c.slotted), (ms(800), true));
    assert_eq!(
        parse(&["--batch-ms=300"], Some("900")).unwrap().batch,
        ms(300)
    );
    assert_eq!(parse(&[], Some("900")).unwrap().batch, ms(900));
    let c = parse(&["--batch-ms", "800", "--uplink", "now"], None).unwrap();
    assert!(!c.slotted);
    assert!(parse(&["--batch-ms"], None).is_err());
    assert!(parse(&["--batch-ms", "0"], None).is_err());
    assert!(parse(&["--batch-ms", "x"], None).is_err());
    assert!(parse(&["--uplink", "sometimes"], None).is_err());
    assert!(parse(&["--verbose"], None).is_err());
    assert!(parse(&[], Some("abc")).is_err());
}

#[test]
fn odd_internal_messages_are_survived() {
    let mut c = Cluster::new(3);
    let big = usize::MAX;
    let odd = [
        (
            0,
            "n1",
            json!({"type": "up", "echo": 99, "wait_us": u64::MAX, "start": big,
                         "vals": [1, 2], "have": [big, big, big, big], "missing": true}),
        ),
        (
            0,
            "n2",
            json!({"type": "up", "echo": null, "wait_us": 0, "start": 0, "vals": [],
                         "have": [], "missing": false}),
        ),
        (
            1,
            "n0",
            json!({"type": "round", "round": 1, "slot_us": u64::MAX, "late_us": u64::MAX,
                         "runs": [{"o": 9, "s": big, "v": [3]}, {"o": 2, "s": big, "v": [4, 5]}],
                         "have": [big]}),
        ),
        (
            1,
            "n2",
            json!({"type": "round", "round": 2, "runs": [{"o": 0, "s": 0, "v": [6]}],
                         "have": []}),
        ),
        (
            2,
            "n1",
            json!({"type": "up", "start": 0, "vals": [7], "have": [], "missing": false}),
        ),
    ];
    for (to, from, body) in odd {
        let line = json!({"src": from, "dest": format!("n{to}"), "body": body});
        c.hosts[to].handle_line(line.to_string().as_bytes(), c.now);
    }
    c.collect();
    c.advance(ms(5000));
    // Only the hub's own round may carry values; the rest was ignored.
    assert!(!c.read(2).contains(&json!(7)));
    assert!(!c.read(1).contains(&json!(6)));
    c.client(1, json!({"type": "gossip"}));
    let r = c.replies.pop().unwrap();
    assert_eq!(
        (r.body["type"].as_str(), r.body["code"].as_u64()),
        (Some("error"), Some(10))
    );
    // The cluster still works.
    c.deliver_all();
    c.client(2, json!({"type": "broadcast", "message": 42}));
    for t in (5001..9000).step_by(50) {
        c.advance(ms(t));
        c.deliver_all();
    }
    assert!(c.read(1).contains(&json!(42)));
}
