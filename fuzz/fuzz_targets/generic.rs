//! The generic provider's configuration, `k=v` list parsing, templates and JSON paths on
//! arbitrary input: a configuration the builder accepts never panics on any request, every
//! refusal has a code, and whatever the kit signs, the same scheme verifies.
#![no_main]

use std::time::{Duration, SystemTime};

use arbitrary::Arbitrary;
use hookgate::{
    generic::{Encoding, Generic, Signer, Unit},
    keyring::{Algorithm, Keyring},
    provider::{Provider, SignedBody},
};
use hookgate_fuzz::{FuzzHeader, headers};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input {
    algorithm: u8,
    template: String,
    prefix: String,
    /// `Some((pair separator, kv separator, signature key, timestamp in the list))`.
    list: Option<(char, char, String, bool)>,
    separator: Option<char>,
    timestamp_header: bool,
    millis: bool,
    base64: bool,
    event_path: String,
    id_path: Option<String>,
    headers: Vec<FuzzHeader>,
    body: Vec<u8>,
    /// Seconds since the epoch for the clock.
    now: u32,
}

fuzz_target!(|input: Input| {
    let algorithm = match input.algorithm % 3 {
        0 => Algorithm::HmacSha256,
        1 => Algorithm::HmacSha1,
        _ => Algorithm::HmacSha512,
    };
    let tolerance = Duration::from_secs(300);
    let timestamped = input.timestamp_header || input.list.as_ref().is_some_and(|l| l.3);
    // The builder refuses a template that does not sign `{body}` (and, with a timestamp, one
    // that does not sign `{timestamp}`): an arbitrary string almost never does, so nothing
    // past the builder was fuzzed. Such a template is kept as text around the placeholders it
    // lacks; one that has them goes to the builder as it came.
    let template = if input.template.contains("{body}")
        && (!timestamped || input.template.contains("{timestamp}"))
    {
        input.template.clone()
    } else {
        let text = input.template.replace(['{', '}'], "");
        let mut cut = text.len() / 2;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        let (head, tail) = text.split_at(cut);
        let stamp = if timestamped { "{timestamp}." } else { "" };
        format!("{stamp}{head}{{body}}{tail}")
    };
    let unit = if input.millis {
        Unit::Milliseconds
    } else {
        Unit::Seconds
    };
    let mut builder = Generic::builder()
        .algorithm(algorithm)
        .header("x-signature")
        .prefix(&input.prefix)
        .encoding(if input.base64 {
            Encoding::Base64
        } else {
            Encoding::Hex
        })
        .signed(&template)
        .event_json(&input.event_path);
    if let Some(separator) = input.separator {
        builder = builder.separator(separator);
    }
    if let Some((pair, kv, key, timestamp_in_list)) = &input.list {
        builder = builder.list(*pair, *kv, key);
        if *timestamp_in_list {
            builder = builder.timestamp_in_list("t", unit, tolerance);
        }
    }
    if input.timestamp_header {
        builder = builder.timestamp_header("x-timestamp", unit, tolerance);
    }
    if let Some(path) = &input.id_path {
        builder = builder.id_json(path);
    }
    let Ok(generic) = builder.secrets(["fuzz-secret"]) else {
        return;
    };
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::from(input.now));

    // Arbitrary requests.
    let mut parts = http::Request::post("/hook?x=1")
        .body(())
        .unwrap()
        .into_parts()
        .0;
    parts.headers = headers(&input.headers);
    match generic.request_signature(&parts, now) {
        Ok(signed) => assert!(!signed.tags.is_empty(), "a parsed signature offers a tag"),
        Err(error) => assert!(!error.code().is_empty()),
    }
    if let Ok(text) = std::str::from_utf8(&input.body) {
        match generic.envelope(&parts.headers, text) {
            Ok(envelope) => assert!(!envelope.name.is_empty()),
            Err(error) => assert!(!error.code().is_empty()),
        }
    }

    // What the kit signs, the scheme verifies.
    let keyring = Keyring::with_algorithm(algorithm, ["fuzz-secret"]).unwrap();
    let mut parts = http::Request::post("/hook?x=1")
        .header("host", "example.com")
        .body(())
        .unwrap()
        .into_parts()
        .0;
    if generic
        .sign_parts(Signer::Keyring(&keyring), &mut parts, &input.body, now)
        .is_ok()
    {
        let signed = generic
            .request_signature(&parts, now)
            .expect("a signed request's headers parse");
        let mut verifier = keyring.verifier_for(&signed.prefix, &signed.tags);
        assert!(matches!(signed.body, SignedBody::Raw));
        verifier.update(&input.body);
        verifier.update(&signed.suffix);
        assert_eq!(
            verifier.matches(&signed.tags),
            Some(0),
            "signed, then refused"
        );
    }
});
