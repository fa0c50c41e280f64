//! The event name and the dedup key of a verified body, found by dotted JSON paths (`type`,
//! `event.type`) in one pass: other fields are skipped without being built, and strings are
//! borrowed from the body when they have no escapes.

use std::{borrow::Cow, fmt};

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};

use crate::provider::{EnvelopeError, LenientStr, scan_envelope};

/// A dotted path into a JSON object (`event.type`): object keys only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JsonPath(pub(crate) Box<[Box<str>]>);

impl JsonPath {
    /// Parses `a.b.c`; refuses an empty path or an empty segment.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let segments: Vec<Box<str>> = text.split('.').map(Into::into).collect();
        if segments.iter().any(|s| s.is_empty()) {
            return None;
        }
        Some(Self(segments.into()))
    }

    /// Whether one path is a prefix of the other (then one pass cannot serve both).
    pub(crate) fn overlaps(&self, other: &Self) -> bool {
        self.0.iter().zip(other.0.iter()).all(|(a, b)| a == b)
    }
}

/// Finds up to two paths' string values in `body`, as [`extract`] does; top-level paths (the
/// common case: `type`, `id`) take the top-level skim the built-in providers use
/// ([`scan_envelope`]), which leaves the check of nested values to the pipeline (the provider's
/// bodies are JSON: [`Provider::json_body`](crate::provider::Provider::json_body)), so that
/// a delivery still costs one full JSON pass, in the typed decode.
pub(crate) fn find<'a>(
    body: &'a str,
    paths: [Option<&JsonPath>; 2],
) -> Result<[Option<Cow<'a, str>>; 2], EnvelopeError> {
    fn top(path: Option<&JsonPath>) -> Option<Option<&str>> {
        path.map(|p| (p.0.len() == 1).then(|| &*p.0[0]))
    }
    match (top(paths[0]), top(paths[1])) {
        (Some(Some(a)), Some(Some(b))) => {
            let [a, b] = scan_envelope(body, &[a, b])?;
            Ok([a.0, b.0])
        }
        (Some(Some(a)), None) => {
            let [a] = scan_envelope(body, &[a])?;
            Ok([a.0, None])
        }
        (None, Some(Some(b))) => {
            let [b] = scan_envelope(body, &[b])?;
            Ok([None, b.0])
        }
        _ => extract(body, paths),
    }
}

/// Finds up to two paths' string values in `body`, which must be a JSON object. A value that
/// is not a string reads as absent; a path met twice (a repeated key) is refused as the
/// typed providers refuse it.
pub(crate) fn extract<'a>(
    body: &'a str,
    paths: [Option<&JsonPath>; 2],
) -> Result<[Option<Cow<'a, str>>; 2], EnvelopeError> {
    if !body.trim_start().starts_with('{') {
        return Err(match serde_json::from_str::<IgnoredAny>(body) {
            Ok(_) => EnvelopeError::NotObject,
            Err(_) => EnvelopeError::NotJson,
        });
    }
    let mut out = [None, None];
    let mut seen = [false, false];
    let mut de = serde_json::Deserializer::from_str(body);
    let seed = Level {
        paths,
        depth: 0,
        active: [paths[0].is_some(), paths[1].is_some()],
        out: &mut out,
        seen: &mut seen,
    };
    let result = seed.deserialize(&mut de).and_then(|()| de.end());
    match result {
        Ok(()) => Ok(out),
        Err(error) if error.is_data() => Err(EnvelopeError::MissingDiscriminator("discriminator")),
        Err(_) => Err(EnvelopeError::NotJson),
    }
}

/// One object level of the walk: the paths still followed at `depth`.
struct Level<'p, 'o, 'a> {
    paths: [Option<&'p JsonPath>; 2],
    depth: usize,
    active: [bool; 2],
    out: &'o mut [Option<Cow<'a, str>>; 2],
    seen: &'o mut [bool; 2],
}

impl<'de: 'a, 'a> DeserializeSeed<'de> for Level<'_, '_, 'a> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        if self.depth == 0 {
            // The body is known to start with `{`: straight to the object.
            deserializer.deserialize_map(self)
        } else {
            // A value on the path may be anything; only an object is walked into.
            deserializer.deserialize_any(self)
        }
    }
}

impl<'de: 'a, 'a> Visitor<'de> for Level<'_, '_, 'a> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key_seed(Key)? {
            let mut matching = [false; 2];
            let mut leaf = false;
            for (i, matches) in matching.iter_mut().enumerate() {
                if let (true, Some(path)) = (self.active[i], self.paths[i])
                    && path.0.get(self.depth).is_some_and(|s| **s == *key)
                {
                    *matches = true;
                    leaf |= path.0.len() == self.depth + 1;
                }
            }
            if matching == [false; 2] {
                map.next_value::<IgnoredAny>()?;
            } else if leaf {
                if matching.iter().zip(self.seen.iter()).any(|(m, s)| *m && *s) {
                    return Err(serde::de::Error::custom("repeated key"));
                }
                let value = map.next_value::<LenientStr<'de>>()?.0;
                for (i, matches) in matching.iter().enumerate() {
                    if *matches {
                        self.seen[i] = true;
                        self.out[i] = value.clone();
                    }
                }
            } else {
                map.next_value_seed(Level {
                    paths: self.paths,
                    depth: self.depth + 1,
                    active: matching,
                    out: &mut *self.out,
                    seen: &mut *self.seen,
                })?;
            }
        }
        Ok(())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

/// An object key, borrowed from the body unless it has escapes (serde's own `Cow<str>`
/// always allocates).
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(body: &str, a: &str, b: &str) -> Result<[Option<String>; 2], EnvelopeError> {
        let (a, b) = (JsonPath::parse(a).unwrap(), JsonPath::parse(b).unwrap());
        extract(body, [Some(&a), Some(&b)]).map(|[x, y]| [x.map(Into::into), y.map(Into::into)])
    }

    #[test]
    fn finds_nested_paths_in_one_pass() {
        let body = r#"{"x":[1,{"type":"no"}],"event":{"type":"a.b","n":1},"id":"k\"1"}"#;
        assert_eq!(
            get(body, "event.type", "id").unwrap(),
            [Some("a.b".into()), Some("k\"1".into())]
        );
        assert_eq!(get(body, "type", "event.n").unwrap(), [None, None]);
        assert_eq!(get("[1]", "a", "b"), Err(EnvelopeError::NotObject));
        assert_eq!(get("{", "a", "b"), Err(EnvelopeError::NotJson));
        assert_eq!(get("{} x", "a", "b"), Err(EnvelopeError::NotJson));
        assert!(matches!(
            get(r#"{"a":"1","a":"2"}"#, "a", "b"),
            Err(EnvelopeError::MissingDiscriminator(_))
        ));
        assert!(JsonPath::parse("a..b").is_none());
        assert!(
            JsonPath::parse("a")
                .unwrap()
                .overlaps(&JsonPath::parse("a.b").unwrap())
        );
        assert!(
            !JsonPath::parse("a.c")
                .unwrap()
                .overlaps(&JsonPath::parse("a.b").unwrap())
        );
    }
}
