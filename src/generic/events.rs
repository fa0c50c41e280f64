//! The untyped event of a [`Generic`](super::Generic) provider: the verified body as JSON.
//!
//! A generic sender's catalogue is yours: take your own serde types with
//! [`Webhooks::on_named`](crate::Webhooks::on_named), and this untyped event with
//! [`Webhooks::on_any`](crate::Webhooks::on_any) for the rest.

use crate::event::{
    DecodeError, Event as EventTrait, EventOf, EventSet, UnknownEvent, decode_json,
};

use super::{Generic, Sender};

/// Every delivery of a generic sender: the body as JSON, or the unknown case (a body that is
/// not JSON). The catalogue names no event (`NAMES` is empty) and accepts every name, as
/// [`standard::Event`](crate::standard::Event) does: register it with `on_any`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The verified body, parsed.
    Json(Box<serde_json::Value>),
    /// A body that is not JSON, with its raw bytes.
    Unknown(UnknownEvent),
}

impl EventTrait for Event {
    const NAMES: &'static [&'static str] = &[];

    fn decode(_name: &str, raw: &[u8]) -> Result<Self, DecodeError> {
        Ok(Self::Json(Box::new(decode_json(raw)?)))
    }

    /// Every name: the catalogue is the sender's.
    fn accepts(_name: &str) -> bool {
        true
    }

    fn from_unknown(event: UnknownEvent) -> Result<Self, UnknownEvent> {
        Ok(Self::Unknown(event))
    }
}

impl<S: Sender> EventOf<Generic<S>> for Event {}

impl EventSet for Event {
    fn unknown(event: UnknownEvent) -> Self {
        Self::Unknown(event)
    }
}
