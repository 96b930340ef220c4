//! The checkers: every judgement the bench passes on a finished test, each
//! behind one interface, composed per test from a list.
//!
//! # Why one layer
//!
//! Jepsen's checkers are values that share one protocol
//! (`jepsen: jepsen/src/jepsen/checker.clj`, `Checker/check`, called with
//! the test, the history and options) and combine with `checker/compose`,
//! which runs each named checker, catches what it throws (`check-safe`:
//! the result becomes `valid? :unknown` with the error), and merges the
//! verdicts (`merge-valid`: false beats unknown beats true). Maelstrom
//! builds every test's checker that way (`maelstrom: src/maelstrom/core.clj`,
//! `maelstrom-test`): `stats`, `availability`, `net` and the workload's own
//! checker, itself often a composition. This module is that protocol for
//! the bench: [`Checker`], [`Input`], [`Compose`], and [`test_checker`],
//! the list every test runs. The engine hands the finished test to
//! [`check_test`] and writes what comes back.
//!
//! # Design
//!
//! - A checker is any `Send + Sync` value with
//!   `check(&self, &Input) -> Value`; its result is a JSON map holding
//!   `valid?` (true, false or `"unknown"`) and whatever figures it reports,
//!   under Maelstrom's key names.
//! - [`Input`] is what Jepsen's `test` argument gives a checker: the
//!   history, the test's options, the network journal (for `net`) and the
//!   lines nodes printed that were not messages (for `node-output`). A
//!   checker that splits a history, as Jepsen's `independent/checker` runs
//!   a per-key checker (knossos' linearizability checker on lin-kv) on one
//!   sub-history per key, builds each sub-history and calls the inner
//!   checker with [`Input::with_history`]; the per-key results and the
//!   merged verdict are its own result.
//! - [`Compose`] is `checker/compose`: named parts, run in order, each
//!   behind [`check_safe`], results under their names, `valid?` merged.
//! - A workload names its checker ([`crate::bench::workload::Workload::checker`]);
//!   the checkers themselves live here, one file each, and are public and
//!   generic where another workload can use them ([`set_full`] for
//!   broadcast and g-set, [`elle`] and the [`graph`] kernel for any
//!   transactional workload).
//!
//! # Caveats
//!
//! `check_safe` catches panics, Rust's closest thing to Jepsen's thrown
//! exceptions; a checker that wants to say "I cannot judge this" returns
//! `valid? "unknown"` with an `error` instead of panicking.
//!
//! # Layout
//!
//! - [`stats`], [`availability`], [`net`], [`node_output`]: the checkers
//!   every test runs.
//! - [`echo`], [`unique_ids`], [`set_full`], [`counter`], [`kafka`],
//!   [`txn_rw_register`], [`txn_list_append`] (with [`elle`]): the
//!   workloads' checkers.
//! - [`clojure`]: Clojure's `compare` and `=` over JSON values, for
//!   checkers that order or count arbitrary values as Jepsen does.
//! - [`graph`]: strongly connected components and shortest cycles.

pub mod availability;
pub mod clojure;
pub mod counter;
pub mod echo;
pub mod elle;
pub mod graph;
pub mod kafka;
pub mod linearizable;
pub mod net;
pub mod node_output;
pub mod set_full;
pub mod stats;
pub mod txn_list_append;
pub mod txn_rw_register;
pub mod unique_ids;

use super::check::Validity;
use super::history::History;
use super::opts::TestOpts;
use serde_json::{json, Map, Value};

/// What a checker may look at: Jepsen's `test` and `history` arguments.
#[derive(Clone)]
pub struct Input<'a> {
    /// The finished history.
    pub history: &'a History,
    /// The test's options (`--availability`, `--consistency-models`, …).
    pub opts: &'a TestOpts,
    /// The network's journal, for the `net` checker (empty when the
    /// history did not come from a run, e.g. in unit tests).
    pub traffic: net::Traffic<'a>,
    /// Lines nodes printed that were not valid messages.
    pub node_output: node_output::NodeOutput<'a>,
}

impl<'a> Input<'a> {
    /// A history and options, with no network journal and no node output.
    pub fn new(history: &'a History, opts: &'a TestOpts) -> Self {
        Input {
            history,
            opts,
            traffic: net::Traffic::default(),
            node_output: node_output::NodeOutput::default(),
        }
    }

    /// The same input over another history: what a checker that splits a
    /// history (per key, per process) hands its inner checker.
    pub fn with_history<'b>(&self, history: &'b History) -> Input<'b>
    where
        'a: 'b,
    {
        Input {
            history,
            ..self.clone()
        }
    }
}

/// A checker: judges a finished test. Its result is a JSON map with
/// `valid?` (true, false or `"unknown"`) and its figures.
pub trait Checker: Send + Sync {
    /// Judge `input`.
    fn check(&self, input: &Input<'_>) -> Value;
}

impl Checker for Box<dyn Checker> {
    fn check(&self, input: &Input<'_>) -> Value {
        (**self).check(input)
    }
}

/// A closure is a checker: handy for a custom workload in a test.
impl<F> Checker for F
where
    F: Fn(&Input<'_>) -> Value + Send + Sync,
{
    fn check(&self, input: &Input<'_>) -> Value {
        self(input)
    }
}

/// Jepsen's `check-safe`: run `checker`, turning a panic into
/// `valid? "unknown"` with the panic's message.
pub fn check_safe(name: &str, checker: &dyn Checker, input: &Input<'_>) -> Value {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| checker.check(input))) {
        Ok(v) => v,
        Err(p) => {
            let why = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panic".into());
            json!({"valid?": "unknown", "error": format!("the {name} checker panicked: {why}")})
        }
    }
}

/// Jepsen's `checker/compose`: named checkers run in order, each behind
/// [`check_safe`]; the result maps each name to its result, plus the
/// merged `valid?`.
#[derive(Default)]
pub struct Compose {
    /// The parts, in the order they run.
    parts: Vec<(&'static str, Box<dyn Checker>)>,
}

impl Compose {
    /// No parts yet.
    pub fn new() -> Self {
        Compose::default()
    }

    /// Add a part under `name`.
    pub fn with(mut self, name: &'static str, checker: impl Checker + 'static) -> Self {
        self.parts.push((name, Box::new(checker)));
        self
    }

    /// Run every part: the composed result and its validity.
    pub fn run(&self, input: &Input<'_>) -> (Value, Validity) {
        merge_results(
            self.parts
                .iter()
                .map(|(name, c)| (*name, check_safe(name, c.as_ref(), input)))
                .collect(),
        )
    }
}

impl Checker for Compose {
    fn check(&self, input: &Input<'_>) -> Value {
        self.run(input).0
    }
}

/// Put named results together and merge their validity (Jepsen's
/// `merge-valid`).
pub fn merge_results(parts: Vec<(&str, Value)>) -> (Value, Validity) {
    let mut m = Map::new();
    let mut v = Validity::Valid;
    for (k, r) in parts {
        v = v.merge(Validity::of(&r));
        m.insert(k.to_string(), r);
    }
    m.insert(
        "valid?".into(),
        serde_json::to_value(v).unwrap_or(Value::Null),
    );
    (Value::Object(m), v)
}

/// The checker every test runs, as in Maelstrom's `maelstrom-test`: `stats`,
/// `availability`, `net` and the workload's checker under `workload`, plus
/// `node-output` when a node printed lines that are not messages.
pub fn test_checker(workload: Box<dyn Checker>, input: &Input<'_>) -> Compose {
    let mut c = Compose::new()
        .with("stats", stats::Stats)
        .with("availability", availability::Availability)
        .with("net", net::Net)
        .with("workload", workload);
    if input.node_output.count > 0 {
        c = c.with("node-output", node_output::NodeOutputChecker);
    }
    c
}

/// Judge a finished test with [`test_checker`]: the result map the run
/// directory's `results.json` holds, and its verdict.
pub fn check_test(workload: Box<dyn Checker>, input: &Input<'_>) -> (Value, Validity) {
    test_checker(workload, input).run(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(Value);
    impl Checker for Fixed {
        fn check(&self, _input: &Input<'_>) -> Value {
            self.0.clone()
        }
    }

    struct Panics;
    impl Checker for Panics {
        fn check(&self, _input: &Input<'_>) -> Value {
            panic!("boom")
        }
    }

    #[test]
    fn compose_merges_verdicts_and_contains_panics() {
        let h = History::new();
        let opts = TestOpts::with_nodes(1);
        let input = Input::new(&h, &opts);
        let (r, v) = Compose::new()
            .with("a", Fixed(json!({"valid?": true})))
            .with("b", Fixed(json!({"valid?": "unknown"})))
            .run(&input);
        assert_eq!(v, Validity::Unknown);
        assert_eq!(r["valid?"], "unknown");
        assert_eq!(r["a"]["valid?"], true);
        let (r, v) = Compose::new()
            .with("workload", Panics)
            .with("b", Fixed(json!({"valid?": false})))
            .run(&input);
        assert_eq!(v, Validity::Invalid, "false beats the panic's unknown");
        assert_eq!(r["workload"]["valid?"], "unknown");
        assert_eq!(
            r["workload"]["error"],
            "the workload checker panicked: boom"
        );
        let (_, v) = Compose::new().with("p", Panics).run(&input);
        assert_eq!(v, Validity::Unknown);
        let (r, v) = Compose::new().run(&input);
        assert_eq!((r, v), (json!({"valid?": true}), Validity::Valid));
    }

    #[test]
    fn the_test_checker_adds_node_output_only_when_there_is_some() {
        let h = History::new();
        let opts = TestOpts::with_nodes(1);
        let mut input = Input::new(&h, &opts);
        let (r, v) = check_test(Box::new(Fixed(json!({"valid?": true}))), &input);
        assert_eq!(v, Validity::Valid);
        let keys: Vec<&String> = r.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["availability", "net", "stats", "valid?", "workload"]);
        let errors = vec![json!({"node": "n0", "line": "oops"})];
        let out = node_output::NodeOutput {
            count: 1,
            errors: &errors,
            muted: &[],
        };
        input.node_output = out;
        // Maelstrom's verdict by default: a warning, still valid.
        let (r, v) = check_test(Box::new(Fixed(json!({"valid?": true}))), &input);
        assert_eq!(v, Validity::Valid);
        assert_eq!(r["node-output"]["error-count"], 1);
        let strict = TestOpts {
            strict: true,
            ..opts.clone()
        };
        let mut input = Input::new(&h, &strict);
        input.node_output = out;
        let (r, v) = check_test(Box::new(Fixed(json!({"valid?": true}))), &input);
        assert_eq!(v, Validity::Invalid);
        assert_eq!(r["node-output"]["valid?"], false);
    }
}
