//! `glomers test --test-count N`: the same test N times, each in its own
//! run directory, with a summary of all of them.
//!
//! # Maelstrom's behaviour
//!
//! `--test-count` is Jepsen's (jepsen: jepsen/src/jepsen/cli.clj,
//! `test-opt-spec` and `single-test-cmd`, v0.3.1 as Maelstrom 0.2.3 uses;
//! Maelstrom takes the option unchanged through `cli/single-test-cmd` in
//! maelstrom: src/maelstrom/core.clj): the test is built and run N times in
//! a row, each run its own store directory, and the command exits at the
//! first run that is not valid, with that run's code (1 invalid, 2
//! unknown; a crash ends it with 255).
//!
//! # Ours
//!
//! The runs, their directories and the exit code are Maelstrom's: the code
//! is that of the first run that is not valid, so a script sees what
//! Maelstrom would give. One deliberate difference: we do not stop there.
//! A learner repeats a test to learn *how often* a fault-tolerance bug
//! shows, so every run is done and the console ends with a summary listing
//! each (seed, verdict, run directory), failing ones marked. Only bad
//! arguments and Ctrl-C stop early. With `--seed S`, run i (from 0) uses
//! seed S + i, so each failing run replays on its own with `--seed`;
//! without it, each run draws a seed (printed, as always).

use super::check::Validity;
use super::cli::run_once;
use super::engine::{BenchError, EngineConfig};
use super::opts::TestOpts;
use std::path::PathBuf;

/// One run's line in the summary.
struct RunLine {
    /// The seed it ran with.
    seed: u64,
    /// Its verdict, or `crashed` for a test that could not complete.
    verdict: &'static str,
    /// Its exit code alone.
    code: i32,
    /// Its run directory, when stored.
    dir: Option<PathBuf>,
}

/// Run `opts` `count` times (seeds from `seed` up, or random); print each
/// run as `glomers test` does, then the summary. Returns the exit code.
pub fn run(opts: &TestOpts, seed: Option<u64>, count: u64, cfg: &EngineConfig) -> i32 {
    let mut lines: Vec<RunLine> = Vec::new();
    for i in 0..count {
        let mut o = opts.clone();
        o.seed = match seed {
            Some(s) => s.wrapping_add(i),
            None => rand::random(),
        };
        eprintln!("glomers: test {} of {count}, seed {}", i + 1, o.seed);
        let (code, outcome) = run_once(&o, cfg);
        let verdict = match &outcome {
            Ok(out) => match out.validity {
                Validity::Valid => "valid",
                Validity::Invalid => "INVALID",
                Validity::Unknown => "UNKNOWN",
            },
            Err(BenchError::BadArgs(_)) => return code,
            Err(BenchError::Interrupted) => {
                summary(&lines, count);
                return code;
            }
            Err(BenchError::Fatal(_)) => "CRASHED",
        };
        let dir = outcome.ok().and_then(|out| out.dir);
        lines.push(RunLine {
            seed: o.seed,
            verdict,
            code,
            dir,
        });
    }
    summary(&lines, count)
}

/// Print the summary; the exit code of the first run that is not valid
/// (Maelstrom's), or 0.
fn summary(lines: &[RunLine], count: u64) -> i32 {
    println!();
    println!("{} of {count} tests run:", lines.len());
    for (i, l) in lines.iter().enumerate() {
        let dir = l
            .dir
            .as_ref()
            .map_or_else(|| "-".to_string(), |d| d.display().to_string());
        println!(
            "  test {:<3} seed {:<20} {:<8} {dir}",
            i + 1,
            l.seed,
            l.verdict
        );
    }
    let failed: Vec<&RunLine> = lines.iter().filter(|l| l.code != 0).collect();
    let count_of = |v: &str| lines.iter().filter(|l| l.verdict == v).count();
    println!(
        "{} valid, {} invalid, {} unknown, {} crashed",
        count_of("valid"),
        count_of("INVALID"),
        count_of("UNKNOWN"),
        count_of("CRASHED")
    );
    for l in &failed {
        println!(
            "failed: seed {} {} (replay with --seed {} --test-count 1)",
            l.seed,
            l.verdict.to_lowercase(),
            l.seed
        );
    }
    failed.first().map_or(0, |l| l.code)
}
