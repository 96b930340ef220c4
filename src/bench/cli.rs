//! The `glomers` command line: `test` (Maelstrom's `test` flags and
//! defaults; maelstrom: src/maelstrom/core.clj, `cli-opts`, and jepsen:
//! src/jepsen/cli.clj), `challenge` (the Fly.io pages' commands and
//! targets, for our binaries or the user's, [`super::challenge`]) and
//! `sweep` (many seeds in-process, [`super::sweep`], or of any binary in
//! process mode, [`super::parallel`]); `test --test-count N` repeats a test
//! as Maelstrom does ([`super::repeat`]).
//!
//! A user can paste a `maelstrom test …` command and only change the
//! program name. Non-option arguments are forwarded to the node binary.
//! Exit codes: 0 valid, 1 invalid, 2 unknown, 254 bad arguments, 255 a
//! crashed node, failed init or internal error, 130 Ctrl-C.

use super::engine::{self, BenchError, EngineConfig, Outcome};
use super::nemesis::{Fault, Faults};
use super::opts::{Availability, LatencyDist, TestOpts};
use super::{challenge, results, sweep, workloads};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

/// Maelstrom's test flags, with Maelstrom's defaults, plus ours.
#[derive(Args, Debug, Clone)]
pub struct TestArgs {
    /// Workload to run (the names in the workload registry).
    #[arg(short = 'w', long = "workload", default_value = "lin-kv", help = workloads::help())]
    pub workload: String,
    /// The node binary to test.
    #[arg(long)]
    pub bin: Option<PathBuf>,
    /// Number of nodes n0…n(N-1) (overrides --node/--nodes).
    #[arg(long = "node-count")]
    pub node_count: Option<usize>,
    /// A node name (repeatable); default n1…n5.
    #[arg(short = 'n', long = "node")]
    pub node: Vec<String>,
    /// Comma-separated node names.
    #[arg(long)]
    pub nodes: Option<String>,
    /// Client workers: an integer, or `kn` for k × node count.
    #[arg(long, default_value = "1n")]
    pub concurrency: String,
    /// Seconds of main phase.
    #[arg(long = "time-limit", default_value_t = 60.0)]
    pub time_limit: f64,
    /// Target client operations per second (0: none).
    #[arg(long, default_value_t = 5.0)]
    pub rate: f64,
    /// Network latency in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency: u64,
    /// constant, uniform or exponential.
    #[arg(long = "latency-dist", default_value = "constant")]
    pub latency_dist: String,
    /// Faults to inject, comma-separated; known: partition.
    #[arg(long)]
    pub nemesis: Option<String>,
    /// Mean seconds between nemesis operations.
    #[arg(long = "nemesis-interval", default_value_t = 10.0)]
    pub nemesis_interval: f64,
    /// `total`, or the minimum fraction of ok operations.
    #[arg(long)]
    pub availability: Option<String>,
    /// Consistency models for txn checkers (`a,b` or `a , b`).
    #[arg(long = "consistency-models", default_value = "strict-serializable")]
    pub consistency_models: String,
    /// Key pool size (kafka, txn).
    #[arg(long = "key-count")]
    pub key_count: Option<usize>,
    /// Longest transaction.
    #[arg(long = "max-txn-length", default_value_t = 4)]
    pub max_txn_length: usize,
    /// Writes per key before it is retired.
    #[arg(long = "max-writes-per-key", default_value_t = 16)]
    pub max_writes_per_key: usize,
    /// Broadcast topology: grid, line, total, tree, tree2, tree3, tree4.
    #[arg(long, default_value = "grid")]
    pub topology: String,
    /// Echo node stderr to the console.
    #[arg(long = "log-stderr")]
    pub log_stderr: bool,
    /// Accepted for compatibility; every message is always journaled.
    #[arg(long = "log-net-send", hide = true)]
    pub log_net_send: bool,
    /// Accepted for compatibility; every message is always journaled.
    #[arg(long = "log-net-recv", hide = true)]
    pub log_net_recv: bool,
    /// Seed for every random choice of the bench (random if absent; printed).
    /// With --test-count N, test i (from 0) runs seed + i.
    #[arg(long)]
    pub seed: Option<u64>,
    /// How many times to run the test, each in its own run directory
    /// (Maelstrom's --test-count); the console ends with a summary of them.
    #[arg(long = "test-count", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub test_count: u64,
    /// Where results are stored.
    #[arg(long, default_value = "maelstrom-runs")]
    pub store: PathBuf,
    /// Seconds between healing and the final operations.
    #[arg(long = "recovery-wait", default_value_t = 10.0)]
    pub recovery_wait: f64,
    /// Run our own handler for the workload in this process, on a virtual clock.
    #[arg(long = "in-process")]
    pub in_process: bool,
    /// Fail the run on what Maelstrom only logs: a node line that is not a
    /// deliverable message, a txn reply that does not match its request, a
    /// dependency cycle only Elle 0.2's probes see.
    #[arg(long)]
    pub strict: bool,
    /// Seconds a node has to answer init (Maelstrom: 10).
    #[arg(long = "init-timeout", default_value_t = 10.0, hide = true)]
    pub init_timeout: f64,
    /// Arguments forwarded to the node binary.
    #[arg(allow_hyphen_values = false)]
    pub args: Vec<String>,
}

/// `glomers`: a JVM-free, Maelstrom-compatible bench.
#[derive(Parser, Debug)]
#[command(name = "glomers", version, about, args_override_self = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a test, like `maelstrom test`.
    Test(TestArgs),
    /// Run a Fly.io sub-challenge (1, 2, 3a … 6c, or `all`), or a command of
    /// Maelstrom's guide (m-gset, m-pn, m-raft, m-raft-hard, m-datomic, or
    /// `guide`), against our binaries or your own (`--bin`, `--bin-dir`),
    /// judged against the page's targets with a hint for each one missed.
    /// Arguments after `--` go to the node.
    Challenge {
        /// Sub-challenge id, `all` (the Fly.io rows) or `guide` (the m- rows).
        id: String,
        /// Your node binary, run for every requested sub-challenge instead
        /// of ours.
        #[arg(long)]
        bin: Option<PathBuf>,
        /// A directory of your node binaries, each named after its
        /// workload (echo, unique-ids, broadcast, g-counter, kafka,
        /// txn-rw-register; or with `.py`, or Fly.io's Go names such as
        /// maelstrom-echo); a missing one is reported, not run.
        #[arg(long = "bin-dir")]
        bin_dir: Option<PathBuf>,
        /// Run our handlers in-process on a virtual clock.
        #[arg(long = "in-process")]
        in_process: bool,
        /// Seed (random if absent).
        #[arg(long)]
        seed: Option<u64>,
        /// Where results are stored.
        #[arg(long, default_value = "maelstrom-runs")]
        store: PathBuf,
        /// Hard mode: the page's command with kill and pause beside
        /// partitions (the row's `hard` column), judged by validity alone.
        #[arg(long)]
        hard: bool,
        /// Extra test flags appended to the page's command (e.g. `--time-limit 5`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        extra: Vec<String>,
    },
    /// Run a test for many seeds and list the failing ones: in-process
    /// (our handlers, virtual clock), or, with --bin, your binary in
    /// process mode, --jobs runs at a time, each in its own store directory.
    Sweep {
        /// How many seeds.
        #[arg(long, default_value_t = 100)]
        seeds: u64,
        /// The first seed.
        #[arg(long = "first-seed", default_value_t = 0)]
        first_seed: u64,
        /// Process mode: how many runs at a time (default: the number of
        /// cores).
        #[arg(long, short = 'j', value_parser = clap::value_parser!(u64).range(1..))]
        jobs: Option<u64>,
        /// The test flags.
        #[command(flatten)]
        test: TestArgs,
    },
    /// Draw a run's pictures again from its files (plots, messages.html,
    /// timeline.html).
    Report {
        /// The run directory (e.g. `maelstrom-runs/broadcast/latest`).
        dir: PathBuf,
    },
    /// Browse the store in a web browser.
    Serve {
        /// The store to serve.
        #[arg(long, default_value = "maelstrom-runs")]
        store: PathBuf,
        /// The port (0 picks a free one).
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// The address to bind; only this machine by default.
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
    },
}

/// Non-ASCII characters that look like a dash.
const DASHES: &[char] = &[
    '\u{2010}', '\u{2011}', '\u{2012}', '\u{2013}', '\u{2014}', '\u{2015}', '\u{2212}', '\u{FE58}',
    '\u{FE63}', '\u{FF0D}',
];

/// Refuse an argument that starts with a non-ASCII dash (the published 6c
/// command's `–-nemesis`), showing the ASCII spelling.
pub fn check_dashes(args: &[String]) -> Result<(), String> {
    for a in args {
        if a.starts_with(DASHES) {
            let body = a.trim_start_matches(|c: char| DASHES.contains(&c) || c == '-');
            let lead = a.len() - body.len();
            let dashes = a[..lead].chars().count();
            let fixed = format!("{}{body}", "-".repeat(dashes.clamp(1, 2)));
            return Err(format!(
                "argument {a:?} starts with a non-ASCII dash; did you mean {fixed:?}? \
                 (Maelstrom would silently pass it to the node binary instead of using it as a flag)"
            ));
        }
    }
    Ok(())
}

/// A parser for `glomers test`'s flags alone; a later flag overrides an
/// earlier one, so extra flags can override a challenge's.
#[derive(Parser, Debug)]
#[command(no_binary_name = true, args_override_self = true)]
struct FlagsOnly {
    #[command(flatten)]
    test: TestArgs,
}

/// Parse `glomers test` flags (without the program and subcommand names).
pub fn parse_test_flags(words: &[String]) -> Result<TestArgs, String> {
    check_dashes(words)?;
    FlagsOnly::try_parse_from(words)
        .map(|f| f.test)
        .map_err(|e| e.to_string())
}

impl TestArgs {
    /// The test options these flags describe.
    pub fn to_opts(&self) -> Result<TestOpts, String> {
        check_dashes(&self.args)?;
        let nodes = self.node_names()?;
        let concurrency = self.worker_count(nodes.len())?;
        if self.time_limit.is_nan() || self.time_limit <= 0.0 {
            return Err("--time-limit must be positive".into());
        }
        if !self.rate.is_finite() || self.rate < 0.0 {
            return Err("--rate must be a number ≥ 0".into());
        }
        if self.nemesis_interval.is_nan() || self.nemesis_interval <= 0.0 {
            return Err("--nemesis-interval must be positive".into());
        }
        if self.recovery_wait.is_nan() || self.recovery_wait < 0.0 {
            return Err("--recovery-wait must be ≥ 0".into());
        }
        Ok(TestOpts {
            workload: self.workload.clone(),
            bin: self.bin.clone(),
            bin_args: self.args.clone(),
            nodes,
            concurrency,
            time_limit: self.time_limit,
            rate: self.rate,
            latency: self.latency,
            latency_dist: self.latency_dist()?,
            nemesis: match &self.nemesis {
                Some(list) => Fault::parse_list(list)?,
                None => Faults::new(),
            },
            nemesis_interval: self.nemesis_interval,
            availability: self.availability()?,
            consistency_models: comma_list(&self.consistency_models),
            key_count: self.key_count,
            max_txn_length: self.max_txn_length,
            max_writes_per_key: self.max_writes_per_key,
            topology: self.topology.clone(),
            log_stderr: self.log_stderr,
            seed: self.seed.unwrap_or_else(rand::random),
            store: self.store.clone(),
            recovery_wait: self.recovery_wait,
            in_process: self.in_process,
            strict: self.strict,
        })
    }

    /// `--node-count`, else `--nodes`, else `--node`s, else n1…n5.
    fn node_names(&self) -> Result<Vec<String>, String> {
        Ok(if let Some(n) = self.node_count {
            if n == 0 {
                return Err("--node-count must be positive".into());
            }
            (0..n).map(|i| format!("n{i}")).collect()
        } else if let Some(list) = &self.nodes {
            comma_list(list)
        } else if !self.node.is_empty() {
            self.node.clone()
        } else {
            (1..=5).map(|i| format!("n{i}")).collect()
        })
    }

    /// `--concurrency N` or `kn` (k per node).
    fn worker_count(&self, node_count: usize) -> Result<usize, String> {
        let c = self.concurrency.trim();
        let bad = |_| format!("--concurrency {c}: expected N or Nn");
        let n = match c.strip_suffix('n') {
            Some(k) => k.parse::<usize>().map_err(bad)? * node_count,
            None => c.parse::<usize>().map_err(bad)?,
        };
        if n == 0 {
            return Err("--concurrency must be positive".into());
        }
        Ok(n)
    }

    fn latency_dist(&self) -> Result<LatencyDist, String> {
        match self.latency_dist.as_str() {
            "constant" => Ok(LatencyDist::Constant),
            "uniform" => Ok(LatencyDist::Uniform),
            "exponential" => Ok(LatencyDist::Exponential),
            other => Err(format!(
                "--latency-dist {other}: expected constant, uniform or exponential"
            )),
        }
    }

    fn availability(&self) -> Result<Option<Availability>, String> {
        match self.availability.as_deref() {
            None => Ok(None),
            Some("total") => Ok(Some(Availability::Total)),
            Some(x) => match x.parse::<f64>() {
                Ok(a) if (0.0..=1.0).contains(&a) => Ok(Some(Availability::Fraction(a))),
                _ => Err(format!(
                    "--availability {x}: expected total or a number in [0, 1]"
                )),
            },
        }
    }

    /// The engine settings these flags describe.
    pub fn engine_config(&self) -> EngineConfig {
        EngineConfig {
            init_timeout: Duration::from_secs_f64(self.init_timeout.max(0.001)),
            ..EngineConfig::default()
        }
    }
}

/// The trimmed, non-empty items of a comma-separated list.
fn comma_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// Run `glomers` with `argv` (program name first); returns the exit code.
pub fn main_with(argv: Vec<String>) -> i32 {
    if let Err(e) = check_dashes(&argv[1.min(argv.len())..]) {
        eprintln!("glomers: {e}");
        return 254;
    }
    let (head, node_args) = split_challenge_node_args(&argv);
    let cli = match Cli::try_parse_from(head) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 254 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    match cli.command {
        Command::Test(args) => run_test_command(&args),
        Command::Challenge {
            id,
            bin,
            bin_dir,
            in_process,
            seed,
            store,
            hard,
            extra,
        } => challenge::run(&challenge::Request {
            id,
            in_process,
            seed,
            store,
            extra,
            bin,
            bin_dir,
            node_args: node_args.to_vec(),
            hard,
        }),
        Command::Sweep {
            seeds,
            first_seed,
            jobs,
            test,
        } => sweep::run_command(&test, first_seed, seeds, jobs, &argv),
        Command::Report { dir } => super::report::report_command(&dir),
        Command::Serve { store, port, host } => super::serve::serve_command(&store, &host, port),
    }
}

/// For `glomers challenge`, the words before the first `--` and the node
/// arguments after it (clap would hand a `--` right after the id's flags
/// to the extra test flags, where it means nothing); other commands keep
/// every word, as their node arguments are clap's own.
fn split_challenge_node_args(argv: &[String]) -> (&[String], &[String]) {
    if argv.get(1).map(String::as_str) != Some("challenge") {
        return (argv, &[]);
    }
    match argv.iter().position(|a| a == "--") {
        Some(i) => (&argv[..i], &argv[i + 1..]),
        None => (argv, &[]),
    }
}

/// Print the outcome like Maelstrom: the result map, then the verdict line.
fn report(outcome: &Outcome) {
    println!(
        "{}",
        serde_json::to_string_pretty(&outcome.results).unwrap_or_default()
    );
    if let Some(d) = &outcome.dir {
        eprintln!("glomers: results in {}", d.display());
    }
    eprintln!(
        "glomers: seed {}, wall time {:.2} s",
        outcome.seed,
        outcome.wall.as_secs_f64()
    );
    println!();
    println!("{}", results::verdict_line(outcome.validity));
    for w in &outcome.warnings {
        eprintln!("glomers: WARNING: {w}");
    }
}

fn run_test_command(args: &TestArgs) -> i32 {
    let opts = match args.to_opts() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("glomers: {e}");
            return 254;
        }
    };
    if args.test_count > 1 {
        return super::repeat::run(&opts, args.seed, args.test_count, &args.engine_config());
    }
    run_once(&opts, &args.engine_config()).0
}

/// Run one test and print it like Maelstrom; its exit code, and the
/// outcome when there was one.
pub fn run_once(opts: &TestOpts, cfg: &EngineConfig) -> (i32, Result<Outcome, BenchError>) {
    match engine::run(opts, cfg) {
        Ok(outcome) => {
            report(&outcome);
            (results::exit_code(outcome.validity), Ok(outcome))
        }
        Err(e) => {
            eprintln!("glomers: {}", error_heading(&e));
            eprintln!("{e}");
            (e.exit_code(), Err(e))
        }
    }
}

/// The console heading for an error.
pub fn error_heading(e: &BenchError) -> &'static str {
    match e {
        BenchError::BadArgs(_) => "bad arguments:",
        BenchError::Fatal(_) => "the test could not complete:",
        BenchError::Interrupted => "interrupted; all nodes were stopped.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> TestArgs {
        let mut argv = vec!["glomers", "test"];
        argv.extend_from_slice(args);
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Test(a) => a,
            _ => panic!("test expected"),
        }
    }

    #[test]
    fn maelstrom_defaults_and_flags() {
        let o = parse(&["--bin", "x"]).to_opts().unwrap();
        assert_eq!(o.nodes, vec!["n1", "n2", "n3", "n4", "n5"]);
        assert_eq!(o.concurrency, 5);
        assert_eq!(o.workload, "lin-kv");
        assert_eq!(o.time_limit, 60.0);
        assert_eq!(o.rate, 5.0);
        let o = parse(&[
            "-w",
            "kafka",
            "--bin",
            "x",
            "--node-count",
            "2",
            "--concurrency",
            "2n",
            "--availability",
            "total",
            "--nemesis",
            "partition",
            "--consistency-models",
            "a , b",
            "extra",
        ])
        .to_opts()
        .unwrap();
        assert_eq!(o.nodes, vec!["n0", "n1"]);
        assert_eq!(o.concurrency, 4);
        assert_eq!(o.nemesis, Faults::from([Fault::Partition]));
        assert_eq!(o.availability, Some(Availability::Total));
        assert_eq!(o.consistency_models, vec!["a", "b"]);
        assert_eq!(o.bin_args, vec!["extra"]);
    }

    #[test]
    fn challenge_node_args_are_split_at_the_first_double_dash() {
        let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let argv = words(&[
            "glomers",
            "challenge",
            "3a",
            "--bin",
            "x",
            "--",
            "--a",
            "--",
            "b",
        ]);
        let (head, node) = split_challenge_node_args(&argv);
        assert_eq!(head, &argv[..5]);
        assert_eq!(node, ["--a", "--", "b"]);
        let argv = words(&["glomers", "test", "--bin", "x", "--", "--a"]);
        assert_eq!(split_challenge_node_args(&argv), (&argv[..], &[][..]));
        assert_eq!(parse(&["--test-count", "5"]).test_count, 5);
        let argv = words(&["glomers", "test", "-w", "echo", "--test-count", "0"]);
        assert_eq!(main_with(argv), 254);
    }

    #[test]
    fn en_dash_is_refused_with_the_ascii_spelling() {
        let e = check_dashes(&["–-nemesis".to_string()]).unwrap_err();
        assert!(e.contains("\"--nemesis\""), "{e}");
        assert!(check_dashes(&["--nemesis".into(), "partition".into()]).is_ok());
        let argv: Vec<String> = ["glomers", "test", "-w", "echo", "–-nemesis", "partition"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(main_with(argv), 254);
    }
}
