//! Reading a run directory back: `results.json`, `history.jsonl`,
//! `messages.jsonl`.
//!
//! Everything the pictures need comes through [`read_run`], one small
//! function, so a shared reader can replace it without touching the
//! drawing code. It is tolerant on purpose: a run may be half-written (the
//! bench was interrupted, or is still running) or come from an older
//! version of the bench, and a picture of what is there beats an error. A
//! line that does not parse is counted in [`Run::skipped`] and left out; a
//! missing file reads as empty. Only a directory that cannot be read at all
//! is an error.

use crate::bench::history::{Op, OpType, Process};
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;

/// One message of the journal: its send and (if it arrived) its delivery.
#[derive(Debug, Clone)]
pub struct Message {
    /// The journal's message id (unique within a run, in send order).
    pub id: u64,
    /// Sender's name (`n3`, `c12`, `seq-kv`).
    pub src: String,
    /// Receiver's name.
    pub dest: String,
    /// The body as written, `type` and all.
    pub body: Value,
    /// When it was sent, ns since the run started.
    pub sent: u64,
    /// When it was delivered; `None` when it never was (dropped by a
    /// partition, or still in flight at the end): these are the messages a
    /// learner looks for first.
    pub received: Option<u64>,
}

impl Message {
    /// The body's `type`, or `?` when it has none.
    pub fn kind(&self) -> &str {
        self.body.get("type").and_then(Value::as_str).unwrap_or("?")
    }
}

/// A run directory as read back.
#[derive(Debug, Default)]
pub struct Run {
    /// The result map (`Null` when `results.json` is missing or malformed).
    pub results: Value,
    /// The history, in file order (entries keep their own `index`).
    pub ops: Vec<Op>,
    /// The journal's messages, by id order.
    pub messages: Vec<Message>,
    /// Lines that did not parse, per file, so a page can say what it left
    /// out instead of pretending the run was whole.
    pub skipped: Vec<(String, usize)>,
    /// The workload's name (the run directory's parent), for titles.
    pub workload: String,
    /// The run directory's own name (its timestamp).
    pub name: String,
}

/// Read a run directory. Missing files read as empty; malformed lines are
/// counted and skipped.
pub fn read_run(dir: &Path) -> std::io::Result<Run> {
    if !dir.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{} is not a run directory", dir.display()),
        ));
    }
    let mut run = Run {
        name: file_name(dir),
        workload: dir.parent().map(file_name).unwrap_or_default(),
        ..Run::default()
    };
    run.results = std::fs::read_to_string(dir.join("results.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    let (ops, bad) = read_lines(&dir.join("history.jsonl"), |l| {
        serde_json::from_str::<Op>(l).ok()
    });
    run.ops = ops;
    if bad > 0 {
        run.skipped.push(("history.jsonl".into(), bad));
    }
    let (events, bad) = read_lines(&dir.join("messages.jsonl"), parse_event);
    if bad > 0 {
        run.skipped.push(("messages.jsonl".into(), bad));
    }
    run.messages = pair_events(events);
    Ok(run)
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Parse each non-empty line of a file; a missing file gives nothing.
fn read_lines<T>(path: &Path, parse: impl Fn(&str) -> Option<T>) -> (Vec<T>, usize) {
    let Ok(text) = std::fs::read_to_string(path) else {
        return (Vec::new(), 0);
    };
    let mut out = Vec::new();
    let mut bad = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match parse(line) {
            Some(v) => out.push(v),
            None => bad += 1,
        }
    }
    (out, bad)
}

/// One journal line: `{"time", "type": "send"|"recv", "message": {…}}`.
struct Event {
    time: u64,
    recv: bool,
    id: u64,
    src: String,
    dest: String,
    body: Value,
}

fn parse_event(line: &str) -> Option<Event> {
    let mut v: Value = serde_json::from_str(line).ok()?;
    let time = v.get("time")?.as_u64()?;
    let recv = match v.get("type")?.as_str()? {
        "send" => false,
        "recv" => true,
        _ => return None,
    };
    let m = v.get_mut("message")?;
    Some(Event {
        time,
        recv,
        id: m.get("id")?.as_u64()?,
        src: m.get("src")?.as_str()?.to_string(),
        dest: m.get("dest")?.as_str()?.to_string(),
        body: m.get_mut("body").map(Value::take).unwrap_or(Value::Null),
    })
}

/// Join each send with its delivery (same id), in id order.
fn pair_events(events: Vec<Event>) -> Vec<Message> {
    let mut by_id: HashMap<u64, usize> = HashMap::new();
    let mut out: Vec<Message> = Vec::new();
    for e in events {
        match (e.recv, by_id.get(&e.id)) {
            (false, None) => {
                by_id.insert(e.id, out.len());
                out.push(Message {
                    id: e.id,
                    src: e.src,
                    dest: e.dest,
                    body: e.body,
                    sent: e.time,
                    received: None,
                });
            }
            (true, Some(&i)) => out[i].received = Some(e.time),
            // A delivery without a send (a truncated journal) or a second
            // send with the same id: keep what we have.
            _ => {}
        }
    }
    out.sort_by_key(|m| m.id);
    out
}

/// A client operation: an invocation and its completion, if any.
#[derive(Debug, Clone)]
pub struct OpPair {
    /// The invocation's history index (the op's name in links: `#op=…`).
    pub invoke: usize,
    /// The completion's history index.
    pub complete: Option<usize>,
    /// The client process.
    pub process: u64,
    /// The op's function.
    pub f: String,
    /// `ok`, `info`, `fail`, or `None` while it never completed.
    pub outcome: Option<OpType>,
    /// Invocation time, ns.
    pub start: u64,
    /// Completion time, ns (`None`: never completed).
    pub end: Option<u64>,
    /// The invocation's value.
    pub value: Value,
    /// The completion's value.
    pub result: Value,
    /// The completion's error, if any.
    pub error: Option<Value>,
}

/// Pair client invocations with their completions per process, as Jepsen
/// does; positions are into `ops` (not history indices).
pub fn op_pairs(ops: &[Op]) -> Vec<OpPair> {
    let mut open: HashMap<u64, usize> = HashMap::new();
    let mut out: Vec<OpPair> = Vec::new();
    for op in ops {
        let Process::Client(p) = op.process else {
            continue;
        };
        if op.kind == OpType::Invoke {
            open.insert(p, out.len());
            out.push(OpPair {
                invoke: op.index,
                complete: None,
                process: p,
                f: op.f.clone(),
                outcome: None,
                start: op.time,
                end: None,
                value: op.value.clone(),
                result: Value::Null,
                error: None,
            });
        } else if let Some(i) = open.remove(&p) {
            let pair = &mut out[i];
            pair.complete = Some(op.index);
            pair.outcome = Some(op.kind);
            pair.end = Some(op.time);
            pair.result = op.value.clone();
            pair.error = op.error.clone();
        }
    }
    out
}

/// A period when the nemesis was active (from a `start-…` entry to the
/// next `stop-…`, or the end of the run).
#[derive(Debug, Clone)]
pub struct Fault {
    /// Start, ns.
    pub start: u64,
    /// End, ns (`None`: still active when the history ends).
    pub end: Option<u64>,
    /// What it was (`partition majorities-ring`).
    pub label: String,
    /// What was done (for a partition, the grudge: node → nodes it does
    /// not hear from).
    pub detail: Value,
}

/// Nemesis periods from the history's `nemesis` entries. Jepsen records
/// each nemesis op as two `info` entries (the request, then what was
/// done); a `start-X` opens a period and `stop-X` closes it.
pub fn faults(ops: &[Op]) -> Vec<Fault> {
    let mut out: Vec<Fault> = Vec::new();
    let mut open: HashMap<String, usize> = HashMap::new();
    for op in ops.iter().filter(|o| o.process == Process::Nemesis) {
        if let Some(what) = op.f.strip_prefix("start-") {
            match open.get(what) {
                // The second entry of the pair: what was done.
                Some(&i) if out[i].start == op.time && out[i].detail.is_null() => {
                    out[i].detail = op.value.clone();
                }
                Some(_) => {}
                None => {
                    let label = match op.value.as_str() {
                        Some(s) => format!("{what} {s}"),
                        None => what.to_string(),
                    };
                    open.insert(what.to_string(), out.len());
                    out.push(Fault {
                        start: op.time,
                        end: None,
                        label,
                        detail: Value::Null,
                    });
                }
            }
        } else if let Some(what) = op.f.strip_prefix("stop-") {
            if let Some(i) = open.remove(what) {
                out[i].end = Some(op.time);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::write(dir.join(name), text).unwrap();
    }

    #[test]
    fn reads_a_half_written_run_and_counts_bad_lines() {
        let d = std::env::temp_dir().join(format!("glomers-run-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        write(
            &d,
            "history.jsonl",
            "{\"index\":0,\"time\":5,\"process\":0,\"type\":\"invoke\",\"f\":\"read\",\"value\":null}\nnot json\n",
        );
        write(
            &d,
            "messages.jsonl",
            "{\"time\":5,\"type\":\"send\",\"message\":{\"id\":0,\"src\":\"c0\",\"dest\":\"n0\",\"body\":{\"type\":\"read\",\"msg_id\":1}}}\n{\"time\":9,\"type\":\"recv\",\"message\":{\"id\":0,\"src\":\"c0\",\"dest\":\"n0\",\"body\":{\"type\":\"read\",\"msg_id\":1}}}\n{\"time\":9,\"type\":\"send\",\"mess",
        );
        let run = read_run(&d).unwrap();
        assert_eq!(run.results, Value::Null, "no results.json yet");
        assert_eq!(run.ops.len(), 1);
        assert_eq!(run.messages.len(), 1);
        assert_eq!(run.messages[0].received, Some(9));
        assert_eq!(run.messages[0].kind(), "read");
        assert_eq!(
            run.skipped,
            vec![("history.jsonl".into(), 1), ("messages.jsonl".into(), 1)]
        );
        let pairs = op_pairs(&run.ops);
        assert_eq!((pairs.len(), pairs[0].end), (1, None));
        assert!(read_run(&d.join("missing")).is_err());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn nemesis_periods_pair_start_and_stop() {
        let lines = [
            r#"{"index":0,"time":0,"process":"nemesis","type":"info","f":"start-partition","value":"one"}"#,
            r#"{"index":1,"time":0,"process":"nemesis","type":"info","f":"start-partition","value":["isolated",{"n0":["n1"]}]}"#,
            r#"{"index":2,"time":7,"process":"nemesis","type":"info","f":"stop-partition","value":null}"#,
            r#"{"index":3,"time":7,"process":"nemesis","type":"info","f":"stop-partition","value":"network-healed"}"#,
            r#"{"index":4,"time":9,"process":"nemesis","type":"info","f":"start-partition","value":"primaries"}"#,
        ];
        let ops: Vec<Op> = lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let f = faults(&ops);
        assert_eq!(f.len(), 2);
        assert_eq!(
            (f[0].start, f[0].end, f[0].label.as_str()),
            (0, Some(7), "partition one")
        );
        assert_eq!(f[0].detail[1]["n0"][0], "n1");
        assert_eq!((f[1].start, f[1].end), (9, None));
    }
}
