//! The options of one test run, with Maelstrom's defaults
//! (maelstrom: src/maelstrom/core.clj, `cli-opts`; jepsen:
//! src/jepsen/cli.clj, `test-opt-spec`). The CLI fills this in; workloads,
//! the network, the nemesis and the checkers read it.

use super::nemesis::Faults;
use std::path::PathBuf;

/// How per-message latency is drawn (maelstrom: src/maelstrom/net.clj,
/// `latency-dist`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LatencyDist {
    /// Exactly `--latency` ms.
    #[default]
    Constant,
    /// Uniform integer in `[0, 2·latency)`.
    Uniform,
    /// Exponential with mean `latency`, truncated to whole ms.
    Exponential,
}

/// The `--availability` requirement.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Availability {
    /// Every invocation must complete ok.
    Total,
    /// At least this fraction of invocations must complete ok.
    Fraction(f64),
}

/// Everything that defines one test run.
#[derive(Debug, Clone)]
pub struct TestOpts {
    /// Maelstrom workload name (`-w`).
    pub workload: String,
    /// The node binary (`--bin`); None in in-process mode.
    pub bin: Option<PathBuf>,
    /// Arguments forwarded to the node binary.
    pub bin_args: Vec<String>,
    /// Node ids, `n0 … n(N-1)` with `--node-count N`.
    pub nodes: Vec<String>,
    /// Number of client worker threads.
    pub concurrency: usize,
    /// Seconds of main phase.
    pub time_limit: f64,
    /// Target ops per second across all workers (0 = no client ops).
    pub rate: f64,
    /// Network latency in ms.
    pub latency: u64,
    /// How latency is drawn.
    pub latency_dist: LatencyDist,
    /// The faults the nemesis injects (`--nemesis`); empty for none.
    pub nemesis: Faults,
    /// Mean seconds between nemesis operations.
    pub nemesis_interval: f64,
    /// The availability requirement, if any.
    pub availability: Option<Availability>,
    /// Consistency models for the txn checker (default strict-serializable).
    pub consistency_models: Vec<String>,
    /// Key pool size for kafka / txn workloads (workload default 10).
    pub key_count: Option<usize>,
    /// Longest transaction (txn workloads).
    pub max_txn_length: usize,
    /// Writes per key before the key is retired (txn, kafka).
    pub max_writes_per_key: usize,
    /// Broadcast topology name.
    pub topology: String,
    /// Echo node stderr to the console.
    pub log_stderr: bool,
    /// Seed for every random choice the bench makes.
    pub seed: u64,
    /// Where results are stored.
    pub store: PathBuf,
    /// Seconds to wait after healing before the final phase.
    pub recovery_wait: f64,
    /// Run our own handler in-process on a virtual clock.
    pub in_process: bool,
    /// Fail the run on what Maelstrom only logs (`--strict`): a node line
    /// that is not a deliverable message, a txn reply that does not match
    /// its request, a dependency cycle only Elle 0.2's probes see. Off by
    /// default, so the verdict is Maelstrom's.
    pub strict: bool,
}

impl Default for TestOpts {
    fn default() -> Self {
        TestOpts {
            workload: "lin-kv".into(),
            bin: None,
            bin_args: Vec::new(),
            nodes: (1..=5).map(|i| format!("n{i}")).collect(),
            concurrency: 5,
            time_limit: 60.0,
            rate: 5.0,
            latency: 0,
            latency_dist: LatencyDist::Constant,
            nemesis: Faults::new(),
            nemesis_interval: 10.0,
            availability: None,
            consistency_models: vec!["strict-serializable".into()],
            key_count: None,
            max_txn_length: 4,
            max_writes_per_key: 16,
            topology: "grid".into(),
            log_stderr: false,
            seed: 0,
            store: PathBuf::from("maelstrom-runs"),
            recovery_wait: 10.0,
            in_process: false,
            strict: false,
        }
    }
}

impl TestOpts {
    /// Options for `node_count` nodes `n0…`, with concurrency `1n`.
    pub fn with_nodes(node_count: usize) -> Self {
        TestOpts {
            nodes: (0..node_count).map(|i| format!("n{i}")).collect(),
            concurrency: node_count,
            ..TestOpts::default()
        }
    }
}
