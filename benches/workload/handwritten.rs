//! The hand-written Zernio receiver: what a competent user writes in an afternoon without
//! hookgate, the same-run baseline of the benches and the load driver.
//!
//! Pre-keyed HMAC-SHA256 (the keyed state cloned per delivery), the hex signature from
//! `X-Zernio-Signature` (or `X-Late-Signature`) compared in constant time (`verify_slice`), one
//! `serde_json` decode into typed structs of the same shape as hookgate's models, dedup on the
//! event id in an `lru::LruCache` behind a `Mutex` (committed after the handler succeeded), and
//! a `match` on the event name.

use std::{hint::black_box, num::NonZeroUsize, sync::Mutex};

use hmac::{Hmac, KeyInit, Mac};
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use sha2::Sha256;

/// A Zernio event as the user models it: the envelope and the payloads they handle.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ZernioEvent {
    pub id: String,
    pub event: String,
    pub timestamp: String,
    #[serde(default)]
    pub post: Option<Post>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Post {
    pub id: String,
    pub content: String,
    pub status: String,
    pub scheduled_for: String,
    pub published_at: Option<String>,
    pub platforms: Vec<Target>,
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Target {
    pub platform: String,
    pub status: String,
    pub account_id: Option<String>,
    pub platform_post_id: Option<String>,
    pub published_url: Option<String>,
    pub error: Option<String>,
}

/// The receiver's state: the keyed MAC and the seen ids.
pub struct Receiver {
    mac: Hmac<Sha256>,
    seen: Mutex<lru::LruCache<String, ()>>,
}

impl Receiver {
    pub fn new(secret: &str) -> Self {
        Self {
            mac: Hmac::new_from_slice(secret.as_bytes()).unwrap(),
            seen: Mutex::new(lru::LruCache::new(NonZeroUsize::new(1 << 20).unwrap())),
        }
    }

    /// Verifies, decodes, dedups and handles one delivery: the status and a short body.
    pub fn handle(&self, headers: &HeaderMap, body: &[u8]) -> (StatusCode, &'static str) {
        let Some(signature) = headers
            .get("x-zernio-signature")
            .or_else(|| headers.get("x-late-signature"))
        else {
            return (StatusCode::UNAUTHORIZED, "missing signature");
        };
        let mut tag = [0u8; 32];
        if const_hex::decode_to_slice(signature.as_bytes(), &mut tag).is_err() {
            return (StatusCode::UNAUTHORIZED, "malformed signature");
        }
        let mut mac = self.mac.clone();
        mac.update(body);
        if mac.verify_slice(&tag).is_err() {
            return (StatusCode::UNAUTHORIZED, "invalid signature");
        }
        let event: ZernioEvent = match serde_json::from_slice(body) {
            Ok(event) => event,
            Err(_) => return (StatusCode::BAD_REQUEST, "invalid payload"),
        };
        if self.seen.lock().unwrap().contains(&event.id) {
            return (StatusCode::OK, "duplicate");
        }
        match event.event.as_str() {
            "post.published" => {
                black_box(&event.post);
            }
            "webhook.test" => {
                black_box(&event.timestamp);
            }
            _ => {}
        }
        self.seen.lock().unwrap().put(event.id, ());
        (StatusCode::OK, "handled")
    }
}
