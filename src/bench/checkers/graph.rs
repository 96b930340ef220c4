//! The graph kernel the cycle-finding checkers share: strongly connected
//! components and a shortest cycle through a vertex.
//!
//! Elle (`elle: src/elle/core.clj`, which delegates to Bifurcan's graph
//! algorithms) finds anomalies as cycles in a dependency graph: it splits
//! the graph into strongly connected components, since every cycle lies
//! inside one, then searches each component breadth-first for a short
//! cycle. Jepsen's Kafka checker (`jepsen: jepsen/src/jepsen/tests/kafka.clj`)
//! hands its write→read and real-time graph to the same Elle code. Both of
//! our checkers therefore use these two functions: [`sccs`] (Tarjan's
//! algorithm) and [`shortest_cycle`] (a breadth-first search). The typed
//! dependency graph, the relations on an edge and what a cycle means stay
//! with each checker ([`super::elle::graph`], [`super::kafka`]).
//!
//! # Design
//!
//! Vertices are `u32` indices into an adjacency list (`adj[v]` lists the
//! successors of `v`): histories have far fewer than 2³² operations, and
//! half-size indices keep the large Elle graphs compact. Both functions are
//! iterative, so a 200 000-vertex ring does not overflow the stack.
//! [`shortest_cycle`] takes the successors as a closure, so a caller can
//! restrict the search to one component or to the edges of some relations
//! without building a new graph.
//!
//! # Caveats
//!
//! Which of several equally short cycles is found depends on the order of
//! each adjacency list; callers that want a stable report keep their lists
//! sorted or in history order.

use std::collections::{HashMap, VecDeque};

/// Strongly connected components of `adj` (Tarjan, iterative), each as a
/// list of vertices; singletons included. A component is listed after every
/// component it has an edge into.
pub fn sccs(adj: &[Vec<u32>]) -> Vec<Vec<u32>> {
    const UNSEEN: u32 = u32::MAX;
    let n = adj.len();
    let mut index = vec![UNSEEN; n];
    let mut low = vec![0u32; n];
    let mut on_stack = vec![false; n];
    let mut stack: Vec<u32> = Vec::new();
    let mut out = Vec::new();
    let mut next = 0u32;
    // (vertex, position in its adjacency list)
    let mut call: Vec<(u32, usize)> = Vec::new();
    for root in 0..n as u32 {
        if index[root as usize] != UNSEEN {
            continue;
        }
        call.push((root, 0));
        index[root as usize] = next;
        low[root as usize] = next;
        next += 1;
        stack.push(root);
        on_stack[root as usize] = true;
        while let Some(&mut (v, ref mut pos)) = call.last_mut() {
            let vu = v as usize;
            if let Some(&w) = adj[vu].get(*pos) {
                *pos += 1;
                let wu = w as usize;
                if index[wu] == UNSEEN {
                    index[wu] = next;
                    low[wu] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[wu] = true;
                    call.push((w, 0));
                } else if on_stack[wu] {
                    low[vu] = low[vu].min(index[wu]);
                }
                continue;
            }
            call.pop();
            if let Some(&(parent, _)) = call.last() {
                let pu = parent as usize;
                low[pu] = low[pu].min(low[vu]);
            }
            if low[vu] == index[vu] {
                let mut scc = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack[w as usize] = false;
                    scc.push(w);
                    if w == v {
                        break;
                    }
                }
                out.push(scc);
            }
        }
    }
    out
}

/// The component number of each of the `n` vertices, given their
/// components (as [`sccs`] returns them): vertex `v` is in
/// `components[result[v]]`.
pub fn component_ids(components: &[Vec<u32>], n: usize) -> Vec<usize> {
    let mut id = vec![usize::MAX; n];
    for (c, members) in components.iter().enumerate() {
        for &v in members {
            if let Some(slot) = id.get_mut(v as usize) {
                *slot = c;
            }
        }
    }
    id
}

/// A shortest cycle through `start`, following the edges `next(v)` yields,
/// as the vertices in order from `start` (which is not repeated at the
/// end); None if `start` is on no cycle. Breadth-first: among successors,
/// the first listed wins ties.
pub fn shortest_cycle<I>(start: u32, mut next: impl FnMut(u32) -> I) -> Option<Vec<u32>>
where
    I: IntoIterator<Item = u32>,
{
    let mut parent: HashMap<u32, u32> = HashMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(v) = queue.pop_front() {
        for w in next(v) {
            if w == start {
                let mut cycle = vec![v];
                let mut cur = v;
                while cur != start {
                    cur = parent[&cur];
                    cycle.push(cur);
                }
                cycle.reverse();
                return Some(cycle);
            }
            if let std::collections::hash_map::Entry::Vacant(e) = parent.entry(w) {
                e.insert(v);
                queue.push_back(w);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_include_singletons() {
        // 0 → 1 → 2 → 0, 2 → 3, 4 alone.
        let adj = vec![vec![1], vec![2], vec![0, 3], vec![], vec![]];
        let mut found: Vec<Vec<u32>> = sccs(&adj)
            .into_iter()
            .map(|mut s| {
                s.sort();
                s
            })
            .collect();
        found.sort();
        assert_eq!(found, vec![vec![0, 1, 2], vec![3], vec![4]]);
        let ids = component_ids(&sccs(&adj), adj.len());
        assert_eq!(ids[0], ids[1]);
        assert_eq!(ids[1], ids[2]);
        assert_ne!(ids[2], ids[3]);
        assert_ne!(ids[3], ids[4]);
    }

    #[test]
    fn components_are_found_iteratively() {
        // A 200 000-vertex ring would overflow a recursive implementation.
        let n = 200_000u32;
        let adj: Vec<Vec<u32>> = (0..n).map(|i| vec![(i + 1) % n]).collect();
        assert_eq!(sccs(&adj).len(), 1);
    }

    #[test]
    fn shortest_cycle_prefers_the_short_way_round() {
        // 0 → 1 → 2 → 3 → 0 and a shortcut 1 → 3; 4 → 4 is not on 0's cycle.
        let adj: Vec<Vec<u32>> = vec![vec![1], vec![2, 3], vec![3], vec![0], vec![4]];
        let next = |v: u32| adj[v as usize].clone();
        assert_eq!(shortest_cycle(0, next), Some(vec![0, 1, 3]));
        assert_eq!(shortest_cycle(2, next), Some(vec![2, 3, 0, 1]));
        // Restricted to vertices other than 3, vertex 0 is on no cycle.
        let without_3 = |v: u32| adj[v as usize].iter().copied().filter(|&w| w != 3);
        assert_eq!(shortest_cycle(0, without_3), None);
        assert_eq!(shortest_cycle(4, next), Some(vec![4]));
    }
}
