//! The nemesis: which faults a test injects, when, and how each is drawn.
//!
//! # Design
//!
//! As in Jepsen, the nemesis is a generator of operations, and something
//! else carries them out (jepsen: src/jepsen/nemesis/combined.clj; maelstrom:
//! src/maelstrom/nemesis.clj). [`Nemesis`] emits [`NemesisOp`]s on its
//! schedule; the engine applies each one (a partition to the network, a
//! kill or pause to the backend) and records it in the history as Jepsen
//! does: two `info` entries at the same instant, the request and what was
//! done. The faults a test may use are a set ([`Fault`], `--nemesis a,b`):
//! `partition` (Maelstrom's only fault), and two beyond Maelstrom, `kill`
//! and `pause`, which act on nodes through the backend.
//!
//! # Two schedules, as Jepsen composes packages
//!
//! Jepsen's combined nemesis builds one *package* per kind of fault and
//! composes them with `gen/any` (`compose-packages`), each package on its
//! own `gen/stagger`: the partition package alternates start-partition and
//! stop-partition (`partition-package`), and the db package (`db-package`,
//! `db-generators`) mixes two flip-flops uniformly (`gen/mix`): kill then
//! start, and pause then resume. We do the same with two streams
//! ([`Stream`]):
//!
//! - **partition**: the first op at the start of the main phase, then each
//!   one `U(0, 2·interval)` after the previous (Jepsen's stagger),
//!   alternating start and stop. It draws from the nemesis's random stream
//!   exactly as it did before kill and pause existed, so a test with
//!   `--nemesis partition` alone is the same run, byte for byte.
//! - **process** (kill and pause): its own stagger on its own random
//!   stream (derived from the same seed without drawing from the first, so
//!   adding it shifts nothing else). Each op picks one of the enabled
//!   flip-flops uniformly (no draw when only one is enabled) and takes that
//!   flip-flop's next step: kill some nodes, or start every killed one;
//!   pause some nodes, or resume every paused one. A killed node therefore
//!   stays down for a random time: until its flip-flop is picked again, one
//!   or more staggered gaps later.
//!
//! Before a final phase every fault is undone, in the order of Jepsen's
//! final generators: stop-partition, resume, start.
//!
//! # Which nodes are killed or paused
//!
//! Jepsen draws a node spec per op (`db-nodes`: `nil`, `:one`,
//! `:minority-third`, `:minority`, `:majority`, `:all`; `node-specs` lists
//! them). We draw between `one` (a single random node) and `minority` (a
//! random `majority(N) − 1` nodes; none for N = 1, where a one-node test
//! loses its node only through `one`). Majorities and `all` are left out on
//! purpose: the Fly.io workloads promise total availability of the nodes
//! that are up, and a test in which most nodes are down most of the time
//! says little about what the survivors do; a minority is also what a
//! replicated system is built to lose. A killed node is never paused;
//! killing a paused node is allowed (SIGKILL reaches a stopped process) and
//! it then counts as killed, not paused. A draw whose targets are all
//! excluded gives nothing to do.
//!
//! # Partitions
//!
//! A *grudge* maps a destination node to the set of source nodes whose
//! messages it drops (maelstrom: src/maelstrom/net.clj, `jepsen-net`). The
//! four shapes Maelstrom offers (maelstrom: src/maelstrom/nemesis.clj;
//! jepsen: src/jepsen/nemesis.clj, `complete-grudge`, `bisect`,
//! `majorities-ring`) are pure functions of the node count and a seeded
//! RNG, so tests can pin them:
//!
//! - `one`: one random node cut off from all others;
//! - `majority`: shuffle, split into `floor(N/2)` and the rest;
//! - `minority-third`: shuffle, split off the first `floor((N-1)/3)` nodes
//!   (empty for N ≤ 3, so a no-op there);
//! - `majorities-ring`: every node sees a majority, no two the same one.
//!   For N ≤ 5 the "perfect" ring (asymmetric for N = 3), for N > 5 the
//!   stochastic variant that links lowest-degree nodes until each has a
//!   majority.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// A kind of fault, by its `--nemesis` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fault {
    /// Network partitions (Maelstrom's only fault).
    Partition,
    /// Kill a node's process (SIGKILL), later start it again from its disk.
    Kill,
    /// Pause a node (SIGSTOP), later resume it (SIGCONT).
    Pause,
}

/// The faults a test injects.
pub type Faults = BTreeSet<Fault>;

impl Fault {
    /// Every fault `--nemesis` accepts.
    pub const ALL: [Fault; 3] = [Fault::Partition, Fault::Kill, Fault::Pause];

    /// Its `--nemesis` name.
    pub fn name(self) -> &'static str {
        match self {
            Fault::Partition => "partition",
            Fault::Kill => "kill",
            Fault::Pause => "pause",
        }
    }

    /// Whether the fault stops node processes (kill, pause), as opposed to
    /// links (partition).
    pub fn acts_on_nodes(self) -> bool {
        matches!(self, Fault::Kill | Fault::Pause)
    }

    /// The fault called `name`; the error lists the known ones.
    pub fn parse(name: &str) -> Result<Fault, String> {
        Fault::ALL
            .into_iter()
            .find(|f| f.name() == name)
            .ok_or_else(|| {
                let known: Vec<&str> = Fault::ALL.iter().map(|f| f.name()).collect();
                format!(
                    "--nemesis {name}: unknown fault; known faults: {}",
                    known.join(", ")
                )
            })
    }

    /// A comma- (or space-) separated list of fault names.
    pub fn parse_list(text: &str) -> Result<Faults, String> {
        text.split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
            .map(Fault::parse)
            .collect()
    }
}

/// One operation of the nemesis, for the engine to carry out.
#[derive(Debug, Clone, PartialEq)]
pub enum NemesisOp {
    /// Start a partition of this shape: nodes drop messages per the grudge.
    StartPartition {
        /// The shape drawn.
        spec: PartitionSpec,
        /// Who drops whom.
        grudge: Grudge,
    },
    /// Heal every partition.
    StopPartition,
    /// Kill these nodes' processes (SIGKILL).
    Kill(Vec<usize>),
    /// Restart these killed nodes (same binary, same id) and init them again.
    Start(Vec<usize>),
    /// Pause these nodes (SIGSTOP).
    Pause(Vec<usize>),
    /// Resume these paused nodes (SIGCONT).
    Resume(Vec<usize>),
}

impl NemesisOp {
    /// The nodes a lifecycle op acts on (none for partition ops).
    pub fn nodes(&self) -> &[usize] {
        match self {
            NemesisOp::Kill(n)
            | NemesisOp::Start(n)
            | NemesisOp::Pause(n)
            | NemesisOp::Resume(n) => n,
            NemesisOp::StartPartition { .. } | NemesisOp::StopPartition => &[],
        }
    }

    /// The history's `f`.
    pub fn f(&self) -> &'static str {
        match self {
            NemesisOp::StartPartition { .. } => "start-partition",
            NemesisOp::StopPartition => "stop-partition",
            NemesisOp::Kill(_) => "kill",
            NemesisOp::Start(_) => "start",
            NemesisOp::Pause(_) => "pause",
            NemesisOp::Resume(_) => "resume",
        }
    }

    /// The two history values: the request and what was done (Jepsen
    /// records both ends of a nemesis op as `info`).
    pub fn values(&self, names: &[String]) -> (Value, Value) {
        let list = |nodes: &[usize]| -> Vec<Value> {
            nodes
                .iter()
                .map(|&n| Value::from(names[n].clone()))
                .collect()
        };
        let done = |nodes: &[usize], what: &str| -> Value {
            Value::Object(
                nodes
                    .iter()
                    .map(|&n| (names[n].clone(), Value::from(what)))
                    .collect(),
            )
        };
        match self {
            NemesisOp::StartPartition { spec, grudge } => (
                Value::from(spec.name()),
                Value::Array(vec!["isolated".into(), grudge_json(grudge, names)]),
            ),
            NemesisOp::StopPartition => (Value::Null, Value::from("network-healed")),
            NemesisOp::Kill(n) => (Value::Array(list(n)), done(n, "killed")),
            NemesisOp::Start(n) => (Value::Array(list(n)), done(n, "started")),
            NemesisOp::Pause(n) => (Value::Array(list(n)), done(n, "paused")),
            NemesisOp::Resume(n) => (Value::Array(list(n)), done(n, "resumed")),
        }
    }
}

/// One of the nemesis's schedules (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Start and stop partitions.
    Partition,
    /// Kill and start, pause and resume nodes.
    Process,
}

/// Which nodes a kill or pause targets (Jepsen's node specs; see the
/// module docs for why only these two).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeSpec {
    /// One random node.
    One,
    /// A random minority: `majority(N) − 1` nodes.
    Minority,
}

impl NodeSpec {
    /// Both specs; a kill or pause picks one uniformly.
    pub const ALL: [NodeSpec; 2] = [NodeSpec::One, NodeSpec::Minority];

    /// Draw the nodes of this spec among `0..n`, sorted.
    pub fn draw(self, n: usize, rng: &mut StdRng) -> Vec<usize> {
        let mut nodes = match self {
            NodeSpec::One if n == 0 => Vec::new(),
            NodeSpec::One => vec![rng.gen_range(0..n)],
            NodeSpec::Minority => {
                let mut v = shuffled(n, rng);
                v.truncate(majority(n) - 1);
                v
            }
        };
        nodes.sort_unstable();
        nodes
    }
}

/// Mixed into the nemesis seed for the process stream's random stream.
const PROCESS_STREAM_SEED: u64 = 0x6b69_6c6c_7061_7573;

/// The fault schedule of one test.
pub struct Nemesis {
    /// The faults to inject; none means no schedule at all.
    faults: Faults,
    /// Mean seconds between operations (of each stream).
    interval: f64,
    /// The partition stream's random numbers: its draws are the same as
    /// before the process stream existed.
    rng: StdRng,
    /// Whether the next partition op starts one (else it heals).
    start_next: bool,
    /// The process stream's own random numbers.
    process_rng: StdRng,
    /// Nodes killed and not started yet.
    down: BTreeSet<usize>,
    /// Nodes paused and not resumed yet.
    paused: BTreeSet<usize>,
}

impl Nemesis {
    /// A schedule of `faults`, one op of each stream every `interval` s on
    /// average, drawn from `seed`.
    pub fn new(faults: Faults, interval: f64, seed: u64) -> Self {
        Nemesis {
            faults,
            interval,
            rng: StdRng::seed_from_u64(seed),
            start_next: true,
            process_rng: StdRng::seed_from_u64(seed ^ PROCESS_STREAM_SEED),
            down: BTreeSet::new(),
            paused: BTreeSet::new(),
        }
    }

    /// Whether there is anything to inject.
    pub fn is_active(&self) -> bool {
        !self.faults.is_empty()
    }

    /// The streams this test runs, in the order they start.
    pub fn streams(&self) -> Vec<Stream> {
        let mut s = Vec::new();
        if self.faults.contains(&Fault::Partition) {
            s.push(Stream::Partition);
        }
        if self.faults.contains(&Fault::Kill) || self.faults.contains(&Fault::Pause) {
            s.push(Stream::Process);
        }
        s
    }

    /// The next operation of `stream` over `node_count` nodes (None when it
    /// has nothing to do this time), and the gap until the one after it
    /// (Jepsen's stagger).
    pub fn next(&mut self, stream: Stream, node_count: usize) -> (Option<NemesisOp>, Duration) {
        let op = match stream {
            Stream::Partition => Some(self.next_partition(node_count)),
            Stream::Process => self.next_process(node_count),
        };
        let mean = self.interval.max(0.0);
        let rng = match stream {
            Stream::Partition => &mut self.rng,
            Stream::Process => &mut self.process_rng,
        };
        let gap = if mean > 0.0 {
            Duration::from_secs_f64(rng.gen_range(0.0..2.0 * mean))
        } else {
            Duration::ZERO
        };
        (op, gap)
    }

    fn next_partition(&mut self, node_count: usize) -> NemesisOp {
        let op = if self.start_next {
            let spec = PartitionSpec::ALL[self.rng.gen_range(0..PartitionSpec::ALL.len())];
            let grudge = grudge(spec, node_count, &mut self.rng);
            NemesisOp::StartPartition { spec, grudge }
        } else {
            NemesisOp::StopPartition
        };
        self.start_next = !self.start_next;
        op
    }

    /// One step of the kill or the pause flip-flop (`gen/mix` of the two);
    /// a flip-flop with nothing to do gives its turn to the other.
    fn next_process(&mut self, node_count: usize) -> Option<NemesisOp> {
        let mut modes = Vec::new();
        if self.faults.contains(&Fault::Pause) {
            modes.push(Fault::Pause);
        }
        if self.faults.contains(&Fault::Kill) {
            modes.push(Fault::Kill);
        }
        if modes.len() == 2 && self.process_rng.gen_range(0..2) == 1 {
            modes.swap(0, 1);
        }
        let op = modes
            .into_iter()
            .find_map(|mode| self.flip_flop(mode, node_count))?;
        self.note(&op);
        Some(op)
    }

    /// The next step of `mode`'s flip-flop, None when it has nothing to
    /// do. Its state is what is in effect: with nodes down the kill
    /// flip-flop starts them, else it kills; likewise pause and resume.
    fn flip_flop(&mut self, mode: Fault, node_count: usize) -> Option<NemesisOp> {
        let undo: Vec<usize> = match mode {
            Fault::Kill => self.down.iter().copied().collect(),
            _ => self.paused.iter().copied().collect(),
        };
        if !undo.is_empty() {
            return Some(match mode {
                Fault::Kill => NemesisOp::Start(undo),
                _ => NemesisOp::Resume(undo),
            });
        }
        let spec = NodeSpec::ALL[self.process_rng.gen_range(0..NodeSpec::ALL.len())];
        let targets: Vec<usize> = spec
            .draw(node_count, &mut self.process_rng)
            .into_iter()
            .filter(|n| !self.down.contains(n))
            .collect();
        if targets.is_empty() {
            return None;
        }
        Some(match mode {
            Fault::Kill => NemesisOp::Kill(targets),
            _ => NemesisOp::Pause(targets),
        })
    }

    /// Keep track of which nodes are down and paused after `op`.
    fn note(&mut self, op: &NemesisOp) {
        match op {
            NemesisOp::Kill(n) => {
                for x in n {
                    self.paused.remove(x);
                    self.down.insert(*x);
                }
            }
            NemesisOp::Start(n) => n.iter().for_each(|x| {
                self.down.remove(x);
            }),
            NemesisOp::Pause(n) => self.paused.extend(n.iter().copied()),
            NemesisOp::Resume(n) => n.iter().for_each(|x| {
                self.paused.remove(x);
            }),
            NemesisOp::StopPartition => self.start_next = true,
            NemesisOp::StartPartition { .. } => {}
        }
    }

    /// The operations that undo every fault before a final phase:
    /// stop-partition, resume, start (Jepsen's final generators).
    pub fn heal(&mut self) -> Vec<NemesisOp> {
        let mut ops = Vec::new();
        if self.faults.contains(&Fault::Partition) {
            ops.push(NemesisOp::StopPartition);
        }
        if !self.paused.is_empty() {
            ops.push(NemesisOp::Resume(self.paused.iter().copied().collect()));
        }
        if !self.down.is_empty() {
            ops.push(NemesisOp::Start(self.down.iter().copied().collect()));
        }
        for op in &ops {
            self.note(op);
        }
        ops
    }

    /// What is in effect now, for the console's progress line: e.g.
    /// `partitioned; killed n1; paused n0`. Empty when nothing is.
    pub fn describe(&self, names: &[String]) -> String {
        let list = |set: &BTreeSet<usize>| -> String {
            let v: Vec<&str> = set.iter().map(|&n| names[n].as_str()).collect();
            v.join(",")
        };
        let mut parts = Vec::new();
        if !self.start_next {
            parts.push("partitioned".to_string());
        }
        if !self.down.is_empty() {
            parts.push(format!("killed {}", list(&self.down)));
        }
        if !self.paused.is_empty() {
            parts.push(format!("paused {}", list(&self.paused)));
        }
        parts.join("; ")
    }
}

/// The partition shapes, in the order Maelstrom offers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionSpec {
    /// One node isolated.
    One,
    /// A third (rounded down, of N−1) split off.
    MinorityThird,
    /// Two halves.
    Majority,
    /// Each node sees a different majority.
    MajoritiesRing,
}

impl PartitionSpec {
    /// All shapes; a start-partition picks one uniformly.
    pub const ALL: [PartitionSpec; 4] = [
        PartitionSpec::One,
        PartitionSpec::MinorityThird,
        PartitionSpec::Majority,
        PartitionSpec::MajoritiesRing,
    ];

    /// Maelstrom's name for the shape (recorded as the invoke's value).
    pub fn name(self) -> &'static str {
        match self {
            PartitionSpec::One => "one",
            PartitionSpec::MinorityThird => "minority-third",
            PartitionSpec::Majority => "majority",
            PartitionSpec::MajoritiesRing => "majorities-ring",
        }
    }
}

/// Destination node index → source node indices it drops.
pub type Grudge = BTreeMap<usize, BTreeSet<usize>>;

/// Nobody talks across components, in either direction.
pub fn complete_grudge(components: &[Vec<usize>]) -> Grudge {
    let mut g = Grudge::new();
    for (i, comp) in components.iter().enumerate() {
        let others: BTreeSet<usize> = components
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .flat_map(|(_, c)| c.iter().copied())
            .collect();
        if others.is_empty() {
            continue;
        }
        for &n in comp {
            g.insert(n, others.clone());
        }
    }
    g
}

fn shuffled(n: usize, rng: &mut StdRng) -> Vec<usize> {
    let mut v: Vec<usize> = (0..n).collect();
    v.shuffle(rng);
    v
}

/// The smallest majority of `n`.
fn majority(n: usize) -> usize {
    n / 2 + 1
}

/// Draw the grudge for `spec` over nodes `0..n`.
pub fn grudge(spec: PartitionSpec, n: usize, rng: &mut StdRng) -> Grudge {
    match spec {
        PartitionSpec::One => {
            if n == 0 {
                return Grudge::new();
            }
            let lone = rng.gen_range(0..n);
            let rest = (0..n).filter(|&i| i != lone).collect();
            complete_grudge(&[vec![lone], rest])
        }
        PartitionSpec::Majority => {
            let v = shuffled(n, rng);
            let (a, b) = v.split_at(n / 2);
            complete_grudge(&[a.to_vec(), b.to_vec()])
        }
        PartitionSpec::MinorityThird => {
            let v = shuffled(n, rng);
            let (a, b) = v.split_at(n.saturating_sub(1) / 3);
            complete_grudge(&[a.to_vec(), b.to_vec()])
        }
        PartitionSpec::MajoritiesRing if n <= 5 => majorities_ring_perfect(n, rng),
        PartitionSpec::MajoritiesRing => majorities_ring_stochastic(n, rng),
    }
}

/// Shuffle into a ring; for each window of `m` consecutive nodes, the
/// window's middle node drops everyone outside the window.
fn majorities_ring_perfect(n: usize, rng: &mut StdRng) -> Grudge {
    let ring = shuffled(n, rng);
    let m = majority(n);
    let mut g = Grudge::new();
    if n == 0 {
        return g;
    }
    for start in 0..n {
        let window: Vec<usize> = (0..m).map(|k| ring[(start + k) % n]).collect();
        let middle = window[m / 2];
        let drops: BTreeSet<usize> = (0..n).filter(|x| !window.contains(x)).collect();
        if !drops.is_empty() {
            g.entry(middle).or_default().extend(drops);
        }
    }
    g
}

/// Link lowest-degree nodes pairwise (each node starts linked to itself)
/// until every node has at least a majority of links; each node then drops
/// the nodes it is not linked to (so the grudge is symmetric).
fn majorities_ring_stochastic(n: usize, rng: &mut StdRng) -> Grudge {
    let m = majority(n);
    let mut links: Vec<BTreeSet<usize>> = (0..n).map(|i| BTreeSet::from([i])).collect();
    loop {
        let min_deg = links.iter().map(BTreeSet::len).min().unwrap_or(m);
        if min_deg >= m {
            break;
        }
        let lowest: Vec<usize> = (0..n).filter(|&i| links[i].len() == min_deg).collect();
        let a = lowest[rng.gen_range(0..lowest.len())];
        let candidates: Vec<usize> = (0..n).filter(|b| !links[a].contains(b)).collect();
        let Some(cmin) = candidates.iter().map(|&b| links[b].len()).min() else {
            break;
        };
        let best: Vec<usize> = candidates
            .into_iter()
            .filter(|&b| links[b].len() == cmin)
            .collect();
        let b = best[rng.gen_range(0..best.len())];
        links[a].insert(b);
        links[b].insert(a);
    }
    let mut g = Grudge::new();
    for (i, l) in links.iter().enumerate() {
        let drops: BTreeSet<usize> = (0..n).filter(|x| !l.contains(x)).collect();
        if !drops.is_empty() {
            g.insert(i, drops);
        }
    }
    g
}

/// The grudge as JSON with node names: `{"n1": ["n0", "n2"], …}`.
pub fn grudge_json(g: &Grudge, names: &[String]) -> Value {
    let mut m = Map::new();
    for (dest, srcs) in g {
        let list = srcs
            .iter()
            .map(|&s| Value::from(names[s].clone()))
            .collect();
        m.insert(names[*dest].clone(), Value::Array(list));
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn rng(seed: u64) -> StdRng {
        StdRng::seed_from_u64(seed)
    }

    /// Which nodes `dest` can hear (itself included).
    fn hears(g: &Grudge, n: usize, dest: usize) -> BTreeSet<usize> {
        let drops = g.get(&dest).cloned().unwrap_or_default();
        (0..n).filter(|s| !drops.contains(s)).collect()
    }

    fn symmetric(g: &Grudge) -> bool {
        g.iter()
            .all(|(d, ss)| ss.iter().all(|s| g.get(s).is_some_and(|x| x.contains(d))))
    }

    #[test]
    fn two_nodes() {
        for seed in 0..20 {
            let one = grudge(PartitionSpec::One, 2, &mut rng(seed));
            assert_eq!(one.len(), 2);
            assert!(symmetric(&one));
            let maj = grudge(PartitionSpec::Majority, 2, &mut rng(seed));
            assert_eq!(maj.len(), 2, "1|1 split");
            assert!(grudge(PartitionSpec::MinorityThird, 2, &mut rng(seed)).is_empty());
            assert!(grudge(PartitionSpec::MajoritiesRing, 2, &mut rng(seed)).is_empty());
        }
    }

    #[test]
    fn three_nodes_ring_is_an_asymmetric_cycle() {
        for seed in 0..20 {
            let g = grudge(PartitionSpec::MajoritiesRing, 3, &mut rng(seed));
            assert_eq!(g.len(), 3);
            assert!(g.values().all(|s| s.len() == 1), "each drops one: {g:?}");
            assert!(!symmetric(&g), "asymmetric: {g:?}");
            // Following "drops" from any node visits all three.
            let mut at = 0;
            let mut seen = BTreeSet::new();
            for _ in 0..3 {
                seen.insert(at);
                at = *g[&at].iter().next().unwrap();
            }
            assert_eq!(seen.len(), 3);
            assert!(grudge(PartitionSpec::MinorityThird, 3, &mut rng(seed)).is_empty());
            let maj = grudge(PartitionSpec::Majority, 3, &mut rng(seed));
            // floor(3/2) = 1 node alone vs 2.
            let alone: Vec<_> = maj.iter().filter(|(_, s)| s.len() == 2).collect();
            assert_eq!(alone.len(), 1);
            assert_eq!(maj.len(), 3);
        }
    }

    #[test]
    fn five_nodes() {
        for seed in 0..20 {
            let g = grudge(PartitionSpec::MajoritiesRing, 5, &mut rng(seed));
            assert_eq!(g.len(), 5);
            assert!(symmetric(&g), "{g:?}");
            let views: BTreeSet<BTreeSet<usize>> = (0..5).map(|d| hears(&g, 5, d)).collect();
            assert_eq!(views.len(), 5, "five different majorities");
            assert!(views.iter().all(|v| v.len() == 3));
            let mt = grudge(PartitionSpec::MinorityThird, 5, &mut rng(seed));
            // floor(4/3) = 1 node split off.
            assert_eq!(mt.values().filter(|s| s.len() == 4).count(), 1);
            let maj = grudge(PartitionSpec::Majority, 5, &mut rng(seed));
            assert_eq!(maj.values().filter(|s| s.len() == 3).count(), 2);
            assert_eq!(maj.values().filter(|s| s.len() == 2).count(), 3);
        }
    }

    #[test]
    fn twenty_five_nodes() {
        for seed in 0..10 {
            let g = grudge(PartitionSpec::MajoritiesRing, 25, &mut rng(seed));
            assert!(symmetric(&g));
            for d in 0..25 {
                assert!(hears(&g, 25, d).len() >= 13, "node {d} sees a majority");
            }
            let mt = grudge(PartitionSpec::MinorityThird, 25, &mut rng(seed));
            assert_eq!(mt.values().filter(|s| s.len() == 17).count(), 8);
            assert_eq!(mt.values().filter(|s| s.len() == 8).count(), 17);
            let maj = grudge(PartitionSpec::Majority, 25, &mut rng(seed));
            assert_eq!(maj.values().filter(|s| s.len() == 13).count(), 12);
            let one = grudge(PartitionSpec::One, 25, &mut rng(seed));
            assert_eq!(one.values().filter(|s| s.len() == 24).count(), 1);
            assert_eq!(one.len(), 25);
        }
    }

    #[test]
    fn faults_parse_as_a_set_and_unknown_names_are_refused() {
        let f = Fault::parse_list("partition, partition").unwrap();
        assert_eq!(f, Faults::from([Fault::Partition]));
        assert!(Fault::parse_list("").unwrap().is_empty());
        let all = Fault::parse_list("partition,kill,pause").unwrap();
        assert_eq!(all.len(), 3);
        let e = Fault::parse_list("partition,crash").unwrap_err();
        assert!(
            e.contains("crash") && e.contains("known faults: partition, kill, pause"),
            "{e}"
        );
    }

    #[test]
    fn the_partition_schedule_alternates_and_heals() {
        let mut n = Nemesis::new(Faults::from([Fault::Partition]), 2.0, 1);
        assert_eq!(n.streams(), vec![Stream::Partition]);
        let (first, gap) = n.next(Stream::Partition, 5);
        assert_eq!(first.unwrap().f(), "start-partition");
        assert!(gap < Duration::from_secs(4));
        assert_eq!(
            n.next(Stream::Partition, 5).0,
            Some(NemesisOp::StopPartition)
        );
        assert_eq!(n.heal(), vec![NemesisOp::StopPartition]);
        assert!(!Nemesis::new(Faults::new(), 2.0, 1).is_active());
        let names: Vec<String> = (0..3).map(|i| format!("n{i}")).collect();
        let (req, done) = NemesisOp::Kill(vec![1]).values(&names);
        assert_eq!(req, serde_json::json!(["n1"]));
        assert_eq!(done, serde_json::json!({"n1": "killed"}));
    }

    #[test]
    fn the_partition_stream_draws_as_it_did_alone() {
        // The process stream has its own random numbers: the partition
        // ops and gaps are the same with or without kill and pause.
        let alone = Faults::from([Fault::Partition]);
        let all = Fault::parse_list("partition,kill,pause").unwrap();
        let (mut a, mut b) = (Nemesis::new(alone, 3.0, 9), Nemesis::new(all, 3.0, 9));
        for _ in 0..20 {
            b.next(Stream::Process, 5);
            assert_eq!(a.next(Stream::Partition, 5), b.next(Stream::Partition, 5));
        }
    }

    #[test]
    fn kills_and_pauses_hit_a_minority_and_are_undone() {
        for seed in 0..50 {
            let faults = Fault::parse_list("kill,pause").unwrap();
            let mut n = Nemesis::new(faults, 1.0, seed);
            assert_eq!(n.streams(), vec![Stream::Process]);
            for _ in 0..40 {
                let (op, _) = n.next(Stream::Process, 5);
                if let Some(op) = op {
                    assert!(!op.nodes().is_empty(), "{op:?}");
                    assert!(matches!(op.f(), "kill" | "start" | "pause" | "resume"));
                    if matches!(op.f(), "kill" | "pause") {
                        assert!(op.nodes().len() <= 2, "a minority of 5: {op:?}");
                    }
                }
                assert!(n.down.is_disjoint(&n.paused), "seed {seed}");
                assert!(n.down.len() <= 4);
            }
            let heal = n.heal();
            assert!(heal.iter().all(|op| matches!(op.f(), "start" | "resume")));
            assert!(n.down.is_empty() && n.paused.is_empty());
        }
    }

    #[test]
    fn node_specs() {
        for seed in 0..20 {
            assert_eq!(NodeSpec::One.draw(3, &mut rng(seed)).len(), 1);
            assert_eq!(NodeSpec::Minority.draw(5, &mut rng(seed)).len(), 2);
            assert_eq!(NodeSpec::Minority.draw(2, &mut rng(seed)).len(), 1);
            assert_eq!(NodeSpec::Minority.draw(3, &mut rng(seed)).len(), 1);
            assert!(NodeSpec::Minority.draw(1, &mut rng(seed)).is_empty());
            assert_eq!(NodeSpec::One.draw(1, &mut rng(seed)), vec![0]);
        }
    }

    #[test]
    fn same_seed_same_shape() {
        for spec in PartitionSpec::ALL {
            assert_eq!(grudge(spec, 7, &mut rng(3)), grudge(spec, 7, &mut rng(3)));
        }
    }
}
