//! `glomers sweep`: one test, many seeds, in-process.
//!
//! An in-process run is a pure function of its options and seed, so a
//! sweep is a loop over seeds with the store and the console turned off;
//! a seed that is not valid is listed with a one-line `glomers test`
//! command that replays it exactly. CI sweeps the partitionable Fly.io
//! commands this way (`tests/sweeps.rs`).
//!
//! With `--bin` (and no `--in-process`) the sweep runs that binary in
//! process mode instead, `--jobs` runs at a time ([`super::parallel`]);
//! without `--bin`, or with `--in-process`, it is in-process as above.

use super::check::Validity;
use super::cli::TestArgs;
use super::engine::{self, EngineConfig};
use super::opts::TestOpts;
use super::parallel;

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

/// The replay command's flags: the sweep's own (after `glomers sweep`)
/// minus the sweep-only ones and the seed.
fn replay_flags(argv: &[String]) -> Vec<String> {
    let mut flags = Vec::new();
    let mut it = argv.iter().skip(2);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seeds" | "--first-seed" | "--seed" | "--jobs" | "-j" => {
                it.next();
            }
            "--in-process" => {}
            s if s.starts_with("--seeds=")
                || s.starts_with("--first-seed=")
                || s.starts_with("--seed=") => {}
            _ => flags.push(a.clone()),
        }
    }
    flags
}

/// `glomers sweep`: run, list the failing seeds; returns the exit code.
pub fn run_command(
    test: &TestArgs,
    first: u64,
    count: u64,
    jobs: Option<u64>,
    argv: &[String],
) -> i32 {
    let opts = match test.to_opts() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("glomers: {e}");
            return 254;
        }
    };
    if let Err(e) = super::workloads::find(&opts.workload) {
        eprintln!("glomers: {e}");
        return 254;
    }
    if test.test_count != 1 {
        eprintln!("glomers: sweep: --test-count is for `glomers test`; a sweep runs --seeds");
        return 254;
    }
    if let (Some(bin), false) = (&test.bin, test.in_process) {
        if let Err(e) = super::backend::check_binary(bin) {
            eprintln!("glomers: {e}");
            return 254;
        }
        return parallel::run(&parallel::Plan {
            flags: parallel::child_flags(argv),
            first,
            count,
            jobs: jobs.map_or_else(parallel::default_jobs, |j| j as usize),
            dir: parallel::sweep_dir(&test.store),
        });
    }
    if jobs.is_some() {
        eprintln!("glomers: sweep: --jobs is for process-mode sweeps (--bin); in-process seeds run one after another");
        return 254;
    }
    let flags = replay_flags(argv);
    let results = sweep(&opts, first, count);
    let mut failing = 0;
    for r in &results {
        let what = match &r.verdict {
            Ok(Validity::Valid) => continue,
            Ok(v) => format!("{v:?}"),
            Err(e) => format!("error: {}", e.lines().next().unwrap_or("")),
        };
        failing += 1;
        println!(
            "seed {} {what}: glomers test --in-process {} --seed {}",
            r.seed,
            flags.join(" "),
            r.seed
        );
    }
    println!("{} of {} seeds failed", failing, results.len());
    i32::from(failing > 0)
}
