//! What the fuzz targets share: turning fuzzer bytes into a header map.

use arbitrary::Arbitrary;
use http::{HeaderMap, HeaderName, HeaderValue};

/// The header names the providers read, so that the fuzzer reaches their parsers often; any
/// other name is built from the fuzzer's bytes.
pub const NAMES: &[&str] = &[
    "x-zernio-signature",
    "x-late-signature",
    "x-zernio-event",
    "x-zernio-event-id",
    "x-authorization-content-sha256",
    "x-authorization-content-sha256-v2",
    "x-authorization-timestamp",
    "x-ayrshare-delivery-id",
    "x-ayrshare-delivery-attempt",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "svix-id",
    "svix-timestamp",
    "svix-signature",
    "content-length",
    "content-type",
    // The generic fuzz target's scheme.
    "x-signature",
    "x-timestamp",
    "host",
];

/// One header as the fuzzer describes it.
#[derive(Debug, Arbitrary)]
pub struct FuzzHeader {
    /// Index into [`NAMES`] (wrapped), or, when `custom` is set, a name from those bytes.
    pub name: u8,
    /// A name of the fuzzer's own.
    pub custom: Option<Vec<u8>>,
    /// The value's bytes (invalid header bytes are dropped).
    pub value: Vec<u8>,
}

/// Builds a header map from fuzzer headers, skipping what `http` itself refuses.
pub fn headers(list: &[FuzzHeader]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for header in list.iter().take(64) {
        let name = match &header.custom {
            Some(bytes) => match HeaderName::from_bytes(bytes) {
                Ok(name) => name,
                Err(_) => continue,
            },
            None => HeaderName::from_static(NAMES[usize::from(header.name) % NAMES.len()]),
        };
        if let Ok(value) = HeaderValue::from_bytes(&header.value) {
            map.append(name, value);
        }
    }
    map
}

/// Splits `[n][n bytes][rest]` into the `n` bytes (a header spec) and the rest (a body).
pub fn split(data: &[u8]) -> (&[u8], &[u8]) {
    match data.split_first() {
        None => (&[], &[]),
        Some((&n, rest)) => rest.split_at(usize::from(n).min(rest.len())),
    }
}
