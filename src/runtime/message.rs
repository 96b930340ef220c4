//! Maelstrom's wire format: an envelope (`src`, `dest`, `body`) around a body
//! whose reserved keys are `type`, `msg_id` and `in_reply_to`.
//!
//! Payloads are serde enums tagged by `type`, e.g.
//! `#[serde(tag = "type", rename_all = "snake_case")]`; the runtime adds
//! `msg_id` and `in_reply_to` around them.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// A node or client id (`n0`, `c3`, `lin-kv`, …).
pub type NodeId = String;

/// A message id, unique per sender.
pub type MsgId = u64;

/// The envelope of an incoming line, with the body left unparsed.
#[derive(Debug, Deserialize)]
pub(crate) struct RawEnvelope<'a> {
    #[serde(borrow)]
    pub src: std::borrow::Cow<'a, str>,
    #[allow(dead_code)]
    pub dest: String,
    #[serde(borrow)]
    pub body: &'a RawValue,
}

/// The reserved keys of a body, read without parsing the rest.
#[derive(Debug, Deserialize)]
pub(crate) struct BodyHeader<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: Option<std::borrow::Cow<'a, str>>,
    pub msg_id: Option<MsgId>,
    pub in_reply_to: Option<MsgId>,
}

/// Only the ids of a body, for answering a body whose other reserved keys
/// have the wrong shape.
#[derive(Debug, Deserialize)]
pub(crate) struct MsgIdOnly {
    pub msg_id: Option<MsgId>,
    pub in_reply_to: Option<serde::de::IgnoredAny>,
}

/// An outgoing envelope.
#[derive(Debug, Serialize)]
pub(crate) struct OutEnvelope<'a, P: Serialize + ?Sized> {
    pub src: &'a str,
    pub dest: &'a str,
    pub body: OutBody<'a, P>,
}

/// An outgoing body: the payload's fields (including `type`) plus the
/// reserved keys, which are skipped when absent.
#[derive(Debug, Serialize)]
pub(crate) struct OutBody<'a, P: Serialize + ?Sized> {
    #[serde(flatten)]
    pub payload: &'a P,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg_id: Option<MsgId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<MsgId>,
}

/// An incoming message delivered to a handler.
#[derive(Debug, Clone, PartialEq)]
pub struct Request<P> {
    /// Who sent it.
    pub src: NodeId,
    /// The sender's `msg_id`; present when the sender expects a reply.
    pub msg_id: Option<MsgId>,
    /// The typed payload.
    pub payload: P,
}

/// The body of a reply to one of our RPCs, parsed on demand into whatever
/// type the caller expects.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Who replied.
    pub src: NodeId,
    /// The raw JSON body (including `type` and `in_reply_to`).
    pub body: Box<RawValue>,
}

impl Reply {
    /// Parse the body as `T`.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, crate::runtime::Error> {
        serde_json::from_str(self.body.get()).map_err(|e| {
            crate::runtime::Error::new(
                crate::runtime::ErrorCode::MalformedRequest,
                format!("unexpected reply body {}: {e}", self.body.get()),
            )
        })
    }

    /// The body as a generic JSON value.
    pub fn value(&self) -> serde_json::Value {
        serde_json::from_str(self.body.get()).unwrap_or(serde_json::Value::Null)
    }
}

/// The `init` message's payload.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Init {
    /// This node's id.
    pub node_id: NodeId,
    /// Every node's id, in Maelstrom's order (identical on every node).
    pub node_ids: Vec<NodeId>,
}

/// The body of an error reply.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename = "error")]
pub(crate) struct ErrorBody<'a> {
    pub code: crate::runtime::ErrorCode,
    #[serde(skip_serializing_if = "str::is_empty", default, borrow)]
    pub text: std::borrow::Cow<'a, str>,
}

/// A payload with only a type, for replies such as `init_ok`.
#[derive(Debug, Serialize)]
pub(crate) struct TypeOnly<'a> {
    #[serde(rename = "type")]
    pub kind: &'a str,
}
