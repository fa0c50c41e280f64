//! Zernio's typed events (a first slice; the full catalogue is in progress).

use serde::Deserialize;

use crate::event::{DecodeError, Event as EventTrait, EventSet, UnknownEvent, decode_json};

/// `webhook.test`: a test fire from the dashboard or `POST /v1/webhooks/test`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct WebhookTest {
    /// Event id (the dedup key).
    pub id: String,
    /// Fixed text: `This is a test webhook from Zernio`.
    pub message: Option<String>,
    /// When Zernio built the event (ISO-8601).
    pub timestamp: String,
}

impl EventTrait for WebhookTest {
    const NAMES: &'static [&'static str] = &["webhook.test"];
    fn decode(_name: &str, raw: &[u8]) -> Result<Self, DecodeError> {
        decode_json(raw)
    }
}

/// Every Zernio event, with an unknown case for names outside the catalogue and drifted payloads.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// `webhook.test`.
    WebhookTest(Box<WebhookTest>),
    /// Anything else, with its raw JSON.
    Unknown(UnknownEvent),
}

impl EventTrait for Event {
    const NAMES: &'static [&'static str] = &["webhook.test"];
    fn decode(name: &str, raw: &[u8]) -> Result<Self, DecodeError> {
        match name {
            "webhook.test" => Ok(Self::WebhookTest(Box::new(decode_json(raw)?))),
            other => Err(DecodeError::custom(format_args!(
                "unknown Zernio event `{other}`"
            ))),
        }
    }
}

impl EventSet for Event {
    fn unknown(event: UnknownEvent) -> Self {
        Self::Unknown(event)
    }
}
