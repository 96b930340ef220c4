//! List-append anomalies visible without a dependency graph
//! (`elle: src/elle/list_append.clj` `g1a-cases`, `g1b-cases`,
//! `internal-cases`, `dirty-update-cases`; `elle: src/elle/txn.clj`
//! `lost-update-cases`, `failed-writes`, `intermediate-writes`).
//!
//! - **G1a** (aborted read): an `ok` read holds an element appended by a
//!   `fail` transaction. One case per element.
//! - **G1b** (intermediate read): an `ok` read's *last* element was
//!   appended by another transaction that appended to the same key again
//!   afterwards, so the reader saw that transaction half done.
//! - **internal**: inside one `ok` transaction, a read disagrees with what
//!   the transaction itself read or appended before. After an append to a
//!   key the transaction has not read, only the suffix of its own appends
//!   is known (Elle's `...` prefix).
//! - **dirty-update**: walking a key's version order, an `ok` append
//!   follows a `fail` one (with only `info` appends between): a committed
//!   transaction built on an aborted state.
//! - **lost-update**: two `ok` transactions read the same list of a key
//!   and then both appended to it.
//!
//! Elle's dirty-update asserts that every element of a version order has a
//! writer; a read holding an element nobody appended makes Elle 0.1.6
//! throw, which Jepsen reports as `valid? unknown`. [`unwritten`] finds
//! those elements so that the caller can say so.

use super::order::AppendIndex;
use super::txns::{Mop, Txns};
use crate::bench::checkers::elle::txns::Id;
use crate::bench::checkers::elle::Case;
use crate::bench::history::OpType;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};

/// Cases for every `ok` read micro-op for which `check(reader, key, list)`
/// names an offending writer and element.
fn ok_reads(
    t: &Txns,
    kind: &str,
    check: impl Fn(usize, Id, &[Id]) -> Vec<(usize, Id)>,
    explain: impl Fn(usize, &Value, usize, &Value) -> String,
) -> Vec<Case> {
    let mut cases = Vec::new();
    for (i, x) in t.txns.iter().enumerate() {
        if x.kind != OpType::Ok {
            continue;
        }
        for m in &x.mops {
            let Mop::Read { key, list: Some(l) } = m else {
                continue;
            };
            for (w, e) in check(i, *key, l) {
                let wi = t.txns[w].index;
                let mop = t.mop_json(m);
                cases.push(Case {
                    kind: kind.into(),
                    ops: vec![x.index, wi],
                    explanation: explain(x.index, &mop, wi, &t.name(e)),
                    detail: json!({"op": x.index, "mop": mop, "writer": wi,
                                   "element": t.name(e)}),
                });
            }
        }
    }
    cases
}

/// G1a: reads of elements that a `fail` transaction appended.
pub fn g1a(t: &Txns) -> Vec<Case> {
    let mut failed: HashMap<(Id, Id), usize> = HashMap::new();
    for (i, x) in t.txns.iter().enumerate() {
        if x.kind == OpType::Fail {
            for m in &x.mops {
                if let Mop::Append { key, elem } = *m {
                    failed.insert((key, elem), i);
                }
            }
        }
    }
    ok_reads(
        t,
        "G1a",
        |_, k, l| {
            l.iter()
                .filter_map(|&e| failed.get(&(k, e)).map(|&w| (w, e)))
                .collect()
        },
        |r, mop, w, e| {
            format!(
                "history entry {r} ({mop}) read element {e}, appended by entry {w}, which failed"
            )
        },
    )
}

/// G1b: reads whose last element another transaction appended and then
/// appended after, to the same key (any entry of any type counts as the
/// writer, as in Elle).
pub fn g1b(t: &Txns) -> Vec<Case> {
    let mut intermediate: HashMap<(Id, Id), usize> = HashMap::new();
    for (i, x) in t.txns.iter().enumerate() {
        let mut last: HashMap<Id, Id> = HashMap::new();
        for m in &x.mops {
            if let Mop::Append { key, elem } = *m {
                if let Some(prev) = last.insert(key, elem) {
                    intermediate.insert((key, prev), i);
                }
            }
        }
    }
    ok_reads(
        t,
        "G1b",
        |reader, k, l| {
            l.last()
                .and_then(|&e| intermediate.get(&(k, e)).map(|&w| (w, e)))
                .filter(|&(w, _)| t.owner(w) != t.owner(reader))
                .into_iter()
                .collect()
        },
        |r, mop, w, e| {
            format!(
                "history entry {r} ({mop}) ends with element {e}, which entry {w} appended and \
                 then appended after before it finished"
            )
        },
    )
}

/// What a transaction knows about a key it has touched.
#[derive(Debug, Clone)]
enum Expect {
    /// It read `null`: later reads are not checked, but an append makes
    /// the list exactly that element (Elle's behaviour).
    Unread,
    /// The whole list.
    Exact(Vec<Id>),
    /// Only the tail (its own appends after an unknown prefix).
    Suffix(Vec<Id>),
}

/// Does a read of `got` agree with `want`?
fn agrees(want: &Expect, got: Option<&[Id]>) -> bool {
    match want {
        Expect::Unread => true,
        Expect::Exact(l) => got == Some(l.as_slice()),
        Expect::Suffix(tail) => got.unwrap_or_default().ends_with(tail),
    }
}

/// Internal inconsistency: one case per `ok` transaction, at its first
/// read that disagrees with the transaction's own earlier micro-ops.
pub fn internal(t: &Txns) -> Vec<Case> {
    let mut cases = Vec::new();
    for x in t.txns.iter().filter(|x| x.kind == OpType::Ok) {
        let mut state: HashMap<Id, Expect> = HashMap::new();
        for m in &x.mops {
            match m {
                Mop::Append { key, elem } => {
                    let next = match state.remove(key) {
                        None => Expect::Suffix(vec![*elem]),
                        Some(Expect::Unread) => Expect::Exact(vec![*elem]),
                        Some(Expect::Exact(mut l)) => {
                            l.push(*elem);
                            Expect::Exact(l)
                        }
                        Some(Expect::Suffix(mut l)) => {
                            l.push(*elem);
                            Expect::Suffix(l)
                        }
                    };
                    state.insert(*key, next);
                }
                Mop::Read { key, list } => {
                    if let Some(want) = state.get(key) {
                        if !agrees(want, list.as_deref()) {
                            cases.push(internal_case(t, x.index, m, want));
                            break;
                        }
                    }
                    let next = match list {
                        None => Expect::Unread,
                        Some(l) => Expect::Exact(l.clone()),
                    };
                    state.insert(*key, next);
                }
            }
        }
    }
    cases
}

fn internal_case(t: &Txns, index: usize, m: &Mop, want: &Expect) -> Case {
    let names = |l: &[Id]| l.iter().map(|&e| t.name(e)).collect::<Vec<_>>();
    let expected = match want {
        Expect::Unread => Value::Null,
        Expect::Exact(l) => json!(names(l)),
        Expect::Suffix(l) => {
            let mut v = vec![json!("...")];
            v.extend(names(l));
            json!(v)
        }
    };
    Case {
        kind: "internal".into(),
        ops: vec![index],
        explanation: format!(
            "history entry {index} read {} but its own earlier micro-ops imply {expected}",
            t.mop_json(m)
        ),
        detail: json!({"op": index, "mop": t.mop_json(m), "expected": expected}),
    }
}

/// The entry (position in `txns`) that appended each element, over every
/// entry in history order, the last one winning (so a completion over its
/// invocation), as Elle's `write-index`.
pub fn write_index(t: &Txns, include: impl Fn(usize) -> bool) -> HashMap<(Id, Id), usize> {
    let mut index = HashMap::new();
    for (i, x) in t.txns.iter().enumerate().filter(|(i, _)| include(*i)) {
        for m in &x.mops {
            if let Mop::Append { key, elem } = *m {
                index.insert((key, elem), i);
            }
        }
    }
    index
}

/// Elements of a version order that no entry appended: `(key, element)`.
pub fn unwritten(order: &AppendIndex, writers: &HashMap<(Id, Id), usize>) -> Vec<(Id, Id)> {
    let mut out: Vec<(Id, Id)> = order
        .iter()
        .flat_map(|(&k, o)| o.values.iter().map(move |&e| (k, e)))
        .filter(|kv| !writers.contains_key(kv))
        .collect();
    out.sort_unstable();
    out
}

/// The type an entry's transaction ended with (an invocation that never
/// completed counts as `info`).
fn outcome(t: &Txns, i: usize) -> OpType {
    match t.txns[i].kind {
        OpType::Invoke => OpType::Info,
        k => k,
    }
}

/// Dirty update: per key, along the version order from the initial
/// (committed) state, an `ok` append whose last non-`info` predecessor is
/// a `fail` append. `writers` is [`write_index`] over every entry.
pub fn dirty_update(
    t: &Txns,
    order: &AppendIndex,
    writers: &HashMap<(Id, Id), usize>,
) -> Vec<Case> {
    let mut keys: Vec<&Id> = order.keys().collect();
    keys.sort_unstable();
    let mut cases = Vec::new();
    for &k in keys {
        // The last decided writer (None: the initial state) and the
        // elements since it.
        let mut t1: Option<usize> = None;
        let mut since: Vec<Id> = Vec::new();
        for &v in &order[&k].values {
            let Some(&t2) = writers.get(&(k, v)) else {
                continue; // reported by `unwritten`
            };
            let o1 = t1.map_or(OpType::Ok, |i| outcome(t, i));
            since.push(v);
            match (o1, outcome(t, t2)) {
                (_, OpType::Info) | (OpType::Fail, OpType::Fail) => {}
                (OpType::Fail, OpType::Ok) => {
                    let (i1, i2) = (t.txns[t1.unwrap_or(t2)].index, t.txns[t2].index);
                    let values: Vec<Value> = since.iter().map(|&e| t.name(e)).collect();
                    cases.push(Case {
                        kind: "dirty-update".into(),
                        ops: vec![i1, i2],
                        explanation: format!(
                            "key {} went through {} : entry {i1} failed, yet entry {i2}, which \
                             committed, appended after its element",
                            t.name(k),
                            Value::from(values.clone())
                        ),
                        detail: json!({"key": t.name(k), "values": values, "txns": [i1, "...", i2]}),
                    });
                    t1 = Some(t2);
                    since = vec![v];
                }
                _ => {
                    t1 = Some(t2);
                    since = vec![v];
                }
            }
        }
    }
    cases
}

/// Lost update: two or more `ok` transactions read the same list (or
/// `null`) of a key and then appended to it. As in Elle, the read is the
/// transaction's first read of the key and an append counts only once a
/// read of the key came before it.
pub fn lost_update(t: &Txns) -> Vec<Case> {
    type Read = (Id, Option<Vec<Id>>);
    let mut groups: HashMap<Read, Vec<usize>> = HashMap::new();
    let mut order: Vec<Read> = Vec::new();
    for x in t.txns.iter().filter(|x| x.kind == OpType::Ok) {
        let mut first_read: HashMap<Id, &Option<Vec<Id>>> = HashMap::new();
        let mut counted: HashSet<Id> = HashSet::new();
        for m in &x.mops {
            match m {
                Mop::Read { key, list } => {
                    first_read.entry(*key).or_insert(list);
                }
                Mop::Append { key, .. } => {
                    let Some(&read) = first_read.get(key) else {
                        continue;
                    };
                    if counted.insert(*key) {
                        let g = groups.entry((*key, read.clone())).or_default();
                        if g.is_empty() {
                            order.push((*key, read.clone()));
                        }
                        g.push(x.index);
                    }
                }
            }
        }
    }
    order
        .into_iter()
        .filter_map(|read| {
            let ops = groups.remove(&read)?;
            let shown = read
                .1
                .as_ref()
                .map(|l| l.iter().map(|&e| t.name(e)).collect::<Vec<_>>());
            (ops.len() >= 2).then(|| Case {
                kind: "lost-update".into(),
                explanation: format!(
                    "history entries {ops:?} all read key {} = {} and then appended to it",
                    t.name(read.0),
                    json!(shown)
                ),
                detail: json!({"key": t.name(read.0), "value": shown, "txns": ops}),
                ops,
            })
        })
        .collect()
}
