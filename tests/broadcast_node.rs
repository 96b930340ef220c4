//! Scripted scenarios for the broadcast node: three hosts (hub `n0`, leaves
//! `n1`, `n2`) on the bench's simulator with every node link held, so the
//! test delivers or drops each message in flight by hand while advancing
//! the virtual clock.

use glomers::bench::inprocess::factory;
use glomers::bench::sim::{Builder, Sim};
use glomers::challenges::broadcast::{Broadcast, Config};
use serde_json::{json, Value};
use std::time::Duration;

/// A message some node printed, held in flight.
#[derive(Debug, Clone)]
struct Sent {
    src: String,
    dest: String,
    body: Value,
}

struct Cluster {
    sim: Sim,
}

impl Cluster {
    fn new(n: usize) -> Self {
        let b = Builder::new().nodes(n).hosts(factory::<Broadcast>());
        let mut sim = b.build().expect("every node answers init");
        for (a, b) in (0..n).flat_map(|a| (0..n).map(move |b| (a, b))) {
            sim.hold(a, b);
        }
        Cluster { sim }
    }

    /// Node-to-node messages printed and not yet delivered or dropped.
    fn flight(&mut self) -> Vec<Sent> {
        self.sim.run_until(|_| false, self.sim.now());
        let sent = |(f, t, body)| Sent {
            src: format!("n{f}"),
            dest: format!("n{t}"),
            body,
        };
        self.sim.held().into_iter().map(sent).collect()
    }

    /// A client request to node `i`; its reply.
    fn client(&mut self, i: usize, body: Value) -> Value {
        self.sim.call(i, body).expect("a reply")
    }

    fn read(&mut self, i: usize) -> Vec<Value> {
        let r = self.client(i, json!({"type": "read"}));
        r["messages"].as_array().cloned().unwrap_or_default()
    }

    /// Advance the clock to `t`, firing timers on the way (nothing in flight
    /// is delivered).
    fn advance(&mut self, t: Duration) {
        self.sim.run_until(|_| false, t);
    }

    /// Deliver (`keep` true) or drop every message in flight that matches
    /// (a link's messages all match or none do).
    fn route(&mut self, keep: bool, pred: impl Fn(&Sent) -> bool) -> usize {
        let flight = self.flight();
        let mut n = 0;
        for (a, b) in (0..flight.len()).map(|i| (flight[i].src.clone(), flight[i].dest.clone())) {
            let link: Vec<&Sent> = flight
                .iter()
                .filter(|s| s.src == a && s.dest == b)
                .collect();
            let hit = link.iter().filter(|s| pred(s)).count();
            assert!(hit == 0 || hit == link.len(), "{a}→{b} splits");
            let (f, t) = (self.sim.node(&a).unwrap(), self.sim.node(&b).unwrap());
            n += match (hit, keep) {
                (0, _) => 0,
                (_, true) => self.sim.deliver_held(f, t),
                (_, false) => self.sim.drop_held(f, t),
            };
        }
        self.flight();
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
    let r = c.client(1, json!({"type": "broadcast", "message": 7}));
    assert_eq!(r["type"], "broadcast_ok");
    assert_eq!(c.read(1), vec![json!(7)]);
    // Short rounds: the leaf sends up at once (after its zero-delay slot).
    c.advance(ms(1));
    let flight = c.flight();
    assert_eq!(flight.len(), 1);
    assert_eq!(
        (flight[0].dest.as_str(), &flight[0].body["type"]),
        ("n0", &json!("up"))
    );
    c.deliver_all();
    assert_eq!(c.read(0), vec![json!(7)]);
    assert!(c.read(2).is_empty());
    // The hub's tick sends n2 the value and n1 the acknowledgement.
    c.advance(ms(200));
    let dests: Vec<String> = c.flight().into_iter().map(|s| s.dest).collect();
    assert_eq!(dests, vec!["n1", "n2"]);
    c.deliver_all();
    assert_eq!(c.read(2), vec![json!(7)]);
    // Topology is acknowledged and ignored; a repeated value is stored once.
    let r = c.client(2, json!({"type": "topology", "topology": {"n0": ["n1"]}}));
    assert_eq!(r["type"], "topology_ok");
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
    assert!(c.flight().is_empty(), "{:?}", c.flight());
    c.advance(ms(1300));
    let flight = c.flight();
    let resent = |s: &Sent| s.dest == "n0" && s.body["vals"] == json!([1]);
    assert_eq!(flight.iter().filter(|s| resent(s)).count(), 1, "{flight:?}");
    assert_eq!(c.route(true, resent), 1);
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
    let flight = c.flight();
    let missing = flight
        .iter()
        .any(|s| s.src == "n2" && s.body["missing"] == json!(true));
    assert!(missing, "{flight:?}");
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
        assert!(c.sim.send_as(from, to, &body));
    }
    assert_eq!(c.deliver_all(), 5);
    c.advance(ms(5000));
    // Only the hub's own round may carry values; the rest was ignored.
    assert!(!c.read(2).contains(&json!(7)));
    assert!(!c.read(1).contains(&json!(6)));
    let r = c.client(1, json!({"type": "gossip"}));
    assert_eq!(
        (r["type"].as_str(), r["code"].as_u64()),
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
