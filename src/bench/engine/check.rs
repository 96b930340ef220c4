//! The result map of a finished run: the test's composed checkers
//! ([`crate::bench::checkers::check_test`]; maelstrom:
//! src/maelstrom/core.clj, `:checker`) over the history, the journal and
//! the lines nodes printed that were not messages, plus the run's
//! `schedule` figures ([`super::overload`]), which never change a verdict.

use super::Engine;
use crate::bench::check::Validity;
use crate::bench::checkers::{self, net::Traffic, node_output::NodeOutput, Input};
use serde_json::{json, Value};

/// Every checker's result, the merged verdict, and the warnings to print
/// beside it (muted nodes, an overloaded run).
pub(super) fn check(eng: &Engine<'_>) -> (Value, Validity, Vec<String>) {
    let muted = muted_nodes(eng);
    let input = Input {
        traffic: Traffic::of(&eng.net),
        node_output: NodeOutput {
            count: eng.nodes.error_count,
            errors: &eng.nodes.errors,
            muted: &muted,
        },
        ..Input::new(&eng.history, eng.opts)
    };
    let (mut results, validity) = checkers::check_test(eng.workload.checker(), &input);
    let mut warnings = Vec::new();
    for m in &muted {
        warnings.push(format!(
            "node {} printed a line that is not a deliverable message at {:.3} s; Maelstrom stops reading a node there, and so did this run ({} later line(s) dropped); the verdict is Maelstrom's, --strict fails the run (see node-output in results.json)",
            m["node"].as_str().unwrap_or("?"),
            m["time"].as_u64().unwrap_or(0) as f64 / 1e9,
            m["dropped-lines"],
        ));
    }
    warnings.extend(checker_warnings(&results));
    let (schedule, overloaded) = eng.overload.report();
    warnings.extend(overloaded);
    if let Value::Object(map) = &mut results {
        map.insert("schedule".into(), schedule);
        if eng.opts.nemesis.iter().any(|f| f.acts_on_nodes()) {
            map.insert("faults".into(), faults(eng));
        }
    }
    (results, validity, warnings)
}

/// What the kill and pause faults did (never a verdict): how many nodes
/// were killed and paused, and how many late replies to closed clients
/// were dropped ([`super::nodes`]).
fn faults(eng: &Engine<'_>) -> Value {
    let count = |f: &str| {
        eng.history
            .ops
            .iter()
            .filter(|o| !o.is_client() && o.f == f && o.value.is_array())
            .map(|o| o.value.as_array().map_or(0, Vec::len))
            .sum::<usize>()
    };
    json!({
        "kills": count("kill"),
        "pauses": count("pause"),
        "late-replies-dropped": eng.nodes.late_replies,
    })
}

/// The nodes muted by a bad line, in node order.
fn muted_nodes(eng: &Engine<'_>) -> Vec<Value> {
    eng.nodes
        .muted
        .iter()
        .enumerate()
        .filter_map(|(i, m)| {
            m.map(|t| {
                json!({
                    "node": eng.opts.nodes[i],
                    "time": t.as_nanos() as u64,
                    "dropped-lines": eng.nodes.dropped[i],
                })
            })
        })
        .collect()
}

/// The warnings checkers put in their results (`warning`, or any key
/// ending in `-warning`, whose value is a sentence), so the console says
/// what results.json says: a verdict kept as Maelstrom's despite them.
fn checker_warnings(results: &Value) -> Vec<String> {
    let Value::Object(checkers) = results else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, result) in checkers {
        let Value::Object(fields) = result else {
            continue;
        };
        for (key, value) in fields {
            if let (true, Some(text)) = (
                key == "warning" || key.ends_with("-warning"),
                value.as_str(),
            ) {
                let text = text.strip_prefix("WARNING: ").unwrap_or(text);
                out.push(format!("{name}: {text}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::checker_warnings;
    use serde_json::json;

    #[test]
    fn checker_warnings_reach_the_console_with_the_checker_named() {
        let results = json!({
            "workload": {"valid?": true, "cycle-exists-warning": "WARNING: PL-1-cycle-exists — x",
                         "warning": "WARNING: y", "cycle-exists-warnings": {"a": []}},
            "net": {"valid?": true, "note": "not a warning"},
            "valid?": true,
        });
        let mut w = checker_warnings(&results);
        w.sort();
        assert_eq!(w, ["workload: PL-1-cycle-exists — x", "workload: y"]);
    }
}
