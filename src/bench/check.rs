//! Shared pieces of the checkers: Jepsen's three-valued validity and the
//! quantile maps Maelstrom prints.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Jepsen's `:valid?`: true, false, or unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    /// No anomaly found.
    Valid,
    /// An anomaly was found.
    Invalid,
    /// The checker could not decide.
    Unknown,
}

impl Validity {
    /// Jepsen's `merge-valid`: false beats unknown beats true.
    pub fn merge(self, other: Validity) -> Validity {
        use Validity::*;
        match (self, other) {
            (Invalid, _) | (_, Invalid) => Invalid,
            (Unknown, _) | (_, Unknown) => Unknown,
            _ => Valid,
        }
    }

    /// Read `valid?` out of a checker result map (missing → unknown).
    pub fn of(result: &Value) -> Validity {
        match result.get("valid?") {
            Some(Value::Bool(true)) => Validity::Valid,
            Some(Value::Bool(false)) => Validity::Invalid,
            _ => Validity::Unknown,
        }
    }
}

impl From<bool> for Validity {
    fn from(b: bool) -> Self {
        if b {
            Validity::Valid
        } else {
            Validity::Invalid
        }
    }
}

impl Serialize for Validity {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Validity::Valid => s.serialize_bool(true),
            Validity::Invalid => s.serialize_bool(false),
            Validity::Unknown => s.serialize_str("unknown"),
        }
    }
}

impl<'de> Deserialize<'de> for Validity {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::Bool(true) => Validity::Valid,
            Value::Bool(false) => Validity::Invalid,
            _ => Validity::Unknown,
        })
    }
}

/// The quantiles Maelstrom reports.
pub const QUANTILES: [(&str, f64); 5] = [
    ("0", 0.0),
    ("0.5", 0.5),
    ("0.95", 0.95),
    ("0.99", 0.99),
    ("1", 1.0),
];

/// Jepsen's quantile map over `values`: `sorted[min(n−1, floor(n·p))]` for
/// each of [`QUANTILES`]; None when `values` is empty.
pub fn quantiles(values: &[u64]) -> Option<Value> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_unstable();
    let n = v.len();
    let mut m = Map::new();
    for (k, p) in QUANTILES {
        let i = ((n as f64 * p).floor() as usize).min(n - 1);
        m.insert(k.to_string(), Value::from(v[i]));
    }
    Some(Value::Object(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_and_quantiles() {
        use Validity::*;
        assert_eq!(Valid.merge(Unknown), Unknown);
        assert_eq!(Unknown.merge(Invalid), Invalid);
        assert_eq!(Valid.merge(Valid), Valid);
        let q = quantiles(&[5, 1, 3, 2, 4]).unwrap();
        assert_eq!(q["0"], 1);
        assert_eq!(q["0.5"], 3);
        assert_eq!(q["1"], 5);
        assert!(quantiles(&[]).is_none());
        assert_eq!(serde_json::to_value(Unknown).unwrap(), "unknown");
    }
}
