//! Where a scheme's signatures are, and how they are written: one header (repeated for
//! rotation, or holding several signatures), an optional `k=v` list (`t=..,v1=..`,
//! `ts=..;h1=..`), a prefix (`sha256=`, `v0=`), hex (either case) or base64; and the timestamp,
//! from a header or the list.

use std::time::{Duration, SystemTime};

use http::HeaderMap;

use crate::{
    keyring::{Algorithm, Tag, Tags},
    provider::{SignatureError, check_timestamp},
};

use super::{Encoding, Unit};

/// At most this many signatures of one delivery are considered (entries and repeated headers
/// together); the rest are ignored.
pub const MAX_SIGNATURES: usize = 16;

/// At most this many values of a repeated signature header are read.
const MAX_HEADER_VALUES: usize = 8;

/// A parsed `k=v` list's shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct List {
    pub(crate) pair_separator: u8,
    pub(crate) kv_separator: u8,
    pub(crate) signature_key: Box<[u8]>,
    pub(crate) timestamp_key: Option<Box<[u8]>>,
}

/// Where the timestamp is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TimestampAt {
    Header(&'static str),
    List,
}

/// The timestamp rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Timestamp {
    pub(crate) at: TimestampAt,
    pub(crate) unit: Unit,
    pub(crate) tolerance: Duration,
}

/// The signature location, compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Location {
    pub(crate) header: &'static str,
    pub(crate) list: Option<List>,
    pub(crate) prefix: Box<[u8]>,
    pub(crate) encoding: Encoding,
    pub(crate) separator: Option<u8>,
    pub(crate) algorithm: Algorithm,
}

/// What one request's signature headers said.
#[derive(Debug)]
pub(crate) struct Found<'h> {
    pub(crate) tags: Tags,
    /// The timestamp text, as sent (from the list), if any.
    pub(crate) list_timestamp: Option<&'h [u8]>,
}

/// Splits `text` at `separator`, trimming spaces and tabs around each piece, skipping empty
/// pieces.
pub(crate) fn split(text: &[u8], separator: u8) -> impl Iterator<Item = &[u8]> {
    text.split(move |b| *b == separator)
        .map(<[u8]>::trim_ascii)
        .filter(|piece| !piece.is_empty())
}

impl Location {
    /// Decodes one signature as written (prefix and all); `None` when it is not one.
    pub(crate) fn decode(&self, text: &[u8]) -> Option<Tag> {
        let text = text.trim_ascii().strip_prefix(&*self.prefix)?;
        let len = self.algorithm.tag_len();
        match self.encoding {
            Encoding::Hex => Tag::from_hex_len(text, len),
            Encoding::Base64 => Tag::from_base64_len(text, len),
        }
    }

    /// Reads every signature the request offers, and the list's timestamp.
    pub(crate) fn find<'h>(&self, headers: &'h HeaderMap) -> Result<Found<'h>, SignatureError> {
        let mut found = Found {
            tags: Tags::new(),
            list_timestamp: None,
        };
        let mut any = false;
        let offer = |found: &mut Found<'h>, text: &[u8]| {
            if found.tags.len() < MAX_SIGNATURES
                && let Some(tag) = self.decode(text)
                && !found.tags.contains(&tag)
            {
                found.tags.push(tag);
            }
        };
        for value in headers.get_all(self.header).iter().take(MAX_HEADER_VALUES) {
            any = true;
            let value = value.as_bytes();
            match &self.list {
                Some(list) => {
                    for pair in split(value, list.pair_separator) {
                        let Some(at) = pair.iter().position(|b| *b == list.kv_separator) else {
                            continue;
                        };
                        let (key, value) = (pair[..at].trim_ascii(), pair[at + 1..].trim_ascii());
                        if key == &*list.signature_key {
                            offer(&mut found, value);
                        } else if list.timestamp_key.as_deref() == Some(key) {
                            match found.list_timestamp {
                                Some(seen) if seen != value => {
                                    return Err(SignatureError::Ambiguous(self.header));
                                }
                                _ => found.list_timestamp = Some(value),
                            }
                        }
                    }
                }
                None => match self.separator {
                    Some(separator) => {
                        for piece in split(value, separator) {
                            offer(&mut found, piece);
                        }
                    }
                    None => offer(&mut found, value),
                },
            }
        }
        if !any {
            return Err(SignatureError::Missing(self.header));
        }
        if found.tags.is_empty() {
            return Err(SignatureError::Malformed(self.header));
        }
        Ok(found)
    }
}

impl Timestamp {
    /// Reads the timestamp text (from its header or the list), checks it is a whole number
    /// in its unit and within the tolerance of `now`; answers the text as sent.
    pub(crate) fn check<'h>(
        &self,
        headers: &'h HeaderMap,
        list: Option<&'h [u8]>,
        signature_header: &'static str,
        now: SystemTime,
    ) -> Result<&'h [u8], SignatureError> {
        let (name, text) = match self.at {
            TimestampAt::Header(name) => {
                let value = crate::provider::single_header(headers, name)?
                    .ok_or(SignatureError::MissingHeader(name))?;
                (name, value.as_bytes().trim_ascii())
            }
            TimestampAt::List => (
                signature_header,
                list.ok_or(SignatureError::MalformedTimestamp(signature_header))?,
            ),
        };
        let number = parse_integer(text).ok_or(SignatureError::MalformedTimestamp(name))?;
        let seconds = match self.unit {
            Unit::Seconds => number,
            Unit::Milliseconds => number.div_euclid(1000),
        };
        check_timestamp(seconds, now, self.tolerance)?;
        Ok(text)
    }
}

/// A non-negative whole number of at most 18 digits (no sign, no spaces inside).
fn parse_integer(text: &[u8]) -> Option<i64> {
    if text.is_empty() || text.len() > 18 || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(text).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn location(list: Option<List>, prefix: &str, encoding: Encoding) -> Location {
        Location {
            header: "x-sig",
            list,
            prefix: prefix.as_bytes().into(),
            encoding,
            separator: None,
            algorithm: Algorithm::HmacSha256,
        }
    }

    #[test]
    fn reads_a_stripe_like_list_with_two_signatures() {
        let list = List {
            pair_separator: b',',
            kv_separator: b'=',
            signature_key: b"v1"[..].into(),
            timestamp_key: Some(b"t"[..].into()),
        };
        let loc = location(Some(list), "", Encoding::Hex);
        let (a, b) = ("ab".repeat(32), "CD".repeat(32));
        let mut h = HeaderMap::new();
        h.insert(
            "x-sig",
            HeaderValue::try_from(format!("t=12, v1={a},v0=zz,v1={b}")).unwrap(),
        );
        let found = loc.find(&h).unwrap();
        assert_eq!(found.tags.len(), 2);
        assert_eq!(found.list_timestamp, Some(&b"12"[..]));
        h.insert("x-sig", HeaderValue::from_static("t=1,t=2,v1=00"));
        assert_eq!(loc.find(&h).err(), Some(SignatureError::Ambiguous("x-sig")));
        h.insert("x-sig", HeaderValue::from_static("t=1,v1=00"));
        assert_eq!(loc.find(&h).err(), Some(SignatureError::Malformed("x-sig")));
        assert_eq!(
            loc.find(&HeaderMap::new()).err(),
            Some(SignatureError::Missing("x-sig"))
        );
    }

    #[test]
    fn prefix_encoding_and_repeated_headers() {
        let loc = location(None, "sha256=", Encoding::Hex);
        let mut h = HeaderMap::new();
        h.append(
            "x-sig",
            HeaderValue::try_from(format!("sha256={}", "0a".repeat(32))).unwrap(),
        );
        h.append(
            "x-sig",
            HeaderValue::try_from(format!("sha256={}", "0B".repeat(32))).unwrap(),
        );
        h.append("x-sig", HeaderValue::try_from("0c".repeat(32)).unwrap());
        assert_eq!(
            loc.find(&h).unwrap().tags.len(),
            2,
            "the unprefixed one is not offered"
        );
        let loc = location(None, "", Encoding::Base64);
        let tag = Tag::from_slice(&[7; 32]).unwrap();
        let mut h = HeaderMap::new();
        h.insert("x-sig", HeaderValue::try_from(tag.to_base64()).unwrap());
        assert_eq!(loc.find(&h).unwrap().tags[0], tag);
    }

    #[test]
    fn timestamps_in_seconds_or_milliseconds() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let ts = |unit| Timestamp {
            at: TimestampAt::Header("x-ts"),
            unit,
            tolerance: Duration::from_secs(300),
        };
        let mut h = HeaderMap::new();
        h.insert("x-ts", HeaderValue::from_static("1000100"));
        assert_eq!(
            ts(Unit::Seconds).check(&h, None, "x-sig", now),
            Ok(&b"1000100"[..])
        );
        assert_eq!(
            ts(Unit::Milliseconds).check(&h, None, "x-sig", now),
            Err(SignatureError::TimestampTooOld)
        );
        h.insert("x-ts", HeaderValue::from_static("1000400000"));
        assert_eq!(
            ts(Unit::Milliseconds).check(&h, None, "x-sig", now),
            Err(SignatureError::TimestampInFuture)
        );
        for bad in ["", "-5", "1.5", "12a"] {
            h.insert("x-ts", HeaderValue::from_static(bad));
            assert_eq!(
                ts(Unit::Seconds).check(&h, None, "x-sig", now),
                Err(SignatureError::MalformedTimestamp("x-ts")),
                "{bad:?}"
            );
        }
    }
}
