//! [`Delivery`]: what a handler knows about the delivery that carried its event.

use std::{sync::Arc, time::SystemTime};

use bytes::Bytes;
use bytestring::ByteString;
use http::{HeaderMap, HeaderValue};

use crate::{keyring::Tenant, provider::Unread};

/// The context of one verified delivery: provider, tenant, event name, dedup key, time, the headers
/// (signature headers redacted) and the raw body exactly as received.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub(crate) provider: &'static str,
    pub(crate) tenant: Option<Tenant>,
    pub(crate) event: Name,
    pub(crate) key: Arc<str>,
    pub(crate) key_from_body_hash: bool,
    pub(crate) received_at: SystemTime,
    pub(crate) attempt: Option<u32>,
    pub(crate) delivery_id: Option<String>,
    pub(crate) headers: HeaderMap,
    /// The body, checked to be UTF-8 once, by the pipeline.
    pub(crate) raw: ByteString,
    /// The part of the body's top level the envelope read left unread, when it stopped early
    /// ([`Provider::envelope_head`](crate::provider::Provider::envelope_head)): the dispatcher
    /// reads it before a handler runs, unless the handler's decode does.
    pub(crate) unread: Option<Unread>,
}

impl Delivery {
    /// The provider's name (`zernio`, `ayrshare`, `standard`, ...).
    pub fn provider(&self) -> &'static str {
        self.provider
    }

    /// The tenant whose secret verified the delivery (an Ayrshare profile's `refId`, a
    /// customer), or `None` for a keyring of one unnamed tenant
    /// ([`Keyring::new`](crate::keyring::Keyring::new)).
    pub fn tenant(&self) -> Option<&Tenant> {
        self.tenant.as_ref()
    }

    /// The event name as routed (Zernio `event`, Ayrshare `action[/subAction]`, Standard `type`).
    pub fn event(&self) -> &str {
        &self.event
    }

    /// The dedup key as the provider gives it (Zernio `id`, Ayrshare `hookId`, Standard
    /// `webhook-id`), or the hex SHA-256 of the raw body when the provider sent none.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Whether [`Delivery::key`] is the body-hash fallback rather than the provider's key.
    pub fn key_is_body_hash(&self) -> bool {
        self.key_from_body_hash
    }

    /// When hookgate received the delivery.
    pub fn received_at(&self) -> SystemTime {
        self.received_at
    }

    /// The attempt number, when the provider sends one (Ayrshare does; Zernio does not).
    pub fn attempt(&self) -> Option<u32> {
        self.attempt
    }

    /// The provider's id for this delivery attempt, when it sends one.
    pub fn delivery_id(&self) -> Option<&str> {
        self.delivery_id.as_deref()
    }

    /// The request headers, with every signature header's value replaced by `[redacted]`.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The verified raw body, byte for byte as received.
    pub fn raw(&self) -> &Bytes {
        self.raw.as_bytes()
    }

    /// The verified raw body as text (every verified body is UTF-8: the pipeline refuses one
    /// that is not).
    pub fn text(&self) -> &str {
        &self.raw
    }
}

/// Replaces the values of `names` by `[redacted]` (marked sensitive), every value of each.
///
/// Walks the map in place: an `entry`/`insert` would first reserve room for a new header,
/// and a request's map is usually full, so each redaction would reallocate it.
pub(crate) fn redact(headers: &mut HeaderMap, names: &[http::HeaderName]) {
    for (name, value) in headers.iter_mut() {
        if names.contains(name) {
            let mut redacted = HeaderValue::from_static("[redacted]");
            redacted.set_sensitive(true);
            *value = redacted;
        }
    }
}

#[cfg(test)]
mod tests {
    use http::{HeaderMap, HeaderName, HeaderValue};

    use super::redact;

    #[test]
    fn redact_replaces_every_value_of_every_named_header() {
        let sig = HeaderName::from_static("x-signature");
        let mut headers = HeaderMap::new();
        headers.append(&sig, HeaderValue::from_static("secret-one"));
        headers.append(&sig, HeaderValue::from_static("secret-two"));
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        redact(&mut headers, std::slice::from_ref(&sig));
        let values: Vec<_> = headers.get_all(&sig).iter().collect();
        assert_eq!(values, ["[redacted]", "[redacted]"]);
        assert!(values.iter().all(|v| v.is_sensitive()));
        assert_eq!(headers["content-type"], "application/json");
    }
}

/// An event name held by a delivery and its log lines: a name of the provider's catalogue as
/// the catalogue spells it (no allocation: every delivery of a known event), any other name
/// counted.
#[derive(Clone)]
pub(crate) enum Name {
    Known(&'static str),
    Other(Arc<str>),
}

impl Name {
    /// `name` as a catalogue name of `E`, when it is one.
    pub(crate) fn of<E: crate::event::Event>(name: &str) -> Self {
        match E::NAMES.iter().find(|known| **known == name) {
            Some(known) => Self::Known(known),
            None => Self::Other(name.into()),
        }
    }

    /// The `event` label of the metrics: the catalogue name, or `_other`.
    pub(crate) fn label(&self) -> &'static str {
        match self {
            Self::Known(name) => name,
            Self::Other(_) => "_other",
        }
    }
}

impl std::ops::Deref for Name {
    type Target = str;

    fn deref(&self) -> &str {
        match self {
            Self::Known(name) => name,
            Self::Other(name) => name,
        }
    }
}

impl std::fmt::Debug for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&**self, f)
    }
}
