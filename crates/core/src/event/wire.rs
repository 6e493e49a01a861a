//! The wire form of an event, read in one pass: one flat JSON object,
//! `{"seq":7,"t":…,"pid":…,"tid":…,"cpu":…,"kind":"lock","phase":"wait","lock":"lock"}`.
//!
//! serde can derive this shape (`#[serde(tag = "kind")]` on `Body` and
//! `#[serde(flatten)]` on `Event`), but only by first copying every field of
//! every event into a tree of buffered values, because the tag might come
//! last. That was most of what the server spent checking an event: 0.6 µs,
//! against about 0.1 µs to merely parse the line. Here the tag is taken where
//! it stands. The event's own fields come first, then `kind`, and the fields
//! after it go straight to serde's derived visitor for that kind's variant.
//! Only body fields written *before* `kind` (no emitter of ours does that)
//! are held back, as JSON values, until the kind is known.
//!
//! Writing is the mirror image: `Body`'s derived `Serialize` is pointed by
//! [`KindFirst`] into the event's own object, as `"kind": variant` followed by
//! the variant's fields. The field lists stay in one place, `Body` itself.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, VariantAccess, Visitor};
use serde::ser::{self, Impossible, SerializeMap, SerializeStructVariant, Serializer};
use serde::{Deserialize, Serialize};

use super::{Body, Event};

impl Serialize for Event {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        if let Some(seq) = self.seq {
            map.serialize_entry("seq", &seq)?;
        }
        map.serialize_entry("t", &self.t)?;
        map.serialize_entry("pid", &self.pid)?;
        map.serialize_entry("tid", &self.tid)?;
        map.serialize_entry("cpu", &self.cpu)?;
        self.body.serialize(KindFirst(&mut map))?;
        map.end()
    }
}

/// Appends `body` as a JSON object, `{"kind":…,` then its fields`}`: what the
/// emitter splices after an event's own fields.
pub(super) fn write_body(out: &mut Vec<u8>, body: &Body) -> serde_json::Result<()> {
    let mut serializer = serde_json::Serializer::new(out);
    let mut map = serializer.serialize_map(None)?;
    body.serialize(KindFirst(&mut map))?;
    SerializeMap::end(map)
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Event, D::Error> {
        deserializer.deserialize_map(EventVisitor)
    }
}

struct EventVisitor;

impl<'de> Visitor<'de> for EventVisitor {
    type Value = Event;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an event object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Event, A::Error> {
        let mut head = Head::default();
        let mut early = Vec::new();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            if head.take(key.as_str(), &mut map)? {
                continue;
            }
            if key.as_str() == "kind" {
                let kind = map.next_value::<Key<'de>>()?;
                let rest = Rest { kind: kind.as_str(), early: early.into_iter(), pending: None, map: &mut map, head: &mut head };
                let body = Body::deserialize(rest)?;
                return head.into_event(body);
            }
            // A body field before `kind`: what type it has depends on the
            // kind, so it waits as plain JSON.
            early.push((key.into_owned(), map.next_value::<serde_json::Value>()?));
        }
        Err(de::Error::missing_field("kind"))
    }
}

/// The fields every event has, wherever they appear in the object.
#[derive(Default)]
struct Head {
    seq: Option<u64>,
    t: Option<u64>,
    pid: Option<i32>,
    tid: Option<i32>,
    cpu: Option<i32>,
}

impl Head {
    /// Reads the value of `key` if it is one of the event's own fields;
    /// false, reading nothing, if it is not.
    fn take<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        fn fill<'de, T: Deserialize<'de>, A: MapAccess<'de>>(slot: &mut Option<T>, name: &'static str, map: &mut A) -> Result<bool, A::Error> {
            if slot.is_some() {
                return Err(de::Error::duplicate_field(name));
            }
            *slot = Some(map.next_value()?);
            Ok(true)
        }
        match key {
            "seq" => fill(&mut self.seq, "seq", map),
            "t" => fill(&mut self.t, "t", map),
            "pid" => fill(&mut self.pid, "pid", map),
            "tid" => fill(&mut self.tid, "tid", map),
            "cpu" => fill(&mut self.cpu, "cpu", map),
            _ => Ok(false),
        }
    }

    fn into_event<E: de::Error>(self, body: Body) -> Result<Event, E> {
        Ok(Event {
            seq: self.seq,
            t: self.t.ok_or_else(|| E::missing_field("t"))?,
            pid: self.pid.ok_or_else(|| E::missing_field("pid"))?,
            tid: self.tid.ok_or_else(|| E::missing_field("tid"))?,
            cpu: self.cpu.ok_or_else(|| E::missing_field("cpu"))?,
            body,
        })
    }
}

/// A key or a kind: borrowed from the input when it has no escapes.
enum Key<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl<'de> Key<'de> {
    fn as_str(&self) -> &str {
        match self {
            Key::Borrowed(s) => s,
            Key::Owned(s) => s,
        }
    }

    fn into_owned(self) -> String {
        match self {
            Key::Borrowed(s) => s.to_owned(),
            Key::Owned(s) => s,
        }
    }

    fn feed<S: DeserializeSeed<'de>, E: de::Error>(self, seed: S) -> Result<S::Value, E> {
        match self {
            Key::Borrowed(s) => seed.deserialize(de::value::BorrowedStrDeserializer::new(s)),
            Key::Owned(s) => seed.deserialize(de::value::StringDeserializer::new(s)),
        }
    }
}

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Key<'de>, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key::Borrowed(s))
            }
            fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key::Owned(s.to_owned()))
            }
            fn visit_string<E>(self, s: String) -> Result<Key<'de>, E> {
                Ok(Key::Owned(s))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// The rest of an event object, after its `kind`, presented to `Body`'s
/// derived `Deserialize` as the variant `kind` with the remaining fields.
struct Rest<'a, A> {
    kind: &'a str,
    /// Body fields that came before `kind`, then the one whose value is due.
    early: std::vec::IntoIter<(String, serde_json::Value)>,
    pending: Option<serde_json::Value>,
    map: &'a mut A,
    /// The event's own fields may also come after `kind`.
    head: &'a mut Head,
}

fn not_a_struct_variant<E: de::Error>() -> E {
    E::custom("every event kind has named fields")
}

impl<'de, A: MapAccess<'de>> Deserializer<'de> for Rest<'_, A> {
    type Error = A::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, A::Error> {
        Err(not_a_struct_variant())
    }

    fn deserialize_enum<V: Visitor<'de>>(self, _name: &'static str, _variants: &'static [&'static str], visitor: V) -> Result<V::Value, A::Error> {
        visitor.visit_enum(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

impl<'de, A: MapAccess<'de>> EnumAccess<'de> for Rest<'_, A> {
    type Error = A::Error;
    type Variant = Self;

    fn variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<(S::Value, Self), A::Error> {
        // An unknown kind fails here, naming the kinds there are.
        let variant = seed.deserialize(de::value::StrDeserializer::<A::Error>::new(self.kind))?;
        Ok((variant, self))
    }
}

impl<'de, A: MapAccess<'de>> VariantAccess<'de> for Rest<'_, A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        Err(not_a_struct_variant())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, _seed: T) -> Result<T::Value, A::Error> {
        Err(not_a_struct_variant())
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, _visitor: V) -> Result<V::Value, A::Error> {
        Err(not_a_struct_variant())
    }

    fn struct_variant<V: Visitor<'de>>(self, _fields: &'static [&'static str], visitor: V) -> Result<V::Value, A::Error> {
        visitor.visit_map(self)
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Rest<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, A::Error> {
        if let Some((key, value)) = self.early.next() {
            self.pending = Some(value);
            return Key::Owned(key).feed(seed).map(Some);
        }
        while let Some(key) = self.map.next_key::<Key<'de>>()? {
            if self.head.take(key.as_str(), self.map)? {
                continue;
            }
            if key.as_str() == "kind" {
                return Err(de::Error::duplicate_field("kind"));
            }
            return key.feed(seed).map(Some);
        }
        Ok(None)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        match self.pending.take() {
            Some(value) => seed.deserialize(value).map_err(de::Error::custom),
            None => self.map.next_value_seed(seed),
        }
    }
}

/// A serializer that takes only a struct variant, and writes it into an
/// open map as `"kind": variant` and then the variant's fields.
struct KindFirst<'a, M>(&'a mut M);

fn not_a_body<E: ser::Error>() -> E {
    E::custom("an event body is an enum variant with named fields")
}

/// The `Serializer` methods for everything that is not a struct variant.
macro_rules! refuse {
    ($($method:ident($($arg:ty),*) -> $ret:ty;)*) => {
        $(fn $method(self, $(_: $arg),*) -> Result<$ret, M::Error> { Err(not_a_body()) })*
    };
}

impl<M: SerializeMap> Serializer for KindFirst<'_, M> {
    type Ok = ();
    type Error = M::Error;
    type SerializeSeq = Impossible<(), M::Error>;
    type SerializeTuple = Impossible<(), M::Error>;
    type SerializeTupleStruct = Impossible<(), M::Error>;
    type SerializeTupleVariant = Impossible<(), M::Error>;
    type SerializeMap = Impossible<(), M::Error>;
    type SerializeStruct = Impossible<(), M::Error>;
    type SerializeStructVariant = Self;

    fn serialize_struct_variant(self, _name: &'static str, _index: u32, variant: &'static str, _len: usize) -> Result<Self, M::Error> {
        self.0.serialize_entry("kind", variant)?;
        Ok(self)
    }

    refuse! {
        serialize_bool(bool) -> ();
        serialize_i8(i8) -> ();
        serialize_i16(i16) -> ();
        serialize_i32(i32) -> ();
        serialize_i64(i64) -> ();
        serialize_u8(u8) -> ();
        serialize_u16(u16) -> ();
        serialize_u32(u32) -> ();
        serialize_u64(u64) -> ();
        serialize_f32(f32) -> ();
        serialize_f64(f64) -> ();
        serialize_char(char) -> ();
        serialize_str(&str) -> ();
        serialize_bytes(&[u8]) -> ();
        serialize_none() -> ();
        serialize_unit() -> ();
        serialize_unit_struct(&'static str) -> ();
        serialize_unit_variant(&'static str, u32, &'static str) -> ();
        serialize_seq(Option<usize>) -> Self::SerializeSeq;
        serialize_tuple(usize) -> Self::SerializeTuple;
        serialize_tuple_struct(&'static str, usize) -> Self::SerializeTupleStruct;
        serialize_tuple_variant(&'static str, u32, &'static str, usize) -> Self::SerializeTupleVariant;
        serialize_map(Option<usize>) -> Self::SerializeMap;
        serialize_struct(&'static str, usize) -> Self::SerializeStruct;
    }

    fn serialize_some<T: ?Sized + Serialize>(self, _value: &T) -> Result<(), M::Error> {
        Err(not_a_body())
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(self, _name: &'static str, _value: &T) -> Result<(), M::Error> {
        Err(not_a_body())
    }

    fn serialize_newtype_variant<T: ?Sized + Serialize>(self, _name: &'static str, _index: u32, _variant: &'static str, _value: &T) -> Result<(), M::Error> {
        Err(not_a_body())
    }
}

impl<M: SerializeMap> SerializeStructVariant for KindFirst<'_, M> {
    type Ok = ();
    type Error = M::Error;

    fn serialize_field<T: ?Sized + Serialize>(&mut self, key: &'static str, value: &T) -> Result<(), M::Error> {
        self.0.serialize_entry(key, value)
    }

    fn end(self) -> Result<(), M::Error> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{LockPhase, Phase};

    fn parse(line: &str) -> Result<Event, serde_json::Error> {
        serde_json::from_str(line)
    }

    #[test]
    fn reads_and_writes_the_flat_object() {
        let line = r#"{"seq":7,"t":5,"pid":10,"tid":11,"cpu":1,"kind":"lock","phase":"wait","lock":"lock"}"#;
        let event = parse(line).unwrap();
        assert_eq!(
            event,
            Event { seq: Some(7), t: 5, pid: 10, tid: 11, cpu: 1, body: Body::Lock { phase: LockPhase::Wait, lock: "lock".into() } }
        );
        assert_eq!(serde_json::to_string(&event).unwrap(), line);
    }

    #[test]
    fn fields_may_come_in_any_order() {
        // The event's own fields after the kind, body fields before it.
        let line = r#"{"phase":"begin","kind":"compute","cpu":0,"work":3,"t":1,"pid":2,"tid":2}"#;
        let event = parse(line).unwrap();
        assert_eq!((event.t, event.pid, event.tid, event.cpu, event.seq), (1, 2, 2, 0, None));
        assert_eq!(event.body, Body::Compute { phase: Phase::Begin, work: Some(3) });
    }

    #[test]
    fn escaped_keys_and_kinds_are_read_like_plain_ones() {
        let line = r#"{"t":1,"pid":2,"tid":2,"cpu":0,"ki\u006ed":"pr\u0069nt","te\u0078t":"a\"b"}"#;
        assert_eq!(parse(line).unwrap().body, Body::Print { text: "a\"b".into(), stream: None });
    }

    #[test]
    fn refuses_what_the_derived_form_refused() {
        let base = r#""t":1,"pid":2,"tid":2,"cpu":0"#;
        let refused = [
            format!(r#"{{{base}}}"#),                                        // no kind
            format!(r#"{{{base},"kind":"rm -rf"}}"#),                        // unknown kind
            format!(r#"{{{base},"kind":"print"}}"#),                         // a field missing
            format!(r#"{{{base},"kind":"print","text":3}}"#),                // a field of the wrong type
            format!(r#"{{{base},"kind":"print","text":"a","text":"b"}}"#),   // a field twice
            format!(r#"{{{base},"kind":"print","kind":"note","text":"a"}}"#), // two kinds
            format!(r#"{{{base},"t":2,"kind":"print","text":"a"}}"#),        // an own field twice
            r#"{"pid":2,"tid":2,"cpu":0,"kind":"print","text":"a"}"#.to_owned(), // no t
            format!(r#"{{{base},"kind":7,"text":"a"}}"#),                    // a kind that is no string
            r#"[1,2]"#.to_owned(),
        ];
        for line in refused {
            assert!(parse(&line).is_err(), "accepted {line}");
        }
        // Unknown fields are ignored, as before.
        assert!(parse(&format!(r#"{{{base},"kind":"print","text":"a","extra":[1]}}"#)).is_ok());
    }

    #[test]
    fn write_body_is_the_object_after_the_events_own_fields() {
        let mut out = Vec::new();
        write_body(&mut out, &Body::Sleep { phase: Phase::End, ms: None }).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), r#"{"kind":"sleep","phase":"end"}"#);
    }
}
