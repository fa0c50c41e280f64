//! Typed events: what a handler receives, and the unknown path that keeps everything else.
//!
//! A provider's payload types implement [`Event`]: they name the event names (the
//! discriminator values) they decode, and decode themselves from the verified raw body. A
//! provider's catalogue enum also implements [`EventSet`], which adds the unknown path: an
//! event name outside the catalogue, or a known name whose fields did not fit the model, is
//! kept as an [`UnknownEvent`] with its raw JSON instead of being rejected.

use std::fmt;

use bytes::Bytes;
use serde::de::DeserializeOwned;

/// A typed webhook event that a handler can take.
///
/// Implemented by every typed payload of the built-in providers and by their catalogue
/// enums. Implement it for your own type to register a handler for it (for example one
/// struct for several event names whose payloads share a shape).
///
/// `decode` gets the verified raw body and the event name that selected it; it must not
/// reject unknown fields (providers add fields without notice).
pub trait Event: Sized + Send + 'static {
    /// The event names (values of the provider's discriminator) this type decodes.
    const NAMES: &'static [&'static str];

    /// Decodes the verified raw body of an event named `name` (one it [accepts](Self::accepts)).
    fn decode(name: &str, raw: &[u8]) -> Result<Self, DecodeError>;

    /// Whether `name` belongs to this type's catalogue: by default, whether it is in
    /// [`Self::NAMES`]. An open catalogue (Standard Webhooks, whose names are the sender's)
    /// accepts every name, so that only a body that does not fit is unknown.
    fn accepts(name: &str) -> bool {
        Self::NAMES.contains(&name)
    }

    /// Whether a successful [`decode`](Self::decode) proves the whole body is well-formed
    /// JSON, as one that reads it with [`decode_json`] (or `serde_json::from_slice` /
    /// `from_str`) does: serde_json reads every byte, the fields it skips included.
    ///
    /// The pipeline answers 400 to a signed body that is not JSON. When a typed handler's event
    /// type says `true`, its decode is that check (one pass over the body per delivery);
    /// otherwise (the default, for a `decode` that reads the body some other way) the
    /// dispatcher checks the body itself before decoding.
    const DECODE_CHECKS_JSON: bool = false;

    /// Whether a successful [`decode`](Self::decode) proves the body's top level does not
    /// repeat a field of the provider's envelope (its event name or dedup key), as serde's
    /// derive does for every field a struct declares (a repeat is a `duplicate field` error).
    ///
    /// A provider may stop reading the envelope once it has its fields
    /// ([`Provider::envelope_head`](crate::provider::Provider::envelope_head)); the rest of the
    /// top level must still be read for a repeated field (answered 400). When the handler's
    /// event type says `true` (with [`DECODE_CHECKS_JSON`](Self::DECODE_CHECKS_JSON)), its
    /// decode is that read; otherwise (the default) the dispatcher reads the rest first. Say
    /// `true` only for a type that declares the envelope's fields: every Zernio event does.
    const DECODE_CHECKS_ENVELOPE: bool = false;

    /// Decodes the verified body as text: the pipeline has checked it is UTF-8 (what the
    /// dispatcher calls). By default [`decode`](Self::decode) of its bytes; an event that reads
    /// JSON overrides it with [`decode_json_text`], which spares a second UTF-8 check.
    fn decode_text(name: &str, text: &str) -> Result<Self, DecodeError> {
        Self::decode(name, text.as_bytes())
    }

    /// Keeps an event that did not decode into this type, when the type has an unknown case of
    /// its own: catalogue enums ([`EventSet`]) answer `Ok(Self::Unknown(event))`. By default
    /// there is none and the event is handed back, as [`decode_verified`] returns it.
    fn from_unknown(event: UnknownEvent) -> Result<Self, UnknownEvent> {
        Err(event)
    }
}

/// Ties an [`Event`] type to the provider `P` whose deliveries carry it.
///
/// [`Webhooks<P>`](crate::Webhooks) takes handlers only for `EventOf<P>` types, so a handler
/// for another provider's event (`Webhooks::new(ayrshare).on(|_: zernio::PostPublished| ..)`),
/// which could never run, does not compile. Every built-in payload type and catalogue enum is
/// an event of its own provider; [`standard::Message<T>`](crate::standard::Message) is an event
/// of [`Standard`](crate::standard::Standard) for every payload `T`. For a type of your own,
/// one empty impl per provider that sends it is enough:
///
/// ```
/// # #[cfg(feature = "standard")] {
/// use hookgate::{event::{DecodeError, Event, EventOf, decode_json}, standard::Standard};
///
/// /// Any `invoice.*` event, top-level fields only (a "squashed" Standard Webhooks payload).
/// #[derive(serde::Deserialize)]
/// struct Invoice { id: String }
///
/// impl Event for Invoice {
///     const NAMES: &'static [&'static str] = &["invoice.paid", "invoice.voided"];
///     fn decode(_name: &str, raw: &[u8]) -> Result<Self, DecodeError> {
///         decode_json(raw)
///     }
/// }
///
/// impl EventOf<Standard> for Invoice {}
/// # }
/// ```
///
/// [`UnknownEvent`] is not tied to a provider: the fallback of every `Webhooks` takes it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an event of provider `{P}`",
    label = "a handler for this event would never run on a `Webhooks<{P}>`",
    note = "the handlers of a `Webhooks<{P}>` take `{P}`'s event types (the help below names the provider `{Self}` belongs to, if any)",
    note = "a type of your own becomes an event of `{P}` with `impl EventOf<{P}> for YourType {{}}`"
)]
pub trait EventOf<P: ?Sized>: Event {}

/// A provider's whole catalogue as one enum, with an unknown case that never fails.
///
/// [`decode_or_unknown`] uses it: a known event decodes to its variant, anything else becomes
/// the unknown case with the raw JSON. An implementation also overrides
/// [`Event::from_unknown`] to answer `Ok(Self::unknown(event))`, so that `Verified<E>` (the
/// axum extractor) and [`decode_verified`] keep unknown events in it too.
pub trait EventSet: Event {
    /// Wraps an event that did not decode into a typed variant.
    fn unknown(event: UnknownEvent) -> Self;
}

/// Decodes a verified body into a catalogue enum, falling back to its unknown case.
///
/// A name `E` does not [accept](Event::accepts) gives [`UnknownReason::UnknownName`]; a known
/// name whose fields do not fit gives [`UnknownReason::Drifted`] and a `tracing` warning.
pub fn decode_or_unknown<E: EventSet>(name: &str, raw: &Bytes) -> E {
    decode_verified::<E>(name, raw).unwrap_or_else(E::unknown)
}

/// Decodes a verified body into any [`Event`] type: the typed event, or the [`UnknownEvent`]
/// when it is not one of `E`'s events or does not fit.
///
/// A name `E` does not [accept](Event::accepts) gives [`UnknownReason::UnknownName`] (for a
/// single event type such as `zernio::PostPublished`, that is every other name of the
/// provider); a name it accepts whose fields do not fit gives [`UnknownReason::Drifted`] and a
/// `tracing` warning. A type with an unknown case of its own (a catalogue enum, see
/// [`Event::from_unknown`]) keeps the unknown event there and never fails.
pub fn decode_verified<E: Event>(name: &str, raw: &Bytes) -> Result<E, UnknownEvent> {
    let unknown = if !E::accepts(name) {
        UnknownEvent::new(name, raw.clone(), UnknownReason::UnknownName)
    } else {
        match E::decode(name, raw) {
            Ok(event) => return Ok(event),
            Err(error) => {
                tracing::warn!(event = name, %error, "known event did not fit its model; delivered as unknown");
                UnknownEvent::new(name, raw.clone(), UnknownReason::Drifted(error))
            }
        }
    };
    E::from_unknown(unknown)
}

/// Decodes JSON into `T`, reporting the path of the field that failed.
///
/// This is the decoder every built-in event uses; use it in your own [`Event::decode`].
///
/// A body that is UTF-8 (every verified body is: the pipeline checks it) is decoded as a
/// `&str`, which spares serde_json a UTF-8 check of every string it reads: one check of the
/// whole body is cheaper than one per string.
pub fn decode_json<T: DeserializeOwned>(raw: &[u8]) -> Result<T, DecodeError> {
    match std::str::from_utf8(raw) {
        Ok(text) => decode_json_text(text),
        Err(_) => match serde_json::from_slice(raw) {
            Ok(value) => Ok(value),
            Err(_) => decode_with_path(raw),
        },
    }
}

/// [`decode_json`] of a body already known to be UTF-8 (what
/// [`Event::decode_text`] gets): no second UTF-8 check.
pub fn decode_json_text<T: DeserializeOwned>(text: &str) -> Result<T, DecodeError> {
    match serde_json::from_str(text) {
        Ok(value) => Ok(value),
        Err(_) => decode_with_path(text.as_bytes()),
    }
}

/// The fast path failed: decodes once more, tracking the path, to say where.
#[cold]
fn decode_with_path<T: DeserializeOwned>(raw: &[u8]) -> Result<T, DecodeError> {
    let mut de = serde_json::Deserializer::from_slice(raw);
    serde_path_to_error::deserialize::<_, T>(&mut de).map_err(|error| DecodeError {
        path: error.path().to_string(),
        message: error.into_inner().to_string(),
    })
}

/// Why a typed event could not be decoded: the JSON path and serde's message.
///
/// The message text is meant for logs and is not stable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    path: String,
    message: String,
}

impl DecodeError {
    /// A decode error with a custom message, for hand-written [`Event::decode`]s.
    pub fn custom(message: impl fmt::Display) -> Self {
        Self {
            path: String::from("."),
            message: message.to_string(),
        }
    }

    /// The JSON path of the field that failed, e.g. `post.platforms[0].status` (`.` for the root).
    pub fn path(&self) -> &str {
        &self.path
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at `{}`: {}", self.path, self.message)
    }
}

impl std::error::Error for DecodeError {}

/// Why an event went to the unknown path.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnknownReason {
    /// The event name is not in the provider's catalogue (the provider added an event).
    UnknownName,
    /// The name is known but the fields did not fit the typed model (provider drift).
    Drifted(DecodeError),
    /// The event is known and fits, but no handler is registered for it.
    Unhandled,
}

/// A verified event that did not reach a typed handler, with its raw JSON.
#[derive(Clone, PartialEq, Eq)]
pub struct UnknownEvent {
    name: String,
    raw: Bytes,
    reason: UnknownReason,
}

impl UnknownEvent {
    /// Builds an unknown event (used by the pipeline and by tests).
    pub fn new(name: impl Into<String>, raw: Bytes, reason: UnknownReason) -> Self {
        Self {
            name: name.into(),
            raw,
            reason,
        }
    }

    /// The event name as sent (Zernio `event`, Ayrshare `action[/subAction]`, Standard `type`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The verified raw body, byte for byte as received.
    pub fn raw(&self) -> &Bytes {
        &self.raw
    }

    /// The raw body parsed as JSON (it is always a JSON object here).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.raw).unwrap_or(serde_json::Value::Null)
    }

    /// Why the event took the unknown path.
    pub fn reason(&self) -> &UnknownReason {
        &self.reason
    }

    /// The decode error, when a known event drifted from its model.
    pub fn decode_error(&self) -> Option<&DecodeError> {
        match &self.reason {
            UnknownReason::Drifted(error) => Some(error),
            _ => None,
        }
    }
}

impl fmt::Debug for UnknownEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnknownEvent")
            .field("name", &self.name)
            .field("reason", &self.reason)
            .field("raw_len", &self.raw.len())
            .finish()
    }
}
