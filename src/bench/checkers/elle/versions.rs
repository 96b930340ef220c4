//! Version graphs: what we can tell about the order of each key's values.
//!
//! A register's reads do not reveal the order of its versions, so it is
//! inferred from two sources, added one at a time (`elle:
//! src/elle/rw_register.clj`, `version-graphs`):
//!
//! 1. *initial state*: `null` precedes every value an `ok` or `info`
//!    transaction externally wrote and every value an `ok` one externally
//!    read;
//! 2. *writes follow reads*: an `ok` transaction that externally read `v`
//!    (not `null`) and externally wrote `v'` to the same key puts `v`
//!    before `v'`.
//!
//! A source whose edges would make some key's order cyclic is left out
//! entirely, and the cycles are reported as `cyclic-versions`. A value
//! preceding itself (a transaction that read `v` and wrote `v` again) is
//! kept as an edge but is not a cycle, as in Elle.

use super::txns::{Id, Txns};
use super::Case;
use crate::bench::checkers::graph::sccs;
use crate::bench::history::OpType;
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};

/// A value of a key; `None` is the initial `null`.
pub type Version = Option<Id>;

/// Per key, the edges `v1 → v2` ("v1 came before v2").
pub type VersionGraphs = HashMap<Id, BTreeSet<(Version, Version)>>;

/// A named source of version order.
type Source = (&'static str, fn(&Txns) -> VersionGraphs);

fn initial_state(t: &Txns) -> VersionGraphs {
    let mut g = VersionGraphs::new();
    for x in &t.txns {
        if matches!(x.kind, OpType::Invoke | OpType::Fail) {
            continue;
        }
        let reads = if x.kind == OpType::Ok {
            &x.ext_reads[..]
        } else {
            &[]
        };
        for &(k, v) in x.ext_writes.iter().chain(reads) {
            if v.is_some() {
                g.entry(k).or_default().insert((None, v));
            }
        }
    }
    g
}

fn writes_follow_reads(t: &Txns) -> VersionGraphs {
    let mut g = VersionGraphs::new();
    for x in t.txns.iter().filter(|x| x.kind == OpType::Ok) {
        for &(k, v) in &x.ext_reads {
            if v.is_none() {
                continue;
            }
            if let Some(w) = x.ext_write(k) {
                g.entry(k).or_default().insert((v, w));
            }
        }
    }
    g
}

/// The cycles (strongly connected sets of two or more values) per key.
fn cycles(g: &VersionGraphs) -> Vec<(Id, Vec<Version>)> {
    let mut keys: Vec<&Id> = g.keys().collect();
    keys.sort();
    let mut out = Vec::new();
    for k in keys {
        let edges = &g[k];
        let mut ids: HashMap<Version, u32> = HashMap::new();
        let mut names: Vec<Version> = Vec::new();
        let mut id = |v: Version, names: &mut Vec<Version>| {
            *ids.entry(v).or_insert_with(|| {
                names.push(v);
                (names.len() - 1) as u32
            })
        };
        let mut adj: Vec<Vec<u32>> = Vec::new();
        for &(a, b) in edges {
            let (a, b) = (id(a, &mut names), id(b, &mut names));
            adj.resize(names.len(), Vec::new());
            if a != b {
                adj[a as usize].push(b);
            }
        }
        for scc in sccs(&adj) {
            if scc.len() > 1 {
                let mut vs: Vec<Version> = scc.iter().map(|&i| names[i as usize]).collect();
                vs.sort();
                out.push((*k, vs));
            }
        }
    }
    out
}

/// The version graphs from the sources that keep them acyclic, and a
/// `cyclic-versions` case for each cycle a rejected source would create.
pub fn infer(t: &Txns) -> (VersionGraphs, Vec<Case>) {
    let mut graphs = VersionGraphs::new();
    let mut used: Vec<&str> = Vec::new();
    let mut cases = Vec::new();
    let sources: [Source; 2] = [
        ("initial-state", initial_state),
        ("wfr-keys", writes_follow_reads),
    ];
    for (name, source) in sources {
        let mut merged = graphs.clone();
        for (k, es) in source(t) {
            merged.entry(k).or_default().extend(es);
        }
        let found = cycles(&merged);
        if found.is_empty() {
            graphs = merged;
            used.push(name);
            continue;
        }
        let mut with: Vec<&str> = used.clone();
        with.push(name);
        let show = |v: Version| -> Value {
            v.and_then(|i| t.names.get(i as usize))
                .cloned()
                .unwrap_or(Value::Null)
        };
        for (k, vs) in found {
            let values: Vec<Value> = vs.iter().map(|&v| show(v)).collect();
            cases.push(Case {
                kind: "cyclic-versions".into(),
                ops: vec![],
                explanation: format!(
                    "the versions {} of key {} would be ordered in a cycle by {}; \
                     that source of order was left out",
                    Value::from(values.clone()),
                    show(Some(k)),
                    with.join(" + ")
                ),
                detail: json!({"key": show(Some(k)), "scc": values, "sources": with}),
            });
        }
    }
    (graphs, cases)
}
