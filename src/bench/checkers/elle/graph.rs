//! The dependency graph between `ok` transactions, with typed edges. Its
//! components and cycles are found by the shared kernel,
//! [`crate::bench::checkers::graph`].
//!
//! An edge carries a set of relations (bits), like Elle's: a transaction
//! that read `T`'s write and overwrote it depends on `T` by both `wr` and
//! `ww`. Searches look at the bits they need; explanations pick one.

use super::txns::{Id, Txns};
use super::versions::{Version, VersionGraphs};
use crate::bench::history::OpType;
use std::collections::HashMap;

/// Write-write: `a` wrote a version that `b` overwrote.
pub const WW: u8 = 1;
/// Write-read: `b` read what `a` wrote.
pub const WR: u8 = 2;
/// Read-write (anti-dependency): `a` read a version that `b` overwrote.
pub const RW: u8 = 4;
/// Real time: `a` completed before `b` was invoked.
pub const REALTIME: u8 = 8;
/// Process order: the same process ran `a` before `b`. (Not built: no
/// supported model needs it; see the module docs.)
pub const PROCESS: u8 = 16;

/// The relations in the order Elle's explainers try them: an edge is
/// *explained* by the first one it carries.
pub const EXPLAIN_ORDER: [u8; 5] = [WR, WW, RW, PROCESS, REALTIME];

/// A relation's name.
pub fn rel_name(rel: u8) -> &'static str {
    match rel {
        WW => "ww",
        WR => "wr",
        RW => "rw",
        REALTIME => "realtime",
        PROCESS => "process",
        _ => "?",
    }
}

/// The single relation that explains an edge carrying `rels`.
pub fn explain(rels: u8) -> u8 {
    EXPLAIN_ORDER
        .into_iter()
        .find(|r| rels & r != 0)
        .unwrap_or(0)
}

/// The dependency graph. Vertices are `ok` transactions, numbered in
/// history order; `txn[v]` is the position in [`Txns::txns`].
#[derive(Debug, Default)]
pub struct DepGraph {
    /// Position in `Txns::txns` of each vertex.
    pub txn: Vec<usize>,
    /// Out-edges of each vertex, sorted by target, with their relations.
    pub out: Vec<Vec<(u32, u8)>>,
    /// Number of edges.
    pub edges: usize,
    /// Whether any pair of transactions was related at all, self-edges
    /// (dropped) included. Elle's graph keeps the vertices of a dropped
    /// self-edge, and calls a graph empty only when it has no vertex.
    pub linked: bool,
}

impl DepGraph {
    /// The relations on the edge `a → b` (0 if none).
    pub fn rels(&self, a: u32, b: u32) -> u8 {
        let out = &self.out[a as usize];
        out.binary_search_by_key(&b, |&(t, _)| t)
            .map_or(0, |i| out[i].1)
    }
}

/// Builds the graph: `wr` from each value's unique writer to its readers;
/// for each version edge `v1 → v2` of a key, `ww` from `v1`'s writers and
/// `rw` from `v1`'s readers to `v2`'s writers; optionally real-time edges.
/// Self-edges are dropped.
pub fn build(t: &Txns, versions: &VersionGraphs, realtime: bool) -> DepGraph {
    let mut vertex: HashMap<usize, u32> = HashMap::new();
    let mut txn = Vec::new();
    for (i, x) in t.txns.iter().enumerate() {
        if x.kind == OpType::Ok {
            vertex.insert(i, txn.len() as u32);
            txn.push(i);
        }
    }
    let mut writers: HashMap<(Id, Version), Vec<u32>> = HashMap::new();
    let mut readers: HashMap<(Id, Version), Vec<u32>> = HashMap::new();
    for (v, &i) in txn.iter().enumerate() {
        for &kv in &t.txns[i].ext_writes {
            writers.entry(kv).or_default().push(v as u32);
        }
        for &kv in &t.txns[i].ext_reads {
            readers.entry(kv).or_default().push(v as u32);
        }
    }
    let mut edges: HashMap<(u32, u32), u8> = HashMap::new();
    let mut linked = false;
    let mut link = |a: u32, b: u32, rel: u8| {
        linked = true;
        if a != b {
            *edges.entry((a, b)).or_insert(0) |= rel;
        }
    };
    for (kv, rs) in &readers {
        if let Some([w]) = writers.get(kv).map(Vec::as_slice) {
            for &r in rs {
                link(*w, r, WR);
            }
        }
    }
    let none = Vec::new();
    for (&k, es) in versions {
        for &(v1, v2) in es {
            let to = writers.get(&(k, v2)).unwrap_or(&none);
            if to.is_empty() {
                continue;
            }
            for &a in writers.get(&(k, v1)).unwrap_or(&none) {
                for &b in to {
                    link(a, b, WW);
                }
            }
            for &a in readers.get(&(k, v1)).unwrap_or(&none) {
                for &b in to {
                    link(a, b, RW);
                }
            }
        }
    }
    if realtime && realtime_edges(t, &vertex, &mut link) {
        linked = true;
    }
    let mut out = vec![Vec::new(); txn.len()];
    let count = edges.len();
    for ((a, b), rels) in edges {
        out[a as usize].push((b, rels));
    }
    for o in &mut out {
        o.sort_unstable();
    }
    DepGraph {
        txn,
        out,
        edges: count,
        linked,
    }
}

/// Real-time order for the rw-register graph, whose vertices are the `ok`
/// transactions: see [`realtime_order`].
fn realtime_edges(
    t: &Txns,
    vertex: &HashMap<usize, u32>,
    link: &mut impl FnMut(u32, u32, u8),
) -> bool {
    // Completion of each invocation: Some(vertex) if ok, else None.
    let mut completion: HashMap<usize, Option<u32>> = HashMap::new();
    for (i, x) in t.txns.iter().enumerate() {
        if let Some(inv) = x.invocation {
            completion.insert(inv, vertex.get(&i).copied());
        }
    }
    let events = t.txns.iter().enumerate().filter_map(|(i, x)| {
        if x.kind == OpType::Invoke {
            completion.get(&i).map(|&done| RtEvent::Invoke(done))
        } else {
            vertex.get(&i).map(|&v| RtEvent::Ok(v))
        }
    });
    realtime_order(events, link)
}

/// One entry of a history, as the real-time order sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtEvent {
    /// An invocation that completed (with any type); `Some(v)` when its
    /// completion is the graph's vertex `v`.
    Invoke(Option<u32>),
    /// The `ok` completion of vertex `v`.
    Ok(u32),
}

/// Elle's real-time order, reduced, over `events` in history order: each
/// `ok` completion links to the completion of every later invocation,
/// except through a "frontier" that drops a completed transaction once a
/// later one that follows it has completed (the edge is then implied
/// transitively). Returns whether Elle's real-time graph would have any
/// edge: it also links to completions that are not vertices here (`fail`,
/// and `info` for rw-register), which can never be on a cycle, so we keep
/// no such edge.
pub fn realtime_order(
    events: impl IntoIterator<Item = RtEvent>,
    link: &mut impl FnMut(u32, u32, u8),
) -> bool {
    let mut linked = false;
    let mut frontier: Vec<u32> = Vec::new();
    let mut preds: HashMap<u32, Vec<u32>> = HashMap::new();
    for event in events {
        match event {
            RtEvent::Invoke(done) => {
                linked |= !frontier.is_empty();
                if let Some(b) = done {
                    for &a in &frontier {
                        link(a, b, REALTIME);
                    }
                    preds.insert(b, frontier.clone());
                }
            }
            RtEvent::Ok(b) => {
                if let Some(p) = preds.remove(&b) {
                    frontier.retain(|a| !p.contains(a));
                }
                frontier.push(b);
            }
        }
    }
    linked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explanations_prefer_wr_then_ww_then_rw() {
        assert_eq!(explain(WW | WR), WR);
        assert_eq!(explain(WW | RW), WW);
        assert_eq!(explain(RW | REALTIME), RW);
        assert_eq!(explain(REALTIME), REALTIME);
    }
}
