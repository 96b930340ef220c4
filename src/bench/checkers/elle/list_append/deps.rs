//! The list-append dependency graph (`elle: src/elle/list_append.clj`
//! `preprocess`, `ww-graph`, `wr-graph`, `rw-graph`, and their explainers;
//! `elle: src/elle/core.clj` `realtime-graph`, `process-graph`).
//!
//! Vertices are the `ok` and `info` completions (Elle's `possible` ops):
//! an `info` transaction whose append was read did commit, and one whose
//! appends were never read has no outgoing data edge, so it can never be
//! on a cycle. For each micro-op of a vertex `T`:
//!
//! - a read of a non-empty list on `k`: **wr** from the writer of its last
//!   element to `T`;
//! - an append of `v` to `k`: let `p` be the element before `v` in `k`'s
//!   version order (the initial state if `v` is first; the last known
//!   element if `v` was never read, since an append nobody saw must have
//!   come after everything anybody saw). **ww** from `p`'s writer to `T`,
//!   and **rw** from every vertex that read the state ending in `p` (for
//!   the initial state: read `null` or `[]`) to `T`.
//!
//! Self-edges are never made. `info` reads of `null` are the request's
//! placeholders, not observations, and are ignored. Real-time edges (when
//! a requested model needs them) come from [`graph::realtime_order`] over
//! `ok` and `info` vertices; process edges (for the session models) link
//! each process's successive `ok` transactions.

use super::direct::write_index;
use super::order::AppendIndex;
use super::txns::{Mop, Txns};
use crate::bench::checkers::elle::cycles::Explain;
use crate::bench::checkers::elle::graph::{self, DepGraph, RtEvent, PROCESS, RW, WR, WW};
use crate::bench::checkers::elle::txns::Id;
use crate::bench::history::OpType;
use serde_json::{json, Value};
use std::collections::HashMap;

/// The state a read observed: the last element of its list, or `None`
/// for the initial (empty) state.
type State = Option<Id>;

/// Which extra orders to add to the data dependencies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Extra {
    /// Real-time order (strict serializability and the `strong-` models).
    pub realtime: bool,
    /// Per-process order (the `strong-session-` models).
    pub process: bool,
}

/// The dependency graph with what it takes to explain its edges.
pub struct Deps<'a> {
    /// The transactions.
    t: &'a Txns,
    /// The version orders the `ww` / `rw` edges come from.
    order: &'a AppendIndex,
    /// The graph; `graph.txn[v]` is a position in `t.txns`.
    pub graph: DepGraph,
    /// Vertex of each `ok` / `info` completion (by position in `t.txns`).
    vertex: HashMap<usize, u32>,
    /// Writer vertex of each (key, element), over vertices.
    writers: HashMap<(Id, Id), usize>,
    /// Readers of each (key, state), as vertices.
    readers: HashMap<(Id, State), Vec<u32>>,
}

impl<'a> Deps<'a> {
    /// Build the graph over `t` with version orders `order`.
    pub fn build(t: &'a Txns, order: &'a AppendIndex, extra: Extra) -> Deps<'a> {
        let mut vertex = HashMap::new();
        let mut txn = Vec::new();
        for (i, x) in t.txns.iter().enumerate() {
            if x.possible() {
                vertex.insert(i, txn.len() as u32);
                txn.push(i);
            }
        }
        let writers = write_index(t, |i| t.txns[i].possible());
        let mut readers: HashMap<(Id, State), Vec<u32>> = HashMap::new();
        for (v, &i) in txn.iter().enumerate() {
            let x = &t.txns[i];
            for m in &x.mops {
                if let Mop::Read { key, list } = m {
                    if x.kind == OpType::Info && list.is_none() {
                        continue;
                    }
                    let state = list.as_ref().and_then(|l| l.last().copied());
                    readers.entry((*key, state)).or_default().push(v as u32);
                }
            }
        }
        let mut deps = Deps {
            t,
            order,
            graph: DepGraph {
                txn,
                ..DepGraph::default()
            },
            vertex,
            writers,
            readers,
        };
        deps.link_all(extra);
        deps
    }

    /// The state just before `elem` was appended to `key`.
    fn previous(&self, key: Id, elem: Id) -> State {
        let o = self.order.get(&key)?;
        match o.index.get(&elem) {
            Some(&0) => None,
            Some(&i) => Some(o.values[i - 1]),
            None => o.values.last().copied(),
        }
    }

    /// The writer vertex of an element, if a vertex appended it.
    fn writer(&self, key: Id, elem: Id) -> Option<u32> {
        let i = self.writers.get(&(key, elem))?;
        self.vertex.get(i).copied()
    }

    /// Every edge; self-edges dropped.
    fn link_all(&mut self, extra: Extra) {
        let mut edges: HashMap<(u32, u32), u8> = HashMap::new();
        let mut linked = false;
        let mut link = |a: u32, b: u32, rel: u8| {
            if a != b {
                linked = true;
                *edges.entry((a, b)).or_insert(0) |= rel;
            }
        };
        for (v, &i) in self.graph.txn.iter().enumerate() {
            let v = v as u32;
            for m in &self.t.txns[i].mops {
                match *m {
                    Mop::Read {
                        key,
                        list: Some(ref l),
                    } => {
                        if let Some(w) = l.last().and_then(|&e| self.writer(key, e)) {
                            link(w, v, WR);
                        }
                    }
                    Mop::Read { .. } => {}
                    Mop::Append { key, elem } => {
                        let prev = self.previous(key, elem);
                        if let Some(w) = prev.and_then(|p| self.writer(key, p)) {
                            link(w, v, WW);
                        }
                        for &r in self.readers.get(&(key, prev)).into_iter().flatten() {
                            link(r, v, RW);
                        }
                    }
                }
            }
        }
        let realtime_linked =
            extra.realtime && graph::realtime_order(self.realtime_events(), &mut link);
        if extra.process {
            self.process_edges(&mut link);
        }
        let mut out = vec![Vec::new(); self.graph.txn.len()];
        self.graph.edges = edges.len();
        for ((a, b), rels) in edges {
            out[a as usize].push((b, rels));
        }
        for o in &mut out {
            o.sort_unstable();
        }
        self.graph.out = out;
        self.graph.linked = linked || realtime_linked;
    }

    /// The history as the real-time order sees it.
    fn realtime_events(&self) -> Vec<RtEvent> {
        let t = self.t;
        t.txns
            .iter()
            .enumerate()
            .filter_map(|(i, x)| match x.kind {
                OpType::Invoke => x
                    .completion
                    .map(|c| RtEvent::Invoke(self.vertex.get(&c).copied())),
                OpType::Ok => self.vertex.get(&i).map(|&v| RtEvent::Ok(v)),
                _ => None,
            })
            .collect()
    }

    /// Each process's successive `ok` transactions, in history order.
    fn process_edges(&self, link: &mut impl FnMut(u32, u32, u8)) {
        let mut last: HashMap<u64, u32> = HashMap::new();
        for (v, &i) in self.graph.txn.iter().enumerate() {
            let x = &self.t.txns[i];
            if x.kind != OpType::Ok {
                continue;
            }
            if let Some(prev) = last.insert(x.process, v as u32) {
                link(prev, v as u32, PROCESS);
            }
        }
    }

    fn entry(&self, v: u32) -> &super::txns::Txn {
        &self.t.txns[self.graph.txn[v as usize]]
    }

    /// The appends of `b` whose previous state satisfies `from`, as
    /// (key, previous state, element).
    fn appends_after(&self, b: u32, from: impl Fn(Id, State) -> bool) -> Option<(Id, State, Id)> {
        self.entry(b).mops.iter().find_map(|m| match *m {
            Mop::Append { key, elem } => {
                let prev = self.previous(key, elem);
                from(key, prev).then_some((key, prev, elem))
            }
            Mop::Read { .. } => None,
        })
    }
}

impl Explain for Deps<'_> {
    fn graph(&self) -> &DepGraph {
        &self.graph
    }

    fn history_index(&self, v: u32) -> usize {
        self.entry(v).index
    }

    fn step(&self, a: u32, b: u32, rel: u8) -> (Value, String) {
        let t = self.t;
        let (ia, ib) = (self.history_index(a), self.history_index(b));
        let state = |s: State| s.map_or(Value::Null, |e| t.name(e));
        match rel {
            WR => {
                let found = self.entry(b).mops.iter().find_map(|m| match m {
                    Mop::Read { key, list: Some(l) } => l
                        .last()
                        .filter(|&&e| self.writer(*key, e) == Some(a))
                        .map(|&e| (*key, e)),
                    _ => None,
                });
                let Some((k, e)) = found else {
                    return (
                        Value::Null,
                        format!("entry {ib} read a list written by entry {ia}"),
                    );
                };
                (
                    json!({"key": t.name(k), "value": t.name(e)}),
                    format!(
                        "entry {ib} observed entry {ia}'s append of {} to key {}",
                        t.name(e),
                        t.name(k)
                    ),
                )
            }
            WW => {
                let found =
                    self.appends_after(b, |k, p| p.and_then(|p| self.writer(k, p)) == Some(a));
                let Some((k, p, e)) = found else {
                    return (Value::Null, format!("entry {ib} appended after entry {ia}"));
                };
                (
                    json!({"key": t.name(k), "value": state(p), "value'": t.name(e)}),
                    format!(
                        "entry {ib} appended {} after entry {ia} appended {} to key {}",
                        t.name(e),
                        state(p),
                        t.name(k)
                    ),
                )
            }
            _ => {
                let read =
                    |k: Id, p: State| self.readers.get(&(k, p)).is_some_and(|rs| rs.contains(&a));
                let Some((k, p, e)) = self.appends_after(b, read) else {
                    return (
                        Value::Null,
                        format!("entry {ia} did not observe an append of entry {ib}"),
                    );
                };
                let text = match p {
                    None => format!(
                        "entry {ia} observed the initial (empty) state of key {}, which entry {ib} \
                         created by appending {}",
                        t.name(k),
                        t.name(e)
                    ),
                    Some(_) => format!(
                        "entry {ia} did not observe entry {ib}'s append of {} to key {}",
                        t.name(e),
                        t.name(k)
                    ),
                };
                (
                    json!({"key": t.name(k), "value": state(p), "value'": t.name(e)}),
                    text,
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::checkers::elle::cycles::cycle_cases;
    use crate::bench::checkers::elle::list_append::{order, txns};
    use crate::bench::history::{History, Op};

    fn history(entries: &[(u64, OpType, Value)]) -> History {
        let mut h = History::new();
        for (p, kind, value) in entries {
            h.push(Op::client(
                h.ops.len() as u64,
                *p,
                *kind,
                "txn",
                value.clone(),
            ));
        }
        h
    }

    #[test]
    fn process_and_realtime_orders_close_cycles_the_data_alone_does_not() {
        // Process 0 appends x 1, then (overlapping process 1's read) reads
        // x empty: the rw edge back is only a cycle with process order.
        use OpType::{Invoke, Ok as Done};
        let h = history(&[
            (0, Invoke, json!([["append", "x", 1]])),
            (1, Invoke, json!([["r", "x", null]])),
            (0, Done, json!([["append", "x", 1]])),
            (0, Invoke, json!([["r", "x", null]])),
            (1, Done, json!([["r", "x", [1]]])),
            (0, Done, json!([["r", "x", null]])),
        ]);
        let t = txns::parse(&h).unwrap();
        let index = order::append_index(&order::sorted_values(&t, |i| t.txns[i].possible()));
        let kinds = |extra: Extra| {
            let d = Deps::build(&t, &index, extra);
            let mut k: Vec<String> = cycle_cases(&d, std::time::Duration::from_secs(5))
                .into_iter()
                .map(|c| c.kind)
                .filter(|k| !k.ends_with("-cycle-exists"))
                .collect();
            k.sort();
            assert_eq!(d.graph.rels(2, 0), RW);
            (d.graph.rels(0, 2), k)
        };
        // Vertices: 0 (append), 1 (read [1]), 2 (read empty).
        let (rels, found) = kinds(Extra::default());
        assert_eq!(rels, 0);
        assert!(found.is_empty(), "{found:?}");
        let (rels, found) = kinds(Extra {
            realtime: false,
            process: true,
        });
        assert_eq!(rels, PROCESS);
        assert_eq!(found, ["G-single-item-process"]);
        let (rels, found) = kinds(Extra {
            realtime: true,
            process: false,
        });
        assert_eq!(rels, graph::REALTIME);
        assert_eq!(found, ["G-single-item-realtime"]);
    }
}
