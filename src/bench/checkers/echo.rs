//! The echo checker (`maelstrom: src/maelstrom/workload/echo.clj`,
//! `checker`): every echo must come back unchanged.
//!
//! For each client operation that completed `ok` or `fail`, the `echo`
//! field of the completion's value (the reply body) must equal the
//! invocation's value. As in Maelstrom, which pairs invocations with
//! completions through knossos' history index, operations that ended `info`
//! (timeout, indefinite error, malformed reply) or never ended are not
//! checked; a `fail` keeps the original string as its value, with no `echo`
//! field, so a definite error counts as a wrong echo. The result lists each
//! mismatch with what was expected and what came back.

use super::{Checker, Input};
use crate::bench::history::{History, OpType};
use serde_json::{json, Value};

/// The echo checker.
#[derive(Debug, Clone, Copy, Default)]
pub struct Echo;

impl Checker for Echo {
    fn check(&self, input: &Input<'_>) -> Value {
        check(input.history)
    }
}

/// The echo result over `history`: `valid?` and the `errors`.
pub fn check(history: &History) -> Value {
    let mut errors = Vec::new();
    for (inv, done) in history.client_pairs() {
        let Some(done) = done.filter(|d| d.kind != OpType::Info) else {
            continue;
        };
        let received = done.value.get("echo").cloned().unwrap_or(Value::Null);
        if received != inv.value {
            errors.push(json!({
                "expected": inv.value,
                "received": received,
                "invocation": inv,
                "completion": done,
            }));
        }
    }
    json!({"valid?": errors.is_empty(), "errors": errors})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::history::Op;

    fn op(kind: OpType, value: Value) -> Op {
        Op::client(0, 0, kind, "echo", value)
    }

    #[test]
    fn a_changed_echo_is_an_error() {
        let mut h = History::new();
        h.push(op(OpType::Invoke, json!("Please echo 3")));
        h.push(op(
            OpType::Ok,
            json!({"type": "echo_ok", "in_reply_to": 1, "echo": "Please echo 3"}),
        ));
        assert_eq!(check(&h)["valid?"], true);
        h.push(op(OpType::Invoke, json!("Please echo 4")));
        h.push(op(
            OpType::Ok,
            json!({"type": "echo_ok", "echo": "Please echo 5"}),
        ));
        let r = check(&h);
        assert_eq!(r["valid?"], false);
        assert_eq!(r["errors"][0]["expected"], "Please echo 4");
        assert_eq!(r["errors"][0]["received"], "Please echo 5");
    }

    #[test]
    fn info_ops_are_not_checked_but_fails_are() {
        let mut h = History::new();
        h.push(op(OpType::Invoke, json!("Please echo 1")));
        h.push(op(OpType::Info, json!("Please echo 1")));
        assert_eq!(check(&h)["valid?"], true);
        h.push(op(OpType::Invoke, json!("Please echo 2")));
        h.push(op(OpType::Fail, json!("Please echo 2")));
        let r = check(&h);
        assert_eq!(r["valid?"], false);
        assert_eq!(r["errors"].as_array().unwrap().len(), 1);
    }
}
