//! Signing as a sender of a generic scheme does: for tests (the `testing` kit uses it) and for
//! your own senders.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::{SystemTime, UNIX_EPOCH},
};

use http::{HeaderValue, request::Parts};

use crate::{
    keyring::{Keyring, Tag},
    provider::{Prefix, SignedBody},
};

use super::{Encoding, Generic, Sender, TimestampFrom, Unit, template};

/// The key a sender signs with.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub enum Signer<'a> {
    /// The current (first) secret of this HMAC keyring.
    Keyring(&'a Keyring),
    /// An Ed25519 private key.
    #[cfg(feature = "ed25519")]
    Ed25519(&'a ed25519_dalek::SigningKey),
}

impl std::fmt::Debug for Signer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer([redacted])")
    }
}

/// Why a request could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// The key is not of the scheme's algorithm (or a keyring of public keys).
    #[error("the key does not sign with the scheme's algorithm")]
    WrongKey,
    /// The request lacks what the template signs (a header, the host).
    #[error("the request cannot be signed: {0}")]
    Request(crate::provider::SignatureError),
}

impl<S: Sender> Generic<S> {
    /// Adds to `parts` the headers a sender of this scheme sends for `body` at `now`: the
    /// signature, the timestamp header, and a fresh id header when the template signs `{id}`
    /// and the request has none. `parts` holds the method and URI the sender posts to.
    pub fn sign_parts(
        &self,
        signer: Signer<'_>,
        parts: &mut Parts,
        body: &[u8],
        now: SystemTime,
    ) -> Result<(), SignError> {
        let scheme = &*self.scheme;
        let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
        let timestamp = scheme.config.timestamp.as_ref().map(|ts| match ts.unit {
            Unit::Seconds => since.as_secs().to_string(),
            Unit::Milliseconds => since.as_millis().to_string(),
        });
        let value = |text: &str| HeaderValue::try_from(text).expect("an ASCII header value");
        if let (Some(ts), Some(text)) = (&scheme.config.timestamp, &timestamp)
            && let TimestampFrom::Header(_) = ts.from
            && let super::TimestampAt::Header(name) =
                scheme.timestamp.as_ref().expect("compiled").at
        {
            parts.headers.insert(name, value(text));
        }
        if !scheme.id_header.is_empty() && !parts.headers.contains_key(scheme.id_header) {
            static NEXT: AtomicU64 = AtomicU64::new(1);
            let id = format!(
                "msg_hookgate_{}_{:08x}",
                NEXT.fetch_add(1, Ordering::Relaxed),
                since.subsec_nanos()
            );
            parts.headers.insert(scheme.id_header, value(&id));
        }
        // The signed content: rendered as the verifier renders it.
        let values = self.values(parts, timestamp.as_deref().map(str::as_bytes));
        let mut content = Prefix::new();
        template::render(&scheme.template.before, &values, &mut content)
            .map_err(SignError::Request)?;
        match scheme.derive.as_ref().map(|derive| derive(parts)) {
            None | Some(Ok(SignedBody::Raw)) => content.extend_from_slice(body),
            Some(Ok(SignedBody::Derived(derive))) => {
                derive(body, &mut |piece| content.extend_from_slice(piece))
                    .map_err(SignError::Request)?
            }
            Some(Err(error)) => return Err(SignError::Request(error)),
        }
        template::render(&scheme.template.after, &values, &mut content)
            .map_err(SignError::Request)?;
        let tag = match signer {
            Signer::Keyring(keyring) if keyring.algorithm() == scheme.config.algorithm => {
                keyring.try_sign(&[&content]).ok_or(SignError::WrongKey)?
            }
            #[cfg(feature = "ed25519")]
            Signer::Ed25519(key)
                if scheme.config.algorithm == crate::keyring::Algorithm::Ed25519 =>
            {
                use ed25519_dalek::Signer as _;
                Tag::from_slice(&key.sign(&content).to_bytes()).expect("64 bytes")
            }
            _ => return Err(SignError::WrongKey),
        };
        let encoded = match scheme.config.encoding {
            Encoding::Hex => tag.to_hex(),
            Encoding::Base64 => tag.to_base64(),
        };
        let signature = format!("{}{encoded}", scheme.config.prefix);
        let header = match &scheme.config.list {
            Some(list) => {
                let mut text = String::new();
                if let (Some(key), Some(ts)) = (&list.timestamp_key, &timestamp)
                    && matches!(
                        scheme.config.timestamp.as_ref().map(|t| &t.from),
                        Some(TimestampFrom::List)
                    )
                {
                    text = format!("{key}{}{ts}{}", list.kv_separator, list.pair_separator);
                }
                format!(
                    "{text}{}{}{signature}",
                    list.signature_key, list.kv_separator
                )
            }
            None => signature,
        };
        parts.headers.insert(scheme.location.header, value(&header));
        Ok(())
    }
}
