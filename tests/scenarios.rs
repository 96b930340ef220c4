//! Scenario scripts: a cluster of our handlers driven line by line, with
//! the expected trace recorded under each line (tests/scenarios/*.txt).
//!
//! A script is easier to read than the setup code it replaces: the lines
//! say what happens to the network and the clients, and the `> ` lines
//! under each say what came back. The harness runs the script, rebuilds
//! the `> ` lines and compares the whole file; `UPDATE_GOLDEN=1 cargo test
//! --test scenarios` rewrites the files instead. An `expect` line is
//! checked in both modes, so regenerating a golden can never hide a wrong
//! value.
//!
//! # The language
//!
//! ```text
//! # a comment; blank lines are kept
//! latency 10ms                         one-way latency between nodes (and services)
//! nodes g-counter n0 n1 n2             start our handlers, send init, wait for init_ok
//! partition n0 | n1 n2                 node↔node messages across groups are dropped
//! heal                                 every node reaches every node again
//! call n1 {"type":"read"}              a client request; waits (≤ 5 s) for the reply
//! expect value=3 type="read_ok"        fields of the last reply (compact JSON values)
//! expect messages~=[1,2]               an array field, compared as a set
//! advance 500ms                        let time pass
//! ```
//!
//! The simulated network is the bench's (src/bench/net.rs, spec §3): a
//! fixed latency between nodes and to and from services, none to and from
//! clients, partitions checked when a message arrives, and clients and
//! services (`seq-kv`, `lin-kv`, `lww-kv`, `lin-tso`) never partitioned.
//! Unlike the bench, there is no head-of-line blocking (a message is
//! delivered at its own deadline): scripts stay easy to reason about.
//! Nodes are seeded with their index, and events run in (time, sequence)
//! order, so a script's trace is a pure function of the script. Each
//! `advance` reports the messages delivered and dropped since the previous
//! one.

use glomers::bench::inprocess;
use glomers::bench::services::{default_services, Service};
use glomers::runtime::AnyHost;
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::{json, Value};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

/// How long `call` waits for a reply (Maelstrom's client timeout).
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// A message in flight, delivered in (time, seq) order.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct InFlight {
    at: Duration,
    seq: u64,
    src: String,
    dest: String,
    line: String,
}

/// Node↔node and node↔service message counts since the last report.
#[derive(Default)]
struct Counts {
    delivered: u64,
    dropped: u64,
    services: u64,
}

struct Cluster {
    now: Duration,
    seq: u64,
    latency: Duration,
    names: Vec<String>,
    hosts: Vec<Box<dyn AnyHost>>,
    services: BTreeMap<String, Box<dyn Service>>,
    svc_rng: StdRng,
    /// Partition group of each node; nodes in different groups are cut.
    group: Vec<usize>,
    queue: BinaryHeap<Reverse<InFlight>>,
    next_msg_id: u64,
    /// Client replies by `in_reply_to`, with their arrival time.
    replies: BTreeMap<u64, (Duration, Value)>,
    counts: Counts,
}

impl Cluster {
    fn new(latency: Duration) -> Cluster {
        Cluster {
            now: Duration::ZERO,
            seq: 0,
            latency,
            names: Vec::new(),
            hosts: Vec::new(),
            services: default_services()
                .into_iter()
                .map(|(n, s)| (n.to_string(), s))
                .collect(),
            svc_rng: StdRng::seed_from_u64(0),
            group: Vec::new(),
            queue: BinaryHeap::new(),
            next_msg_id: 1,
            replies: BTreeMap::new(),
            counts: Counts::default(),
        }
    }

    fn node(&self, name: &str) -> Result<usize, String> {
        self.names
            .iter()
            .position(|n| n == name)
            .ok_or_else(|| format!("no node {name}"))
    }

    fn send(&mut self, src: &str, dest: &str, line: String) {
        self.seq += 1;
        let client = |e: &str| e.starts_with('c') && self.node(e).is_err();
        let latency = if client(src) || client(dest) {
            Duration::ZERO
        } else {
            self.latency
        };
        self.queue.push(Reverse(InFlight {
            at: self.now + latency,
            seq: self.seq,
            src: src.into(),
            dest: dest.into(),
            line,
        }));
    }

    /// A client request to `node`; returns its `msg_id`.
    fn request(&mut self, node: &str, mut body: Value) -> u64 {
        let id = self.next_msg_id;
        self.next_msg_id += 1;
        body["msg_id"] = json!(id);
        let line = json!({"src": "c1", "dest": node, "body": body}).to_string();
        self.send("c1", node, line);
        id
    }

    /// Route what node `i` printed.
    fn drain(&mut self, i: usize) {
        self.hosts[i].logs().clear();
        let out = std::mem::take(self.hosts[i].output());
        for line in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let line = String::from_utf8_lossy(line).into_owned();
            let env: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("{} printed a bad line ({e}): {line}", self.names[i]));
            let dest = env["dest"].as_str().unwrap_or_default().to_string();
            let src = self.names[i].clone();
            self.send(&src, &dest, line);
        }
    }

    fn deliver(&mut self, m: InFlight) {
        if let Ok(d) = self.node(&m.dest) {
            if let Ok(s) = self.node(&m.src) {
                if self.group[s] != self.group[d] {
                    self.counts.dropped += 1;
                    return;
                }
                self.counts.delivered += 1;
            }
            self.hosts[d].handle_line(m.line.as_bytes(), self.now);
            self.drain(d);
        } else if let Some(svc) = self.services.get_mut(&m.dest) {
            self.counts.services += 1;
            let env: Value = serde_json::from_str(&m.line).expect("node lines were parsed");
            let body = &env["body"];
            if let Some(mut reply) = svc.handle(&m.src, body, &mut self.svc_rng) {
                reply["in_reply_to"] = body["msg_id"].clone();
                let line = json!({"src": m.dest, "dest": m.src, "body": reply}).to_string();
                self.send(&m.dest, &m.src, line);
            }
        } else if m.dest.starts_with('c') {
            let env: Value = serde_json::from_str(&m.line).expect("node lines were parsed");
            if let Some(id) = env["body"]["in_reply_to"].as_u64() {
                self.replies.insert(id, (self.now, env["body"].clone()));
            }
        } else {
            self.counts.services += 1; // an unknown service: no answer
        }
    }

    /// Run every message and timer due by `until`, or until `done` holds.
    fn run_until(&mut self, until: Duration, done: impl Fn(&Cluster) -> bool) {
        while !done(self) {
            let msg = self.queue.peek().map(|Reverse(m)| m.at);
            let timer = (0..self.hosts.len())
                .filter_map(|i| self.hosts[i].next_deadline().map(|t| (t, i)))
                .min();
            match (msg, timer) {
                (Some(m), t) if m <= until && t.is_none_or(|(t, _)| m <= t) => {
                    let Reverse(m) = self.queue.pop().expect("peeked");
                    self.now = self.now.max(m.at);
                    self.deliver(m);
                }
                (_, Some((t, i))) if t <= until => {
                    self.now = self.now.max(t);
                    let now = self.now;
                    self.hosts[i].tick(now);
                    self.drain(i);
                }
                _ => {
                    self.now = until;
                    return;
                }
            }
        }
    }

    fn take_counts(&mut self) -> String {
        let c = std::mem::take(&mut self.counts);
        format!(
            "net: {} delivered, {} dropped, {} to/from services",
            c.delivered, c.dropped, c.services
        )
    }
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let (n, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map(|i| s.split_at(i))
        .ok_or_else(|| format!("{s}: expected a number and ms or s"))?;
    let n: u64 = n.parse().map_err(|_| format!("{s}: bad number"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        _ => Err(format!("{s}: expected ms or s")),
    }
}

/// An array's elements in a canonical order (for `KEY~=[…]`).
fn sorted(v: Option<&Value>) -> Option<Vec<String>> {
    let mut items: Vec<String> = v?.as_array()?.iter().map(Value::to_string).collect();
    items.sort();
    Some(items)
}

fn secs(d: Duration) -> String {
    format!("{:.3}s", d.as_secs_f64())
}

/// Run one command; its trace lines go to `out`.
fn command(
    c: &mut Option<Cluster>,
    latency: &mut Duration,
    last: &mut Option<Value>,
    line: &str,
    out: &mut Vec<String>,
) -> Result<(), String> {
    let (verb, rest) = line.split_once(' ').unwrap_or((line, ""));
    let rest = rest.trim();
    if verb == "latency" {
        *latency = parse_duration(rest)?;
        return Ok(());
    }
    if verb == "nodes" {
        let mut words = rest.split_whitespace();
        let workload = words.next().ok_or("nodes WORKLOAD NAME…")?;
        let mut cl = Cluster::new(*latency);
        cl.names = words.map(String::from).collect();
        for i in 0..cl.names.len() {
            let host = inprocess::host_for(workload, i as u64)
                .ok_or_else(|| format!("no in-process handler for {workload}"))?;
            cl.hosts.push(host);
        }
        cl.group = vec![0; cl.names.len()];
        let ids: Vec<u64> = (0..cl.names.len())
            .map(|i| {
                let body = json!({"type": "init", "node_id": cl.names[i], "node_ids": cl.names});
                let name = cl.names[i].clone();
                cl.request(&name, body)
            })
            .collect();
        let deadline = cl.now + CALL_TIMEOUT;
        cl.run_until(deadline, |cl| {
            ids.iter().all(|i| cl.replies.contains_key(i))
        });
        let oks: Vec<&str> = ids
            .iter()
            .zip(&cl.names)
            .filter(|(id, _)| cl.replies.get(id).is_some_and(|r| r.1["type"] == "init_ok"))
            .map(|(_, n)| n.as_str())
            .collect();
        out.push(format!("init_ok from {}", oks.join(" ")));
        cl.take_counts();
        *c = Some(cl);
        return Ok(());
    }
    let cl = c.as_mut().ok_or("the first command must be `nodes`")?;
    match verb {
        "partition" => {
            let mut group = vec![usize::MAX; cl.names.len()];
            for (g, side) in rest.split('|').enumerate() {
                for n in side.split_whitespace() {
                    group[cl.node(n)?] = g;
                }
            }
            if let Some(i) = group.iter().position(|&g| g == usize::MAX) {
                return Err(format!("partition does not place {}", cl.names[i]));
            }
            cl.group = group;
        }
        "heal" => cl.group = vec![0; cl.names.len()],
        "advance" => {
            let until = cl.now + parse_duration(rest)?;
            cl.run_until(until, |_| false);
            out.push(format!("{}  {}", secs(cl.now), cl.take_counts()));
        }
        "call" => {
            let (node, body) = rest.split_once(' ').ok_or("call NODE BODY")?;
            cl.node(node)?;
            let body: Value =
                serde_json::from_str(body).map_err(|e| format!("bad JSON body: {e}"))?;
            let start = cl.now;
            let id = cl.request(node, body);
            cl.run_until(start + CALL_TIMEOUT, |cl| cl.replies.contains_key(&id));
            match cl.replies.remove(&id) {
                Some((at, mut reply)) => {
                    if let Some(m) = reply.as_object_mut() {
                        m.remove("in_reply_to");
                        m.remove("msg_id");
                    }
                    out.push(format!("{} {node}: {reply}", secs(at)));
                    *last = Some(reply);
                }
                None => {
                    out.push(format!("{} {node}: timeout", secs(cl.now)));
                    *last = None;
                }
            }
        }
        "expect" => {
            let reply = last.as_ref().ok_or("expect: no reply to check")?;
            for pair in rest.split_whitespace() {
                let (key, want) = pair.split_once('=').ok_or("expect KEY=JSON …")?;
                let (key, as_set) = match key.strip_suffix('~') {
                    Some(k) => (k, true),
                    None => (key, false),
                };
                let want: Value =
                    serde_json::from_str(want).map_err(|e| format!("{pair}: bad JSON: {e}"))?;
                let got = reply.get(key).cloned();
                let same = if as_set {
                    sorted(got.as_ref()).is_some_and(|g| Some(g) == sorted(Some(&want)))
                } else {
                    got.as_ref() == Some(&want)
                };
                if !same {
                    return Err(format!("expected {pair}, got reply {reply}"));
                }
            }
        }
        other => return Err(format!("unknown command {other:?}")),
    }
    Ok(())
}

/// Run `tests/scenarios/<name>.txt` and compare (or, with UPDATE_GOLDEN
/// set, rewrite) its trace.
fn scenario(name: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scenarios")
        .join(format!("{name}.txt"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let mut cluster = None;
    let mut latency = Duration::ZERO;
    let mut last = None;
    let mut got = String::new();
    for (n, line) in text.lines().enumerate() {
        if line.starts_with('>') {
            continue;
        }
        writeln!(got, "{line}").unwrap();
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut out = Vec::new();
        if let Err(e) = command(&mut cluster, &mut latency, &mut last, line, &mut out) {
            panic!("{name}.txt line {}: {line}\n{e}", n + 1);
        }
        for o in out {
            writeln!(got, "> {o}").unwrap();
        }
    }
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &got).unwrap();
    } else if got != text {
        let diff: Vec<String> = text
            .lines()
            .zip(got.lines())
            .enumerate()
            .filter(|(_, (a, b))| a != b)
            .take(5)
            .map(|(i, (a, b))| format!("line {}:\n  golden: {a}\n  now:    {b}", i + 1))
            .collect();
        panic!(
            "{name}.txt: the trace changed (UPDATE_GOLDEN=1 cargo test --test scenarios rewrites it)\n{}",
            diff.join("\n")
        );
    }
}

#[test]
fn every_script_has_a_test() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let p = e.ok()?.path();
            if p.extension()? != "txt" {
                return None;
            }
            Some(p.file_stem()?.to_string_lossy().into_owned())
        })
        .collect();
    names.sort();
    assert_eq!(names, SCRIPTS, "tests/scenarios/*.txt and SCRIPTS differ");
    // A trace alone can be regenerated into agreement; an `expect` cannot.
    for n in &names {
        let path =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/scenarios/{n}.txt"));
        let text = std::fs::read_to_string(path).unwrap();
        assert!(
            text.lines().any(|l| l.starts_with("expect ")),
            "{n}.txt checks nothing: add an `expect` line"
        );
    }
}

/// Every script, in file-name order.
const SCRIPTS: &[&str] = &[
    "broadcast_hub_cut_off",
    "g_counter_cut_off",
    "kafka_cut_off",
    "txn_across_heal",
];

#[test]
fn broadcast_hub_cut_off() {
    scenario("broadcast_hub_cut_off");
}

#[test]
fn g_counter_cut_off() {
    scenario("g_counter_cut_off");
}

#[test]
fn kafka_cut_off() {
    scenario("kafka_cut_off");
}

#[test]
fn txn_across_heal() {
    scenario("txn_across_heal");
}
