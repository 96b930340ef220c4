//! Cycles in the dependency graph: per strongly connected component,
//! cycle-existence probes, then a search for concrete cycles of each
//! anomaly class, most severe first, within a time budget.
//!
//! **Probes** ask whether a subgraph (say `ww ∪ wr` for read committed)
//! has any cycle at all; a hit is `<model>-cycle-exists`. Snapshot
//! isolation's subgraph is an *extension*: `A ∪ (A ; rw)`, cycles in `A`
//! that may take single `rw` hops, each right after an `A` edge. It is
//! probed on a two-layer graph (a vertex reached by an `A` edge may leave
//! by `rw`, one reached by `rw` may not), which has a cycle exactly when
//! the extension does.
//!
//! **Searches** look for the shortest cycle through each start vertex with
//! a breadth-first search over (vertex, small state) pairs; the state
//! counts `rw` steps, remembers whether the first and last step were `rw`,
//! and which required relations were used. Two kinds of specification:
//!
//! - *untyped* (G0, G1c and their real-time variants), as Elle: a cycle in
//!   the projection onto the allowed relations (G0: `ww`; G1c: `ww ∪ wr`
//!   with at least one `wr`), each edge used as any relation it carries.
//!   The cycle is then reported under the class of its *explanation* (each
//!   edge explained by its first relation in the order wr, ww, rw,
//!   process, real time), so a write cycle whose edges are also `wr` is
//!   G1c, as in Elle.
//! - *typed* (G-single-item, G-nonadjacent-item, G2-item and variants):
//!   a cycle whose explanation has exactly that class. Elle searches with
//!   any relation per edge, then discards a cycle whose explanation has
//!   another class; we search on explanations directly, so we never
//!   discard a cycle that another choice would have matched.
//!
//! A walk the BFS finds may revisit a vertex (in another state); it is
//! split into simple cycles and one of them is kept if it alone matches.

use super::graph::{explain, rel_name, DepGraph, PROCESS, REALTIME, RW, WR, WW};
use super::models;
use super::txns::Txns;
use super::versions::VersionGraphs;
use super::Case;
use crate::bench::checkers::graph::{self as kernel, sccs};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Instant;

/// How a specification constrains `rw` steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RwRule {
    /// No `rw` step.
    None,
    /// Exactly one.
    One,
    /// Two or more, with two of them adjacent (cyclically).
    Adjacent,
    /// Two or more, no two adjacent (cyclically).
    Nonadjacent,
}

/// A class of cycle to search for.
#[derive(Debug, Clone)]
struct Spec {
    /// The anomaly name.
    name: String,
    /// Relations usable besides `rw`.
    allowed: u8,
    /// Each must be used by at least one step.
    required: Vec<u8>,
    /// The `rw` constraint.
    rw: RwRule,
    /// Match explanations exactly (typed) or use any carried relation.
    typed: bool,
}

/// The searched classes, most severe first (Elle's anomaly depth, ties by
/// name). Predicate classes (G-single, G2, …) are absent: registers have
/// no predicate reads, so Elle never finds them either.
fn specs() -> Vec<Spec> {
    let base = [
        ("G0", WW, None, RwRule::None, false),
        ("G1c", WW | WR, Some(WR), RwRule::None, false),
        ("G-single-item", WW | WR, None, RwRule::One, true),
        (
            "G-nonadjacent-item",
            WW | WR,
            None,
            RwRule::Nonadjacent,
            true,
        ),
        ("G2-item", WW | WR, None, RwRule::Adjacent, true),
    ];
    let mut out = Vec::new();
    for (name, allowed, req, rw, typed) in base {
        let required: Vec<u8> = req.into_iter().collect();
        out.push(Spec {
            name: name.into(),
            allowed,
            required: required.clone(),
            rw,
            typed,
        });
        for (suffix, rel) in [("-process", PROCESS), ("-realtime", REALTIME)] {
            let mut r = required.clone();
            r.push(rel);
            out.push(Spec {
                name: format!("{name}{suffix}"),
                allowed: allowed | rel,
                required: r,
                rw,
                typed,
            });
        }
    }
    let depth = models::depths();
    out.sort_by(|a, b| {
        let da = depth.get(a.name.as_str()).copied().unwrap_or(0);
        let db = depth.get(b.name.as_str()).copied().unwrap_or(0);
        da.cmp(&db).then_with(|| a.name.cmp(&b.name))
    });
    out
}

/// Is `anomaly` a real-time cycle class (one that needs the real-time
/// graph)? Predicate classes count, as in Elle, though registers never
/// show them.
pub fn is_realtime_cycle_type(anomaly: &str) -> bool {
    anomaly.strip_suffix("-realtime").is_some_and(|base| {
        [
            "G0",
            "G1c",
            "G-single-item",
            "G-single",
            "G-nonadjacent-item",
            "G-nonadjacent",
            "G2-item",
            "G2",
        ]
        .contains(&base)
    })
}

/// A cycle-existence probe: the model it refutes and its subgraph, either
/// a union of relations or the extension of one by `rw`.
struct Probe {
    model: &'static str,
    union: u8,
    extension: bool,
}

const PROBES: &[Probe] = &[
    Probe {
        model: "PL-1",
        union: WW,
        extension: false,
    },
    Probe {
        model: "PL-2",
        union: WW | WR,
        extension: false,
    },
    Probe {
        model: "PL-SI",
        union: WW | WR,
        extension: true,
    },
    Probe {
        model: "PL-2.99",
        union: WW | WR | RW,
        extension: false,
    },
    Probe {
        model: "PL-3",
        union: WW | WR | RW,
        extension: false,
    },
    Probe {
        model: "strong-session-PL-1",
        union: WW | PROCESS,
        extension: false,
    },
    Probe {
        model: "strong-session-PL-2",
        union: WW | WR | PROCESS,
        extension: false,
    },
    Probe {
        model: "strong-session-snapshot-isolation",
        union: WW | WR | PROCESS,
        extension: true,
    },
    Probe {
        model: "strong-session-serializable",
        union: WW | WR | RW | PROCESS,
        extension: false,
    },
    Probe {
        model: "strong-PL-1",
        union: WW | REALTIME,
        extension: false,
    },
    Probe {
        model: "strong-PL-2",
        union: WW | WR | REALTIME,
        extension: false,
    },
    Probe {
        model: "strong-snapshot-isolation",
        union: WW | WR | REALTIME,
        extension: true,
    },
    Probe {
        model: "PL-SS",
        union: WW | WR | RW | REALTIME,
        extension: false,
    },
];

fn rels_names(rels: u8) -> Vec<&'static str> {
    [WW, WR, RW, PROCESS, REALTIME]
        .into_iter()
        .filter(|r| rels & r != 0)
        .map(rel_name)
        .collect()
}

/// One strongly connected component, renumbered from 0.
struct Scc {
    /// Global vertex of each local one.
    global: Vec<u32>,
    /// Local out-edges with relations.
    out: Vec<Vec<(u32, u8)>>,
}

impl Scc {
    fn new(g: &DepGraph, members: &[u32]) -> Scc {
        let mut members = members.to_vec();
        members.sort_unstable();
        let local: HashMap<u32, u32> = members
            .iter()
            .enumerate()
            .map(|(i, &v)| (v, i as u32))
            .collect();
        let out = members
            .iter()
            .map(|&v| {
                g.out[v as usize]
                    .iter()
                    .filter_map(|&(w, r)| local.get(&w).map(|&l| (l, r)))
                    .collect()
            })
            .collect();
        Scc {
            global: members,
            out,
        }
    }

    fn len(&self) -> usize {
        self.global.len()
    }

    fn rels(&self, a: u32, b: u32) -> u8 {
        let out = &self.out[a as usize];
        out.binary_search_by_key(&b, |&(t, _)| t)
            .map_or(0, |i| out[i].1)
    }

    /// Adjacency of the projection onto `mask`.
    fn project(&self, mask: u8) -> Vec<Vec<u32>> {
        self.out
            .iter()
            .map(|es| {
                es.iter()
                    .filter(|(_, r)| r & mask != 0)
                    .map(|&(w, _)| w)
                    .collect()
            })
            .collect()
    }

    /// Nontrivial components of the projection onto `mask` (self-edges do
    /// not exist), smallest first.
    fn cyclic_parts(&self, mask: u8) -> Vec<Vec<u32>> {
        let mut parts: Vec<Vec<u32>> = sccs(&self.project(mask))
            .into_iter()
            .filter(|s| s.len() > 1)
            .collect();
        parts.sort_by_key(Vec::len);
        parts
    }

    /// Nontrivial components of the extension `A ∪ (A ; rw)`, `A` being
    /// the projection onto `union`, as sets of local vertices.
    fn extension_parts(&self, union: u8) -> Vec<Vec<u32>> {
        // Vertex 2v: reached freely; 2v+1: just reached by an A edge.
        let n = self.len();
        let mut adj: Vec<Vec<u32>> = vec![Vec::new(); 2 * n];
        for (v, es) in self.out.iter().enumerate() {
            for &(w, r) in es {
                if r & union != 0 {
                    adj[2 * v].push(2 * w + 1);
                    adj[2 * v + 1].push(2 * w + 1);
                }
                if r & RW != 0 {
                    adj[2 * v + 1].push(2 * w);
                }
            }
        }
        let mut parts: Vec<Vec<u32>> = sccs(&adj)
            .into_iter()
            .filter(|s| s.len() > 1)
            .map(|s| {
                let mut vs: Vec<u32> = s.iter().map(|x| x / 2).collect();
                vs.sort_unstable();
                vs.dedup();
                vs
            })
            .collect();
        parts.sort_by_key(Vec::len);
        parts
    }
}

/// What the cycle search needs from a checker's analysis: the dependency
/// graph, where each vertex sits in the history, and why one vertex
/// precedes another by a data relation. The rw-register analysis
/// ([`Context`]) and the list-append one (`super::list_append`) each
/// implement it, so both share the probes, searches and timeouts here.
pub trait Explain {
    /// The dependency graph.
    fn graph(&self) -> &DepGraph;
    /// The history index of vertex `v` (a completion entry).
    fn history_index(&self, v: u32) -> usize;
    /// Why `a` precedes `b` by `rel` (`WR`, `WW` or `RW`): Elle-like
    /// evidence (key and values) and a sentence that names both entries.
    fn step(&self, a: u32, b: u32, rel: u8) -> (Value, String);
}

/// Everything the case builders need to explain a cycle.
pub struct Context<'a> {
    /// The transactions.
    pub txns: &'a Txns,
    /// The dependency graph.
    pub graph: &'a DepGraph,
    /// The version graphs the `ww` / `rw` edges came from.
    pub versions: &'a VersionGraphs,
}

impl Context<'_> {
    fn name(&self, id: Option<u32>) -> Value {
        id.and_then(|i| self.txns.names.get(i as usize))
            .cloned()
            .unwrap_or(Value::Null)
    }

    /// Why `a` precedes `b` by `rel`: the key and values involved.
    fn evidence(&self, a: u32, b: u32, rel: u8) -> Value {
        let ta = &self.txns.txns[self.graph.txn[a as usize]];
        let tb = &self.txns.txns[self.graph.txn[b as usize]];
        let ordered = |k: u32, v1, v2| {
            self.versions
                .get(&k)
                .is_some_and(|es| es.contains(&(v1, v2)))
        };
        match rel {
            WR => ta
                .ext_writes
                .iter()
                .find(|&&(k, v)| tb.ext_read(k) == Some(v))
                .map(|&(k, v)| json!({"key": self.name(Some(k)), "value": self.name(v)})),
            WW | RW => {
                let from = if rel == WW {
                    &ta.ext_writes
                } else {
                    &ta.ext_reads
                };
                from.iter().find_map(|&(k, v1)| {
                    let v2 = tb.ext_write(k)?;
                    ordered(k, v1, v2).then(|| {
                        json!({"key": self.name(Some(k)), "value": self.name(v1),
                                   "value'": self.name(v2)})
                    })
                })
            }
            _ => None,
        }
        .unwrap_or(Value::Null)
    }
}

impl Explain for Context<'_> {
    fn graph(&self) -> &DepGraph {
        self.graph
    }

    fn history_index(&self, global: u32) -> usize {
        self.txns.txns[self.graph.txn[global as usize]].index
    }

    fn step(&self, a: u32, b: u32, rel: u8) -> (Value, String) {
        let ev = self.evidence(a, b, rel);
        let (ia, ib) = (self.history_index(a), self.history_index(b));
        let text = match rel {
            WR => format!(
                "entry {ib} read {} = {} written by entry {ia}",
                ev["key"], ev["value"]
            ),
            WW => format!(
                "entry {ia} wrote {} = {} and entry {ib} overwrote it with {}",
                ev["key"], ev["value"], ev["value'"]
            ),
            _ => format!(
                "entry {ia} read {} = {} and entry {ib} overwrote it with {}",
                ev["key"], ev["value"], ev["value'"]
            ),
        };
        (ev, text)
    }
}

/// A case for the cycle `scc.global[cycle[0]] → … → cycle[0]`, under the
/// class of its explanation.
fn cycle_case(cx: &dyn Explain, scc: &Scc, cycle: &[u32]) -> Case {
    let labels: Vec<u8> = (0..cycle.len())
        .map(|i| explain(scc.rels(cycle[i], cycle[(i + 1) % cycle.len()])))
        .collect();
    let kind = classify(&labels);
    let mut steps = Vec::new();
    let mut text = Vec::new();
    for (i, &rel) in labels.iter().enumerate() {
        let (a, b) = (
            scc.global[cycle[i] as usize],
            scc.global[cycle[(i + 1) % cycle.len()] as usize],
        );
        let (ia, ib) = (cx.history_index(a), cx.history_index(b));
        let (ev, sentence) = match rel {
            WR | WW | RW => cx.step(a, b, rel),
            REALTIME => (
                Value::Null,
                format!("entry {ia} completed before entry {ib} was invoked"),
            ),
            _ => (
                Value::Null,
                format!("entry {ia} preceded entry {ib} in its process"),
            ),
        };
        text.push(sentence);
        steps.push(json!({"type": rel_name(rel), "from": ia, "to": ib, "evidence": ev}));
    }
    let ops: Vec<usize> = cycle
        .iter()
        .map(|&l| cx.history_index(scc.global[l as usize]))
        .collect();
    Case {
        explanation: format!("{kind} cycle: {}", text.join("; ")),
        detail: json!({"cycle": ops, "steps": steps}),
        kind,
        ops,
    }
}

/// The anomaly class of a cycle whose steps are explained by `labels`.
fn classify(labels: &[u8]) -> String {
    let count = |r: u8| labels.iter().filter(|&&l| l == r).count();
    let n = labels.len();
    let rw_adjacent = (0..n).any(|i| labels[i] == RW && labels[(i + 1) % n] == RW);
    let data = match count(RW) {
        1 => "G-single-item",
        0 if count(WR) > 0 => "G1c",
        0 if count(WW) > 0 => "G0",
        // A cycle needs a data edge: real-time and process orders are
        // acyclic. Named anyway rather than panicking.
        0 => "cycle-without-data-dependency",
        _ if rw_adjacent => "G2-item",
        _ => "G-nonadjacent-item",
    };
    let suffix = if count(REALTIME) > 0 {
        "-realtime"
    } else if count(PROCESS) > 0 {
        "-process"
    } else {
        ""
    };
    format!("{data}{suffix}")
}

/// Does a cycle whose steps used `rels` meet `spec`?
fn satisfies(spec: &Spec, rels: &[u8]) -> bool {
    let n = rels.len();
    if n < 2 {
        return false;
    }
    let rws = rels.iter().filter(|&&r| r == RW).count();
    let adjacent = (0..n).any(|i| rels[i] == RW && rels[(i + 1) % n] == RW);
    let rw_ok = match spec.rw {
        RwRule::None => rws == 0,
        RwRule::One => rws == 1,
        RwRule::Adjacent => rws >= 2 && adjacent,
        RwRule::Nonadjacent => rws >= 2 && !adjacent,
    };
    let legal = rels.iter().all(|&r| r & spec.allowed != 0 || r == RW);
    let required = spec
        .required
        .iter()
        .all(|&q| rels.iter().any(|&r| r & q != 0));
    let typed = !spec.typed || classify(rels) == spec.name;
    rw_ok && legal && required && typed
}

/// BFS state bits.
const FIRST_RW: u8 = 1 << 2;
const LAST_RW: u8 = 1 << 3;
const ADJACENT: u8 = 1 << 4;
const RW_SHIFT: u8 = 5; // two bits: 0, 1, 2 = "two or more"

/// The search ran out of time.
struct Timeout;

/// The shortest cycle through some vertex of `part` matching `spec`, as
/// local vertices, or `None`.
fn find(
    scc: &Scc,
    part: &[u32],
    spec: &Spec,
    deadline: Instant,
) -> Result<Option<Vec<u32>>, Timeout> {
    let inside: HashSet<u32> = part.iter().copied().collect();
    let mut budget_check = 0u32;
    for &start in part {
        // Nodes: (vertex, state, parent node, relation used to get here).
        let mut nodes: Vec<(u32, u8, u32, u8)> = vec![(start, 0, u32::MAX, 0)];
        let mut seen: HashMap<u32, u128> = HashMap::new();
        let mut queue: VecDeque<u32> = VecDeque::from([0]);
        while let Some(ni) = queue.pop_front() {
            budget_check += 1;
            if budget_check.is_multiple_of(1024) && Instant::now() >= deadline {
                return Err(Timeout);
            }
            let (v, state, _, _) = nodes[ni as usize];
            let first = ni == 0;
            for &(w, rels) in &scc.out[v as usize] {
                if !inside.contains(&w) {
                    continue;
                }
                for rel in step_choices(spec, rels) {
                    let Some(next) = advance(spec, state, rel, first) else {
                        continue;
                    };
                    if w == start {
                        let mut path_rels = vec![rel];
                        let mut path = vec![v];
                        let mut cur = ni;
                        while cur != 0 {
                            let (_, _, parent, r) = nodes[cur as usize];
                            path_rels.push(r);
                            cur = parent;
                            path.push(nodes[cur as usize].0);
                        }
                        path.reverse();
                        path_rels.reverse();
                        if let Some(c) = simple_cycle(spec, &path, &path_rels) {
                            return Ok(Some(c));
                        }
                        continue;
                    }
                    let bits = seen.entry(w).or_insert(0);
                    if *bits & (1u128 << next) != 0 {
                        continue;
                    }
                    *bits |= 1u128 << next;
                    nodes.push((w, next, ni, rel));
                    queue.push_back((nodes.len() - 1) as u32);
                }
            }
        }
    }
    Ok(None)
}

/// The relations an edge carrying `rels` may be used as under `spec`.
fn step_choices(spec: &Spec, rels: u8) -> Vec<u8> {
    let usable = spec.allowed | if spec.rw == RwRule::None { 0 } else { RW };
    if spec.typed {
        let l = explain(rels);
        return if l & usable != 0 { vec![l] } else { vec![] };
    }
    [WW, WR, RW, PROCESS, REALTIME]
        .into_iter()
        .filter(|r| rels & r & usable != 0)
        .collect()
}

/// The state after a step by `rel`, or `None` if the spec forbids it.
fn advance(spec: &Spec, state: u8, rel: u8, first: bool) -> Option<u8> {
    let mut s = state;
    for (i, &q) in spec.required.iter().enumerate() {
        if rel & q != 0 {
            s |= 1 << i;
        }
    }
    let rws = (state >> RW_SHIFT) & 3;
    if rel == RW {
        if spec.rw == RwRule::One && rws >= 1 {
            return None;
        }
        if state & LAST_RW != 0 && !first {
            if spec.rw == RwRule::Nonadjacent {
                return None;
            }
            s |= ADJACENT;
        }
        if first {
            s |= FIRST_RW;
        }
        s |= LAST_RW;
        s = (s & !(3 << RW_SHIFT)) | ((rws + 1).min(2) << RW_SHIFT);
    } else {
        s &= !LAST_RW;
    }
    Some(s)
}

/// A simple cycle meeting `spec` from the closed walk `path` (vertices,
/// the last one stepping back to the first) with step relations `rels`:
/// the walk itself when it repeats no vertex, else one of its pieces.
fn simple_cycle(spec: &Spec, path: &[u32], rels: &[u8]) -> Option<Vec<u32>> {
    let mut pos: HashMap<u32, usize> = HashMap::new();
    let repeat = path
        .iter()
        .enumerate()
        .find_map(|(i, v)| pos.insert(*v, i).map(|j| (j, i)));
    match repeat {
        None => satisfies(spec, rels).then(|| path.to_vec()),
        Some((j, i)) => {
            // Split at the repeated vertex: path[j..i] and the rest.
            let inner = (path[j..i].to_vec(), rels[j..i].to_vec());
            let mut outer_p = path[..j].to_vec();
            outer_p.extend_from_slice(&path[i..]);
            let mut outer_r = rels[..j].to_vec();
            outer_r.extend_from_slice(&rels[i..]);
            simple_cycle(spec, &inner.0, &inner.1)
                .or_else(|| simple_cycle(spec, &outer_p, &outer_r))
        }
    }
}

/// Some cycle of the component, for when the search timed out: the
/// shortest through a vertex of the weakest projection that has one.
fn fallback_cycle(scc: &Scc) -> Vec<u32> {
    let masks = [
        WW,
        WW | REALTIME | PROCESS,
        WW | WR,
        WW | WR | REALTIME | PROCESS,
        WW | WR | RW,
        u8::MAX,
    ];
    masks
        .into_iter()
        .find_map(|mask| {
            let part = scc.cyclic_parts(mask).into_iter().next()?;
            shortest_cycle(scc, &part, mask)
        })
        .unwrap_or_default()
}

/// Shortest cycle through the first vertex of `part` using edges in `mask`.
fn shortest_cycle(scc: &Scc, part: &[u32], mask: u8) -> Option<Vec<u32>> {
    let inside: HashSet<u32> = part.iter().copied().collect();
    let start = *part.first()?;
    let inside = &inside;
    kernel::shortest_cycle(start, move |v| {
        scc.out[v as usize]
            .iter()
            .filter(move |&&(w, r)| r & mask != 0 && inside.contains(&w))
            .map(|&(w, _)| w)
    })
}

/// All cycle cases of the graph: probes and searches per component.
/// Returns the cases (timeouts as `cycle-search-timeout` cases).
pub fn cycle_cases(cx: &dyn Explain, timeout: std::time::Duration) -> Vec<Case> {
    let g = cx.graph();
    let adj: Vec<Vec<u32>> = g
        .out
        .iter()
        .map(|es| es.iter().map(|&(w, _)| w).collect())
        .collect();
    let specs = specs();
    let present: u8 = g.out.iter().flatten().fold(0, |acc, &(_, r)| acc | r);
    let mut cases = Vec::new();
    let mut components: Vec<Vec<u32>> = sccs(&adj).into_iter().filter(|s| s.len() > 1).collect();
    components.sort_by_key(|c| c.iter().min().copied());
    for members in components {
        let scc = Scc::new(g, &members);
        cases.extend(scc_cases(cx, &scc, &specs, present, timeout));
    }
    cases
}

/// The probes of one component: a `<model>-cycle-exists` case for each
/// model whose subgraph has a cycle (skipping models a hit already rules
/// out), and the set of models ruled out.
fn probe_cases(cx: &dyn Explain, scc: &Scc) -> (Vec<Case>, HashSet<&'static str>) {
    let mut out = Vec::new();
    let mut impossible: HashSet<&'static str> = HashSet::new();
    for p in PROBES {
        if impossible.contains(p.model) {
            continue;
        }
        let parts = if p.extension {
            scc.extension_parts(p.union)
        } else {
            scc.cyclic_parts(p.union)
        };
        let Some(part) = parts.first() else {
            continue;
        };
        let mut ops: Vec<usize> = part
            .iter()
            .map(|&l| cx.history_index(scc.global[l as usize]))
            .collect();
        ops.sort_unstable();
        let mut subgraph = rels_names(p.union);
        if p.extension {
            subgraph.push("then at most one rw per hop");
        }
        let kind = format!("{}-cycle-exists", p.model);
        out.push(Case {
            explanation: format!(
                "a cycle exists among history entries {ops:?} using only {}, so {} cannot hold",
                subgraph.join(", "),
                models::friendly(p.model)
            ),
            detail: json!({"not": models::friendly(p.model), "subgraph": subgraph,
                           "scc-size": ops.len(), "scc": ops}),
            kind,
            ops,
        });
        impossible.extend(models::models_at_least(p.model));
    }
    (out, impossible)
}

/// Probes, then searches for concrete cycles, in one component.
fn scc_cases(
    cx: &dyn Explain,
    scc: &Scc,
    specs: &[Spec],
    present: u8,
    timeout: std::time::Duration,
) -> Vec<Case> {
    let (mut out, impossible) = probe_cases(cx, scc);
    // Cycle classes that the acyclic probes rule out.
    let possible: Vec<&str> = PROBES
        .iter()
        .map(|p| p.model)
        .filter(|m| !impossible.contains(m))
        .collect();
    let ruled_out = models::prohibited_by(&possible);
    let mut skip: HashSet<String> = specs
        .iter()
        .filter(|s| ruled_out.contains(s.name.as_str()))
        .map(|s| s.name.clone())
        .collect();
    let deadline = Instant::now() + timeout;
    let mut searched: Vec<String> = Vec::new();
    for spec in specs {
        if skip.contains(&spec.name) {
            continue;
        }
        if Instant::now() >= deadline {
            out.extend(timeout_cases(cx, scc, spec, &searched));
            break;
        }
        searched.push(spec.name.clone());
        // A spec needing relations the graph lacks cannot match.
        if spec.required.iter().any(|&q| present & q == 0) {
            continue;
        }
        let mask = spec.allowed | if spec.rw == RwRule::None { 0 } else { RW };
        let mut found = None;
        let mut timed_out = false;
        for part in scc.cyclic_parts(mask) {
            match find(scc, &part, spec, deadline) {
                Ok(Some(c)) => {
                    found = Some(c);
                    break;
                }
                Ok(None) => {}
                Err(Timeout) => {
                    timed_out = true;
                    break;
                }
            }
        }
        if let Some(c) = found {
            out.push(cycle_case(cx, scc, &c));
            skip.extend(
                models::implied_anomalies(&spec.name)
                    .into_iter()
                    .map(String::from),
            );
        }
        if timed_out {
            searched.pop();
            out.extend(timeout_cases(cx, scc, spec, &searched));
            break;
        }
    }
    out
}

/// The timeout marker for a component, plus (as Elle) a fallback cycle so
/// that the component is still represented.
fn timeout_cases(cx: &dyn Explain, scc: &Scc, spec: &Spec, searched: &[String]) -> Vec<Case> {
    let fallback = fallback_cycle(scc);
    let mut out = vec![Case {
        kind: "cycle-search-timeout".into(),
        explanation: format!(
            "the search for {} in a component of {} transactions ran out of time",
            spec.name,
            scc.len()
        ),
        detail: json!({"anomaly-spec-type": spec.name, "searched": searched,
                       "scc-size": scc.len()}),
        ops: vec![],
    }];
    if !fallback.is_empty() {
        out.push(cycle_case(cx, scc, &fallback));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A component from edges `(from, to, rels)` on vertices `0..n`.
    fn scc(n: u32, edges: &[(u32, u32, u8)]) -> Scc {
        let mut out = vec![Vec::new(); n as usize];
        for &(a, b, r) in edges {
            out[a as usize].push((b, r));
        }
        for o in &mut out {
            o.sort_unstable();
        }
        Scc {
            global: (0..n).collect(),
            out,
        }
    }

    fn spec(name: &str) -> Spec {
        specs().into_iter().find(|s| s.name == name).unwrap()
    }

    fn search(s: &Scc, name: &str) -> Option<Vec<u8>> {
        let sp = spec(name);
        let mask = sp.allowed | if sp.rw == RwRule::None { 0 } else { RW };
        let far = Instant::now() + std::time::Duration::from_secs(60);
        for part in s.cyclic_parts(mask) {
            if let Ok(Some(c)) = find(s, &part, &sp, far) {
                return Some(
                    (0..c.len())
                        .map(|i| explain(s.rels(c[i], c[(i + 1) % c.len()])))
                        .collect(),
                );
            }
        }
        None
    }

    #[test]
    fn a_pure_write_cycle_is_g0() {
        let s = scc(2, &[(0, 1, WW), (1, 0, WW)]);
        assert_eq!(classify(&search(&s, "G0").unwrap()), "G0");
    }

    #[test]
    fn a_write_cycle_with_one_edge_also_wr_is_g1c() {
        // Found by the G0 search (both edges carry ww), explained as wr on
        // the edge that also carries wr: Elle calls it G1c.
        let s = scc(2, &[(0, 1, WW), (1, 0, WW | WR)]);
        let labels = search(&s, "G0").unwrap();
        assert_eq!(classify(&labels), "G1c");
        assert!(labels.contains(&WR) && labels.contains(&WW));
    }

    #[test]
    fn g1c_needs_a_wr_edge() {
        let s = scc(2, &[(0, 1, WW), (1, 0, WW)]);
        assert_eq!(search(&s, "G1c"), None);
        let s = scc(3, &[(0, 1, WR), (1, 2, WW), (2, 0, WR)]);
        assert_eq!(classify(&search(&s, "G1c").unwrap()), "G1c");
    }

    #[test]
    fn rw_classes() {
        // One rw: G-single-item.
        let s = scc(2, &[(0, 1, WR), (1, 0, RW)]);
        assert_eq!(
            classify(&search(&s, "G-single-item").unwrap()),
            "G-single-item"
        );
        assert_eq!(search(&s, "G2-item"), None);
        // Two adjacent rw: G2-item, not G-nonadjacent-item.
        let s = scc(2, &[(0, 1, RW), (1, 0, RW)]);
        assert_eq!(classify(&search(&s, "G2-item").unwrap()), "G2-item");
        assert_eq!(search(&s, "G-nonadjacent-item"), None);
        assert_eq!(search(&s, "G-single-item"), None);
        // Two rw separated by wr edges: G-nonadjacent-item.
        let s = scc(4, &[(0, 1, RW), (1, 2, WR), (2, 3, RW), (3, 0, WR)]);
        assert_eq!(
            classify(&search(&s, "G-nonadjacent-item").unwrap()),
            "G-nonadjacent-item"
        );
        assert_eq!(search(&s, "G2-item"), None);
        // An edge that is both wr and rw is explained as wr: no rw at all.
        let s = scc(2, &[(0, 1, WR | RW), (1, 0, WR)]);
        assert_eq!(search(&s, "G-single-item"), None);
    }

    #[test]
    fn realtime_variants_need_a_realtime_explanation() {
        let s = scc(2, &[(0, 1, WR), (1, 0, REALTIME)]);
        assert_eq!(
            classify(&search(&s, "G1c-realtime").unwrap()),
            "G1c-realtime"
        );
        assert_eq!(search(&s, "G1c"), None);
        // Real time on an edge that is also ww is explained as ww.
        let s = scc(2, &[(0, 1, WR), (1, 0, WW | REALTIME)]);
        assert_eq!(search(&s, "G-single-item-realtime"), None);
    }

    #[test]
    fn walks_that_revisit_a_vertex_yield_simple_cycles() {
        // A wr loop 1→2→1 hangs off the one-rw cycle 0→1→0; only the
        // simple cycle is reported.
        let s = scc(3, &[(0, 1, WR), (1, 0, RW), (1, 2, WR), (2, 1, WR)]);
        let l = search(&s, "G-single-item").unwrap();
        assert_eq!(l.len(), 2);
    }

    #[test]
    fn the_snapshot_isolation_probe_allows_single_rw_hops_only() {
        // wr then rw: a cycle in the extension.
        let s = scc(2, &[(0, 1, WR), (1, 0, RW)]);
        assert!(!s.extension_parts(WW | WR).is_empty());
        // Two adjacent rw: not.
        let s = scc(2, &[(0, 1, RW), (1, 0, RW)]);
        assert!(s.extension_parts(WW | WR).is_empty());
    }
}
