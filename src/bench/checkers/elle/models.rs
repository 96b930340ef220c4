//! Consistency models, the anomalies each prohibits, and what a set of
//! anomalies rules out.
//!
//! Three relations, as Elle states them (`consistency_model.clj`; sources
//! there: Adya, Bailis et al., Cerone et al., Daudjee & Salem, …):
//!
//! - `IMPLIES`: model `a` → models `b` that every history satisfying `a`
//!   also satisfies;
//! - `PROSCRIBES`: model → the anomalies it prohibits directly (weaker
//!   models' prohibitions are inherited through `IMPLIES`);
//! - `ANOMALY_IMPLIES`: anomaly → anomalies it is an instance of (a G0
//!   cycle is also a G1c, a G1a is a G1, …), plus `SEVERITY`, used only to
//!   order the cycle search from the most to the least severe.
//!
//! Models are stored under Elle's canonical names (`PL-2` for read
//! committed); [`friendly`] turns them back into the names users type.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};

/// User-facing model names and their canonical (Adya) names.
const ALIASES: &[(&str, &str)] = &[
    ("consistent-view", "PL-2+"),
    ("conflict-serializable", "PL-3"),
    ("cursor-stability", "PL-CS"),
    ("forward-consistent-view", "PL-FCV"),
    ("monotonic-snapshot-read", "PL-MSR"),
    ("monotonic-view", "PL-2L"),
    ("read-committed", "PL-2"),
    ("read-uncommitted", "PL-1"),
    ("repeatable-read", "PL-2.99"),
    ("serializable", "PL-3"),
    ("snapshot-isolation", "PL-SI"),
    ("strict-serializable", "PL-SS"),
    ("strong-serializable", "PL-SS"),
    ("update-serializable", "PL-3U"),
    ("strong-session-read-uncommitted", "strong-session-PL-1"),
    ("strong-session-read-committed", "strong-session-PL-2"),
    ("strong-read-uncommitted", "strong-PL-1"),
    ("strong-read-committed", "strong-PL-2"),
];

/// Canonical model → the models it implies (canonical names).
const IMPLIES: &[(&str, &[&str])] = &[
    ("causal-cerone", &["read-atomic"]),
    ("PL-2+", &["PL-CS", "PL-2L"]),
    ("PL-CS", &["PL-2"]),
    ("PL-FCV", &["PL-2+"]),
    ("PL-2", &["PL-1"]),
    ("PL-3", &["PL-2.99", "PL-3U", "PL-SI", "view-serializable"]),
    ("PL-3U", &["PL-FCV"]),
    ("monotonic-atomic-view", &["PL-2"]),
    ("PL-2L", &["PL-2"]),
    ("PL-MSR", &["PL-2"]),
    (
        "parallel-snapshot-isolation",
        &["causal-cerone", "update-atomic"],
    ),
    ("prefix", &["causal-cerone"]),
    ("read-atomic", &["monotonic-atomic-view"]),
    ("PL-2.99", &["PL-CS", "monotonic-atomic-view"]),
    ("update-atomic", &["read-atomic"]),
    ("session-serializable", &["1SR"]),
    (
        "PL-SI",
        &[
            "PL-FCV",
            "monotonic-atomic-view",
            "PL-MSR",
            "parallel-snapshot-isolation",
            "prefix",
        ],
    ),
    (
        "PL-SS",
        &[
            "PL-3",
            "linearizable",
            "PL-SI",
            "strong-snapshot-isolation",
            "strong-session-serializable",
            "session-serializable",
        ],
    ),
    ("strong-session-PL-1", &["PL-1"]),
    ("strong-session-PL-2", &["PL-2", "strong-session-PL-1"]),
    ("strong-PL-1", &["strong-session-PL-1"]),
    ("strong-PL-2", &["strong-session-PL-2", "strong-PL-1"]),
    (
        "strong-session-serializable",
        &["PL-3", "strong-session-snapshot-isolation"],
    ),
    (
        "strong-session-snapshot-isolation",
        &["PL-SI", "strong-session-PL-2"],
    ),
    (
        "strong-snapshot-isolation",
        &["strong-session-snapshot-isolation", "strong-PL-2"],
    ),
    ("linearizable", &["sequential"]),
    ("sequential", &["causal"]),
    ("causal", &["writes-follow-reads", "PRAM"]),
    (
        "PRAM",
        &["monotonic-reads", "monotonic-writes", "read-your-writes"],
    ),
];

/// Canonical model → anomalies it prohibits directly.
const PROSCRIBES: &[(&str, &[&str])] = &[
    ("causal-cerone", &["internal", "G1a"]),
    ("PL-CS", &["G1", "G-cursor", "lost-update"]),
    ("PL-2L", &["G1", "G-monotonic"]),
    ("PL-MSR", &["G1", "G-MSR"]),
    ("PL-2+", &["G1", "G-single"]),
    ("PL-FCV", &["G1", "G-SIb"]),
    ("parallel-snapshot-isolation", &["internal", "G1a"]),
    (
        "PL-3",
        &[
            "G1",
            "G2",
            "predicate-read-miss",
            "PL-3-cycle-exists",
            "internal",
        ],
    ),
    ("PL-2", &["G1", "PL-2-cycle-exists"]),
    (
        "PL-1",
        &[
            "G0",
            "duplicate-elements",
            "cyclic-versions",
            "PL-1-cycle-exists",
        ],
    ),
    ("prefix", &["internal", "G1a"]),
    (
        "PL-SI",
        &[
            "internal",
            "G1",
            "G-SI",
            "G-nonadjacent",
            "PL-SI-cycle-exists",
        ],
    ),
    ("read-atomic", &["internal", "G1a", "future-read"]),
    (
        "PL-2.99",
        &["G1", "G2-item", "PL-2.99-cycle-exists", "lost-update"],
    ),
    ("update-atomic", &["lost-update"]),
    (
        "PL-SS",
        &["G1", "G1c-realtime", "G2-realtime", "PL-SS-cycle-exists"],
    ),
    (
        "strong-session-PL-1",
        &["strong-session-PL-1-cycle-exists", "G0-process"],
    ),
    (
        "strong-session-PL-2",
        &["strong-session-PL-2-cycle-exists", "G1c-process"],
    ),
    ("strong-PL-1", &["strong-PL-1-cycle-exists", "G0-realtime"]),
    ("strong-PL-2", &["strong-PL-2-cycle-exists", "G1c-realtime"]),
    (
        "strong-session-snapshot-isolation",
        &[
            "internal",
            "G1-process",
            "G-nonadjacent-process",
            "strong-session-snapshot-isolation-cycle-exists",
        ],
    ),
    (
        "strong-snapshot-isolation",
        &[
            "internal",
            "G1-realtime",
            "G-nonadjacent-realtime",
            "strong-snapshot-isolation-cycle-exists",
        ],
    ),
    (
        "strong-session-serializable",
        &[
            "G1-process",
            "G2-process",
            "strong-session-serializable-cycle-exists",
        ],
    ),
    ("PL-3U", &["G1", "G-update"]),
];

/// Anomaly → anomalies it is also an instance of.
const ANOMALY_IMPLIES: &[(&str, &[&str])] = &[
    ("G0", &["G1c", "G0-process"]),
    ("G0-process", &["G1c-process", "G0-realtime"]),
    ("G0-realtime", &["G1c-realtime"]),
    ("G1a", &["G1"]),
    ("G1b", &["G1"]),
    ("G1c", &["G1", "G1c-process"]),
    ("G1c-process", &["G1c-realtime", "G1-process"]),
    ("G1c-realtime", &["G1-realtime"]),
    ("G1", &["G1-process"]),
    ("G1-process", &["G1-realtime"]),
    (
        "G-single-item",
        &["G-single", "G-single-item-process", "G-nonadjacent-item"],
    ),
    (
        "G-single-item-process",
        &[
            "G-single-process",
            "G-single-item-realtime",
            "G-nonadjacent-item-process",
        ],
    ),
    (
        "G-single-item-realtime",
        &["G-single-realtime", "G-nonadjacent-item-realtime"],
    ),
    ("G-single", &["G-nonadjacent", "GSIb", "G-single-process"]),
    (
        "G-single-process",
        &["G-nonadjacent-process", "G-single-realtime"],
    ),
    ("G-single-realtime", &["G-nonadjacent-realtime"]),
    (
        "G-nonadjacent-item",
        &["G-nonadjacent", "G2-item", "G-nonadjacent-item-process"],
    ),
    (
        "G-nonadjacent-item-process",
        &[
            "G-nonadjacent-process",
            "G2-item-process",
            "G-nonadjacent-item-realtime",
        ],
    ),
    (
        "G-nonadjacent-item-realtime",
        &["G2-item-realtime", "G-nonadjacent-realtime"],
    ),
    ("G-nonadjacent", &["G2", "G-nonadjacent-process"]),
    (
        "G-nonadjacent-process",
        &["G2-process", "G-nonadjacent-realtime"],
    ),
    ("G-nonadjacent-realtime", &["G2-realtime"]),
    ("G2", &["G2-process"]),
    ("G2-item", &["G2", "G2-item-process"]),
    ("G2-item-process", &["G2-process", "G2-item-realtime"]),
    ("G2-item-realtime", &["G2-realtime"]),
    ("G2-process", &["G2-realtime"]),
    ("GSIa", &["GSI"]),
    ("GSIb", &["GSI"]),
    ("incompatible-order", &["G1a"]),
    ("future-read", &["G1c"]),
    ("dirty-update", &["G1a"]),
    ("lost-update", &["write-skew", "G2-item"]),
    ("write-skew", &["G2"]),
];

/// Extra "is worse than" edges between anomalies that do not imply each
/// other; together with [`ANOMALY_IMPLIES`] they order the cycle search.
const SEVERITY: &[(&str, &[&str])] = &[
    ("G0", &["G1c"]),
    ("G0-process", &["G1c-process"]),
    ("G0-realtime", &["G1c-realtime"]),
    ("G1c", &["G-single", "G2-item"]),
    ("G1c-process", &["G-single-process", "G2-item-process"]),
    ("G1c-realtime", &["G-single-realtime", "G2-item-realtime"]),
    ("G2", &["G0-process"]),
    ("G2-process", &["G0-realtime"]),
];

/// The models this checker decides, by any of their names. Every other
/// model Elle knows yields `valid? "unknown"` (see the module docs).
const SUPPORTED: &[&str] = &["PL-1", "PL-2", "PL-2.99", "PL-SI", "PL-3", "PL-SS"];

/// A model's canonical name (the name itself when it has no alias).
pub fn canonical(model: &str) -> &str {
    ALIASES
        .iter()
        .find(|(friendly, _)| *friendly == model)
        .map_or(model, |(_, c)| c)
}

/// The name users know a canonical model by.
pub fn friendly(model: &str) -> &str {
    match model {
        "PL-3" => "serializable",
        "PL-SS" => "strict-serializable",
        _ => ALIASES
            .iter()
            .find(|(_, c)| *c == model)
            .map_or(model, |(friendly, _)| friendly),
    }
}

/// Every model name Elle accepts (friendly and canonical).
pub fn all_models() -> BTreeSet<&'static str> {
    let mut all = BTreeSet::new();
    for (a, bs) in IMPLIES {
        all.insert(*a);
        all.extend(bs.iter().copied());
    }
    for (f, c) in ALIASES {
        all.insert(*f);
        all.insert(*c);
    }
    all
}

/// Is this (canonical) model one this checker decides?
pub fn supported(canonical_model: &str) -> bool {
    SUPPORTED.contains(&canonical_model)
}

/// The names of the supported models, friendly first.
pub fn supported_names() -> Vec<&'static str> {
    SUPPORTED.iter().map(|m| friendly(m)).collect()
}

/// Breadth-first closure of `start` along `next`.
fn closure<'a>(
    start: impl IntoIterator<Item = &'a str>,
    next: impl Fn(&str) -> Vec<&'a str>,
) -> HashSet<&'a str> {
    let mut seen: HashSet<&str> = HashSet::new();
    let mut queue: VecDeque<&str> = VecDeque::new();
    for s in start {
        if seen.insert(s) {
            queue.push_back(s);
        }
    }
    while let Some(x) = queue.pop_front() {
        for y in next(x) {
            if seen.insert(y) {
                queue.push_back(y);
            }
        }
    }
    seen
}

fn out(table: &'static [(&'static str, &'static [&'static str])], x: &str) -> Vec<&'static str> {
    table
        .iter()
        .filter(|(a, _)| *a == x)
        .flat_map(|(_, bs)| bs.iter().copied())
        .collect()
}

fn into(table: &'static [(&'static str, &'static [&'static str])], x: &str) -> Vec<&'static str> {
    table
        .iter()
        .filter(|(_, bs)| bs.contains(&x))
        .map(|(a, _)| *a)
        .collect()
}

/// Interned `&'static str` for a name, if the tables know it.
fn known(name: &str) -> Option<&'static str> {
    let tables = [IMPLIES, PROSCRIBES, ANOMALY_IMPLIES, SEVERITY];
    for t in tables {
        for (a, bs) in t {
            if *a == name {
                return Some(a);
            }
            if let Some(b) = bs.iter().find(|b| **b == name) {
                return Some(b);
            }
        }
    }
    None
}

/// Anomalies `anomaly` is also an instance of, itself included.
pub fn implied_anomalies(anomaly: &str) -> HashSet<&'static str> {
    closure(known(anomaly), |a| out(ANOMALY_IMPLIES, a))
}

/// The anomalies that must be absent for every model in `models`
/// (canonical names) to hold: direct prohibitions of the models and of
/// everything they imply, closed under "anomalies that imply one of them".
pub fn prohibited_by(models: &[&str]) -> HashSet<&'static str> {
    let all_models = closure(models.iter().filter_map(|m| known(m)), |m| out(IMPLIES, m));
    let direct = all_models.iter().flat_map(|m| out(PROSCRIBES, m));
    closure(direct, |a| into(ANOMALY_IMPLIES, a))
}

/// Canonical models that cannot hold in a history with these anomalies.
pub fn impossible_models<'a>(
    anomalies: impl IntoIterator<Item = &'a str>,
) -> HashSet<&'static str> {
    let implied = closure(anomalies.into_iter().filter_map(known), |a| {
        out(ANOMALY_IMPLIES, a)
    });
    let direct = implied.iter().flat_map(|a| into(PROSCRIBES, a));
    closure(direct, |m| into(IMPLIES, m))
}

/// Models stronger than (or equal to) `model`: impossible once it is.
pub fn models_at_least(model: &str) -> HashSet<&'static str> {
    closure(known(model), |m| into(IMPLIES, m))
}

/// Elle's `not` / `also-not`: the weakest impossible models, and the rest,
/// both by friendly name and sorted.
pub fn boundary<'a>(anomalies: impl IntoIterator<Item = &'a str>) -> (Vec<String>, Vec<String>) {
    let impossible = impossible_models(anomalies);
    let weakest: HashSet<&str> = impossible
        .iter()
        .copied()
        .filter(|m| {
            // Weakest: implies no other impossible model.
            let below = closure([*m], |x| out(IMPLIES, x));
            !below.iter().any(|b| b != m && impossible.contains(b))
        })
        .collect();
    let mut not: Vec<String> = weakest.iter().map(|m| friendly(m).to_string()).collect();
    let mut also: Vec<String> = impossible
        .iter()
        .filter(|m| !weakest.contains(*m))
        .map(|m| friendly(m).to_string())
        .collect();
    not.sort();
    not.dedup();
    also.sort();
    also.dedup();
    (not, also)
}

/// Depth of each anomaly in the implication-plus-severity order (longest
/// path from an anomaly nothing implies): the cycle search runs shallow
/// (severe) anomalies first, ties broken by name.
pub fn depths() -> HashMap<&'static str, usize> {
    let mut edges: Vec<(&'static str, &'static str)> = Vec::new();
    for t in [ANOMALY_IMPLIES, SEVERITY] {
        for (a, bs) in t {
            for b in *bs {
                edges.push((a, b));
            }
        }
    }
    let mut depth: HashMap<&'static str, usize> = HashMap::new();
    for (a, b) in &edges {
        depth.entry(a).or_insert(0);
        depth.entry(b).or_insert(0);
    }
    // The graph is a DAG of a few dozen nodes: relax until stable.
    for _ in 0..depth.len() {
        let mut changed = false;
        for (a, b) in &edges {
            let d = depth[a] + 1;
            if depth[b] < d {
                depth.insert(b, d);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    depth
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_committed_prohibits_the_g1_family_and_read_uncommitted_does_not() {
        let ru = prohibited_by(&["PL-1"]);
        let rc = prohibited_by(&["PL-2"]);
        for a in ["G0", "cyclic-versions", "PL-1-cycle-exists"] {
            assert!(ru.contains(a) && rc.contains(a), "{a}");
        }
        for a in ["G1a", "G1b", "G1c", "PL-2-cycle-exists", "future-read"] {
            assert!(!ru.contains(a) && rc.contains(a), "{a}");
        }
        for a in ["internal", "lost-update", "G-single-item", "G2-item"] {
            assert!(!rc.contains(a), "{a}");
        }
        let ser = prohibited_by(&["PL-3"]);
        for a in [
            "G-single-item",
            "G2-item",
            "internal",
            "lost-update",
            "PL-SI-cycle-exists",
        ] {
            assert!(ser.contains(a), "{a}");
        }
        assert!(!ser.contains("G1c-realtime"));
        assert!(prohibited_by(&["PL-SS"]).contains("G-single-item-realtime"));
    }

    #[test]
    fn boundaries_name_the_weakest_model() {
        assert_eq!(boundary(["G1a"]).0, ["read-committed"]);
        assert_eq!(boundary(["G0"]).0, ["read-uncommitted"]);
        let (not, also) = boundary(["G-single-item"]);
        assert!(!not.contains(&"serializable".to_string()));
        assert!(also.contains(&"serializable".to_string()), "{also:?}");
    }

    #[test]
    fn severe_anomalies_come_first() {
        let d = depths();
        assert!(d["G0"] < d["G1c"]);
        assert!(d["G1c"] < d["G2-item"]);
        assert!(d["G1c"] < d["G1c-realtime"]);
    }
}
