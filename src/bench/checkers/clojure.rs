//! Clojure's `compare` and `=` over JSON values, for checkers that order or
//! count arbitrary values the way Jepsen does.
//!
//! # Why
//!
//! Jepsen's checkers handle node-chosen values (unique ids, set elements)
//! with Clojure's generic functions: `compare` to sort them or find a
//! range, hash maps (that is, `=` and `hash`) to count them. A node may
//! answer with any JSON, so what those functions do with each JSON type
//! decides the verdict: where `compare` throws, Jepsen's checker throws and
//! Maelstrom reports `valid? unknown`; where it does not, the checker goes
//! on. This module reproduces both functions over [`serde_json::Value`] as
//! Maelstrom 0.2.3 sees JSON (Clojure 1.11.1; cheshire/Jackson parsing:
//! integers become `Integer`, `Long` or `BigInteger`, fractions `Double`,
//! arrays vectors, objects maps, `null` nil).
//!
//! # `compare` (`clojure: src/jvm/clojure/lang/Util.java`, `compare`)
//!
//! - **nil** is below everything and equal to itself (`Util.compare`
//!   checks for null before anything else, on both sides).
//! - **Numbers** (`Numbers.java`, `compare`): two integers compare exactly;
//!   as soon as one side is a double, both are converted to doubles and
//!   compared as doubles (`DoubleOps.lt`), so `1` and `1.0` are equal and a
//!   long beyond 2⁵³ can tie with a nearby double.
//! - **Strings**: `String.compareTo`, by UTF-16 code units, then length.
//! - **Booleans**: `Boolean.compareTo`, false before true.
//! - **Vectors** (`APersistentVector.java`, `compareTo`): the shorter is
//!   smaller; equal lengths compare element by element with `compare`, and
//!   the first difference decides, so elements after it are never
//!   compared.
//! - **Throws** (`ClassCastException`) for every other pair: two non-nil
//!   values of different kinds (a number and a string, a vector and a
//!   number, …) and any map (maps are not `Comparable`), even two equal
//!   maps. The one exception, an object compared with itself (`k1 == k2`),
//!   cannot arise between two values a node sent separately.
//!
//! # `=` and `hash` (`Util.java` `equiv`, `Numbers.java` `equal` and `hasheq`)
//!
//! Numbers are equal when they are in the same category (integer or
//! floating) and numerically equal: `1 = 1.0` is false, and `0.0 = -0.0`
//! is true and both hash alike, so a hash map counts them as one key.
//! Vectors and maps are equal element by element. [`key`] gives each value
//! a text that two values share exactly when they are `=`.
//!
//! # Caveats
//!
//! serde_json without arbitrary precision reads an integer beyond the
//! 64-bit range as a double, where Jackson makes it a `BigInteger`; such an
//! id is then compared and counted as a double here. Nodes that send ids
//! past 2⁶⁴ are not known to exist.

use serde_json::{Number, Value};
use std::cmp::Ordering;

/// What Clojure's `compare` throws: a `ClassCastException` on these two
/// values (in the order `compare` was called with them).
#[derive(Debug, Clone, PartialEq)]
pub struct Incomparable {
    /// The left value of the failing comparison (perhaps an element of
    /// the values first compared).
    pub left: Value,
    /// The right value.
    pub right: Value,
}

impl std::fmt::Display for Incomparable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ClassCastException: {} ({}) cannot be compared with {} ({})",
            self.left,
            kind(&self.left),
            self.right,
            kind(&self.right)
        )
    }
}

/// The Java class a JSON value has in Maelstrom, for error messages.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nil",
        Value::Bool(_) => "Boolean",
        Value::Number(n) if n.is_f64() => "Double",
        Value::Number(_) => "Long",
        Value::String(_) => "String",
        Value::Array(_) => "PersistentVector",
        Value::Object(_) => "PersistentArrayMap",
    }
}

/// Clojure's `(compare a b)` over JSON values, or the exception it throws.
pub fn compare(a: &Value, b: &Value) -> Result<Ordering, Incomparable> {
    let throw = || {
        Err(Incomparable {
            left: a.clone(),
            right: b.clone(),
        })
    };
    match (a, b) {
        (Value::Null, Value::Null) => Ok(Ordering::Equal),
        (Value::Null, _) => Ok(Ordering::Less),
        (_, Value::Null) => Ok(Ordering::Greater),
        (Value::Number(x), Value::Number(y)) => Ok(compare_numbers(x, y)),
        (Value::String(x), Value::String(y)) => Ok(x.encode_utf16().cmp(y.encode_utf16())),
        (Value::Bool(x), Value::Bool(y)) => Ok(x.cmp(y)),
        (Value::Array(x), Value::Array(y)) => {
            if x.len() != y.len() {
                return Ok(x.len().cmp(&y.len()));
            }
            for (p, q) in x.iter().zip(y) {
                match compare(p, q)? {
                    Ordering::Equal => continue,
                    other => return Ok(other),
                }
            }
            Ok(Ordering::Equal)
        }
        _ => throw(),
    }
}

/// `Numbers.compare`: exact between integers, as doubles otherwise.
fn compare_numbers(x: &Number, y: &Number) -> Ordering {
    match (integer(x), integer(y)) {
        (Some(i), Some(j)) => i.cmp(&j),
        _ => {
            let (p, q) = (double(x), double(y));
            // DoubleOps: lt(x, y) → −1, lt(y, x) → 1, else 0.
            if p < q {
                Ordering::Less
            } else if q < p {
                Ordering::Greater
            } else {
                Ordering::Equal
            }
        }
    }
}

/// The value of an integer-typed JSON number.
fn integer(n: &Number) -> Option<i128> {
    n.as_i64()
        .map(i128::from)
        .or_else(|| n.as_u64().map(i128::from))
}

/// A number as Java's `doubleValue()` gives it (round to nearest).
fn double(n: &Number) -> f64 {
    if let Some(i) = n.as_i64() {
        i as f64
    } else if let Some(u) = n.as_u64() {
        u as f64
    } else {
        n.as_f64().unwrap_or(f64::NAN)
    }
}

/// A text two values share exactly when Clojure's `=` holds between them
/// (and so a Clojure hash map keeps them under one key): JSON text with
/// every `-0.0` read as `0.0`; integers print without a fraction and
/// doubles with one, so `1` and `1.0` stay apart.
pub fn key(v: &Value) -> String {
    fn normalize(v: &Value) -> Option<Value> {
        match v {
            Value::Number(n) if n.as_f64() == Some(0.0) && n.is_f64() => Some(Value::from(0.0)),
            Value::Array(xs) if xs.iter().any(|x| normalize(x).is_some()) => Some(Value::Array(
                xs.iter()
                    .map(|x| normalize(x).unwrap_or_else(|| x.clone()))
                    .collect(),
            )),
            Value::Object(m) if m.values().any(|x| normalize(x).is_some()) => Some(Value::Object(
                m.iter()
                    .map(|(k, x)| (k.clone(), normalize(x).unwrap_or_else(|| x.clone())))
                    .collect(),
            )),
            _ => None,
        }
    }
    match normalize(v) {
        Some(n) => n.to_string(),
        None => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use Ordering::{Equal, Greater, Less};

    fn cmp(a: Value, b: Value) -> Result<Ordering, Incomparable> {
        compare(&a, &b)
    }

    #[test]
    fn nil_sorts_first_against_anything() {
        assert_eq!(cmp(json!(null), json!(null)), Ok(Equal));
        for v in [json!(0), json!("a"), json!(false), json!([]), json!({})] {
            assert_eq!(cmp(json!(null), v.clone()), Ok(Less), "{v}");
            assert_eq!(cmp(v.clone(), json!(null)), Ok(Greater), "{v}");
        }
    }

    #[test]
    fn numbers_compare_across_integers_and_doubles() {
        assert_eq!(cmp(json!(1), json!(2)), Ok(Less));
        assert_eq!(cmp(json!(1), json!(1.0)), Ok(Equal));
        assert_eq!(cmp(json!(1.5), json!(1)), Ok(Greater));
        assert_eq!(cmp(json!(-3), json!(u64::MAX)), Ok(Less));
        // Two longs compare exactly, even where doubles cannot tell them apart.
        let big = 9_007_199_254_740_993i64; // 2^53 + 1
        assert_eq!(cmp(json!(big), json!(big - 1)), Ok(Greater));
        // Against a double, the long is rounded to a double first.
        assert_eq!(cmp(json!(big), json!(9_007_199_254_740_992.0)), Ok(Equal));
        assert_eq!(cmp(json!(0.0), json!(-0.0)), Ok(Equal));
    }

    #[test]
    fn strings_compare_by_utf16_code_units() {
        assert_eq!(cmp(json!("a"), json!("b")), Ok(Less));
        assert_eq!(cmp(json!("ab"), json!("a")), Ok(Greater));
        assert_eq!(cmp(json!(""), json!("a")), Ok(Less));
        // U+FF5E is one unit 0xFF5E; U+1F600 is the surrogate pair
        // 0xD83D 0xDE00, which sorts first in UTF-16 (and last in UTF-8).
        assert_eq!(cmp(json!("\u{1F600}"), json!("\u{FF5E}")), Ok(Less));
        assert_eq!("\u{1F600}".cmp("\u{FF5E}"), Greater);
    }

    #[test]
    fn booleans_and_vectors() {
        assert_eq!(cmp(json!(false), json!(true)), Ok(Less));
        assert_eq!(cmp(json!(true), json!(true)), Ok(Equal));
        // Length first, then element by element.
        assert_eq!(cmp(json!([9, 9]), json!([1, 1, 1])), Ok(Less));
        assert_eq!(cmp(json!(["n0", 12]), json!(["n0", 3])), Ok(Greater));
        assert_eq!(cmp(json!(["n1", 0]), json!(["n0", 99])), Ok(Greater));
        assert_eq!(cmp(json!([[1, 2], 3]), json!([[1, 2.5], 0])), Ok(Less));
        assert_eq!(cmp(json!([1, null]), json!([1, null])), Ok(Equal));
        // The first difference decides; later elements are never compared.
        assert_eq!(cmp(json!([1, "a"]), json!([2, 3])), Ok(Less));
        // Different lengths never look at the elements.
        assert_eq!(cmp(json!(["a"]), json!([1, 2])), Ok(Less));
    }

    #[test]
    fn mixed_kinds_and_maps_throw() {
        let e = cmp(json!("a"), json!(1)).unwrap_err();
        assert_eq!((e.left, e.right), (json!("a"), json!(1)));
        assert!(cmp(json!(1), json!("a")).is_err());
        assert!(cmp(json!(true), json!(1)).is_err());
        assert!(cmp(json!([1]), json!(1)).is_err());
        assert!(cmp(json!(1), json!([1])).is_err());
        assert!(cmp(json!({"a": 1}), json!({"a": 1})).is_err());
        assert!(cmp(json!({}), json!("x")).is_err());
        // Inside vectors, at the first difference.
        let e = cmp(json!([1, "a"]), json!([1, 2])).unwrap_err();
        assert_eq!((&e.left, &e.right), (&json!("a"), &json!(2)));
        assert!(e.to_string().contains("String"), "{e}");
    }

    #[test]
    fn keys_follow_clojure_equality() {
        assert_ne!(key(&json!(1)), key(&json!(1.0)));
        assert_ne!(key(&json!(1)), key(&json!("1")));
        assert_eq!(key(&json!(0.0)), key(&json!(-0.0)));
        assert_eq!(
            key(&json!([0.0, {"a": -0.0}])),
            key(&json!([-0.0, {"a": 0.0}]))
        );
        assert_eq!(key(&json!({"b": 1, "a": 2})), key(&json!({"a": 2, "b": 1})));
        assert_ne!(key(&json!([1])), key(&json!([1.0])));
        assert_eq!(key(&json!(["n0", 12])), "[\"n0\",12]");
    }
}
