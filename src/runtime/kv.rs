//! Clients for Maelstrom's services: the key/value stores `seq-kv`,
//! `lin-kv`, `lww-kv` and the timestamp oracle `lin-tso`.
//!
//! A client call is an ordinary [`Ctx::rpc`]: the node names the reason for
//! the call in its own `Call` type, and decodes the outcome in
//! [`crate::runtime::Node::on_reply`] with [`read_result`], [`ok_result`] or
//! [`ts_result`], which turn error replies into typed [`Error`]s
//! (`KeyDoesNotExist` = 20, `PreconditionFailed` = 22, `Timeout` = 0, …).

use super::message::MsgId;
use super::node::{Ctx, Node};
use super::{Error, Reply};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::time::Duration;

fn is_false(b: &bool) -> bool {
    !*b
}

/// A request to a key/value service.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum KvRequest<'a, K: Serialize + ?Sized, V: Serialize + ?Sized> {
    /// Read a key.
    Read {
        /// The key.
        key: &'a K,
    },
    /// Write a key.
    Write {
        /// The key.
        key: &'a K,
        /// The new value.
        value: &'a V,
    },
    /// Compare-and-set a key.
    Cas {
        /// The key.
        key: &'a K,
        /// The expected current value.
        from: &'a V,
        /// The new value.
        to: &'a V,
        /// Create the key with `to` if it does not exist (not in lww-kv).
        #[serde(skip_serializing_if = "is_false")]
        create_if_not_exists: bool,
    },
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

    /// Read `key`; decode the reply with [`read_result`].
    pub fn read<N: Node, K: Serialize + ?Sized>(
        self,
        ctx: &mut Ctx<'_, N>,
        key: &K,
        timeout: Duration,
        call: N::Call,
    ) -> MsgId {
        let req: KvRequest<'_, K, ()> = KvRequest::Read { key };
        ctx.rpc(self.0, &req, timeout, call)
    }

    /// Write `value` to `key`; decode the reply with [`ok_result`].
    pub fn write<N: Node, K: Serialize + ?Sized, V: Serialize + ?Sized>(
        self,
        ctx: &mut Ctx<'_, N>,
        key: &K,
        value: &V,
        timeout: Duration,
        call: N::Call,
    ) -> MsgId {
        ctx.rpc(self.0, &KvRequest::Write { key, value }, timeout, call)
    }

    /// Set `key` to `to` if it holds `from` (or, with
    /// `create_if_not_exists`, if it does not exist); decode the reply with
    /// [`ok_result`].
    #[allow(clippy::too_many_arguments)]
    pub fn cas<N: Node, K: Serialize + ?Sized, V: Serialize + ?Sized>(
        self,
        ctx: &mut Ctx<'_, N>,
        key: &K,
        from: &V,
        to: &V,
        create_if_not_exists: bool,
        timeout: Duration,
        call: N::Call,
    ) -> MsgId {
        let req = KvRequest::Cas {
            key,
            from,
            to,
            create_if_not_exists,
        };
        ctx.rpc(self.0, &req, timeout, call)
    }
}

#[derive(Deserialize)]
struct ReadOk<T> {
    value: T,
}

#[derive(Deserialize)]
struct TsOk {
    ts: u64,
}

/// The value of a `read_ok`, or the error (20 when the key does not exist,
/// 0 on timeout, 12 if the reply is not a `read_ok` of type `T`).
pub fn read_result<T: DeserializeOwned>(reply: Result<Reply, Error>) -> Result<T, Error> {
    reply?.parse::<ReadOk<T>>().map(|r| r.value)
}

/// Success of a `write_ok` / `cas_ok`, or the error (20, 22, 0, …).
pub fn ok_result(reply: Result<Reply, Error>) -> Result<(), Error> {
    reply.map(|_| ())
}

/// The timestamp oracle `lin-tso`.
#[derive(Debug, Clone, Copy)]
pub struct Tso;

impl Tso {
    /// Ask for a timestamp; decode the reply with [`ts_result`].
    pub fn ts<N: Node>(self, ctx: &mut Ctx<'_, N>, timeout: Duration, call: N::Call) -> MsgId {
        #[derive(Serialize)]
        struct Ts {
            #[serde(rename = "type")]
            kind: &'static str,
        }
        ctx.rpc("lin-tso", &Ts { kind: "ts" }, timeout, call)
    }
}

/// The timestamp of a `ts_ok`, or the error.
pub fn ts_result(reply: Result<Reply, Error>) -> Result<u64, Error> {
    reply?.parse::<TsOk>().map(|r| r.ts)
}
