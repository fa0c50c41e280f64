//! The Standard Webhooks payload envelope, typed by your own `data` types.

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::event::{
    DecodeError, Event as EventTrait, EventOf, EventSet, UnknownEvent, decode_json,
    decode_json_text,
};

use super::Standard;

/// A type of yours for the `data` of some event types: names the `type` values it decodes.
///
/// Standard Webhooks leaves event names to each sender, so the catalogue is yours: implement
/// `Payload` for the `data` of each event type you handle, then register a handler taking a
/// [`Message<YourType>`](Message) with [`Webhooks::on`](crate::Webhooks::on). One type may
/// serve several names whose `data` share a shape.
///
/// ```
/// use hookgate::standard::Payload;
///
/// #[derive(serde::Deserialize)]
/// struct InvoicePaid {
///     invoice: String,
///     amount: u64,
/// }
///
/// impl Payload for InvoicePaid {
///     const TYPES: &'static [&'static str] = &["invoice.paid"];
/// }
/// ```
///
/// Unknown fields of `data` must be tolerated (do not use `deny_unknown_fields`): senders add
/// fields without notice. [`serde_json::Value`] is a `Payload` with no types of its own: the
/// untyped [`Message`] is meant for [`Webhooks::on_any`](crate::Webhooks::on_any).
pub trait Payload: DeserializeOwned + Send + 'static {
    /// The `type` values whose `data` this type decodes.
    const TYPES: &'static [&'static str];
}

impl Payload for serde_json::Value {
    const TYPES: &'static [&'static str] = &[];
}

/// A Standard Webhooks payload: `{"type": ..., "timestamp": ..., "data": ...}`, the structure
/// the specification recommends, with your type for `data`.
///
/// `Message<T>` is an [`Event`](crate::event::Event) named by `T::TYPES`, so
/// `.on(|m: standard::Message<InvoicePaid>| ...)` handles exactly those types. The untyped
/// `Message` (`data` as [`serde_json::Value`]) names no type and decodes any envelope: register
/// it with [`Webhooks::on_any`](crate::Webhooks::on_any) as the catch-all for the types without
/// a handler of their own.
///
/// Other top-level fields are ignored (they stay in [`Delivery::raw`](crate::Delivery::raw)).
/// A payload without `data` (the specification also allows `data` "squashed" into the
/// top-level object) does not fit: it goes to the fallback as drift, with its raw JSON. For
/// such a sender, implement [`Event`](crate::event::Event) for your own top-level type.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Message<T = serde_json::Value> {
    /// The event type, e.g. `invoice.paid` (the body's `type`, which routed the delivery).
    #[serde(rename = "type")]
    pub r#type: String,
    /// When the event occurred (ISO 8601 as sent; not the delivery attempt's time, which is
    /// the signed `webhook-timestamp` header).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// The event data.
    pub data: T,
}

impl<T: Payload> EventTrait for Message<T> {
    const NAMES: &'static [&'static str] = T::TYPES;
    const DECODE_CHECKS_JSON: bool = true;

    fn decode(_name: &str, raw: &[u8]) -> Result<Self, DecodeError> {
        decode_json(raw)
    }

    fn decode_text(_name: &str, text: &str) -> Result<Self, DecodeError> {
        decode_json_text(text)
    }
}

/// Every Standard Webhooks delivery: the envelope with untyped `data`, or the unknown case.
///
/// The event names are the sender's, so this catalogue names none (`NAMES` is empty) and
/// decodes any well-formed envelope. What each path gives:
///
/// - `Verified<standard::Event>` (feature `axum`, behind
///   [`WebhookLayer`](crate::WebhookLayer)) and
///   [`decode_or_unknown`](crate::event::decode_or_unknown) give [`Event::Message`] for every
///   body with a string `type` and a `data` field, and [`Event::Unknown`] (reason
///   [`UnknownReason::Drifted`](crate::event::UnknownReason::Drifted), with the decode error) for the others: this catalogue
///   [accepts](crate::event::Event::accepts) every name. For your typed data, decode the raw body again:
///   `hookgate::event::decode_json::<standard::Message<InvoicePaid>>(delivery.raw())`.
/// - With [`Webhooks`](crate::Webhooks), `.on_any(|e: standard::Event| ...)` (or the untyped
///   [`Message`]) receives every type without a typed handler of its own; a body that is not a
///   well-formed envelope goes to the fallback as drift. `.on(|e: standard::Event| ...)` is
///   refused by [`Webhooks::build`](crate::Webhooks::build), as `NAMES` is empty.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A well-formed envelope, `data` as JSON.
    Message(Box<Message>),
    /// A body that is not a well-formed envelope, with its raw JSON.
    Unknown(UnknownEvent),
}

impl EventTrait for Event {
    const NAMES: &'static [&'static str] = &[];
    const DECODE_CHECKS_JSON: bool = true;

    fn decode(_name: &str, raw: &[u8]) -> Result<Self, DecodeError> {
        Ok(Self::Message(Box::new(decode_json(raw)?)))
    }

    fn decode_text(_name: &str, text: &str) -> Result<Self, DecodeError> {
        Ok(Self::Message(Box::new(decode_json_text(text)?)))
    }

    /// Every name: the catalogue is the sender's.
    fn accepts(_name: &str) -> bool {
        true
    }

    fn from_unknown(event: UnknownEvent) -> Result<Self, UnknownEvent> {
        Ok(Self::Unknown(event))
    }
}

impl<T: Payload> EventOf<Standard> for Message<T> {}

impl EventOf<Standard> for Event {}

impl EventSet for Event {
    fn unknown(event: UnknownEvent) -> Self {
        Self::Unknown(event)
    }
}
