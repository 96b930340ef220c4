//! From a run's files to what the diagram draws: lanes, messages tied to
//! the client operations that caused them, nemesis periods.
//!
//! # Tying messages to operations
//!
//! The history says which *process* ran an operation, the journal which
//! *client* (`c7`) sent a request; neither names the other (Maelstrom's
//! files do not either). The engine opens a worker's client and sends its
//! first request at the very instant it records the invocation, so the tie
//! is recovered by time, in history order:
//!
//! 1. an operation's first request is a client request sent at its
//!    invocation time, from the client its process already used, or, for a
//!    process seen for the first time, from a client no live process owns
//!    (a fresh one, or one whose process ended `info`: clients of some
//!    workloads are reused by the next process); the lowest unclaimed id
//!    wins a tie;
//! 2. its other requests are that client's later requests up to the next
//!    operation's first one and no later than its completion;
//! 3. its replies are the messages to that client answering those requests
//!    (`in_reply_to`).
//!
//! Init and setup clients (`init`, `topology`) are never candidates. An
//! operation that sends nothing (kafka's `assign`, a `crash`) ties to
//! nothing. This reads runs written before the pictures existed as well,
//! since it needs only the two files. It is a heuristic: two invocations of
//! unseen processes at the same instant with requests to the same kind of
//! client could swap; the engine's generator never issues two ops at one
//! instant except in the final phase, where every process is already bound.

use super::run::{Message, OpPair, Run};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;

/// Messages tied to operations, both ways.
#[derive(Debug, Default)]
pub struct Links {
    /// For each message position, the op pair (position in `pairs`) it
    /// belongs to.
    pub msg_op: Vec<Option<usize>>,
    /// For each op pair, its messages' positions in id order.
    pub op_msgs: Vec<Vec<usize>>,
    /// For each op pair, the client that carried it.
    pub op_client: Vec<Option<String>>,
}

/// Is this endpoint name a client (`c` and digits)?
pub fn is_client(name: &str) -> bool {
    name.len() > 1 && name.starts_with('c') && name[1..].bytes().all(|b| b.is_ascii_digit())
}

/// Is this endpoint name a node (`n` and digits)?
pub fn is_node(name: &str) -> bool {
    name.len() > 1 && name.starts_with('n') && name[1..].bytes().all(|b| b.is_ascii_digit())
}

/// Tie messages to operations (see the module docs).
pub fn link(pairs: &[OpPair], messages: &[Message]) -> Links {
    let mut links = Links {
        msg_op: vec![None; messages.len()],
        op_msgs: vec![Vec::new(); pairs.len()],
        op_client: vec![None; pairs.len()],
    };
    let requests = WorkerRequests::index(messages);
    let first = first_requests(pairs, messages, &requests.at, &mut links);
    let replies = replies_by_request(messages);
    let mut ops_of: HashMap<&str, Vec<usize>> = HashMap::new();
    for (k, f) in first.iter().enumerate() {
        if let Some(i) = f {
            ops_of.entry(&messages[*i].src).or_default().push(k);
        }
    }
    for (c, ks) in ops_of {
        let reqs = &requests.by_client[c];
        for (j, &k) in ks.iter().enumerate() {
            let next = ks.get(j + 1).and_then(|&n| first[n]);
            let lo = first[k].unwrap_or(0);
            let mine = op_requests(reqs, messages, lo, next, pairs[k].end);
            for &i in &mine {
                links.op_msgs[k].push(i);
                if let Some(id) = messages[i].body.get("msg_id").and_then(Value::as_u64) {
                    for &r in replies.get(&(c, id)).map(Vec::as_slice).unwrap_or(&[]) {
                        links.op_msgs[k].push(r);
                    }
                }
            }
            links.op_msgs[k].sort_unstable();
            links.op_msgs[k].dedup();
            for &i in &links.op_msgs[k] {
                links.msg_op[i] = Some(k);
            }
        }
    }
    links
}

/// Requests of worker clients (not init or setup clients), by send time
/// and by client, as message positions in id order.
struct WorkerRequests<'m> {
    at: HashMap<u64, Vec<usize>>,
    by_client: HashMap<&'m str, Vec<usize>>,
}

impl<'m> WorkerRequests<'m> {
    fn index(messages: &'m [Message]) -> Self {
        let mut first_kind: HashMap<&str, &str> = HashMap::new();
        for m in messages.iter().filter(|m| is_client(&m.src)) {
            first_kind.entry(&m.src).or_insert_with(|| m.kind());
        }
        let worker = |c: &str| !matches!(first_kind.get(c), Some(&"init") | Some(&"topology"));
        let mut at: HashMap<u64, Vec<usize>> = HashMap::new();
        let mut by_client: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, m) in messages.iter().enumerate() {
            if is_client(&m.src) && worker(&m.src) {
                at.entry(m.sent).or_default().push(i);
                by_client.entry(&m.src).or_default().push(i);
            }
        }
        WorkerRequests { at, by_client }
    }
}

/// Step 1 of the module docs: each op's first request (its position), and
/// the client that carried it in `links.op_client`.
fn first_requests(
    pairs: &[OpPair],
    messages: &[Message],
    at: &HashMap<u64, Vec<usize>>,
    links: &mut Links,
) -> Vec<Option<usize>> {
    let mut owner: HashMap<&str, usize> = HashMap::new(); // client -> pair
    let mut client_of: HashMap<u64, &str> = HashMap::new(); // process -> client
    let mut claimed = vec![false; messages.len()];
    let mut first: Vec<Option<usize>> = vec![None; pairs.len()];
    for (k, p) in pairs.iter().enumerate() {
        let Some(cands) = at.get(&p.start) else {
            continue;
        };
        let bound = client_of.get(&p.process).copied();
        let free = |c: &str| match owner.get(c) {
            None => 0,
            Some(&o) if pairs[o].outcome == Some(crate::bench::history::OpType::Info) => 1,
            Some(_) => 2,
        };
        let pick = cands
            .iter()
            .copied()
            .filter(|&i| !claimed[i])
            .filter(|&i| match bound {
                Some(c) => messages[i].src == c,
                None => free(&messages[i].src) < 2,
            })
            .min_by_key(|&i| (bound.map_or(free(&messages[i].src), |_| 0), i));
        if let Some(i) = pick {
            let c = messages[i].src.as_str();
            claimed[i] = true;
            first[k] = Some(i);
            owner.insert(c, k);
            client_of.insert(p.process, c);
            links.op_client[k] = Some(c.to_string());
        }
    }
    first
}

/// Messages to a client answering one of its requests, by (client,
/// `in_reply_to`).
fn replies_by_request(messages: &[Message]) -> HashMap<(&str, u64), Vec<usize>> {
    let mut reply_to: HashMap<(&str, u64), Vec<usize>> = HashMap::new();
    for (i, m) in messages.iter().enumerate() {
        if let Some(r) = m.body.get("in_reply_to").and_then(Value::as_u64) {
            if is_client(&m.dest) {
                reply_to.entry((&m.dest, r)).or_default().push(i);
            }
        }
    }
    reply_to
}

/// Step 2: of a client's requests `reqs` (in id order), those of the op
/// whose first request is `lo`: up to the next op's first request `next`
/// and sent no later than the op's completion `end`.
fn op_requests(
    reqs: &[usize],
    messages: &[Message],
    lo: usize,
    next: Option<usize>,
    end: Option<u64>,
) -> Vec<usize> {
    let hi = next.unwrap_or(usize::MAX);
    let end = end.unwrap_or(u64::MAX);
    // `reqs` is in id order: the op's slice is found by bisection, not by a
    // scan per op (a kafka client sends thousands).
    let from = reqs.partition_point(|&i| i < lo);
    let to = reqs.partition_point(|&i| i < hi);
    reqs[from..to]
        .iter()
        .copied()
        .filter(|&i| i == lo || messages[i].sent <= end)
        .collect()
}

/// Lanes, left to right: nodes (by number), services, then clients packed
/// so clients whose lives do not overlap share a lane (init, setup and a
/// worker's successive clients stack into one column instead of a hundred).
/// Returns the lane labels and each endpoint's lane.
pub fn lanes(
    run: &Run,
    links: &Links,
    pairs: &[OpPair],
) -> (Vec<(String, &'static str)>, HashMap<String, usize>) {
    let mut life: HashMap<&str, (u64, u64)> = HashMap::new();
    fn touch<'r>(life: &mut HashMap<&'r str, (u64, u64)>, name: &'r str, t: u64) {
        let e = life.entry(name).or_insert((t, t));
        e.0 = e.0.min(t);
        e.1 = e.1.max(t);
    }
    for m in &run.messages {
        let end = m.received.unwrap_or(m.sent);
        touch(&mut life, &m.src, m.sent);
        touch(&mut life, &m.dest, end);
    }
    for (k, c) in links.op_client.iter().enumerate() {
        if let Some(c) = c {
            let p = &pairs[k];
            touch(&mut life, c, p.start);
            touch(&mut life, c, p.end.unwrap_or(p.start));
        }
    }
    let num = |s: &str| s[1..].parse::<u64>().unwrap_or(u64::MAX);
    let mut nodes: Vec<&str> = life.keys().copied().filter(|n| is_node(n)).collect();
    nodes.sort_by_key(|n| num(n));
    let mut services: Vec<&str> = life
        .keys()
        .copied()
        .filter(|n| !is_node(n) && !is_client(n))
        .collect();
    services.sort();
    let mut clients: Vec<(&str, (u64, u64))> = life
        .iter()
        .filter(|(n, _)| is_client(n))
        .map(|(n, l)| (*n, *l))
        .collect();
    clients.sort_by_key(|(n, l)| (l.0, num(n)));
    let mut out: Vec<(String, &'static str)> = Vec::new();
    let mut lane_of: HashMap<String, usize> = HashMap::new();
    for n in nodes {
        lane_of.insert(n.to_string(), out.len());
        out.push((n.to_string(), "node"));
    }
    for s in services {
        lane_of.insert(s.to_string(), out.len());
        out.push((s.to_string(), "service"));
    }
    let first_client = out.len();
    // Per lane: its last client's (start, end). A client may follow one
    // that ended at the instant it starts (an init client, then a setup
    // client), not one that started then too.
    let mut last: Vec<(u64, u64)> = Vec::new();
    let mut members: Vec<Vec<&str>> = Vec::new();
    for (c, (start, end)) in clients {
        let fits = |&(s, e): &(u64, u64)| e < start || (e == start && s < start);
        let slot = last.iter().position(fits).unwrap_or(last.len());
        if slot == last.len() {
            last.push((start, end));
            members.push(Vec::new());
        }
        last[slot] = (start, end);
        members[slot].push(c);
        lane_of.insert(c.to_string(), first_client + slot);
    }
    for m in members {
        let label = if m.len() > 3 {
            format!("{} … {}", m[0], m[m.len() - 1])
        } else {
            m.join(" ")
        };
        out.push((label, "client"));
    }
    (out, lane_of)
}

/// Microseconds, the pages' time unit (ns would lose precision past 2^53
/// only after 104 days, but µs keep the embedded JSON a third shorter).
fn us(ns: u64) -> u64 {
    ns / 1000
}

/// The diagram's data, embedded in `messages.html` (shapes documented in
/// `assets/messages.js`). It borrows the run's bodies and values instead of
/// copying them: a kafka run's journal is a hundred thousand bodies.
#[derive(Debug, Serialize)]
pub struct Diagram<'a> {
    /// `<workload> <run>`.
    pub title: String,
    /// The run's verdict (`valid?`).
    pub valid: &'a Value,
    /// Lane labels and kinds, left to right.
    pub lanes: Vec<(String, &'static str)>,
    /// Message types, indexed by `msgs[_][5]`.
    pub types: Vec<&'a str>,
    /// `[id, src lane, dest lane, sent µs, received µs or -1, type, op or -1]`:
    /// numbers only, so the page parses them fast.
    pub msgs: Vec<[i64; 7]>,
    /// Each message's endpoints and body, for details and search.
    pub bodies: Vec<BodyRef<'a>>,
    /// The client operations.
    pub ops: Vec<OpView<'a>>,
    /// Nemesis periods.
    pub faults: Vec<FaultView>,
    /// The last time anything happened, µs.
    pub end: u64,
    /// The anomalies with their evidence.
    pub anomalies: Vec<Value>,
    /// Unreadable lines left out, per file.
    pub skipped: &'a [(String, usize)],
}

/// A message's endpoints and body, borrowed.
#[derive(Debug, Serialize)]
pub struct BodyRef<'a> {
    src: &'a str,
    dest: &'a str,
    body: &'a Value,
}

/// A client operation as the pages draw it (short keys: there are tens of
/// thousands).
#[derive(Debug, Clone, Serialize)]
pub struct OpView<'a> {
    i: usize,
    c: Option<usize>,
    p: u64,
    f: &'a str,
    t: &'static str,
    s: u64,
    e: Option<u64>,
    lane: i64,
    client: Option<&'a str>,
    v: &'a Value,
    r: &'a Value,
    err: Option<&'a Value>,
    /// The op's message ids (the timeline leaves them out).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub m: Option<Vec<u64>>,
}

/// A nemesis period, µs.
#[derive(Debug, Clone, Serialize)]
pub struct FaultView {
    s: u64,
    e: Option<u64>,
    label: String,
    detail: Value,
}

/// Build the diagram's data.
pub fn diagram_data<'a>(
    run: &'a Run,
    pairs: &'a [OpPair],
    links: &'a Links,
    anomalies: Vec<Value>,
) -> Diagram<'a> {
    let (lanes, lane_of) = lanes(run, links, pairs);
    let lane = |n: &str| lane_of.get(n).map_or(0, |&l| l as i64);
    let rows = message_rows(run, pairs, links, &lane);
    let ops = op_views(run, pairs, links, &lane);
    let faults = super::run::faults(&run.ops)
        .into_iter()
        .map(|f| FaultView {
            s: us(f.start),
            e: f.end.map(us),
            label: f.label,
            detail: f.detail,
        })
        .collect();
    let end = run
        .messages
        .iter()
        .map(|m| m.received.unwrap_or(m.sent))
        .chain(run.ops.iter().map(|o| o.time))
        .max()
        .unwrap_or(0);
    Diagram {
        title: format!("{} {}", run.workload, run.name),
        valid: run.results.get("valid?").unwrap_or(&Value::Null),
        lanes,
        types: rows.types,
        msgs: rows.msgs,
        bodies: rows.bodies,
        ops,
        faults,
        end: us(end),
        anomalies,
        skipped: &run.skipped,
    }
}

/// The diagram's message columns: type names, numeric rows, bodies.
struct MessageRows<'a> {
    types: Vec<&'a str>,
    msgs: Vec<[i64; 7]>,
    bodies: Vec<BodyRef<'a>>,
}

fn message_rows<'a>(
    run: &'a Run,
    pairs: &[OpPair],
    links: &Links,
    lane: &dyn Fn(&str) -> i64,
) -> MessageRows<'a> {
    let mut types: Vec<&str> = Vec::new();
    let mut type_ix: HashMap<&str, usize> = HashMap::new();
    let mut msgs = Vec::with_capacity(run.messages.len());
    let mut bodies = Vec::with_capacity(run.messages.len());
    for (i, m) in run.messages.iter().enumerate() {
        let kind = m.kind();
        let t = *type_ix.entry(kind).or_insert_with(|| {
            types.push(kind);
            types.len() - 1
        });
        let op = links.msg_op[i].map_or(-1, |k| pairs[k].invoke as i64);
        let recv = m.received.map_or(-1, |r| us(r) as i64);
        msgs.push([
            m.id as i64,
            lane(&m.src),
            lane(&m.dest),
            us(m.sent) as i64,
            recv,
            t as i64,
            op,
        ]);
        bodies.push(BodyRef {
            src: &m.src,
            dest: &m.dest,
            body: &m.body,
        });
    }
    MessageRows {
        types,
        msgs,
        bodies,
    }
}

fn op_views<'a>(
    run: &Run,
    pairs: &'a [OpPair],
    links: &'a Links,
    lane: &dyn Fn(&str) -> i64,
) -> Vec<OpView<'a>> {
    pairs
        .iter()
        .enumerate()
        .map(|(k, p)| OpView {
            i: p.invoke,
            c: p.complete,
            p: p.process,
            f: &p.f,
            t: outcome_name(p),
            s: us(p.start),
            e: p.end.map(us),
            lane: links.op_client[k].as_deref().map_or(-1, lane),
            client: links.op_client[k].as_deref(),
            v: &p.value,
            r: &p.result,
            err: p.error.as_ref(),
            m: Some(
                links.op_msgs[k]
                    .iter()
                    .map(|&i| run.messages[i].id)
                    .collect(),
            ),
        })
        .collect()
}

/// An op's outcome as the pages name it.
pub fn outcome_name(p: &OpPair) -> &'static str {
    use crate::bench::history::OpType;
    match p.outcome {
        Some(OpType::Ok) => "ok",
        Some(OpType::Fail) => "fail",
        Some(OpType::Info) => "info",
        Some(OpType::Invoke) | None => "open",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::history::{Op, OpType, Process};
    use crate::bench::report::run::op_pairs;
    use serde_json::json;

    fn msg(id: u64, src: &str, dest: &str, body: Value, sent: u64) -> Message {
        Message {
            id,
            src: src.into(),
            dest: dest.into(),
            body,
            sent,
            received: Some(sent + 1),
        }
    }

    fn op(index: usize, time: u64, process: u64, kind: OpType, f: &str) -> Op {
        Op {
            index,
            time,
            process: Process::Client(process),
            kind,
            f: f.into(),
            value: Value::Null,
            error: None,
            final_phase: false,
        }
    }

    #[test]
    fn ties_requests_and_replies_to_their_operation() {
        use OpType::*;
        let messages = vec![
            msg(0, "c0", "n0", json!({"type": "init", "msg_id": 1}), 0),
            msg(
                1,
                "n0",
                "c0",
                json!({"type": "init_ok", "in_reply_to": 1}),
                1,
            ),
            // process 0 on c1, process 1 on c2 at the same instant as an
            // init request (never a candidate).
            msg(2, "c1", "n0", json!({"type": "read", "msg_id": 1}), 10),
            msg(3, "c2", "n0", json!({"type": "read", "msg_id": 1}), 10),
            msg(
                4,
                "n0",
                "c2",
                json!({"type": "read_ok", "in_reply_to": 1}),
                12,
            ),
            msg(
                5,
                "n0",
                "c1",
                json!({"type": "read_ok", "in_reply_to": 1}),
                13,
            ),
            // a server message: no op.
            msg(6, "n0", "n1", json!({"type": "gossip"}), 14),
            // process 0 again, second op.
            msg(7, "c1", "n0", json!({"type": "read", "msg_id": 2}), 20),
            msg(
                8,
                "n0",
                "c1",
                json!({"type": "read_ok", "in_reply_to": 2}),
                21,
            ),
        ];
        let ops = vec![
            op(0, 10, 0, Invoke, "read"),
            op(1, 10, 1, Invoke, "read"),
            op(2, 12, 1, Ok, "read"),
            op(3, 13, 0, Ok, "read"),
            op(4, 15, 0, Invoke, "assign"),
            op(5, 15, 0, Ok, "assign"),
            op(6, 20, 0, Invoke, "read"),
            op(7, 21, 0, Ok, "read"),
        ];
        let pairs = op_pairs(&ops);
        let l = link(&pairs, &messages);
        assert_eq!(l.op_msgs, vec![vec![2, 5], vec![3, 4], vec![], vec![7, 8]]);
        assert_eq!(l.op_client[0].as_deref(), Some("c1"));
        assert_eq!(l.msg_op[6], None);
        assert_eq!(l.msg_op[0], None, "init clients are never tied to ops");
    }

    #[test]
    fn clients_that_do_not_overlap_share_a_lane() {
        let run = Run {
            messages: vec![
                msg(0, "c0", "n1", json!({"type": "init"}), 0),
                msg(1, "c1", "n0", json!({"type": "init"}), 0),
                msg(2, "c2", "n0", json!({"type": "read"}), 5),
                msg(3, "n0", "seq-kv", json!({"type": "read"}), 6),
            ],
            ..Run::default()
        };
        let (lanes, of) = lanes(&run, &Links::default(), &[]);
        let names: Vec<&str> = lanes.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["n0", "n1", "seq-kv", "c0 c2", "c1"]);
        assert_eq!(of["c2"], 3);
    }
}
