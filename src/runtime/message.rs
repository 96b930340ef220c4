//! Maelstrom's wire format, written and read in one place: the envelope
//! (`src`, `dest`, `body`, and on the bench's side Maelstrom's global `id`),
//! the body's reserved keys (`type`, `msg_id`, `in_reply_to`), error bodies,
//! and the bench's JSON-lines files (`messages.jsonl`, `history.jsonl`).
//!
//! # Why one module
//!
//! Three parties print envelopes: a node's runtime (`NodeHost::emit`), the
//! bench's network when it hands a message to a node, and the bench's
//! journal. They used to format the envelope three times; a key order or an
//! escaping rule that differs between them is exactly the kind of drift that
//! makes a recorded run unreadable. Here every envelope goes through
//! [`write_envelope`] (a typed body, serialized straight into the output) or
//! [`write_raw_envelope`] (a body already held as JSON text, as the bench's
//! network keeps it), which share one head writer; the journal line wraps
//! the same envelope ([`write_journal_line`]); and everything written can be
//! read back ([`Envelope`], [`read_journal`], [`read_jsonl`]).
//!
//! # Reading: two strictnesses
//!
//! A node reading its stdin is lenient ([`RawEnvelope`]: unknown keys are
//! ignored, the body stays unparsed), as Maelstrom's demo libraries are. The
//! bench reading what a node printed is strict ([`NodeEnvelope`]: a closed
//! map of `src`, `dest`, `body` and an optional `id`), because Maelstrom
//! validates node output against that schema
//! (maelstrom: src/maelstrom/net/message.clj, src/maelstrom/process.clj).
//!
//! Payloads are serde enums tagged by `type`, e.g.
//! `#[serde(tag = "type", rename_all = "snake_case")]`; the runtime adds
//! `msg_id` and `in_reply_to` around them
//! (maelstrom: doc/protocol.md).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;
use std::io::Write as _;

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
///
/// The reply address is a field of its own, so that matching the payload by
/// value (`match msg.payload { … }`) leaves `msg.from` usable for
/// [`crate::runtime::Ctx::reply`].
#[derive(Debug, Clone, PartialEq)]
pub struct Request<P> {
    /// Who sent it, and the `msg_id` to answer.
    pub from: ReplyTo,
    /// The typed payload.
    pub payload: P,
}

/// Where a reply goes: the sender and its `msg_id`. Cheap to keep, for a
/// reply sent later (once a batch is acknowledged, a quorum answers, …).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReplyTo {
    /// Who sent the request.
    pub src: NodeId,
    /// The sender's `msg_id`; present when the sender expects a reply.
    pub msg_id: Option<MsgId>,
}

/// Anything that names a reply's address: a [`Request`] or its [`ReplyTo`].
pub trait AsReplyTo {
    /// The address.
    fn reply_to(&self) -> &ReplyTo;
}

impl AsReplyTo for ReplyTo {
    fn reply_to(&self) -> &ReplyTo {
        self
    }
}

impl<P> AsReplyTo for Request<P> {
    fn reply_to(&self) -> &ReplyTo {
        &self.from
    }
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

/// The head of every envelope line, up to and including `"body":`:
/// `{"id":N,"src":"…","dest":"…","body":` (`id` only when given). Ids are
/// JSON strings, escaped as serde_json escapes them.
fn write_head(out: &mut Vec<u8>, id: Option<u64>, src: &str, dest: &str) -> serde_json::Result<()> {
    out.push(b'{');
    if let Some(id) = id {
        let _ = write!(out, "\"id\":{id},");
    }
    out.extend_from_slice(b"\"src\":");
    serde_json::to_writer(&mut *out, src)?;
    out.extend_from_slice(b",\"dest\":");
    serde_json::to_writer(&mut *out, dest)?;
    out.extend_from_slice(b",\"body\":");
    Ok(())
}

/// Append the envelope of a typed `body` to `out` (no newline). On error
/// `out` is left as it was.
pub fn write_envelope<B: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    id: Option<u64>,
    src: &str,
    dest: &str,
    body: &B,
) -> serde_json::Result<()> {
    let start = out.len();
    let written =
        write_head(out, id, src, dest).and_then(|()| serde_json::to_writer(&mut *out, body));
    match written {
        Ok(()) => {
            out.push(b'}');
            Ok(())
        }
        Err(e) => {
            out.truncate(start);
            Err(e)
        }
    }
}

/// Append the envelope of a body held as JSON text (the bench's network
/// keeps bodies so, as the node printed them) to `out` (no newline).
pub fn write_raw_envelope(out: &mut Vec<u8>, id: Option<u64>, src: &str, dest: &str, body: &str) {
    let start = out.len();
    if write_head(out, id, src, dest).is_err() {
        // Writing a `str` into a `Vec` cannot fail; keep `out` whole anyway.
        out.truncate(start);
        return;
    }
    out.extend_from_slice(body.as_bytes());
    out.push(b'}');
}

/// Bytes this module wrote, as text: they are UTF-8 by construction (JSON
/// from `str`s), so this never copies in practice.
pub fn into_text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// An envelope as read back from a line (a journal's `message`, a node's
/// input): any body, kept as JSON text.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope {
    /// Maelstrom's global message id (journal lines and lines the bench
    /// delivers have one; a node's own output usually does not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    /// The sender.
    pub src: NodeId,
    /// The destination.
    pub dest: NodeId,
    /// The body, unparsed.
    pub body: Box<RawValue>,
}

/// What a node printed, read as strictly as Maelstrom's schema: exactly
/// `src`, `dest`, `body` and an optional integer `id` (checked by the
/// caller, so that it can say what was wrong).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeEnvelope<'a> {
    /// The sender.
    pub src: String,
    /// The destination.
    pub dest: String,
    /// The body, unparsed.
    #[serde(borrow)]
    pub body: &'a RawValue,
    /// An id the node gave; Maelstrom accepts and ignores an integer.
    #[serde(default)]
    pub id: Option<Value>,
}

/// One journal event: a message sent or delivered at `time` (ns since the
/// test started), as `messages.jsonl` holds it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JournalEntry {
    /// Nanoseconds since the test started.
    pub time: u64,
    /// `send` or `recv`.
    #[serde(rename = "type")]
    pub kind: JournalKind,
    /// The message.
    pub message: Envelope,
}

/// Whether a journal event is a send or a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JournalKind {
    /// The message entered the network.
    Send,
    /// The message reached its destination.
    Recv,
}

/// Append one journal line (with its newline):
/// `{"time":ns,"type":"send"|"recv","message":{envelope}}`.
pub fn write_journal_line(
    out: &mut Vec<u8>,
    time: u64,
    kind: JournalKind,
    id: u64,
    src: &str,
    dest: &str,
    body: &str,
) {
    let kind = match kind {
        JournalKind::Send => "send",
        JournalKind::Recv => "recv",
    };
    let _ = write!(out, "{{\"time\":{time},\"type\":\"{kind}\",\"message\":");
    write_raw_envelope(out, Some(id), src, dest, body);
    out.extend_from_slice(b"}\n");
}

/// Read `messages.jsonl` back.
pub fn read_journal(text: &str) -> anyhow::Result<Vec<JournalEntry>> {
    read_jsonl(text, "messages.jsonl")
}

/// Append `items` as JSON lines (one compact value and a newline each).
pub fn write_jsonl<'a, T: Serialize + 'a>(
    items: impl IntoIterator<Item = &'a T>,
) -> serde_json::Result<String> {
    let mut out = Vec::new();
    for item in items {
        serde_json::to_writer(&mut out, item)?;
        out.push(b'\n');
    }
    Ok(into_text(out))
}

/// Read JSON lines (blank lines skipped); an error names `what` and the
/// line number.
pub fn read_jsonl<T: DeserializeOwned>(text: &str, what: &str) -> anyhow::Result<Vec<T>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let item = serde_json::from_str(line)
            .map_err(|e| anyhow::anyhow!("{what} line {}: {e}", i + 1))?;
        out.push(item);
    }
    Ok(out)
}

/// An error body as a JSON value, for parties that build bodies as values
/// (the bench's services): `{"type":"error","code":…,"text":…}`.
pub fn error_value(code: u64, text: impl Into<String>) -> Value {
    serde_json::json!({"type": "error", "code": code, "text": text.into()})
}

/// An error reply's code and text, read as a Maelstrom client reads them: a
/// missing or non-integer code counts as 13 (crash), a missing text as
/// empty. None when the body is not an error.
pub fn read_error(body: &Value) -> Option<(u64, String)> {
    if body.get("type").and_then(Value::as_str) != Some("error") {
        return None;
    }
    let code = body.get("code").and_then(Value::as_u64).unwrap_or(13);
    let text = body
        .get("text")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    Some((code, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    #[serde(tag = "type", rename_all = "snake_case")]
    enum Payload {
        Echo { echo: String },
    }

    #[test]
    fn typed_and_raw_envelopes_are_the_same_bytes() {
        let body = OutBody {
            payload: &Payload::Echo {
                echo: "a\"b".into(),
            },
            msg_id: Some(3),
            in_reply_to: None,
        };
        let mut typed = Vec::new();
        write_envelope(&mut typed, None, "n0", "c\u{e9}", &body).unwrap();
        let text = serde_json::to_string(&body).unwrap();
        let mut raw = Vec::new();
        write_raw_envelope(&mut raw, None, "n0", "c\u{e9}", &text);
        assert_eq!(typed, raw);
        assert_eq!(
            into_text(typed),
            r#"{"src":"n0","dest":"cé","body":{"type":"echo","echo":"a\"b","msg_id":3}}"#
        );
        let mut with_id = Vec::new();
        write_raw_envelope(&mut with_id, Some(7), "n0", "n1", "{}");
        assert_eq!(
            into_text(with_id),
            r#"{"id":7,"src":"n0","dest":"n1","body":{}}"#
        );
    }

    #[test]
    fn journal_lines_read_back() {
        let mut out = Vec::new();
        write_journal_line(
            &mut out,
            5,
            JournalKind::Send,
            0,
            "c1",
            "n0",
            r#"{"type":"echo","msg_id":1}"#,
        );
        write_journal_line(
            &mut out,
            9,
            JournalKind::Recv,
            0,
            "c1",
            "n0",
            r#"{"type":"echo","msg_id":1}"#,
        );
        let back = read_journal(&into_text(out)).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!((back[0].time, back[0].kind), (5, JournalKind::Send));
        assert_eq!(back[1].kind, JournalKind::Recv);
        assert_eq!(back[1].message.id, Some(0));
        assert_eq!(back[1].message.src, "c1");
        assert_eq!(back[1].message.body.get(), r#"{"type":"echo","msg_id":1}"#);
        let err = read_journal("{\"time\":1}\n").unwrap_err().to_string();
        assert!(err.contains("messages.jsonl line 1"), "{err}");
    }

    #[test]
    fn error_bodies() {
        let v = error_value(20, "key does not exist");
        assert_eq!(
            v.to_string(),
            r#"{"code":20,"text":"key does not exist","type":"error"}"#
        );
        assert_eq!(read_error(&v), Some((20, "key does not exist".to_string())));
        assert_eq!(
            read_error(&serde_json::json!({"type": "error"})),
            Some((13, String::new()))
        );
        assert_eq!(read_error(&serde_json::json!({"type": "read_ok"})), None);
    }
}
