//! Maelstrom's built-in services (`lin-kv`, `seq-kv`, `lww-kv`, `lin-tso`),
//! spec §4. Placeholder: being written.

use rand::rngs::StdRng;
use serde_json::Value;

/// A service: one request at a time, in delivery order.
pub trait Service: Send {
    /// Handle a request body from `src`. Returns the reply body (without
    /// `in_reply_to`, which the engine adds from the request's `msg_id`, or
    /// `null` when it had none), or None when Maelstrom sends no reply
    /// (an unknown `type`).
    fn handle(&mut self, src: &str, body: &Value, rng: &mut StdRng) -> Option<Value>;
}

/// The services every test has, by id.
pub fn default_services() -> Vec<(&'static str, Box<dyn Service>)> {
    Vec::new()
}
