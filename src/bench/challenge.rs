//! `glomers challenge`: the Fly.io Gossip Glomers sub-challenges as data,
//! run against our binaries (or our handlers, in-process) and judged
//! against each page's targets.
//!
//! # Design
//!
//! Everything a sub-challenge is sits in one row of
//! `scripts/challenges.tsv`: the page's Maelstrom flags, arguments for our
//! node binary, and the page's numeric targets (`servers msgs-per-op < 30`
//! and the like, as key paths into the result map). The same table feeds
//! `scripts/maelstrom.sh`, so a row runs identically on real Maelstrom. Our
//! binary comes from the workload registry ([`super::workloads::REGISTRY`]).
//! A run's options are built directly: the row's flags (plus any extra flags
//! from the command line, which override them) are parsed once as test
//! flags, then the binary, store, seed and node arguments are set on them.
//!
//! Every run must be `valid? true`; the targets come on top. The console
//! ends with a board: one line per sub-challenge with its result and
//! figures, and under a failed one a plain-language hint per failed figure
//! (its value, the target, the usual cause: [`super::hints`]).
//!
//! # Your own node
//!
//! The presets are for any binary, not only ours: `glomers challenge 3b
//! --bin ./my-node [-- node args]` runs the page's command against
//! `./my-node` (the row's node arguments are for our binary and are not
//! passed; what follows `--` is), and `glomers challenge all --bin-dir
//! DIR` looks each sub-challenge's binary up in `DIR` by its workload's
//! name, as our own `bin/` names are ([`binary_names`]: `broadcast`,
//! `broadcast.py`, or Fly.io's Go names such as `maelstrom-broadcast`). A
//! sub-challenge whose binary is missing is on the board as `MISSING`, with
//! the names tried; it does not fail the board (a learner part-way through
//! sees what passes so far), while a single id with no binary is a bad
//! argument (254).
//!
//! # Groups
//!
//! The table holds two groups. The Fly.io sub-challenges (ids `1` … `6c`)
//! are what `all` runs, as before: their verdicts and figures are the
//! project's baseline, and adding rows must not change what `all` prints.
//! The commands of Maelstrom's own guide (ids starting with `m-`: `m-gset`,
//! `m-pn`, `m-raft`, `m-raft-hard`, `m-datomic`) are run one at a time by
//! id, or together with `guide`; their targets are the figures of
//! Maelstrom's demo nodes measured on the same commands (a `>` target, such
//! as a least ok-fraction, is allowed for them).
//!
//! # Hard mode
//!
//! `--hard` runs a row with its `hard` column's flags after the page's:
//! `--nemesis partition,kill,pause` and a shorter nemesis interval, so a
//! 10–20 s test goes through several kill/restart and pause/resume cycles
//! (with the default 10 s a one-node test may spend all of it with its
//! only node down). Faults beyond Maelstrom: only our bench has them,
//! which is why the column is separate and `scripts/maelstrom.sh` never
//! reads it. A hard run is judged by validity alone (see [`judge`]).
//!
//! The commands and targets are the pages' (https://fly.io/dist-sys/1 …
//! /6c); the 6c page's `–-nemesis` (an en-dash, which Maelstrom forwards to
//! the node) is spelled as the ASCII flag in the table.

use super::cli::{self, error_heading, TestArgs};
use super::engine::{self, BenchError, Outcome};
use super::{hints, workloads};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// How a measured figure is compared with its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    /// The figure must be below the target.
    Below,
    /// The figure must equal the target.
    Equal,
    /// The figure must be above the target.
    Above,
}

/// One of a page's numeric targets.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// What the console calls it (`servers msgs-per-op`).
    pub label: String,
    /// Key path into the result map (`net`, `servers`, `msgs-per-op`).
    pub path: Vec<String>,
    /// The comparison.
    pub cmp: Cmp,
    /// The target value.
    pub value: f64,
    /// A unit shown after the value (` ms`), or empty.
    pub unit: String,
}

impl Target {
    /// Parse `label: a/b/c < 30 [unit]`, `label: a/b = 1` or
    /// `label: a/b > 0.5`.
    pub fn parse(text: &str) -> Result<Target, String> {
        let bad = |why: &str| format!("target {text:?}: {why}");
        let (label, spec) = text.split_once(':').ok_or_else(|| bad("no `label:`"))?;
        let mut words = spec.split_whitespace();
        let path = words.next().ok_or_else(|| bad("no key path"))?;
        let cmp = match words.next() {
            Some("<") => Cmp::Below,
            Some("=") => Cmp::Equal,
            Some(">") => Cmp::Above,
            _ => return Err(bad("expected `<`, `=` or `>` after the path")),
        };
        let value = words
            .next()
            .and_then(|v| v.parse::<f64>().ok())
            .ok_or_else(|| bad("expected a number"))?;
        let unit: Vec<&str> = words.collect();
        Ok(Target {
            label: label.trim().to_string(),
            path: path.split('/').map(String::from).collect(),
            cmp,
            value,
            unit: unit.iter().map(|u| format!(" {u}")).collect(),
        })
    }

    /// Judge `results` against this target.
    pub fn judge(&self, results: &Value) -> Criterion {
        let measured = self
            .path
            .iter()
            .try_fold(results, |v, k| v.get(k.as_str()))
            .and_then(Value::as_f64);
        let (sign, pass) = match self.cmp {
            Cmp::Below => ("<", measured.is_some_and(|m| m < self.value)),
            Cmp::Equal => ("=", measured == Some(self.value)),
            Cmp::Above => (">", measured.is_some_and(|m| m > self.value)),
        };
        Criterion {
            label: self.label.clone(),
            measured,
            target: format!("{sign} {}{}", self.value, self.unit),
            pass,
        }
    }
}

/// One judged criterion.
#[derive(Debug, Clone, PartialEq)]
pub struct Criterion {
    /// Its label.
    pub label: String,
    /// The measured figure, if the result map has it.
    pub measured: Option<f64>,
    /// The target, as shown (`< 400 ms`).
    pub target: String,
    /// Whether the figure meets it.
    pub pass: bool,
}

/// One row of scripts/challenges.tsv.
#[derive(Debug, Clone)]
pub struct Challenge {
    /// `1`, `2`, `3a`, …
    pub id: String,
    /// The `-w` workload.
    pub workload: String,
    /// The page's flags.
    pub flags: Vec<String>,
    /// Arguments for our node binary (after `--`).
    pub node_args: Vec<String>,
    /// The page's targets besides validity.
    pub targets: Vec<Target>,
    /// Flags that make the row's hard mode (`--hard`): the faults beyond
    /// Maelstrom. Empty when the row has none.
    pub hard: Vec<String>,
}

impl Challenge {
    /// Validity first, then the page's targets.
    pub fn criteria(&self, results: &Value) -> Vec<Criterion> {
        let valid = results.get("valid?") == Some(&Value::Bool(true));
        let mut out = vec![Criterion {
            label: "valid?".into(),
            measured: Some(if valid { 1.0 } else { 0.0 }),
            target: "true".into(),
            pass: valid,
        }];
        out.extend(self.targets.iter().map(|t| t.judge(results)));
        out
    }
}

/// The whitespace-separated words of an optional column.
fn words(col: Option<&str>) -> Vec<String> {
    col.unwrap_or("")
        .split_whitespace()
        .map(String::from)
        .collect()
}

/// The prefix of the ids of Maelstrom's guide rows.
pub const GUIDE_PREFIX: &str = "m-";

/// Which rows a request names: one id, `all` (the Fly.io rows) or `guide`
/// (the rows of Maelstrom's guide).
pub fn pick<'a>(all: &'a [Challenge], id: &str) -> Option<Vec<&'a Challenge>> {
    let picked: Vec<&Challenge> = match id {
        "all" => all
            .iter()
            .filter(|c| !c.id.starts_with(GUIDE_PREFIX))
            .collect(),
        "guide" => all
            .iter()
            .filter(|c| c.id.starts_with(GUIDE_PREFIX))
            .collect(),
        _ => all.iter().filter(|c| c.id == id).collect(),
    };
    (!picked.is_empty()).then_some(picked)
}

/// Whether a request runs a group (so a row that cannot run is skipped
/// rather than ending the run).
fn is_group(id: &str) -> bool {
    id == "all" || id == "guide"
}

/// Every row of scripts/challenges.tsv: the Fly.io sub-challenges, then
/// the commands of Maelstrom's guide.
pub fn challenges() -> Result<Vec<Challenge>, String> {
    let rows = include_str!("../../scripts/challenges.tsv")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty());
    rows.map(|l| {
        let mut cols = l.split('\t');
        let id = cols.next().unwrap_or("").to_string();
        let workload = cols
            .next()
            .ok_or_else(|| format!("challenges.tsv row {id}: no workload"))?
            .to_string();
        let flags = words(cols.next());
        let node_args = words(cols.next());
        let targets = cols
            .next()
            .unwrap_or("")
            .split(';')
            .filter(|t| !t.trim().is_empty())
            .map(Target::parse)
            .collect::<Result<_, _>>()
            .map_err(|e| format!("challenges.tsv row {id}: {e}"))?;
        let hard = words(cols.next());
        Ok(Challenge {
            id,
            workload,
            flags,
            node_args,
            targets,
            hard,
        })
    })
    .collect()
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

/// What `glomers challenge` was asked to do.
#[derive(Debug, Clone)]
pub struct Request {
    /// A sub-challenge id, or `all`.
    pub id: String,
    /// Run our handlers in-process.
    pub in_process: bool,
    /// The seed (random if absent).
    pub seed: Option<u64>,
    /// Where results are stored.
    pub store: PathBuf,
    /// Extra test flags appended to the page's.
    pub extra: Vec<String>,
    /// A node binary of one's own, run for every requested sub-challenge
    /// instead of ours (also taken from `--bin` among the extra flags).
    pub bin: Option<PathBuf>,
    /// A directory of node binaries named after workloads ([`find_in_dir`]).
    pub bin_dir: Option<PathBuf>,
    /// Arguments for the node (what followed `--`); with our binaries they
    /// come after the row's own node arguments.
    pub node_args: Vec<String>,
    /// Hard mode: the row's `hard` flags after the page's (kill and pause
    /// beside partitions), judged by validity alone.
    pub hard: bool,
}

/// Whose binary a request runs.
#[derive(Debug, Clone, PartialEq)]
enum Binary {
    /// Ours, beside the running `glomers` (or our handlers, in-process).
    Ours,
    /// The user's, for every sub-challenge.
    One(PathBuf),
    /// The user's, found by workload name in a directory.
    Dir(PathBuf),
}

/// The names a node binary for `workload` may have in a `--bin-dir`, in
/// the order they are tried: the workload itself (as our `bin/`), with
/// `.py`, and the names of Fly.io's Go tutorial (`maelstrom-echo`, …,
/// `maelstrom-counter` for g-counter, `maelstrom-txn` for
/// txn-rw-register), so `--bin-dir ~/go/bin` works as installed.
pub fn binary_names(workload: &str) -> Vec<String> {
    let mut names = vec![
        workload.to_string(),
        format!("{workload}.py"),
        format!("maelstrom-{workload}"),
    ];
    match workload {
        "g-counter" => names.push("maelstrom-counter".into()),
        "txn-rw-register" => names.push("maelstrom-txn".into()),
        _ => {}
    }
    names
}

/// The node binary for `workload` in `dir` (the first of
/// [`binary_names`] that is an executable file), or why there is none.
pub fn find_in_dir(dir: &Path, workload: &str) -> Result<PathBuf, String> {
    let names = binary_names(workload);
    names
        .iter()
        .map(|n| dir.join(n))
        .find(|p| super::backend::check_binary(p).is_ok())
        .ok_or_else(|| format!("no executable {} in {}", names.join(", "), dir.display()))
}

/// One line of the closing board, and the hints under a failed one.
#[derive(Debug, Clone)]
struct BoardLine {
    /// The sub-challenge id.
    id: String,
    /// PASS, FAIL, SKIP, MISSING or ERROR.
    result: &'static str,
    /// Figures, or why it did not run.
    figures: String,
    /// Plain-language hints for each failed figure ([`hints`]).
    hints: Vec<String>,
}

impl BoardLine {
    fn new(id: &str, result: &'static str, figures: impl Into<String>) -> BoardLine {
        BoardLine {
            id: id.to_string(),
            result,
            figures: figures.into(),
            hints: Vec::new(),
        }
    }
}

/// Run the requested sub-challenges; returns the exit code.
pub fn run(req: &Request) -> i32 {
    let all = match challenges() {
        Ok(all) => all,
        Err(e) => {
            eprintln!("glomers: {e}");
            return 254;
        }
    };
    let Some(picked) = pick(&all, &req.id) else {
        let ids: Vec<&str> = all.iter().map(|c| c.id.as_str()).collect();
        eprintln!(
            "glomers: no challenge {:?}; known: {}, all, guide",
            req.id,
            ids.join(", ")
        );
        return 254;
    };
    let binary = match binary_choice(req) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("glomers: challenge: {e}");
            return 254;
        }
    };
    let mut board: Vec<BoardLine> = Vec::new();
    let mut worst = 0;
    for ch in picked {
        match run_one(req, &binary, ch) {
            Ok(line) => {
                if line.result == "FAIL" {
                    worst = worst.max(1);
                }
                board.push(line);
            }
            Err(Stop::Exit(code)) => return code,
            Err(Stop::Error(e)) => {
                worst = worst.max(if is_group(&req.id) { 1 } else { e.exit_code() });
                let first = e.to_string().lines().next().unwrap_or("").to_string();
                board.push(BoardLine::new(&ch.id, "ERROR", first));
            }
        }
    }
    print_board(&board);
    worst
}

/// The closing board: a line per sub-challenge, hints under failed ones,
/// and a count of missing binaries.
fn print_board(board: &[BoardLine]) {
    // The id column is at least 10 wide (the Fly.io board's layout), wider
    // for longer ids such as `m-raft-hard`.
    let w = board.iter().map(|l| l.id.len()).max().unwrap_or(0).max(10);
    println!("{:<w$} result  figures", "challenge");
    for l in board {
        println!("{:<w$} {:<7} {}", l.id, l.result, l.figures);
        for h in &l.hints {
            println!("{:<w$}   why: {h}", "");
        }
    }
    let missing: Vec<&str> = board
        .iter()
        .filter(|l| l.result == "MISSING")
        .map(|l| l.id.as_str())
        .collect();
    if !missing.is_empty() {
        println!(
            "no binary for {} of {}: {} (name each after its workload; not counted as failures)",
            missing.len(),
            board.len(),
            missing.join(" ")
        );
    }
}

/// Whose binary to run, from `--bin`, `--bin-dir` and `--in-process`
/// (a `--bin` among the extra flags counts as `--bin`).
fn binary_choice(req: &Request) -> Result<Binary, String> {
    let extra = cli::parse_test_flags(&req.extra)?;
    if extra.test_count != 1 {
        return Err(
            "--test-count is for `glomers test`; to repeat a sub-challenge, run it again or use `glomers sweep`".into(),
        );
    }
    let bin = req.bin.clone().or(extra.bin);
    let in_process = req.in_process || extra.in_process;
    match (bin, &req.bin_dir) {
        (Some(_), Some(_)) => Err("give either --bin or --bin-dir, not both".into()),
        (Some(_), None) | (None, Some(_)) if in_process => {
            Err("--in-process runs our own handlers; it cannot run --bin or --bin-dir".into())
        }
        (Some(b), None) => {
            super::backend::check_binary(&b)?;
            Ok(Binary::One(b))
        }
        (None, Some(d)) if !d.is_dir() => {
            Err(format!("--bin-dir {}: not a directory", d.display()))
        }
        (None, Some(d)) => Ok(Binary::Dir(d.clone())),
        (None, None) => Ok(Binary::Ours),
    }
}

/// Why a sub-challenge gave no board line of its own.
enum Stop {
    /// Stop everything with this exit code.
    Exit(i32),
    /// The test could not complete.
    Error(BenchError),
}

/// Our node binary for `workload`, beside the running `glomers`.
fn binary_path(workload: &str) -> Option<PathBuf> {
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("."));
    workloads::find(workload)
        .ok()
        .map(|e| exe_dir.join(e.binary))
}

/// The test flags of one sub-challenge, and the command line that shows
/// them (as `glomers test` would take it). Our binary gets the row's node
/// arguments, then the user's; a binary of one's own only the user's.
fn test_args(
    req: &Request,
    ch: &Challenge,
    bin: &Path,
    ours: bool,
) -> Result<(TestArgs, String), String> {
    let in_process = req.in_process || req.extra.iter().any(|a| a == "--in-process");
    let hard: &[String] = if req.hard { &ch.hard } else { &[] };
    let words: Vec<String> = ch
        .flags
        .iter()
        .chain(hard)
        .chain(&req.extra)
        .cloned()
        .collect();
    let mut args = cli::parse_test_flags(&words)?;
    args.workload = ch.workload.clone();
    args.in_process = in_process;
    args.bin = (!in_process).then(|| bin.to_path_buf());
    args.store = req.store.clone();
    if req.seed.is_some() {
        args.seed = req.seed;
    }
    let mut node_args: Vec<String> = if ours {
        ch.node_args.clone()
    } else {
        Vec::new()
    };
    node_args.extend(args.args.iter().cloned());
    node_args.extend(req.node_args.iter().cloned());
    args.args = node_args.clone();
    let mut shown = format!("test -w {}", ch.workload);
    if in_process {
        shown.push_str(" --in-process");
    } else {
        shown.push_str(&format!(" --bin {}", bin.display()));
    }
    for w in ch.flags.iter().chain(hard) {
        shown.push_str(&format!(" {w}"));
    }
    shown.push_str(&format!(" --store {}", req.store.display()));
    if let Some(s) = req.seed {
        shown.push_str(&format!(" --seed {s}"));
    }
    let mut extra = req.extra.iter();
    while let Some(w) = extra.next() {
        match w.as_str() {
            "--bin" => {
                extra.next();
            }
            "--" => break,
            _ => shown.push_str(&format!(" {w}")),
        }
    }
    if !node_args.is_empty() {
        shown.push_str(&format!(" -- {}", node_args.join(" ")));
    }
    Ok((args, shown))
}

/// Why `all` skips a sub-challenge, if it does.
fn skip_reason(ch: &Challenge, in_process: bool, bin: &Path) -> Option<&'static str> {
    if workloads::find(&ch.workload).is_err() {
        Some("workload not implemented yet")
    } else if !in_process && super::backend::check_binary(bin).is_err() {
        Some("binary missing (cargo build --release)")
    } else {
        None
    }
}

/// Run one sub-challenge and judge it.
fn run_one(req: &Request, binary: &Binary, ch: &Challenge) -> Result<BoardLine, Stop> {
    let bin = match binary {
        Binary::Ours => binary_path(&ch.workload).unwrap_or_else(|| PathBuf::from(&ch.workload)),
        Binary::One(b) => b.clone(),
        Binary::Dir(d) => match find_in_dir(d, &ch.workload) {
            Ok(b) => b,
            Err(why) if is_group(&req.id) => return Ok(BoardLine::new(&ch.id, "MISSING", why)),
            Err(why) => {
                eprintln!("glomers: challenge {}: --bin-dir: {why}", ch.id);
                return Err(Stop::Exit(254));
            }
        },
    };
    let ours = *binary == Binary::Ours;
    let (args, shown) = test_args(req, ch, &bin, ours).map_err(|e| {
        eprintln!("glomers: challenge {}: {e}", ch.id);
        Stop::Exit(254)
    })?;
    let opts = args.to_opts().map_err(|e| {
        eprintln!("glomers: challenge {}: {e}", ch.id);
        Stop::Exit(254)
    })?;
    if req.hard && ch.hard.is_empty() {
        if is_group(&req.id) && ours {
            return Ok(BoardLine::new(&ch.id, "SKIP", "no hard mode"));
        }
        eprintln!("glomers: challenge {} has no hard mode", ch.id);
        return Err(Stop::Exit(254));
    }
    if is_group(&req.id) && ours {
        if let Some(why) = skip_reason(ch, opts.in_process, &bin) {
            return Ok(BoardLine::new(&ch.id, "SKIP", why));
        }
    }
    eprintln!("glomers: challenge {}: {shown}", ch.id);
    match engine::run(&opts, &args.engine_config()) {
        Ok(outcome) => Ok(judge(ch, &outcome, req.hard)),
        Err(e) => {
            eprintln!("glomers: challenge {}: {}\n{e}", ch.id, error_heading(&e));
            if matches!(e, BenchError::Interrupted) {
                return Err(Stop::Exit(130));
            }
            Err(Stop::Error(e))
        }
    }
}

/// Print one run's criteria, the hints for its failed figures and its
/// verdict; its board line. In hard mode only validity is judged: the
/// page's targets are for the page's command, and a node that is down or
/// paused costs latency and availability by design (the availability
/// checker still asks total availability of the nodes that are up, where
/// the page asks for it).
fn judge(ch: &Challenge, outcome: &Outcome, hard: bool) -> BoardLine {
    let mut crit = ch.criteria(&outcome.results);
    if hard {
        crit.truncate(1);
    }
    let pass = crit.iter().all(|c| c.pass);
    let r = &outcome.results;
    let verdict = r.get("valid?").cloned().unwrap_or(Value::Null);
    let mut figures = vec![format!("valid? {verdict}")];
    for c in &crit {
        let m = if c.label == "valid?" {
            verdict.to_string()
        } else {
            c.measured.map(fmt_figure).unwrap_or_else(|| "-".into())
        };
        let mark = if c.pass { "ok" } else { "FAIL" };
        eprintln!("  {:<24} {m:>10}  target {:<10} {mark}", c.label, c.target);
        if c.label != "valid?" {
            figures.push(format!("{} {m}", c.label));
        }
    }
    if !crit.iter().any(|c| c.label == "servers msgs-per-op") {
        if let Some(x) = r["net"]["servers"]["msgs-per-op"].as_f64() {
            figures.push(format!("servers msgs-per-op {x:.3}"));
        }
    }
    if !crit.iter().any(|c| c.label == "ok-fraction") {
        if let Some(x) = r["availability"]["ok-fraction"].as_f64() {
            figures.push(format!("ok-fraction {}", fmt_figure(x)));
        }
    }
    figures.push(format!("wall {:.1}s", outcome.wall.as_secs_f64()));
    let hints = if pass {
        Vec::new()
    } else {
        match hints::table() {
            Ok(table) => hints::explain(&table, ch, r, &crit),
            Err(e) => vec![e],
        }
    };
    for h in &hints {
        eprintln!("  why: {h}");
    }
    if let Some(d) = &outcome.dir {
        eprintln!("  results in {}", d.display());
    }
    let word = if pass { "PASS" } else { "FAIL" };
    eprintln!("challenge {}: {word}", ch.id);
    for w in &outcome.warnings {
        eprintln!("glomers: WARNING: challenge {}: {w}", ch.id);
    }
    BoardLine {
        id: ch.id.clone(),
        result: word,
        figures: figures.join(", "),
        hints,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_table_and_criteria() {
        let all = challenges().expect("the table parses");
        assert_eq!(pick(&all, "all").expect("Fly.io rows").len(), 14);
        let guide = pick(&all, "guide").expect("guide rows");
        let ids: Vec<&str> = guide.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(
            ids,
            ["m-gset", "m-pn", "m-raft", "m-raft-hard", "m-datomic"]
        );
        assert_eq!(pick(&all, "m-raft").expect("one row")[0].workload, "lin-kv");
        assert!(pick(&all, "m-nope").is_none());
        let d = all.iter().find(|c| c.id == "3d").expect("3d");
        assert_eq!(d.workload, "broadcast");
        assert!(all.iter().all(|c| workloads::find(&c.workload).is_ok()));
        let r = serde_json::json!({
            "valid?": true,
            "net": {"servers": {"msgs-per-op": 25.0}},
            "workload": {"stable-latencies": {"0.5": 350, "1": 650}},
        });
        let c = d.criteria(&r);
        assert!(c[0].pass && c[1].pass && c[2].pass && !c[3].pass, "{c:?}");
        assert_eq!(c[2].target, "< 400 ms");
        let e = all.iter().find(|c| c.id == "3e").expect("3e");
        assert!(!e.criteria(&r)[1].pass, "25 is not < 20");
        assert_eq!(e.node_args, vec!["--batch-ms", "800"]);
        let two = all.iter().find(|c| c.id == "2").expect("2");
        let c = two.criteria(&serde_json::json!({"availability": {"ok-fraction": 1.0}}));
        assert!(!c[0].pass && c[1].pass && c[1].target == "= 1", "{c:?}");
        let raft = pick(&all, "m-raft").expect("m-raft")[0];
        let fraction =
            |x: f64| serde_json::json!({"valid?": true, "availability": {"ok-fraction": x}});
        let c = raft.criteria(&fraction(0.9));
        assert!(
            c.iter().all(|c| c.pass) && c[1].target.starts_with('>'),
            "{c:?}"
        );
        assert!(!raft.criteria(&fraction(0.1))[1].pass);
        assert!(Target::parse("x: a/b ~ 3").is_err());
        assert!(Target::parse("no label").is_err());
    }

    fn request(extra: &[&str], node_args: &[&str]) -> Request {
        Request {
            id: "3e".into(),
            in_process: false,
            seed: Some(1),
            store: PathBuf::from("s"),
            extra: extra.iter().map(|s| s.to_string()).collect(),
            bin: None,
            bin_dir: None,
            node_args: node_args.iter().map(|s| s.to_string()).collect(),
            hard: false,
        }
    }

    #[test]
    fn node_args_go_to_the_node_and_the_rows_only_to_ours() {
        let all = challenges().unwrap();
        let e = pick(&all, "3e").unwrap()[0];
        let req = request(&["--time-limit", "5"], &["--fanout", "3"]);
        let (args, shown) = test_args(&req, e, Path::new("mine"), false).unwrap();
        assert_eq!(args.args, ["--fanout", "3"]);
        assert_eq!(args.time_limit, 5.0);
        assert!(shown.ends_with("--time-limit 5 -- --fanout 3"), "{shown}");
        let (args, _) = test_args(&req, e, Path::new("ours"), true).unwrap();
        assert_eq!(args.args, ["--batch-ms", "800", "--fanout", "3"]);
        // A --bin among the extra flags is the user's binary, not shown twice.
        let req = request(&["--bin", "mine", "--rate", "5"], &[]);
        assert!(binary_choice(&req).unwrap_err().contains("--bin mine"));
        let (_, shown) = test_args(&req, e, Path::new("mine"), false).unwrap();
        assert_eq!(shown.matches("--bin").count(), 1, "{shown}");
    }

    #[test]
    fn binaries_are_found_by_workload_name() {
        assert_eq!(
            binary_names("g-counter"),
            [
                "g-counter",
                "g-counter.py",
                "maelstrom-g-counter",
                "maelstrom-counter"
            ]
        );
        let dir = std::env::temp_dir().join(format!("glomers-bindir-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let err = find_in_dir(&dir, "txn-rw-register").unwrap_err();
        assert!(err.contains("maelstrom-txn in"), "{err}");
        let exe = std::env::current_exe().unwrap();
        std::fs::copy(&exe, dir.join("maelstrom-txn")).unwrap();
        assert_eq!(
            find_in_dir(&dir, "txn-rw-register").unwrap(),
            dir.join("maelstrom-txn")
        );
        // A file that is not executable is not a binary.
        std::fs::write(dir.join("echo"), "").unwrap();
        assert!(find_in_dir(&dir, "echo").is_err());
        let mut req = request(&[], &[]);
        req.bin_dir = Some(dir.clone());
        assert_eq!(binary_choice(&req), Ok(Binary::Dir(dir.clone())));
        req.in_process = true;
        assert!(binary_choice(&req).unwrap_err().contains("--in-process"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
