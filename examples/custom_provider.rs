//! A provider of your own: "Acme", a made-up sender, received with [`Webhooks`].
//!
//! Acme's wire format (the kind of thing a sender's docs say):
//!
//! - `POST` with a JSON body `{"id": "evt_...", "data": {...}}`; `id` is the event's id, the
//!   same on every retry of the event;
//! - `Acme-Event: invoice.paid`: the event name is **only in this header**;
//! - `Acme-Signature: sha256=<hex>`: HMAC-SHA256, with your endpoint's secret, of the event
//!   name, a `.`, and the raw body, so the header is signed too;
//! - `Acme-Delivery: <uuid>`: a fresh id per attempt, **not signed**.
//!
//! Run it with `cargo run --example custom_provider`: it sends a few signed deliveries through
//! the dispatcher in-process and prints how each was answered.

use std::time::SystemTime;

use bytes::Bytes;
use hookgate::{
    Delivery, Webhooks,
    event::{DecodeError, Event, EventOf, EventSet, UnknownEvent, decode_json},
    keyring::{Keyring, KeyringError, Tag, Tags},
    provider::{
        DeliveryMeta, Envelope, EnvelopeError, LenientStr, Prefix, Provider, SignatureError,
        Signed, parse_envelope, single_header,
    },
    secrets::Secrets,
};
use http::{HeaderMap, HeaderName, Request};
use http_body_util::{BodyExt, Full};
use serde::Deserialize;
use tower::ServiceExt;

// --- 1. The provider: its name, its keyring, where its signature and event name are. ---------

const HEADER_SIGNATURE: &str = "acme-signature";
const HEADER_EVENT: &str = "acme-event";
const HEADER_DELIVERY: &str = "acme-delivery";

/// Headers redacted in `Delivery::headers` and never logged.
static SIGNATURE_HEADERS: [HeaderName; 1] = [HeaderName::from_static(HEADER_SIGNATURE)];

/// The Acme provider: your endpoint's secrets, current first (keep the previous one during a
/// rotation: a delivery verifies when any secret matches).
#[derive(Debug, Clone)]
pub struct Acme {
    secrets: Secrets,
}

impl Acme {
    /// Acme with these secrets, current first.
    pub fn new<I, K>(secrets: I) -> Result<Self, KeyringError>
    where
        I: IntoIterator<Item = K>,
        K: AsRef<[u8]>,
    {
        Ok(Self {
            // A static keyring; `Rotating` or a `CachedSource` (per tenant) also fit here.
            secrets: Keyring::new(secrets)?.into(),
        })
    }
}

/// The two fields the pipeline needs from the body. `LenientStr` never fails: a non-string `id`
/// reads as absent (the pipeline then keys on the body's hash) instead of refusing the body.
#[derive(Deserialize)]
struct RawEnvelope<'a> {
    #[serde(borrow, default)]
    id: LenientStr<'a>,
}

impl Provider for Acme {
    const NAME: &'static str = "acme";
    type Event = AcmeEvent;

    fn signature_headers(&self) -> &'static [HeaderName] {
        &SIGNATURE_HEADERS
    }

    fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    /// Runs on the headers before a byte of the body is read.
    fn signature(&self, headers: &HeaderMap, _now: SystemTime) -> Result<Signed, SignatureError> {
        // `single_header` refuses a header repeated with differing values (401): which one
        // did the sender sign?
        let value = single_header(headers, HEADER_SIGNATURE)?
            .ok_or(SignatureError::Missing(HEADER_SIGNATURE))?;
        let hex = value
            .as_bytes()
            .strip_prefix(b"sha256=")
            .ok_or(SignatureError::Malformed(HEADER_SIGNATURE))?;
        let tag = Tag::from_hex(hex).ok_or(SignatureError::Malformed(HEADER_SIGNATURE))?;
        // Acme signs `{event}.{body}`: the event header goes into the signed prefix, so the
        // name `envelope` reads from that header below is authenticated like the body.
        let event = single_header(headers, HEADER_EVENT)?
            .ok_or(SignatureError::MissingHeader(HEADER_EVENT))?;
        let mut prefix = Prefix::new();
        prefix.extend_from_slice(event.as_bytes());
        prefix.extend_from_slice(b".");
        Ok(Signed {
            prefix,
            tags: Tags::from(tag),
            ..Signed::default()
        })
    }

    /// Runs on the verified body: the event name (for routing) and the dedup key.
    fn envelope<'a>(
        &self,
        headers: &'a HeaderMap,
        body: &'a str,
    ) -> Result<Envelope<'a>, EnvelopeError> {
        let raw: RawEnvelope<'a> = parse_envelope(body)?;
        // The name from the header `signature` put in the signed prefix (the same header map).
        let name = headers
            .get(HEADER_EVENT)
            .and_then(|value| value.to_str().ok())
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .ok_or(EnvelopeError::MissingDiscriminator("Acme-Event"))?;
        Ok(Envelope {
            name: name.into(),
            // The dedup key comes from the signed body, never from `Acme-Delivery` (unsigned):
            // see the guide. An empty id is treated as absent (the body-hash fallback).
            key: raw.id.0.filter(|id| !id.is_empty()),
            scope: None,
        })
    }

    /// Metadata for logs and handlers; unsigned, so never a key.
    fn delivery_meta(&self, headers: &HeaderMap) -> DeliveryMeta {
        let mut meta = DeliveryMeta::default();
        meta.delivery_id = headers
            .get(HEADER_DELIVERY)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        meta
    }
}

// --- 2. The events: one type per payload shape, tied to Acme, and the catalogue enum. -------

/// `invoice.paid` and `invoice.voided` share one shape.
#[derive(Debug, Deserialize)]
pub struct Invoice {
    /// The event id.
    pub id: String,
    /// The event data.
    pub data: InvoiceData,
}

/// The `data` of the invoice events. Unknown fields are ignored (senders add fields).
#[derive(Debug, Deserialize)]
pub struct InvoiceData {
    /// Acme's invoice id.
    pub invoice: String,
    /// Amount in cents.
    pub amount: u64,
}

impl Event for Invoice {
    const NAMES: &'static [&'static str] = &["invoice.paid", "invoice.voided"];

    fn decode(_name: &str, raw: &[u8]) -> Result<Self, DecodeError> {
        decode_json(raw)
    }
}

/// A handler for `Invoice` compiles only on a `Webhooks<Acme>`.
impl EventOf<Acme> for Invoice {}

/// Every Acme event, with the unknown case every catalogue has (`Provider::Event`).
#[derive(Debug)]
pub enum AcmeEvent {
    /// `invoice.paid`, `invoice.voided`.
    Invoice(Invoice),
    /// Anything else, with its raw JSON.
    Unknown(UnknownEvent),
}

impl Event for AcmeEvent {
    const NAMES: &'static [&'static str] = Invoice::NAMES;

    fn decode(name: &str, raw: &[u8]) -> Result<Self, DecodeError> {
        Invoice::decode(name, raw).map(Self::Invoice)
    }

    fn from_unknown(event: UnknownEvent) -> Result<Self, UnknownEvent> {
        Ok(Self::Unknown(event))
    }
}

impl EventOf<Acme> for AcmeEvent {}

impl EventSet for AcmeEvent {
    fn unknown(event: UnknownEvent) -> Self {
        Self::Unknown(event)
    }
}

// --- 3. Use it like any provider. ------------------------------------------------------------

/// A delivery as Acme sends it (what `hookgate::testing::Sign` does for the built-in providers).
fn acme_request(acme: &Acme, event: &str, body: &str, delivery: &str) -> Request<Full<Bytes>> {
    let signed = [event.as_bytes(), b"."].concat();
    let keyring = acme.secrets().keyring().expect("a static keyring");
    let tag = keyring.sign(&signed, body.as_bytes()).to_hex();
    Request::post("/webhooks/acme")
        .header("content-type", "application/json")
        .header(HEADER_EVENT, event)
        .header(HEADER_SIGNATURE, format!("sha256={tag}"))
        .header(HEADER_DELIVERY, delivery)
        .body(Full::new(Bytes::copy_from_slice(body.as_bytes())))
        .expect("a valid request")
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let acme = Acme::new(["acme-secret"])?;
    let dispatcher = Webhooks::new(acme.clone())
        .on(|invoice: Invoice, delivery: Delivery| async move {
            println!(
                "{} {} for {} cents (delivery {:?})",
                delivery.event(),
                invoice.data.invoice,
                invoice.data.amount,
                delivery.delivery_id()
            );
        })
        .fallback(|event: UnknownEvent| async move {
            println!("unhandled {}: {}", event.name(), event.json());
        })
        .build()?;

    let paid = r#"{"id":"evt_1","data":{"invoice":"in_42","amount":1999}}"#;
    let renamed = {
        // A replay of the signed `invoice.paid` delivery under another event name.
        let mut request = acme_request(&acme, "invoice.paid", paid, "d-3");
        let forged = http::HeaderValue::from_static("invoice.voided");
        request.headers_mut().insert(HEADER_EVENT, forged);
        request
    };
    let cases = [
        // Handled.
        ("paid", acme_request(&acme, "invoice.paid", paid, "d-1")),
        // Its retry: a new delivery id, the same signed event id, so a duplicate.
        ("retry", acme_request(&acme, "invoice.paid", paid, "d-2")),
        // The event header is signed: renaming the event breaks the signature (401).
        ("renamed", renamed),
        // An event outside the catalogue goes to the fallback (handled there).
        (
            "unknown",
            acme_request(
                &acme,
                "customer.created",
                r#"{"id":"evt_2","data":{}}"#,
                "d-4",
            ),
        ),
    ];
    let mut answers = Vec::new();
    for (case, request) in cases {
        let response = dispatcher.clone().oneshot(request).await?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await?.to_bytes();
        let body = String::from_utf8_lossy(&body).into_owned();
        println!("{case}: {status} {body}");
        answers.push((status, body));
    }
    assert_eq!(answers[0], (200, r#"{"status":"handled"}"#.to_owned()));
    assert_eq!(answers[1], (200, r#"{"status":"duplicate"}"#.to_owned()));
    assert_eq!(answers[2].0, 401);
    assert_eq!(answers[3], (200, r#"{"status":"handled"}"#.to_owned()));
    Ok(())
}
