//! The `glomers` command line: `test` (Maelstrom's `test` flags and
//! defaults, spec §6.1), `challenge` (the Fly.io pages' commands and
//! targets, spec §7) and `sweep` (many seeds in-process).
//!
//! A user can paste a `maelstrom test …` command and only change the
//! program name. Non-option arguments are forwarded to the node binary.
//! Exit codes: 0 valid, 1 invalid, 2 unknown, 254 bad arguments, 255 a
//! crashed node, failed init or internal error, 130 Ctrl-C.

use super::check::Validity;
use super::engine::{self, BenchError, EngineConfig, Outcome};
use super::opts::{Availability, LatencyDist, TestOpts};
use super::results;
use super::workloads;
use clap::{Args, Parser, Subcommand};
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;

/// Maelstrom's test flags, with Maelstrom's defaults, plus ours.
#[derive(Args, Debug, Clone)]
pub struct TestArgs {
    /// Workload to run (echo, unique-ids, broadcast, g-counter, pn-counter, kafka, txn-rw-register).
    #[arg(short = 'w', long = "workload", default_value = "lin-kv")]
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
    /// Faults to inject: `partition` (comma or space separated list).
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
    #[arg(long)]
    pub seed: Option<u64>,
    /// Where results are stored.
    #[arg(long, default_value = "maelstrom-runs")]
    pub store: PathBuf,
    /// Seconds between healing and the final operations.
    #[arg(long = "recovery-wait", default_value_t = 10.0)]
    pub recovery_wait: f64,
    /// Run our own handler for the workload in this process, on a virtual clock.
    #[arg(long = "in-process")]
    pub in_process: bool,
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
    /// Run a Fly.io sub-challenge (1, 2, 3a … 6c, or `all`) against our binaries.
    Challenge {
        /// Sub-challenge id, or `all`.
        id: String,
        /// Run our handlers in-process on a virtual clock.
        #[arg(long = "in-process")]
        in_process: bool,
        /// Seed (random if absent).
        #[arg(long)]
        seed: Option<u64>,
        /// Where results are stored.
        #[arg(long, default_value = "maelstrom-runs")]
        store: PathBuf,
        /// Extra test flags appended to the page's command (e.g. `--time-limit 5`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        extra: Vec<String>,
    },
    /// Run a test in-process for many seeds and list the failing ones.
    Sweep {
        /// How many seeds.
        #[arg(long, default_value_t = 100)]
        seeds: u64,
        /// The first seed.
        #[arg(long = "first-seed", default_value_t = 0)]
        first_seed: u64,
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

impl TestArgs {
    /// The test options these flags describe.
    pub fn to_opts(&self) -> Result<TestOpts, String> {
        check_dashes(&self.args)?;
        let nodes: Vec<String> = if let Some(n) = self.node_count {
            if n == 0 {
                return Err("--node-count must be positive".into());
            }
            (0..n).map(|i| format!("n{i}")).collect()
        } else if let Some(list) = &self.nodes {
            list.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()
        } else if !self.node.is_empty() {
            self.node.clone()
        } else {
            (1..=5).map(|i| format!("n{i}")).collect()
        };
        let c = self.concurrency.trim();
        let concurrency = if let Some(k) = c.strip_suffix('n') {
            k.parse::<usize>()
                .map_err(|_| format!("--concurrency {c}: expected N or Nn"))?
                * nodes.len()
        } else {
            c.parse::<usize>()
                .map_err(|_| format!("--concurrency {c}: expected N or Nn"))?
        };
        if concurrency == 0 {
            return Err("--concurrency must be positive".into());
        }
        if self.time_limit.is_nan() || self.time_limit <= 0.0 {
            return Err("--time-limit must be positive".into());
        }
        if !self.rate.is_finite() || self.rate < 0.0 {
            return Err("--rate must be a number ≥ 0".into());
        }
        let latency_dist = match self.latency_dist.as_str() {
            "constant" => LatencyDist::Constant,
            "uniform" => LatencyDist::Uniform,
            "exponential" => LatencyDist::Exponential,
            other => {
                return Err(format!(
                    "--latency-dist {other}: expected constant, uniform or exponential"
                ))
            }
        };
        let mut nemesis_partition = false;
        if let Some(n) = &self.nemesis {
            for f in n
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|s| !s.is_empty())
            {
                match f {
                    "partition" => nemesis_partition = true,
                    other => return Err(format!("--nemesis {other}: the only fault is partition")),
                }
            }
        }
        if self.nemesis_interval.is_nan() || self.nemesis_interval <= 0.0 {
            return Err("--nemesis-interval must be positive".into());
        }
        let availability = match self.availability.as_deref() {
            None => None,
            Some("total") => Some(Availability::Total),
            Some(x) => match x.parse::<f64>() {
                Ok(a) if (0.0..=1.0).contains(&a) => Some(Availability::Fraction(a)),
                _ => {
                    return Err(format!(
                        "--availability {x}: expected total or a number in [0, 1]"
                    ))
                }
            },
        };
        let consistency_models = self
            .consistency_models
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
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
            latency_dist,
            nemesis_partition,
            nemesis_interval: self.nemesis_interval,
            availability,
            consistency_models,
            key_count: self.key_count,
            max_txn_length: self.max_txn_length,
            max_writes_per_key: self.max_writes_per_key,
            topology: self.topology.clone(),
            log_stderr: self.log_stderr,
            seed: self.seed.unwrap_or_else(rand::random),
            store: self.store.clone(),
            recovery_wait: self.recovery_wait,
            in_process: self.in_process,
        })
    }

    fn engine_config(&self) -> EngineConfig {
        EngineConfig {
            init_timeout: Duration::from_secs_f64(self.init_timeout.max(0.001)),
            ..EngineConfig::default()
        }
    }
}

/// Run `glomers` with `argv` (program name first); returns the exit code.
pub fn main_with(argv: Vec<String>) -> i32 {
    if let Err(e) = check_dashes(&argv[1.min(argv.len())..]) {
        eprintln!("glomers: {e}");
        return 254;
    }
    let cli = match Cli::try_parse_from(&argv) {
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
            in_process,
            seed,
            store,
            extra,
        } => {
            let in_process = in_process || extra.iter().any(|a| a == "--in-process");
            challenge_command(&id, in_process, seed, &store, &extra)
        }
        Command::Sweep {
            seeds,
            first_seed,
            test,
        } => sweep_command(&test, first_seed, seeds, &argv),
        Command::Report { dir } => super::report::report_command(&dir),
        Command::Serve { store, port, host } => super::serve::serve_command(&store, &host, port),
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
}

fn run_test_command(args: &TestArgs) -> i32 {
    let opts = match args.to_opts() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("glomers: {e}");
            return 254;
        }
    };
    match engine::run(&opts, &args.engine_config()) {
        Ok(outcome) => {
            report(&outcome);
            results::exit_code(outcome.validity)
        }
        Err(e) => {
            eprintln!("glomers: {}", error_heading(&e));
            eprintln!("{e}");
            e.exit_code()
        }
    }
}

fn error_heading(e: &BenchError) -> &'static str {
    match e {
        BenchError::BadArgs(_) => "bad arguments:",
        BenchError::Fatal(_) => "the test could not complete:",
        BenchError::Interrupted => "interrupted; all nodes were stopped.",
    }
}

/// One row of scripts/challenges.tsv.
#[derive(Debug, Clone)]
pub struct Challenge {
    /// `1`, `2`, `3a`, …
    pub id: String,
    /// The `-w` workload.
    pub workload: String,
    /// Our binary's name under target/release.
    pub binary: String,
    /// The page's flags.
    pub flags: Vec<String>,
    /// Arguments for our node binary (after `--`).
    pub node_args: Vec<String>,
}

/// A measured figure for the console: whole numbers without decimals,
/// others with at most four (so 0.9996 is not shown as 1.000).
fn fmt_figure(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        let s = format!("{x:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// The whitespace-separated words of an optional column.
fn words(col: Option<&str>) -> Vec<String> {
    col.unwrap_or("")
        .split_whitespace()
        .map(String::from)
        .collect()
}

/// The Fly.io sub-challenges, from scripts/challenges.tsv.
pub fn challenges() -> Vec<Challenge> {
    include_str!("../../scripts/challenges.tsv")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let mut cols = l.split('\t');
            Some(Challenge {
                id: cols.next()?.to_string(),
                workload: cols.next()?.to_string(),
                binary: cols.next()?.to_string(),
                flags: words(cols.next()),
                node_args: words(cols.next()),
            })
        })
        .collect()
}

/// A page's numeric criteria: (label, measured, target, passes).
pub fn criteria(id: &str, results: &Value) -> Vec<(String, Option<f64>, String, bool)> {
    let mut out = Vec::new();
    let valid = results.get("valid?") == Some(&Value::Bool(true));
    out.push((
        "valid?".to_string(),
        Some(if valid { 1.0 } else { 0.0 }),
        "true".to_string(),
        valid,
    ));
    let num = |path: &[&str]| {
        let mut v = results;
        for p in path {
            v = v.get(*p)?;
        }
        v.as_f64()
    };
    let mut lt = |label: &str, path: &[&str], target: f64, unit: &str| {
        let m = num(path);
        out.push((
            label.to_string(),
            m,
            format!("< {target}{unit}"),
            m.is_some_and(|x| x < target),
        ));
    };
    match id {
        "3d" => {
            lt(
                "servers msgs-per-op",
                &["net", "servers", "msgs-per-op"],
                30.0,
                "",
            );
            lt(
                "median stable latency",
                &["workload", "stable-latencies", "0.5"],
                400.0,
                " ms",
            );
            lt(
                "max stable latency",
                &["workload", "stable-latencies", "1"],
                600.0,
                " ms",
            );
        }
        "3e" => {
            lt(
                "servers msgs-per-op",
                &["net", "servers", "msgs-per-op"],
                20.0,
                "",
            );
            lt(
                "median stable latency",
                &["workload", "stable-latencies", "0.5"],
                1000.0,
                " ms",
            );
            lt(
                "max stable latency",
                &["workload", "stable-latencies", "1"],
                2000.0,
                " ms",
            );
        }
        "2" | "6a" | "6b" | "6c" => {
            let m = num(&["availability", "ok-fraction"]);
            out.push((
                "ok-fraction".to_string(),
                m,
                "= 1".to_string(),
                m == Some(1.0),
            ));
        }
        _ => {}
    }
    out
}

fn challenge_command(
    id: &str,
    in_process: bool,
    seed: Option<u64>,
    store: &std::path::Path,
    extra: &[String],
) -> i32 {
    let all = challenges();
    let picked: Vec<&Challenge> = if id == "all" {
        all.iter().collect()
    } else {
        match all.iter().find(|c| c.id == id) {
            Some(c) => vec![c],
            None => {
                let ids: Vec<&str> = all.iter().map(|c| c.id.as_str()).collect();
                eprintln!(
                    "glomers: no challenge {id:?}; known: {}, all",
                    ids.join(", ")
                );
                return 254;
            }
        }
    };
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("."));
    let mut board: Vec<(String, String, String)> = Vec::new();
    let mut worst = 0;
    for ch in picked {
        let bin = exe_dir.join(&ch.binary);
        let mut argv: Vec<String> = vec![
            "glomers".into(),
            "test".into(),
            "-w".into(),
            ch.workload.clone(),
        ];
        if in_process {
            argv.push("--in-process".into());
        } else {
            argv.push("--bin".into());
            argv.push(bin.display().to_string());
        }
        argv.extend(ch.flags.iter().cloned());
        argv.push("--store".into());
        argv.push(store.display().to_string());
        if let Some(s) = seed {
            argv.push("--seed".into());
            argv.push(s.to_string());
        }
        argv.extend(extra.iter().cloned());
        if !ch.node_args.is_empty() {
            argv.push("--".into());
            argv.extend(ch.node_args.iter().cloned());
        }
        let shown = argv[1..].join(" ");
        let args = match Cli::try_parse_from(&argv) {
            Ok(Cli {
                command: Command::Test(a),
            }) => a,
            Ok(_) => unreachable!("argv starts with test"),
            Err(e) => {
                eprintln!("glomers: challenge {}: {e}", ch.id);
                return 254;
            }
        };
        let opts = match args.to_opts() {
            Ok(o) => o,
            Err(e) => {
                eprintln!("glomers: challenge {}: {e}", ch.id);
                return 254;
            }
        };
        if id == "all" {
            let have_workload = workloads::make(&ch.workload, &opts).is_ok();
            let have_node = if in_process {
                super::inprocess::host_for(&ch.workload, 0).is_some()
            } else {
                super::backend::check_binary(&bin).is_ok()
            };
            if !have_workload || !have_node {
                let why = if !have_workload {
                    "workload not implemented yet"
                } else if in_process {
                    "no in-process handler yet"
                } else {
                    "binary missing (cargo build --release)"
                };
                board.push((ch.id.clone(), "SKIP".into(), why.into()));
                continue;
            }
        }
        eprintln!("glomers: challenge {}: {shown}", ch.id);
        match engine::run(&opts, &args.engine_config()) {
            Ok(outcome) => {
                let crit = criteria(&ch.id, &outcome.results);
                let pass = crit.iter().all(|c| c.3);
                let mut figures = Vec::new();
                let r = &outcome.results;
                let verdict = r.get("valid?").cloned().unwrap_or(Value::Null);
                for (label, m, target, ok) in &crit {
                    let m = if label == "valid?" {
                        verdict.to_string()
                    } else {
                        m.map(fmt_figure).unwrap_or_else(|| "-".into())
                    };
                    let mark = if *ok { "ok" } else { "FAIL" };
                    eprintln!("  {label:<24} {m:>10}  target {target:<10} {mark}");
                    if label != "valid?" {
                        figures.push(format!("{label} {m}"));
                    }
                }
                figures.insert(0, format!("valid? {verdict}"));
                if !crit.iter().any(|c| c.0 == "servers msgs-per-op") {
                    if let Some(x) = r["net"]["servers"]["msgs-per-op"].as_f64() {
                        figures.push(format!("servers msgs-per-op {x:.3}"));
                    }
                }
                if !crit.iter().any(|c| c.0 == "ok-fraction") {
                    if let Some(x) = r["availability"]["ok-fraction"].as_f64() {
                        figures.push(format!("ok-fraction {}", fmt_figure(x)));
                    }
                }
                figures.push(format!("wall {:.1}s", outcome.wall.as_secs_f64()));
                if let Some(d) = &outcome.dir {
                    eprintln!("  results in {}", d.display());
                }
                eprintln!(
                    "challenge {}: {}",
                    ch.id,
                    if pass { "PASS" } else { "FAIL" }
                );
                if !pass {
                    worst = worst.max(1);
                }
                board.push((
                    ch.id.clone(),
                    if pass { "PASS".into() } else { "FAIL".into() },
                    figures.join(", "),
                ));
            }
            Err(e) => {
                eprintln!("glomers: challenge {}: {}\n{e}", ch.id, error_heading(&e));
                if matches!(e, BenchError::Interrupted) {
                    return 130;
                }
                worst = worst.max(if id == "all" { 1 } else { e.exit_code() });
                let first = e.to_string().lines().next().unwrap_or("").to_string();
                board.push((ch.id.clone(), "ERROR".into(), first));
            }
        }
    }
    println!("challenge  result  figures");
    for (id, res, fig) in &board {
        println!("{id:<10} {res:<7} {fig}");
    }
    worst
}

/// One seed's verdict in a sweep.
#[derive(Debug, Clone)]
pub struct SweepResult {
    /// The seed.
    pub seed: u64,
    /// Its verdict, or the error it hit.
    pub verdict: Result<Validity, String>,
}

/// Run `opts` in-process for seeds `first .. first + count`, without storing.
pub fn sweep(opts: &TestOpts, first: u64, count: u64) -> Vec<SweepResult> {
    let cfg = EngineConfig {
        write_store: false,
        verbose: false,
        ..EngineConfig::default()
    };
    (first..first.saturating_add(count))
        .map(|seed| {
            let mut o = opts.clone();
            o.seed = seed;
            o.in_process = true;
            SweepResult {
                seed,
                verdict: engine::run(&o, &cfg)
                    .map(|out| out.validity)
                    .map_err(|e| e.to_string()),
            }
        })
        .collect()
}

fn sweep_command(test: &TestArgs, first: u64, count: u64, argv: &[String]) -> i32 {
    let opts = match test.to_opts() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("glomers: {e}");
            return 254;
        }
    };
    // The replay command: the sweep's own flags minus the sweep-only ones.
    let mut flags = Vec::new();
    let mut it = argv.iter().skip(2);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seeds" | "--first-seed" | "--seed" => {
                it.next();
            }
            "--in-process" => {}
            s if s.starts_with("--seeds=")
                || s.starts_with("--first-seed=")
                || s.starts_with("--seed=") => {}
            _ => flags.push(a.clone()),
        }
    }
    if super::inprocess::host_for(&opts.workload, 0).is_none() {
        eprintln!(
            "glomers: sweep runs in-process, and there is no in-process handler for workload {:?} yet",
            opts.workload
        );
        return 254;
    }
    let results = sweep(&opts, first, count);
    let mut failing = 0;
    for r in &results {
        match &r.verdict {
            Ok(Validity::Valid) => {}
            other => {
                failing += 1;
                let what = match other {
                    Ok(v) => format!("{v:?}"),
                    Err(e) => format!("error: {}", e.lines().next().unwrap_or("")),
                };
                println!(
                    "seed {} {what}: glomers test --in-process {} --seed {}",
                    r.seed,
                    flags.join(" "),
                    r.seed
                );
            }
        }
    }
    println!("{} of {} seeds failed", failing, results.len());
    if failing > 0 {
        1
    } else {
        0
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
        assert!(o.nemesis_partition);
        assert_eq!(o.availability, Some(Availability::Total));
        assert_eq!(o.consistency_models, vec!["a", "b"]);
        assert_eq!(o.bin_args, vec!["extra"]);
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

    #[test]
    fn challenge_table_and_criteria() {
        let all = challenges();
        assert!(all
            .iter()
            .any(|c| c.id == "3d" && c.workload == "broadcast"));
        assert_eq!(all.len(), 14);
        let r = serde_json::json!({
            "valid?": true,
            "net": {"servers": {"msgs-per-op": 25.0}},
            "workload": {"stable-latencies": {"0.5": 350, "1": 650}},
        });
        let c = criteria("3d", &r);
        assert!(c[1].3 && c[2].3 && !c[3].3, "{c:?}");
        let c = criteria("3e", &r);
        assert!(!c[1].3, "25 is not < 20");
    }
}
