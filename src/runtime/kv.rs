//! Clients for Maelstrom's services: the key/value stores `seq-kv`,
//! `lin-kv`, `lww-kv` and the timestamp oracle `lin-tso`.
//!
//! A request is a small value ([`Read`], [`Write`], [`Cas`]), sent with
//! [`Kv::rpc`] and a continuation that hears the decoded outcome: the value
//! of a `read_ok`, `()` for `write_ok` / `cas_ok`, or the typed [`Error`]
//! (`KeyDoesNotExist` = 20, `PreconditionFailed` = 22, `Timeout` = 0, …):
//!
//! ```
//! # use glomers::runtime::{kv::{Cas, Kv}, Ctx, Node};
//! # use std::time::Duration;
//! # fn bump<N: Node>(ctx: &mut Ctx<'_, N>) {
//! let cas = Cas { key: "counter", from: 1, to: 2, create_if_missing: true };
//! Kv::SEQ.rpc(ctx, cas, Duration::from_secs(1), |_node, outcome, ctx| {
//!     if let Err(e) = outcome {
//!         ctx.log(format_args!("cas failed: {e}"));
//!     }
//! });
//! # }
//! ```
//!
//! The wire shapes are Maelstrom's (maelstrom: `src/maelstrom/workload/
//! lin_kv.clj`, `doc/services.md`): `create_if_not_exists` on the wire is
//! [`Cas::create_if_missing`] here, and is left out when false.

use super::message::MsgId;
use super::node::{Ctx, Node};
use super::{Error, Reply};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::time::Duration;

fn is_false(b: &bool) -> bool {
    !*b
}

/// A request to a key/value service and how its reply decodes.
pub trait KvOp: Serialize {
    /// What a successful reply decodes to.
    type Output;
    /// Decode the reply (or pass the error on).
    fn decode(reply: Result<Reply, Error>) -> Result<Self::Output, Error>;
}

/// Read a key; the outcome is the value as JSON (decode it with
/// [`decode`]), or error 20 when the key does not exist.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename = "read")]
pub struct Read<K> {
    /// The key.
    pub key: K,
}

/// Write `value` to `key`.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename = "write")]
pub struct Write<K, V> {
    /// The key.
    pub key: K,
    /// The new value.
    pub value: V,
}

/// Set `key` to `to` if it holds `from`; error 22 if it holds something
/// else, 20 if it does not exist and `create_if_missing` is false.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename = "cas")]
pub struct Cas<K, V> {
    /// The key.
    pub key: K,
    /// The expected current value.
    pub from: V,
    /// The new value.
    pub to: V,
    /// Create the key with `to` if it does not exist (not in lww-kv).
    #[serde(rename = "create_if_not_exists", skip_serializing_if = "is_false")]
    pub create_if_missing: bool,
}

#[derive(Deserialize)]
struct ReadOk<T> {
    value: T,
}

impl<K: Serialize> KvOp for Read<K> {
    type Output = serde_json::Value;
    fn decode(reply: Result<Reply, Error>) -> Result<serde_json::Value, Error> {
        reply?.parse::<ReadOk<serde_json::Value>>().map(|r| r.value)
    }
}

impl<K: Serialize, V: Serialize> KvOp for Write<K, V> {
    type Output = ();
    fn decode(reply: Result<Reply, Error>) -> Result<(), Error> {
        reply.map(|_| ())
    }
}

impl<K: Serialize, V: Serialize> KvOp for Cas<K, V> {
    type Output = ();
    fn decode(reply: Result<Reply, Error>) -> Result<(), Error> {
        reply.map(|_| ())
    }
}

/// A value read from a store as `T`, or error 12 if it is not one.
pub fn decode<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, Error> {
    let text = value.to_string();
    serde_json::from_value(value).map_err(|e| {
        Error::new(
            super::ErrorCode::MalformedRequest,
            format!("unexpected value {text}: {e}"),
        )
    })
}

/// A key/value service, named by its Maelstrom id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kv(pub &'static str);

impl Kv {
    /// The sequentially consistent store.
    pub const SEQ: Kv = Kv("seq-kv");
    /// The linearizable store.
    pub const LIN: Kv = Kv("lin-kv");
    /// The last-write-wins store.
    pub const LWW: Kv = Kv("lww-kv");

    /// Send `op` and run `then` with its decoded outcome (see
    /// [`Ctx::rpc`] for timeouts and late replies).
    pub fn rpc<N: Node, O: KvOp>(
        self,
        ctx: &mut Ctx<'_, N>,
        op: O,
        timeout: Duration,
        then: impl FnOnce(&mut N, Result<O::Output, Error>, &mut Ctx<'_, N>) + 'static,
    ) -> MsgId {
        ctx.rpc(self.0, &op, timeout, move |node, reply, ctx| {
            then(node, O::decode(reply), ctx)
        })
    }
}

#[derive(Deserialize)]
struct TsOk {
    ts: u64,
}

/// The timestamp oracle `lin-tso`.
#[derive(Debug, Clone, Copy)]
pub struct Tso;

impl Tso {
    /// Ask for a timestamp and run `then` with it (or the error).
    pub fn ts<N: Node>(
        self,
        ctx: &mut Ctx<'_, N>,
        timeout: Duration,
        then: impl FnOnce(&mut N, Result<u64, Error>, &mut Ctx<'_, N>) + 'static,
    ) -> MsgId {
        #[derive(Serialize)]
        struct Ts {
            #[serde(rename = "type")]
            kind: &'static str,
        }
        ctx.rpc(
            "lin-tso",
            &Ts { kind: "ts" },
            timeout,
            move |node, reply, ctx| {
                then(
                    node,
                    reply.and_then(|r| r.parse::<TsOk>().map(|r| r.ts)),
                    ctx,
                )
            },
        )
    }
}
