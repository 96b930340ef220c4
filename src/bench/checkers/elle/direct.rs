//! Anomalies visible without a dependency graph: aborted reads (G1a),
//! intermediate reads (G1b), internal inconsistency, and lost updates.

use super::txns::{Id, Mop, Txns};
use super::Case;
use crate::bench::history::OpType;
use serde_json::{json, Value};
use std::collections::HashMap;

fn show(t: &Txns, id: Option<Id>) -> Value {
    id.and_then(|i| t.names.get(i as usize))
        .cloned()
        .unwrap_or(Value::Null)
}

fn mop_json(t: &Txns, m: &Mop) -> Value {
    json!([
        if m.write { "w" } else { "r" },
        show(t, Some(m.key)),
        show(t, m.value)
    ])
}

/// The transaction that owns entry `i`: its invocation for a completion.
fn owner(t: &Txns, i: usize) -> usize {
    t.txns[i].invocation.unwrap_or(i)
}

/// G1a: an `ok` transaction read a value that a `fail` transaction wrote
/// (any of its writes, not only the last). `info` writers may have
/// committed, so they never count.
pub fn g1a(t: &Txns) -> Vec<Case> {
    let mut failed: HashMap<(Id, Option<Id>), usize> = HashMap::new();
    for (i, x) in t.txns.iter().enumerate() {
        if x.kind == OpType::Fail {
            for m in x.mops.iter().filter(|m| m.write) {
                failed.insert((m.key, m.value), i);
            }
        }
    }
    reads_of(
        t,
        |_, m| failed.get(&(m.key, m.value)).copied(),
        "G1a",
        |r, w| format!("{r} read a value written by {w}, which failed"),
    )
}

/// G1b: an `ok` transaction read a value that another transaction
/// overwrote before it finished (any entry, invocation or completion, of
/// any type counts as the writer).
pub fn g1b(t: &Txns) -> Vec<Case> {
    let mut intermediate: HashMap<(Id, Option<Id>), usize> = HashMap::new();
    for (i, x) in t.txns.iter().enumerate() {
        let mut last: HashMap<Id, Option<Id>> = HashMap::new();
        for m in x.mops.iter().filter(|m| m.write) {
            if let Some(prev) = last.insert(m.key, m.value) {
                intermediate.insert((m.key, prev), i);
            }
        }
    }
    reads_of(
        t,
        |reader, m| {
            intermediate
                .get(&(m.key, m.value))
                .copied()
                .filter(|&w| owner(t, w) != owner(t, reader))
        },
        "G1b",
        |r, w| format!("{r} read a value that {w} overwrote before it finished"),
    )
}

/// Cases for every read micro-op of an `ok` transaction for which
/// `writer(reader, mop)` names the offending writer.
fn reads_of(
    t: &Txns,
    writer: impl Fn(usize, &Mop) -> Option<usize>,
    kind: &str,
    explain: impl Fn(String, String) -> String,
) -> Vec<Case> {
    let mut cases = Vec::new();
    for (i, x) in t.txns.iter().enumerate() {
        if x.kind != OpType::Ok {
            continue;
        }
        for m in x.mops.iter().filter(|m| !m.write) {
            if let Some(w) = writer(i, m) {
                let wi = t.txns[w].index;
                cases.push(Case {
                    kind: kind.into(),
                    ops: vec![x.index, wi],
                    explanation: explain(
                        format!("history entry {} ({})", x.index, mop_json(t, m)),
                        format!("history entry {wi}"),
                    ),
                    detail: json!({"op": x.index, "mop": mop_json(t, m), "writer": wi}),
                });
            }
        }
    }
    cases
}

/// Internal inconsistency: within an `ok` transaction, a read of a key
/// that differs from what the transaction last wrote or read there (a
/// previous read of `null` is not enforced). One case per transaction.
pub fn internal(t: &Txns) -> Vec<Case> {
    let mut cases = Vec::new();
    for x in t.txns.iter().filter(|x| x.kind == OpType::Ok) {
        let mut state: HashMap<Id, Option<Id>> = HashMap::new();
        for m in &x.mops {
            let expected = state.get(&m.key).copied().flatten();
            if !m.write && expected.is_some() && expected != m.value {
                cases.push(Case {
                    kind: "internal".into(),
                    ops: vec![x.index],
                    explanation: format!(
                        "history entry {} read {} but expected {}",
                        x.index,
                        mop_json(t, m),
                        show(t, expected)
                    ),
                    detail: json!({"op": x.index, "mop": mop_json(t, m),
                                   "expected": show(t, expected)}),
                });
                break;
            }
            state.insert(m.key, m.value);
        }
    }
    cases
}

/// Lost update: two or more `ok` transactions read the same value of a key
/// and then wrote that key. As in Elle, the read is the transaction's first
/// read of the key, and the write the first write after it.
pub fn lost_update(t: &Txns) -> Vec<Case> {
    let mut groups: HashMap<(Id, Option<Id>), Vec<usize>> = HashMap::new();
    let mut order: Vec<(Id, Option<Id>)> = Vec::new();
    for x in t.txns.iter().filter(|x| x.kind == OpType::Ok) {
        let mut first_read: HashMap<Id, Option<Id>> = HashMap::new();
        let mut counted: Vec<Id> = Vec::new();
        for m in &x.mops {
            if m.write {
                if let Some(&v) = first_read.get(&m.key) {
                    if !counted.contains(&m.key) {
                        counted.push(m.key);
                        let g = groups.entry((m.key, v)).or_default();
                        if g.is_empty() {
                            order.push((m.key, v));
                        }
                        g.push(x.index);
                    }
                }
            } else {
                first_read.entry(m.key).or_insert(m.value);
            }
        }
    }
    order
        .into_iter()
        .filter_map(|kv| {
            let ops = groups.remove(&kv)?;
            (ops.len() >= 2).then(|| Case {
                kind: "lost-update".into(),
                explanation: format!(
                    "history entries {ops:?} all read key {} = {} and then wrote it",
                    show(t, Some(kv.0)),
                    show(t, kv.1)
                ),
                detail: json!({"key": show(t, Some(kv.0)), "value": show(t, kv.1), "txns": ops}),
                ops,
            })
        })
        .collect()
}
