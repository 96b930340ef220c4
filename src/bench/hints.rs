//! Plain-language hints for a failed sub-challenge: which figure, its
//! value, the target, and the usual cause.
//!
//! # Why
//!
//! A learner whose own node fails `glomers challenge 3d` sees
//! `servers msgs-per-op 63.2 … FAIL`, which says *what* but not *why*.
//! The usual causes are few and well known (flooding every node on every
//! message; a log line on stdout; ids that collide across nodes), so the
//! bench names them, in the learner's terms and without giving away a
//! solution.
//!
//! # Design
//!
//! Every hint is one row of `scripts/hints.tsv` (scope, figure, cause), so
//! they live in one place and read as a table; nothing else in the code
//! holds hint text. A row's figure is a key path into the result map. A row
//! fires for a run when a numeric target on that path failed, or when the
//! run is not valid and the value at the path is bad (`false` or
//! `"unknown"`, a whole number above 0 — a count; fractions such as
//! `ok-fraction` are only ever judged by targets —, a non-empty list, or a
//! list holding the named anomaly). The
//! most specific scope wins per figure: the sub-challenge's id, then its
//! workload, then `*`. When an invalid run matches no row, the hint names
//! the checkers whose `valid?` is not true, so there is always a lead.

use super::challenge::{Challenge, Criterion};
use serde_json::Value;

/// Added to a missed latency target when the run fell behind its schedule.
const BEHIND: &str = " (but this run fell behind its schedule, so its latencies are partly the machine's: rerun it on a quieter machine first)";

/// One row of scripts/hints.tsv.
#[derive(Debug, Clone, PartialEq)]
pub struct Hint {
    /// A sub-challenge id, a workload, or `*`.
    pub scope: String,
    /// The key path into the result map.
    pub path: Vec<String>,
    /// For `path=word`: the anomaly name the list must contain.
    pub word: Option<String>,
    /// The usual cause, as printed.
    pub cause: String,
}

/// Every row of scripts/hints.tsv.
pub fn table() -> Result<Vec<Hint>, String> {
    include_str!("../../scripts/hints.tsv")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let mut cols = l.split('\t');
            let (Some(scope), Some(figure), Some(cause), None) =
                (cols.next(), cols.next(), cols.next(), cols.next())
            else {
                return Err(format!("hints.tsv: expected 3 columns in {l:?}"));
            };
            let (path, word) = match figure.split_once('=') {
                Some((p, w)) => (p, Some(w.to_string())),
                None => (figure, None),
            };
            Ok(Hint {
                scope: scope.to_string(),
                path: path.split('/').map(String::from).collect(),
                word,
                cause: cause.to_string(),
            })
        })
        .collect()
}

/// How specific `scope` is for `ch`: 2 its id, 1 its workload, 0 `*`.
fn rank(scope: &str, ch: &Challenge) -> Option<u8> {
    match scope {
        s if s == ch.id => Some(2),
        s if s == ch.workload => Some(1),
        "*" => Some(0),
        _ => None,
    }
}

/// The value at `path` in `results`.
fn at<'a>(results: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(results, |v, k| v.get(k.as_str()))
}

/// Whether a value is bad for an invalid run (see the module doc).
fn is_bad(v: &Value, word: Option<&str>) -> bool {
    match (v, word) {
        (Value::Array(xs), Some(w)) => xs.iter().any(|x| x.as_str() == Some(w)),
        (_, Some(_)) => false,
        (Value::Bool(b), None) => !b,
        (Value::String(s), None) => s == "unknown",
        // Counts are integers; a fraction or a rate (a float) is a figure
        // for targets only, never bad in itself.
        (Value::Number(n), None) => n.as_u64().is_some_and(|x| x > 0),
        (Value::Array(xs), None) => !xs.is_empty(),
        _ => false,
    }
}

/// A value for a hint line: numbers as figures, short JSON otherwise.
fn show(v: &Value) -> String {
    match v.as_f64() {
        Some(x) if x.fract() == 0.0 => format!("{x:.0}"),
        Some(x) => format!("{x:.4}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string(),
        None => {
            let s = v.to_string();
            if s.chars().count() > 60 {
                format!("{}…", s.chars().take(60).collect::<String>())
            } else {
                s
            }
        }
    }
}

/// What a bad value should have been, in words.
fn expected(v: &Value, word: Option<&str>) -> String {
    match (v, word) {
        (_, Some(w)) => format!("no {w}"),
        (Value::Bool(_) | Value::String(_), _) => "true".into(),
        (Value::Array(_), _) => "empty".into(),
        _ => "0".into(),
    }
}

/// The most specific row for a figure (`path`, and `word` for an anomaly).
fn best<'h>(
    hints: &'h [Hint],
    ch: &Challenge,
    path: &[String],
    word: Option<&str>,
) -> Option<&'h Hint> {
    hints
        .iter()
        .filter(|h| h.path == path && h.word.as_deref() == word)
        .filter_map(|h| rank(&h.scope, ch).map(|r| (r, h)))
        .max_by_key(|(r, _)| *r)
        .map(|(_, h)| h)
}

/// The hint lines for one judged run: one per failed figure that has a
/// row (most specific scope first), plus the generic lead for an invalid
/// run no row explains. Each line reads `figure is value, target …: cause`.
pub fn explain(hints: &[Hint], ch: &Challenge, results: &Value, crit: &[Criterion]) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for (c, t) in crit.iter().skip(1).zip(&ch.targets) {
        if c.pass {
            continue;
        }
        let m = c.measured.map(|x| show(&Value::from(x)));
        let value = m.unwrap_or_else(|| "missing".into());
        let cause =
            best(hints, ch, &t.path, None).map_or("no hint for this figure yet", |h| &h.cause);
        let behind = results["schedule"]["overloaded"] == true && c.target.ends_with(" ms");
        let note = if behind { BEHIND } else { "" };
        lines.push(format!(
            "{} is {value}, target {}: {cause}{note}",
            c.label, c.target
        ));
    }
    let valid = crit.first().is_some_and(|c| c.pass);
    if !valid {
        let found = invalid_lines(hints, ch, results);
        if found.is_empty() {
            lines.push(format!(
                "not valid: {}; see results.json and messages.html in the run directory",
                invalid_checkers(results)
            ));
        }
        for line in found {
            if !lines.contains(&line) {
                lines.push(line);
            }
        }
    }
    lines
}

/// The hint lines of an invalid run: first the rows on specific figures,
/// then a checker's `valid?` row only where none of its figures fired (it
/// is that checker's fallback). Figures that are targets are left to the
/// target lines.
fn invalid_lines(hints: &[Hint], ch: &Challenge, results: &Value) -> Vec<String> {
    let is_fallback = |h: &Hint| h.path.last().is_some_and(|k| k == "valid?");
    let mut seen: Vec<(Vec<String>, Option<String>)> = Vec::new();
    let mut fired: Vec<Vec<String>> = Vec::new();
    let mut lines = Vec::new();
    for fallback in [false, true] {
        for h in hints.iter().filter(|h| is_fallback(h) == fallback) {
            let parent = h.path[..h.path.len() - 1].to_vec();
            let key = (h.path.clone(), h.word.clone());
            let Some(v) = at(results, &h.path) else {
                continue;
            };
            if seen.contains(&key)
                || rank(&h.scope, ch).is_none()
                || !is_bad(v, h.word.as_deref())
                || ch.targets.iter().any(|t| t.path == h.path)
                || (fallback && fired.contains(&parent))
            {
                continue;
            }
            seen.push(key);
            let Some(best) = best(hints, ch, &h.path, h.word.as_deref()) else {
                continue;
            };
            fired.push(parent);
            lines.push(format!(
                "{} is {}, should be {}: {}",
                h.path.join(" "),
                show(v),
                expected(v, h.word.as_deref()),
                best.cause
            ));
        }
    }
    lines
}

/// The top-level checkers whose `valid?` is not true, for the generic lead.
fn invalid_checkers(results: &Value) -> String {
    let names: Vec<String> = results
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, v)| v.get("valid?").is_some_and(|x| x != &Value::Bool(true)))
        .map(|(k, v)| format!("{k} (valid? {})", v["valid?"]))
        .collect();
    if names.is_empty() {
        "valid? is not true".into()
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::challenge::challenges;
    use serde_json::json;

    fn row(id: &str) -> Challenge {
        let all = challenges().expect("the challenge table parses");
        all.into_iter().find(|c| c.id == id).expect("row")
    }

    #[test]
    fn every_row_parses_and_names_a_known_scope() {
        let hints = table().expect("hints.tsv parses");
        let all = challenges().expect("challenges.tsv parses");
        for h in &hints {
            let known =
                h.scope == "*" || all.iter().any(|c| c.id == h.scope || c.workload == h.scope);
            assert!(known, "unknown scope {:?}", h.scope);
            assert!(!h.cause.is_empty() && !h.path.is_empty(), "{h:?}");
        }
    }

    #[test]
    fn a_flooding_3d_run_gets_the_msgs_per_op_cause() {
        let hints = table().unwrap();
        let ch = row("3d");
        let r = json!({"valid?": true, "net": {"servers": {"msgs-per-op": 63.25}},
            "workload": {"stable-latencies": {"0.5": 120, "1": 300}}});
        let lines = explain(&hints, &ch, &r, &ch.criteria(&r));
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].starts_with("servers msgs-per-op is 63.25, target < 30: "));
        assert!(lines[0].contains("broadcast to every node on every message"));
        // A missed latency target on a run that fell behind says so.
        let slow = json!({"valid?": true, "net": {"servers": {"msgs-per-op": 3.0}},
            "workload": {"stable-latencies": {"0.5": 120, "1": 900}},
            "schedule": {"overloaded": true}});
        let lines = explain(&hints, &ch, &slow, &ch.criteria(&slow));
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].starts_with("max stable latency is 900, target < 600 ms: "));
        assert!(lines[0].ends_with(BEHIND), "{lines:?}");
        // 3e has its own cause for the same figure.
        let ch = row("3e");
        let lines = explain(&hints, &ch, &r, &ch.criteria(&r));
        assert!(lines[0].contains("batch for longer"), "{lines:?}");
    }

    #[test]
    fn an_invalid_run_names_the_bad_figure_or_the_checker() {
        let hints = table().unwrap();
        let ch = row("3c");
        let r = json!({"valid?": false, "workload": {"valid?": false, "lost-count": 3},
            "stats": {"valid?": true}});
        let lines = explain(&hints, &ch, &r, &ch.criteria(&r));
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("workload lost-count is 3, should be 0: ")
                    && l.contains("keep resending")),
            "{lines:?}"
        );
        let ch = row("6c");
        let r = json!({"valid?": false, "availability": {"valid?": true, "ok-fraction": 1.0},
            "workload": {"valid?": false, "anomaly-types": ["G1a"]}});
        let lines = explain(&hints, &ch, &r, &ch.criteria(&r));
        assert!(lines[0].contains("aborted transaction"), "{lines:?}");
        assert_eq!(lines.len(), 1, "ok-fraction 1.0 is no count: {lines:?}");
        // Nothing in the table explains it: the invalid checkers are named.
        let ch = row("1");
        let r = json!({"valid?": false, "net": {"valid?": false}});
        let lines = explain(&hints, &ch, &r, &ch.criteria(&r));
        assert_eq!(lines.len(), 1);
        assert!(lines[0].contains("net (valid? false)"), "{lines:?}");
    }
}
