//! `glomers sweep --bin PATH`: one test of any node binary over many seeds
//! in process mode, several runs at a time.
//!
//! # Why
//!
//! A fault-tolerance bug that shows one run in ten is caught by running
//! many seeds. In-process sweeps ([`super::sweep`]) do that in virtual
//! time, but only for our own handlers; a learner's node is a process, and
//! a process-mode run takes its real time limit, so the runs go side by
//! side.
//!
//! # Design
//!
//! Each seed is a child `glomers test … --seed S --store DIR/seed-S`, so
//! every run has its own store directory and console log
//! (`DIR/seed-S/console.log`), and a failing seed's replay command is
//! exactly what the child ran minus the store. `--jobs` children run at a
//! time (default: the number of cores). Each child is started through the
//! node launcher ([`super::launcher`]), so it dies if the sweep is killed,
//! and its own nodes die with it; children are started and waited for on
//! the sweep's one thread, as the launcher requires. The verdict is the
//! child's exit code (0 valid, 1 invalid, 2 unknown, 255 a crashed node or
//! failed setup). Progress is a line per finished seed on stderr; the
//! failing seeds, each with a one-line replay command, go to stdout, and
//! the sweep exits 1 if any failed.
//!
//! Runs side by side share the machine: a child's `results.json` says when
//! its run fell behind its schedule (`schedule/overloaded`), and the sweep
//! counts those runs, since their latency figures are the machine's. Fewer
//! `--jobs` fixes that.

use super::store;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What a sweep runs.
pub struct Plan {
    /// The `glomers test` flags of every run (node arguments last, after
    /// `--`), without seed and store.
    pub flags: Vec<String>,
    /// The first seed and how many.
    pub first: u64,
    /// How many seeds.
    pub count: u64,
    /// Runs at a time.
    pub jobs: usize,
    /// The sweep's directory: `seed-S/` per run inside.
    pub dir: PathBuf,
}

/// One finished seed.
struct Done {
    seed: u64,
    /// The child's exit code (None: killed by a signal).
    code: Option<i32>,
    wall: Duration,
    overloaded: bool,
}

impl Done {
    /// Its verdict in words.
    fn verdict(&self) -> &'static str {
        match self.code {
            Some(0) => "valid",
            Some(1) => "invalid",
            Some(2) => "unknown",
            Some(254) => "bad arguments",
            Some(130) => "interrupted",
            Some(_) => "crashed",
            None => "killed",
        }
    }
}

/// The default number of runs at a time: the number of cores.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// The child flags from the sweep's command line (after `glomers sweep`):
/// every word but the sweep's own options, the seed and the store, in the
/// user's spelling; node arguments after `--` are kept as they are.
pub fn child_flags(argv: &[String]) -> Vec<String> {
    const DROP: &[&str] = &[
        "--seeds",
        "--first-seed",
        "--jobs",
        "-j",
        "--seed",
        "--store",
    ];
    let mut out = Vec::new();
    let mut it = argv.iter().skip(2);
    while let Some(a) = it.next() {
        if a == "--" {
            out.push(a.clone());
            out.extend(it.by_ref().cloned());
            break;
        }
        if DROP.contains(&a.as_str()) {
            it.next();
        } else if !DROP.iter().any(|d| a.starts_with(&format!("{d}="))) && a != "--in-process" {
            out.push(a.clone());
        }
    }
    out
}

/// Run the plan; returns the exit code.
pub fn run(plan: &Plan) -> i32 {
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("glomers: sweep: cannot find the glomers binary: {e}");
            return 255;
        }
    };
    eprintln!(
        "glomers: sweep: {} seeds from {}, {} at a time: glomers test {} --seed S; runs in {}",
        plan.count,
        plan.first,
        plan.jobs,
        plan.flags.join(" "),
        plan.dir.display()
    );
    let mut next = plan.first;
    let end = plan.first.saturating_add(plan.count);
    let mut running: Vec<(u64, Child, Instant)> = Vec::new();
    let mut done: Vec<Done> = Vec::new();
    while next < end || !running.is_empty() {
        while next < end && running.len() < plan.jobs {
            match start(&exe, plan, next) {
                Ok(child) => running.push((next, child, Instant::now())),
                Err(e) => {
                    eprintln!("glomers: sweep: seed {next}: {e}");
                    return 255;
                }
            }
            next += 1;
        }
        std::thread::sleep(Duration::from_millis(50));
        let mut i = 0;
        while i < running.len() {
            match running[i].1.try_wait() {
                Ok(Some(status)) => {
                    let (seed, _, t0) = running.remove(i);
                    let d = Done {
                        seed,
                        code: status.code(),
                        wall: t0.elapsed(),
                        overloaded: overloaded(&seed_dir(plan, seed)),
                    };
                    progress(&d, &done, plan.count, running.len());
                    done.push(d);
                }
                Ok(None) => i += 1,
                Err(e) => {
                    eprintln!("glomers: sweep: seed {}: {e}", running[i].0);
                    i += 1;
                }
            }
        }
    }
    done.sort_by_key(|d| d.seed);
    summary(plan, &done)
}

/// The store directory of one seed.
fn seed_dir(plan: &Plan, seed: u64) -> PathBuf {
    plan.dir.join(format!("seed-{seed}"))
}

/// Start seed `seed`'s child, its output to `seed-S/console.log`.
fn start(exe: &Path, plan: &Plan, seed: u64) -> Result<Child, String> {
    let dir = seed_dir(plan, seed);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let log = dir.join("console.log");
    let out = File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let (flags, node_args) = match plan.flags.iter().position(|a| a == "--") {
        Some(i) => (&plan.flags[..i], &plan.flags[i..]),
        None => (&plan.flags[..], &[][..]),
    };
    let mut args = vec!["test".to_string()];
    args.extend(flags.iter().cloned());
    args.extend(["--seed".into(), seed.to_string(), "--store".into()]);
    args.push(dir.display().to_string());
    args.extend(node_args.iter().cloned());
    let mut cmd: Command = super::launcher::command(exe, exe, &args);
    cmd.stdin(Stdio::null()).stdout(out).stderr(err);
    cmd.spawn()
        .map_err(|e| format!("cannot start glomers test: {e}"))
}

/// Whether a seed's run fell behind its schedule (its results say so).
fn overloaded(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("latest/results.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .is_some_and(|r| r["schedule"]["overloaded"] == true)
}

/// A progress line for a finished seed.
fn progress(d: &Done, done: &[Done], count: u64, running: usize) {
    let failed = done.iter().filter(|x| x.code != Some(0)).count() + usize::from(d.code != Some(0));
    eprintln!(
        "glomers: sweep: seed {} {} in {:.1} s{} ({} of {count} done, {failed} failed, {running} running)",
        d.seed,
        d.verdict(),
        d.wall.as_secs_f64(),
        if d.overloaded { ", fell behind its schedule" } else { "" },
        done.len() + 1,
    );
}

/// Why a seed's run did not finish, from its console: the line after the
/// error heading (`Node n0 crashed with exit status 3. …`), else the last
/// non-empty line.
fn why_it_stopped(dir: &Path) -> String {
    let text = std::fs::read_to_string(dir.join("console.log")).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let after_heading = lines
        .iter()
        .position(|l| l.starts_with("glomers: the test could not complete:"))
        .and_then(|i| lines.get(i + 1));
    after_heading
        .or(lines.last())
        .map_or_else(String::new, |l| l.trim().to_string())
}

/// The failing seeds with their replay commands, and the count; the exit
/// code (1 if any seed failed).
fn summary(plan: &Plan, done: &[Done]) -> i32 {
    let (flags, node_args) = match plan.flags.iter().position(|a| a == "--") {
        Some(i) => (
            plan.flags[..i].join(" "),
            format!(" {}", plan.flags[i..].join(" ")),
        ),
        None => (plan.flags.join(" "), String::new()),
    };
    let mut failing = 0;
    for d in done.iter().filter(|d| d.code != Some(0)) {
        failing += 1;
        let dir = seed_dir(plan, d.seed);
        println!(
            "seed {} {}: glomers test {flags} --seed {}{node_args}",
            d.seed,
            d.verdict(),
            d.seed
        );
        if matches!(d.code, Some(1 | 2)) {
            println!("  run: {}", dir.join("latest").display());
        } else {
            println!(
                "  console: {} ({})",
                dir.join("console.log").display(),
                why_it_stopped(&dir)
            );
        }
    }
    let behind = done.iter().filter(|d| d.overloaded).count();
    if behind > 0 {
        println!(
            "{behind} of {} runs fell behind their schedule: their latency figures are the machine's (try fewer --jobs)",
            done.len()
        );
    }
    println!("{failing} of {} seeds failed", done.len());
    i32::from(failing > 0)
}

/// A fresh sweep directory under `store`: `sweep/<timestamp>`.
pub fn sweep_dir(store: &Path) -> PathBuf {
    let stamp = store::timestamp(std::time::SystemTime::now());
    let base = store.join("sweep");
    let mut dir = base.join(&stamp);
    let mut k = 1;
    while dir.exists() {
        dir = base.join(format!("{stamp}-{k}"));
        k += 1;
    }
    dir
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn child_flags_drop_the_sweeps_own_and_keep_node_args() {
        let argv: Vec<String> = [
            "glomers", "sweep", "--bin", "./n", "--seeds", "20", "-j", "2", "--store", "s",
            "--seed=3", "-w", "echo", "--", "--seeds", "x",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            child_flags(&argv),
            ["--bin", "./n", "-w", "echo", "--", "--seeds", "x"]
        );
    }
}
