//! The fast path for incoming requests: one pass over the line that reads
//! the envelope, the body's reserved keys and the handler's payload together.
//!
//! The general path ([`super::host::NodeHost::handle_line`]) reads a line in
//! three passes: the envelope with the body kept raw, then the body's
//! reserved keys (`type`, `msg_id`, `in_reply_to`), then the payload. That is
//! simple and gives precise error replies, but scans every byte of the body
//! three times. Here the payload's own deserializer is wrapped so that, while
//! it walks the body's top-level keys, the reserved ones are also recorded
//! on the side ([`Header`]); the payload still sees every key, as it would
//! in the general path.
//!
//! The fast path only ever *succeeds or declines*: on any error (not JSON, no
//! `src`, an unknown type, a malformed body, a reserved key of the wrong
//! type, …) it returns `None` and the caller runs the general path on the
//! same line, which decides what to answer. So it cannot change what the node
//! replies, only how fast it gets there. Replies to our RPCs (which carry
//! `in_reply_to`) and `init` go to the general path too.

use super::message::MsgId;
use serde::de::value::{BorrowedStrDeserializer, StringDeserializer, U64Deserializer};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

/// A string borrowed from the input when it has no escapes (serde's own
/// `Cow<str>` always copies).
struct Str<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Str<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// The reserved keys of a body, recorded while the payload is parsed.
#[derive(Debug, Default)]
pub(crate) struct Header<'a> {
    pub kind: Option<Cow<'a, str>>,
    pub msg_id: Option<MsgId>,
    pub in_reply_to: Option<MsgId>,
}

/// A request read in one pass.
#[derive(Debug)]
pub(crate) struct Parsed<'a, P> {
    pub src: Cow<'a, str>,
    pub header: Header<'a>,
    pub payload: P,
}

/// Read `line` as a request carrying a payload `P`, or decline (`None`).
pub(crate) fn request<'a, P: Deserialize<'a>>(line: &'a [u8]) -> Option<Parsed<'a, P>> {
    static REPLY_KEY: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\"in_reply_to\""));
    // Replies to our RPCs go to the general path; a line that merely
    // mentions the key elsewhere just takes the slower road.
    if REPLY_KEY.find(line).is_some() {
        return None;
    }
    // One UTF-8 check for the whole line is cheaper than one per string.
    let line = std::str::from_utf8(line).ok()?;
    let mut de = serde_json::Deserializer::from_str(line);
    let parsed = de.deserialize_map(EnvelopeVisitor(PhantomData::<P>)).ok()?;
    de.end().ok()?;
    let parsed = parsed?;
    let ok = matches!(parsed.header.kind.as_deref(), Some(k) if k != "init")
        && parsed.header.in_reply_to.is_none();
    ok.then_some(parsed)
}

struct EnvelopeVisitor<P>(PhantomData<P>);

impl<'de, P: Deserialize<'de>> Visitor<'de> for EnvelopeVisitor<P> {
    /// `None` when the envelope lacks `src`, `dest` or `body`.
    type Value = Option<Parsed<'de, P>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Maelstrom envelope")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut src = None;
        let mut dest = false;
        let mut header = Header::default();
        let mut payload = None;
        while let Some(Str(key)) = map.next_key::<Str<'de>>()? {
            match &*key {
                "src" => src = Some(map.next_value::<Str<'de>>()?.0),
                "dest" => {
                    map.next_value::<Str<'de>>()?;
                    dest = true;
                }
                "body" => {
                    header = Header::default();
                    payload = Some(map.next_value_seed(BodySeed {
                        header: &mut header,
                        payload: PhantomData::<P>,
                    })?);
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(match (src, dest, payload) {
            (Some(src), true, Some(payload)) => Some(Parsed {
                src,
                header,
                payload,
            }),
            _ => None,
        })
    }
}

/// Parses the body as `P`, recording the reserved keys in `header`.
struct BodySeed<'h, 'de, P> {
    header: &'h mut Header<'de>,
    payload: PhantomData<P>,
}

impl<'de, P: Deserialize<'de>> DeserializeSeed<'de> for BodySeed<'_, 'de, P> {
    type Value = P;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<P, D::Error> {
        P::deserialize(Body {
            inner: d,
            header: self.header,
        })
    }
}

/// The body's deserializer, wrapped: maps go through [`BodyMap`].
struct Body<'h, 'de, D> {
    inner: D,
    header: &'h mut Header<'de>,
}

macro_rules! forward {
    ($($method:ident ( $($arg:ident : $ty:ty),* ))*) => {
        $(
            fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, D::Error> {
                self.inner.$method($($arg,)* visitor)
            }
        )*
    };
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Body<'_, 'de, D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.inner.deserialize_any(BodyVisitor {
            inner: visitor,
            header: self.header,
        })
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.inner.deserialize_map(BodyVisitor {
            inner: visitor,
            header: self.header,
        })
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.inner.deserialize_struct(
            name,
            fields,
            BodyVisitor {
                inner: visitor,
                header: self.header,
            },
        )
    }

    // Anything else is not a map, so the reserved keys cannot be read and the
    // caller declines whatever the payload makes of it.
    forward! {
        deserialize_bool() deserialize_i8() deserialize_i16() deserialize_i32()
        deserialize_i64() deserialize_i128() deserialize_u8() deserialize_u16()
        deserialize_u32() deserialize_u64() deserialize_u128() deserialize_f32()
        deserialize_f64() deserialize_char() deserialize_str() deserialize_string()
        deserialize_bytes() deserialize_byte_buf() deserialize_option()
        deserialize_unit() deserialize_seq() deserialize_identifier()
        deserialize_ignored_any()
        deserialize_unit_struct(name: &'static str)
        deserialize_newtype_struct(name: &'static str)
        deserialize_tuple(len: usize)
        deserialize_tuple_struct(name: &'static str, len: usize)
        deserialize_enum(name: &'static str, variants: &'static [&'static str])
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

/// Passes a map on as a [`BodyMap`]; anything else is an error (declined).
struct BodyVisitor<'h, 'de, V> {
    inner: V,
    header: &'h mut Header<'de>,
}

impl<'de, V: Visitor<'de>> Visitor<'de> for BodyVisitor<'_, 'de, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.inner.visit_map(BodyMap {
            inner: map,
            header: self.header,
            key: Key::Other,
        })
    }
}

/// Which reserved key, if any, the map is at.
#[derive(Clone, Copy)]
enum Key {
    Type,
    MsgId,
    InReplyTo,
    Other,
}

/// The body's top-level map: every key and value goes to the payload; the
/// values of the reserved keys are read here first and recorded.
struct BodyMap<'h, 'de, A> {
    inner: A,
    header: &'h mut Header<'de>,
    key: Key,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for BodyMap<'_, 'de, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        let Some(Str(key)) = self.inner.next_key::<Str<'de>>()? else {
            return Ok(None);
        };
        self.key = match &*key {
            "type" => Key::Type,
            "msg_id" => Key::MsgId,
            "in_reply_to" => Key::InReplyTo,
            _ => Key::Other,
        };
        match key {
            Cow::Borrowed(k) => seed.deserialize(BorrowedStrDeserializer::new(k)).map(Some),
            Cow::Owned(k) => seed.deserialize(StringDeserializer::new(k)).map(Some),
        }
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        match self.key {
            Key::Other => self.inner.next_value_seed(seed),
            Key::Type => {
                let Str(kind) = self.inner.next_value::<Str<'de>>()?;
                let value = match &kind {
                    Cow::Borrowed(k) => seed.deserialize(BorrowedStrDeserializer::new(k)),
                    Cow::Owned(k) => seed.deserialize(StringDeserializer::new(k.clone())),
                };
                self.header.kind = Some(kind);
                value
            }
            Key::MsgId | Key::InReplyTo => {
                let id = self.inner.next_value::<MsgId>()?;
                if matches!(self.key, Key::MsgId) {
                    self.header.msg_id = Some(id);
                } else {
                    self.header.in_reply_to = Some(id);
                }
                seed.deserialize(U64Deserializer::new(id))
            }
        }
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(tag = "type", rename_all = "snake_case")]
    enum P {
        Echo { echo: serde_json::Value },
        Keep { msg_id: u64 },
        Plain {},
    }

    fn parse(line: &str) -> Option<Parsed<'_, P>> {
        request(line.as_bytes())
    }

    #[test]
    fn reads_envelope_header_and_payload_in_one_pass() {
        let p = parse(
            r#"{"id":4,"src":"c1","dest":"n0","body":{"echo":[1],"msg_id":7,"type":"echo"}}"#,
        )
        .unwrap();
        assert_eq!(p.src, "c1");
        assert_eq!(p.header.kind.as_deref(), Some("echo"));
        assert_eq!(p.header.msg_id, Some(7));
        assert_eq!(
            p.payload,
            P::Echo {
                echo: serde_json::json!([1])
            }
        );
        // The payload still sees the reserved keys.
        let p = parse(r#"{"src":"c1","dest":"n0","body":{"type":"keep","msg_id":9}}"#).unwrap();
        assert_eq!(p.payload, P::Keep { msg_id: 9 });
        // Escaped keys and values are fine too.
        let p =
            parse(r#"{"src":"c\u0031","dest":"n0","body":{"typ\u0065":"pl\u0061in"}}"#).unwrap();
        assert_eq!(p.src, "c1");
        assert_eq!(p.payload, P::Plain {});
        assert_eq!(p.header.msg_id, None);
    }

    #[test]
    fn declines_what_the_general_path_must_answer() {
        for line in [
            "not json",
            r#"{"src":"c1","dest":"n0","body":{"type":"echo","msg_id":7,"echo":1}} x"#,
            r#"{"dest":"n0","body":{"type":"echo","echo":1}}"#,
            r#"{"src":"c1","body":{"type":"echo","echo":1}}"#,
            r#"{"src":"c1","dest":"n0"}"#,
            r#"{"src":"c1","dest":"n0","body":{"type":"nope","msg_id":1}}"#,
            r#"{"src":"c1","dest":"n0","body":{"type":"echo","msg_id":1}}"#,
            r#"{"src":"c1","dest":"n0","body":{"type":"echo","msg_id":-1,"echo":1}}"#,
            r#"{"src":"c1","dest":"n0","body":{"type":"echo","msg_id":null,"echo":1}}"#,
            r#"{"src":"c1","dest":"n0","body":{"type":"echo","in_reply_to":3,"echo":1}}"#,
            r#"{"src":"c1","dest":"n0","body":{"type":"init","msg_id":1}}"#,
            r#"{"src":"c1","dest":"n0","body":["echo",1]}"#,
            r#"{"src":1,"dest":"n0","body":{"type":"plain"}}"#,
        ] {
            assert!(parse(line).is_none(), "{line}");
        }
    }
}
