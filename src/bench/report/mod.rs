//! Pictures of a run: plots, an interactive Lamport diagram, a timeline,
//! and the links from a checker's verdict to the messages behind it.
//!
//! # Why
//!
//! People learning distributed systems debug by looking. A learner who
//! meets `invalid` should not have to read a JSON result map and a history
//! of forty thousand lines; Maelstrom draws a Lamport diagram, latency and
//! rate plots and Jepsen's timeline for this reason. Its diagram is a
//! static SVG, though, which a 25-node run turns into tens of thousands of
//! arrows that cannot be filtered, searched, or reached from the checker's
//! report. Ours is drawn on a canvas from data embedded in the page, so it
//! stays fluid, and every anomaly the checkers report links to its
//! operations and messages.
//!
//! # What a run directory gets
//!
//! | file | what | made by |
//! |---|---|---|
//! | `latency-raw.svg`, `latency-quantiles.svg`, `rate.svg` | Jepsen's perf plots | [`plots`] |
//! | `messages.html` | the Lamport diagram: a lane per node, service and client; arrows in time order; filters, search, zoom; nemesis periods; an anomalies panel | [`pages`] |
//! | `timeline.html` | Jepsen's timeline: each process's operations as bars over time | [`pages`] |
//!
//! Both pages are self-contained (data as JSON inside the page, no
//! network), so they open from the file system and from `glomers serve`.
//! `glomers report DIR` makes them again from a run's files, for runs
//! recorded before this module existed too.
//!
//! # Design
//!
//! [`run::read_run`] reads the files, tolerating a half-written run;
//! [`trace::link`] ties journal messages to the operations that caused
//! them (the files do not name the tie; see its docs for how it is
//! recovered); [`evidence::anomalies`] reads each checker's report shape
//! and names the operations and messages involved; [`plots`] and [`pages`]
//! draw. Nothing here affects a verdict: a failure to draw is reported and
//! the run's results stand.
//!
//! # Caveats
//!
//! - The pages embed every message body: 3d's `messages.html` is about the
//!   size of its `messages.jsonl` (≈ 8 MB); the browser parses it once.
//! - The op-to-message tie is recovered by time (see [`trace`]).
//!
//! # Layout
//!
//! - [`run`]: reading a run directory.
//! - [`trace`]: lanes and the op ↔ message tie.
//! - [`evidence`]: anomalies → operations and messages.
//! - [`plots`]: latency-raw, latency-quantiles, rate.
//! - [`pages`]: messages.html and timeline.html.

pub mod evidence;
pub mod pages;
pub mod plots;
pub mod run;
pub mod trace;

use std::path::{Path, PathBuf};

/// Write every picture of the run in `dir` into `dir`; returns the files
/// written. Reads only the run's own files.
pub fn write_run(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let run = run::read_run(dir).map_err(|e| e.to_string())?;
    let pairs = run::op_pairs(&run.ops);
    let links = trace::link(&pairs, &run.messages);
    let anomalies = evidence::anomalies(&run, &pairs, &links);
    let faults = run::faults(&run.ops);
    let title = format!("{} {}", run.workload, run.name);
    let mut files: Vec<(String, String)> = plots::plots(&title, &pairs, &faults)
        .into_iter()
        .map(|(n, s)| (n.to_string(), s))
        .collect();
    let data = trace::diagram_data(
        &run,
        &pairs,
        &links,
        anomalies.iter().map(|a| a.to_json()).collect(),
    );
    files.push(("messages.html".into(), pages::messages_html(&data)));
    files.push(("timeline.html".into(), pages::timeline_html(&data)));
    let mut written = Vec::new();
    for (name, text) in files {
        let path = dir.join(&name);
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

/// `glomers report DIR`: draw the run's pictures again; exit 0, or 254
/// when `DIR` is not a run directory, 255 when a file cannot be written.
pub fn report_command(dir: &Path) -> i32 {
    if !dir.join("history.jsonl").is_file() && !dir.join("messages.jsonl").is_file() {
        eprintln!(
            "glomers: {} is not a run directory (no history.jsonl or messages.jsonl)",
            dir.display()
        );
        return 254;
    }
    match write_run(dir) {
        Ok(files) => {
            for f in files {
                println!("{}", f.display());
            }
            0
        }
        Err(e) => {
            eprintln!("glomers: {e}");
            255
        }
    }
}
