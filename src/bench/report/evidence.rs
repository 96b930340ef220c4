//! From a checker's verdict to the operations and messages behind it.
//!
//! Each checker reports its anomalies in its own shape (Maelstrom's key
//! names, kept so results compare with a real run); this module reads those
//! shapes and names, for each anomaly, the history entries and journal
//! messages a learner should look at. The diagram highlights them.
//!
//! | where in `results.json` | anomaly | operations | messages |
//! |---|---|---|---|
//! | `workload.lost` (broadcast) | a value acknowledged, then missing from final reads | its `broadcast` and the final reads that lack it | the broadcast's request and reply, and every node-to-node message carrying the value; those never delivered are flagged |
//! | `workload.duplicated` (broadcast, a warning) | a value twice in one read | the reads | theirs |
//! | `workload.duplicated` (unique-ids) | an id handed out twice | the `generate`s that returned it | theirs |
//! | `workload.anomalies.<type>[]` (Elle, txn) | G0, G1a, G1b, G1c, G-single, G2, internal, … | the case's `ops` | theirs |
//! | `workload.<type>.errs[]` (kafka) | lost-write, duplicate, poll-skip, G1c, … | every operation quoted in the case | theirs |
//! | `workload.unseen` (kafka) | acknowledged sends no poll returned | those sends | theirs |
//! | `workload.errors[]` (g-counter, echo) | a final read outside the acceptable range; a wrong echo | the quoted operations | theirs |
//! | `workload.results.<key>.linearizable` (lin-kv) | an operation no order of its key's operations can explain | it and every operation of its key concurrent with it (`explanation.window`) | theirs |
//! | `node-output.errors[]` | a node printed a line that is not a message | — | — (its node log) |

use super::run::{OpPair, Run};
use super::trace::{is_node, Links};
use serde_json::{json, Value};
use std::collections::HashMap;

/// Messages named per anomaly at most (a value every node gossiped is in
/// thousands of messages; the first ones and the undelivered ones matter).
const MAX_MESSAGES: usize = 400;
/// Anomalies listed per kind at most.
const MAX_PER_KIND: usize = 50;

/// One anomaly with its evidence.
#[derive(Debug, Clone, PartialEq)]
pub struct Anomaly {
    /// The checker's name for it (`lost`, `G1c`, `lost-write`, …).
    pub kind: String,
    /// One line for the list.
    pub title: String,
    /// The invocation index of each operation involved.
    pub ops: Vec<usize>,
    /// Journal ids of the messages involved.
    pub msgs: Vec<u64>,
    /// Among `msgs`, those never delivered.
    pub missing: Vec<u64>,
}

impl Anomaly {
    /// As embedded in the pages.
    pub fn to_json(&self) -> Value {
        json!({"kind": self.kind, "title": self.title, "ops": self.ops,
               "msgs": self.msgs, "missing": self.missing})
    }
}

/// The evidence index: history entry → op pair.
struct Index<'a> {
    run: &'a Run,
    pairs: &'a [OpPair],
    links: &'a Links,
    pair_of: HashMap<usize, usize>,
}

impl Index<'_> {
    /// An anomaly from history indices (invocations or completions).
    fn of_entries(&self, kind: &str, title: String, entries: &[usize]) -> Anomaly {
        let mut ks: Vec<usize> = entries
            .iter()
            .filter_map(|i| self.pair_of.get(i).copied())
            .collect();
        ks.sort_unstable();
        ks.dedup();
        let mut positions: Vec<usize> = ks
            .iter()
            .flat_map(|&k| self.links.op_msgs[k].iter().copied())
            .collect();
        positions.sort_unstable();
        positions.truncate(MAX_MESSAGES);
        self.make(
            kind,
            title,
            ks.iter().map(|&k| self.pairs[k].invoke).collect(),
            positions,
        )
    }

    fn make(&self, kind: &str, title: String, ops: Vec<usize>, positions: Vec<usize>) -> Anomaly {
        let msgs = positions.iter().map(|&i| self.run.messages[i].id).collect();
        let missing = positions
            .iter()
            .filter(|&&i| self.run.messages[i].received.is_none())
            .map(|&i| self.run.messages[i].id)
            .collect();
        Anomaly {
            kind: kind.into(),
            title,
            ops,
            msgs,
            missing,
        }
    }
}

/// One reader per place in `results.json` (the module docs' table), in the
/// order the pages list them.
const READERS: [fn(&Index, &Value) -> Vec<Anomaly>; 8] = [
    lost_values,
    duplicates,
    elle_anomalies,
    kafka_errs,
    unseen_sends,
    plain_errors,
    nonlinearizable,
    node_output,
];

/// Every anomaly the run's results report, with its evidence.
pub fn anomalies(run: &Run, pairs: &[OpPair], links: &Links) -> Vec<Anomaly> {
    let mut pair_of = HashMap::new();
    for (k, p) in pairs.iter().enumerate() {
        pair_of.insert(p.invoke, k);
        if let Some(c) = p.complete {
            pair_of.insert(c, k);
        }
    }
    let ix = Index {
        run,
        pairs,
        links,
        pair_of,
    };
    let w = &run.results["workload"];
    READERS.iter().flat_map(|read| read(&ix, w)).collect()
}

fn lost_values(ix: &Index, w: &Value) -> Vec<Anomaly> {
    let lost = w.get("lost").and_then(Value::as_array);
    lost.into_iter()
        .flatten()
        .take(MAX_PER_KIND)
        .map(|v| lost_value(ix, v))
        .collect()
}

fn duplicates(ix: &Index, w: &Value) -> Vec<Anomaly> {
    let unique_ids = w.get("acknowledged-count").is_some();
    let dups = w.get("duplicated").and_then(Value::as_object);
    dups.into_iter()
        .flatten()
        .take(MAX_PER_KIND)
        .map(|(label, count)| duplicated(ix, label, count, unique_ids))
        .collect()
}

/// Elle's `anomalies.<type>[]`, each with the `ops` it quotes.
fn elle_anomalies(ix: &Index, w: &Value) -> Vec<Anomaly> {
    let mut out = Vec::new();
    let by_type = w.get("anomalies").and_then(Value::as_object);
    for (kind, cases) in by_type.into_iter().flatten() {
        for case in cases.as_array().into_iter().flatten().take(MAX_PER_KIND) {
            let entries = indices(case.get("ops").unwrap_or(&Value::Null));
            let title = case
                .get("explanation")
                .and_then(Value::as_str)
                .map(String::from)
                .unwrap_or_else(|| short(case));
            out.push(ix.of_entries(kind, format!("{kind}: {title}"), &entries));
        }
    }
    out
}

/// Kafka's `<type>.errs[]`, each with every operation it quotes.
fn kafka_errs(ix: &Index, w: &Value) -> Vec<Anomaly> {
    let mut out = Vec::new();
    for (kind, v) in w.as_object().into_iter().flatten() {
        let errs = v.get("errs").and_then(Value::as_array);
        for err in errs.into_iter().flatten().take(MAX_PER_KIND) {
            let mut entries = Vec::new();
            op_indices(err, &mut entries);
            out.push(ix.of_entries(kind, format!("{kind}: {}", short(err)), &entries));
        }
    }
    out
}

fn unseen_sends(ix: &Index, w: &Value) -> Vec<Anomaly> {
    let mut out = Vec::new();
    let unseen = w.pointer("/unseen/messages").and_then(Value::as_object);
    for (key, values) in unseen.into_iter().flatten() {
        for v in values.as_array().into_iter().flatten().take(MAX_PER_KIND) {
            out.push(unseen_send(ix, key, v));
        }
    }
    out
}

/// `errors[]` (g-counter, echo): the operations each error quotes.
fn plain_errors(ix: &Index, w: &Value) -> Vec<Anomaly> {
    let errors = w.get("errors").and_then(Value::as_array);
    errors
        .into_iter()
        .flatten()
        .take(MAX_PER_KIND)
        .map(|err| {
            let mut entries = Vec::new();
            op_indices(err, &mut entries);
            ix.of_entries("error", format!("error: {}", short(err)), &entries)
        })
        .collect()
}

/// lin-kv: for each key that is not linearizable, the operation that could
/// not be linearized and the window of operations concurrent with it
/// (`results.<key>.linearizable.explanation`).
fn nonlinearizable(ix: &Index, w: &Value) -> Vec<Anomaly> {
    let mut out = Vec::new();
    let results = w.get("results").and_then(Value::as_object);
    for (key, result) in results.into_iter().flatten().take(MAX_PER_KIND) {
        let lin = &result["linearizable"];
        if lin.get("valid?") != Some(&Value::Bool(false)) {
            continue;
        }
        let ex = &lin["explanation"];
        let mut entries = Vec::new();
        for row in ex["window"].as_array().into_iter().flatten() {
            entries.extend(indices(&row["indices"]));
        }
        for end in ["invoke", "complete"] {
            entries.extend(
                ex[end]
                    .get("index")
                    .and_then(Value::as_u64)
                    .map(|i| i as usize),
            );
        }
        let text = ex["text"]
            .as_str()
            .map_or_else(|| format!("key {key} is not linearizable"), String::from);
        out.push(ix.of_entries(
            "nonlinearizable",
            format!("nonlinearizable: {text}"),
            &entries,
        ));
    }
    out
}

fn node_output(ix: &Index, _: &Value) -> Vec<Anomaly> {
    let errors = ix.run.results.pointer("/node-output/errors");
    errors
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .take(MAX_PER_KIND)
        .map(|err| {
            ix.make(
                "node-output",
                format!("node-output: {}", short(err)),
                vec![],
                vec![],
            )
        })
        .collect()
}

/// A lost broadcast value: its broadcast, the final reads without it, and
/// the node-to-node messages that carried it.
fn lost_value(ix: &Index, v: &Value) -> Anomaly {
    let mut entries = Vec::new();
    for p in ix.pairs {
        let sent = p.f == "broadcast" && &p.value == v;
        let final_read_without = p.f == "read"
            && p.outcome == Some(crate::bench::history::OpType::Ok)
            && is_final(ix, p)
            && !p.result.as_array().is_some_and(|a| a.contains(v));
        if sent || final_read_without {
            entries.push(p.invoke);
        }
    }
    let mut a = ix.of_entries(
        "lost",
        format!("lost: broadcast value {v} acknowledged, missing from final reads"),
        &entries,
    );
    let carried = ix
        .run
        .messages
        .iter()
        .enumerate()
        .filter(|(_, m)| is_node(&m.src) && is_node(&m.dest) && carries(&m.body, v))
        .map(|(i, _)| i);
    let mut positions: Vec<usize> = ix
        .run
        .messages
        .iter()
        .enumerate()
        .filter(|(_, m)| a.msgs.contains(&m.id))
        .map(|(i, _)| i)
        .chain(carried)
        .collect();
    positions.sort_unstable();
    positions.dedup();
    // Keep every undelivered carrier, then the earliest others.
    let (undelivered, delivered): (Vec<usize>, Vec<usize>) = positions
        .into_iter()
        .partition(|&i| ix.run.messages[i].received.is_none());
    let mut keep: Vec<usize> = undelivered.into_iter().take(MAX_MESSAGES).collect();
    let room = MAX_MESSAGES.saturating_sub(keep.len());
    keep.extend(delivered.into_iter().take(room));
    keep.sort_unstable();
    let ops = std::mem::take(&mut a.ops);
    ix.make("lost", a.title, ops, keep)
}

fn is_final(ix: &Index, p: &OpPair) -> bool {
    ix.run
        .ops
        .iter()
        .find(|o| o.index == p.invoke)
        .is_some_and(|o| o.final_phase)
}

/// A value duplicated: unique-ids' twice-generated id, or broadcast's value
/// seen twice in one read.
fn duplicated(ix: &Index, label: &str, count: &Value, unique_ids: bool) -> Anomaly {
    // unique-ids labels a string id without its quotes, anything else by
    // its JSON text.
    let parsed: Option<Value> = serde_json::from_str(label).ok();
    let same = |r: &Value| r.as_str() == Some(label) || parsed.as_ref() == Some(r);
    let entries: Vec<usize> = ix
        .pairs
        .iter()
        .filter(|p| {
            if unique_ids {
                p.outcome == Some(crate::bench::history::OpType::Ok) && same(&p.result)
            } else {
                p.result
                    .as_array()
                    .is_some_and(|a| a.iter().filter(|x| same(x)).count() > 1)
            }
        })
        .map(|p| p.invoke)
        .collect();
    let title = if unique_ids {
        format!("duplicated: id {label} generated {count} times")
    } else {
        format!("duplicated (warning): value {label} twice in one read")
    };
    ix.of_entries("duplicated", title, &entries)
}

/// A kafka send no poll returned.
fn unseen_send(ix: &Index, key: &str, v: &Value) -> Anomaly {
    let entries: Vec<usize> = ix
        .pairs
        .iter()
        .filter(|p| {
            p.f == "send"
                && p.value.as_array().is_some_and(|mops| {
                    mops.iter().any(|m| {
                        m.get(1).and_then(Value::as_str) == Some(key) && m.get(2) == Some(v)
                    })
                })
        })
        .map(|p| p.invoke)
        .collect();
    ix.of_entries(
        "unseen",
        format!("unseen: send of {v} to key {key} never polled"),
        &entries,
    )
}

/// Does a body carry this value anywhere (not as a `msg_id` or
/// `in_reply_to`)?
fn carries(body: &Value, v: &Value) -> bool {
    match body {
        Value::Object(m) => m
            .iter()
            .any(|(k, x)| k != "msg_id" && k != "in_reply_to" && carries(x, v)),
        Value::Array(a) => a.iter().any(|x| carries(x, v)),
        x => x == v,
    }
}

/// Non-negative integers of an `ops`-style list.
fn indices(v: &Value) -> Vec<usize> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x.as_u64().map(|i| i as usize))
        .collect()
}

/// Every history entry quoted in a checker's case: objects shaped like an
/// op (`index`, `process`, `f`), and Elle-style `ops`/`cycle` index lists.
fn op_indices(v: &Value, out: &mut Vec<usize>) {
    match v {
        Value::Object(m) => {
            if m.contains_key("process") && m.contains_key("f") {
                if let Some(i) = m.get("index").and_then(Value::as_u64) {
                    out.push(i as usize);
                }
            }
            for (k, x) in m {
                if k == "ops" || k == "cycle" {
                    out.extend(indices(x));
                }
                op_indices(x, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| op_indices(x, out)),
        _ => {}
    }
}

/// A case shortened for a one-line title.
fn short(v: &Value) -> String {
    let mut s = v.to_string();
    if s.len() > 160 {
        let mut cut = 157;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::history::{Op, OpType};
    use crate::bench::report::run::{op_pairs, Message};
    use crate::bench::report::trace::link;

    fn op(
        index: usize,
        time: u64,
        process: u64,
        kind: OpType,
        f: &str,
        value: Value,
        fin: bool,
    ) -> Op {
        Op {
            index,
            final_phase: fin,
            ..Op::client(time, process, kind, f, value)
        }
    }

    fn msg(
        id: u64,
        src: &str,
        dest: &str,
        body: Value,
        sent: u64,
        received: Option<u64>,
    ) -> Message {
        Message {
            id,
            src: src.into(),
            dest: dest.into(),
            body,
            sent,
            received,
        }
    }

    /// A lost broadcast value: the broadcast op, the final read that lacks
    /// it, the request, and the undelivered gossip that carried it.
    #[test]
    fn a_lost_value_leads_to_the_message_that_went_missing() {
        use OpType::*;
        let run = Run {
            results: json!({"valid?": false, "workload": {"lost": [7], "duplicated": {}}}),
            ops: vec![
                op(0, 10, 0, Invoke, "broadcast", json!(7), false),
                op(1, 11, 0, Ok, "broadcast", json!(7), false),
                op(2, 50, 1, Invoke, "read", Value::Null, true),
                op(3, 51, 1, Ok, "read", json!([1]), true),
                op(4, 60, 0, Invoke, "read", Value::Null, true),
                op(5, 61, 0, Ok, "read", json!([1, 7]), true),
            ],
            messages: vec![
                msg(
                    0,
                    "c5",
                    "n0",
                    json!({"type": "broadcast", "message": 7, "msg_id": 1}),
                    10,
                    Some(10),
                ),
                msg(
                    1,
                    "n0",
                    "c5",
                    json!({"type": "broadcast_ok", "in_reply_to": 1}),
                    11,
                    Some(11),
                ),
                msg(
                    2,
                    "n0",
                    "n1",
                    json!({"type": "gossip", "messages": [7]}),
                    12,
                    None,
                ),
                msg(
                    3,
                    "n0",
                    "n1",
                    json!({"type": "gossip", "messages": [1], "msg_id": 7}),
                    13,
                    Some(14),
                ),
                msg(
                    4,
                    "c6",
                    "n1",
                    json!({"type": "read", "msg_id": 1}),
                    50,
                    Some(50),
                ),
                msg(
                    5,
                    "n1",
                    "c6",
                    json!({"type": "read_ok", "messages": [1], "in_reply_to": 1}),
                    51,
                    Some(51),
                ),
            ],
            ..Run::default()
        };
        let pairs = op_pairs(&run.ops);
        let links = link(&pairs, &run.messages);
        let a = anomalies(&run, &pairs, &links);
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].kind, "lost");
        assert_eq!(
            a[0].ops,
            vec![0, 2],
            "the broadcast and the final read that lacks 7"
        );
        assert_eq!(a[0].msgs, vec![0, 1, 2, 4, 5]);
        assert_eq!(a[0].missing, vec![2]);
    }

    #[test]
    fn elle_kafka_and_unique_ids_cases_name_their_operations() {
        use OpType::*;
        let run = Run {
            results: json!({"workload": {
                "anomalies": {"G1a": [{"ops": [2, 0], "explanation": "entry 2 read a failed write"}]},
                "lost-write": {"count": 1, "errs": [{"key": "k", "writer": {"index": 1, "process": 0, "f": "send", "type": "ok"}}]},
                "acknowledged-count": 2,
                "duplicated": {"5": 2},
            }}),
            ops: vec![
                op(0, 1, 0, Invoke, "send", Value::Null, false),
                op(1, 2, 0, Ok, "send", json!(5), false),
                op(2, 3, 1, Invoke, "poll", Value::Null, false),
                op(3, 4, 1, Ok, "poll", json!(5), false),
            ],
            ..Run::default()
        };
        let pairs = op_pairs(&run.ops);
        let links = link(&pairs, &run.messages);
        let a = anomalies(&run, &pairs, &links);
        let kinds: Vec<(&str, Vec<usize>)> =
            a.iter().map(|x| (x.kind.as_str(), x.ops.clone())).collect();
        assert_eq!(
            kinds,
            vec![
                ("duplicated", vec![0, 2]),
                ("G1a", vec![0, 2]),
                ("lost-write", vec![0])
            ]
        );
    }

    #[test]
    fn a_nonlinearizable_key_names_its_failing_op_and_window() {
        use OpType::*;
        let run = Run {
            results: json!({"workload": {"valid?": false, "results": {
                "0": {"valid?": true, "linearizable": {"valid?": true}},
                "1": {"valid?": false, "linearizable": {"valid?": false,
                    "explanation": {"key": 1,
                        "invoke": {"index": 2}, "complete": {"index": 5},
                        "window": [{"indices": [0, 4]}, {"indices": [2, 5]}],
                        "text": "key 1: read returned 3 cannot be linearized"}}},
            }}}),
            ops: vec![
                op(0, 1, 0, Invoke, "write", json!([1, 3]), false),
                op(1, 2, 2, Invoke, "read", json!([0, null]), false),
                op(2, 3, 1, Invoke, "read", json!([1, null]), false),
                op(3, 4, 2, Ok, "read", json!([0, null]), false),
                op(4, 5, 0, Info, "write", json!([1, 3]), false),
                op(5, 6, 1, Ok, "read", json!([1, 3]), false),
            ],
            ..Run::default()
        };
        let pairs = op_pairs(&run.ops);
        let links = link(&pairs, &run.messages);
        let a = anomalies(&run, &pairs, &links);
        assert_eq!(a.len(), 1, "only the invalid key: {a:?}");
        assert_eq!(a[0].kind, "nonlinearizable");
        assert_eq!(
            a[0].ops,
            vec![0, 2],
            "the failing read and the concurrent write"
        );
        assert!(a[0].title.contains("read returned 3"), "{}", a[0].title);
    }
}
