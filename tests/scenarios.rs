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
//! Scripts run on the bench's simulator (`glomers::bench::sim`), so the
//! network is the bench's own (`src/bench/net.rs`, after Maelstrom's
//! `maelstrom: src/maelstrom/net.clj`): a fixed latency between nodes and
//! to and from services, none to and from clients, per-destination
//! deadline order with head-of-line blocking, partitions checked as a
//! message reaches the head of its destination's queue, and clients and
//! services (`seq-kv`, `lin-kv`, `lww-kv`, `lin-tso`) never partitioned.
//! The simulator's seed is 0, so a script's trace is a pure function of
//! the script. Each `advance` reports the node↔node messages delivered
//! and dropped, and the messages delivered to services, since the
//! previous report.

use glomers::bench::inprocess;
use glomers::bench::net::EpKind;
use glomers::bench::sim::{Builder, Sim};
use serde_json::Value;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

/// A script's state between commands.
#[derive(Default)]
struct Script {
    sim: Option<Sim>,
    latency: Duration,
    /// The last reply, for `expect`.
    last: Option<Value>,
    /// Journal entries and drops already reported.
    reported: (usize, u64),
}

impl Script {
    /// Messages delivered between nodes, dropped, and delivered to
    /// services since the last report.
    fn take_counts(&mut self) -> String {
        let Some(sim) = &self.sim else {
            return String::new();
        };
        let net = sim.network();
        let (mut delivered, mut services) = (0, 0);
        for ev in net.journal[self.reported.0..].iter().filter(|e| e.recv) {
            let m = &net.messages[ev.msg as usize];
            match (net.endpoints[m.src].kind, net.endpoints[m.dest].kind) {
                (EpKind::Node(_), EpKind::Node(_)) => delivered += 1,
                (_, EpKind::Service(_)) => services += 1,
                _ => {}
            }
        }
        let dropped = net.dropped - self.reported.1;
        self.reported = (net.journal.len(), net.dropped);
        format!("net: {delivered} delivered, {dropped} dropped, {services} to/from services")
    }

    fn node(&self, name: &str) -> Result<usize, String> {
        let sim = self
            .sim
            .as_ref()
            .ok_or("the first command must be `nodes`")?;
        sim.node(name).ok_or_else(|| format!("no node {name}"))
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

/// Check `KEY=JSON …` (or `KEY~=[…]`, as a set) against the last reply.
fn expect(last: Option<&Value>, rest: &str) -> Result<(), String> {
    let reply = last.ok_or("expect: no reply to check")?;
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
    Ok(())
}

/// Run one command; its trace lines go to `out`.
fn command(s: &mut Script, line: &str, out: &mut Vec<String>) -> Result<(), String> {
    let (verb, rest) = line.split_once(' ').unwrap_or((line, ""));
    let rest = rest.trim();
    if verb == "latency" {
        s.latency = parse_duration(rest)?;
        return Ok(());
    }
    if verb == "nodes" {
        let mut words = rest.split_whitespace();
        let workload = words.next().ok_or("nodes WORKLOAD NAME…")?;
        let names: Vec<&str> = words.collect();
        let factory = inprocess::factory_for(workload)
            .ok_or_else(|| format!("no in-process handler for {workload}"))?;
        if names.iter().enumerate().any(|(i, n)| *n != format!("n{i}")) {
            return Err("nodes are named n0, n1, … in order".into());
        }
        let sim = Builder::new().nodes(names.len()).latency(s.latency);
        s.sim = Some(sim.hosts(factory).build()?);
        out.push(format!("init_ok from {}", names.join(" ")));
        s.take_counts();
        return Ok(());
    }
    let node = |s: &Script, n: &str| s.node(n);
    match verb {
        "partition" => {
            let mut groups = Vec::new();
            for side in rest.split('|') {
                let g: Result<Vec<usize>, String> =
                    side.split_whitespace().map(|n| node(s, n)).collect();
                groups.push(g?);
            }
            let sim = s.sim.as_mut().ok_or("no nodes")?;
            if groups.iter().map(Vec::len).sum::<usize>() != sim.names().len() {
                return Err("partition must place every node once".into());
            }
            sim.heal();
            for (i, a) in groups.iter().enumerate() {
                for b in &groups[i + 1..] {
                    sim.partition(a, b);
                }
            }
        }
        "heal" => s.sim.as_mut().ok_or("no nodes")?.heal(),
        "advance" => {
            let d = parse_duration(rest)?;
            let sim = s.sim.as_mut().ok_or("no nodes")?;
            sim.run_for(d);
            let now = secs(sim.now());
            out.push(format!("{now}  {}", s.take_counts()));
        }
        "call" => {
            let (name, body) = rest.split_once(' ').ok_or("call NODE BODY")?;
            let i = node(s, name)?;
            let body: Value =
                serde_json::from_str(body).map_err(|e| format!("bad JSON body: {e}"))?;
            let sim = s.sim.as_mut().ok_or("no nodes")?;
            s.last = sim.call(i, body);
            match s.last.as_mut().and_then(Value::as_object_mut) {
                Some(m) => {
                    m.remove("in_reply_to");
                    m.remove("msg_id");
                    let reply = Value::Object(m.clone());
                    out.push(format!("{} {name}: {reply}", secs(sim.now())));
                }
                None => out.push(format!("{} {name}: timeout", secs(sim.now()))),
            }
        }
        "expect" => expect(s.last.as_ref(), rest)?,
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
    let mut script = Script::default();
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
        if let Err(e) = command(&mut script, line, &mut out) {
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
