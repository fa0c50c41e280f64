//! The workloads every benchmark and the load driver send: signed deliveries with every header
//! their sender sends (shared with `#[path]`: `benches/pipeline.rs`, `benches/per_delivery.rs`,
//! `examples/load.rs`).
//!
//! - **Realistic** (the one every claim is made on): Zernio's `post.published` as Zernio sends
//!   it, about 1 KiB of compact JSON (a nested `post`, a `platforms` array, `metadata`,
//!   non-ASCII text, escaped quotes and newlines), with `Content-Type`, `User-Agent`,
//!   `X-Zernio-Event`, `X-Zernio-Event-Id`, `X-Zernio-Signature` and their `X-Late-*` copies.
//! - **Mix**: the realistic `post.published` and, in turn, other Zernio events from the
//!   repository's fixtures (`message.received`, `comment.received`, `post.platform.failed`,
//!   `account.disconnected`), an Ayrshare action (`scheduled`, with its signature, `-V2`,
//!   timestamp and delivery headers) and a Standard Webhooks message (`webhook-id`,
//!   `webhook-timestamp`, `webhook-signature`).
//! - **Trivial** (labelled as such; the old load figure): a `webhook.test` whose body is one
//!   920-byte ASCII string, with two headers.
//!
//! Every delivery `n` has a fresh event id, so dedup never short-circuits.
#![allow(dead_code, unreachable_pub)] // each includer uses part of it; not a library

pub mod handwritten;

use hookgate::keyring::Keyring;

/// The secret every workload is signed with.
pub const SECRET: &str = "bench-secret";
/// The Standard Webhooks secret (`whsec_` + base64 of `SECRET`).
pub const STANDARD_SECRET: &str = "whsec_YmVuY2gtc2VjcmV0";

/// Which workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Zernio `post.published`, ~1 KiB, every Zernio header.
    Realistic,
    /// The realistic delivery and other fixtures of the three providers, in turn.
    Mix,
    /// The old `webhook.test` with one 920-byte ASCII string and two headers.
    Trivial,
}

impl Kind {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "realistic" => Some(Self::Realistic),
            "mix" => Some(Self::Mix),
            "trivial" => Some(Self::Trivial),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Realistic => "realistic",
            Self::Mix => "mix",
            Self::Trivial => "trivial",
        }
    }
}

/// One signed delivery: where it goes, its headers (as the sender writes them) and its body.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub provider: &'static str,
    pub event: &'static str,
    pub path: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl Delivery {
    /// As an `http::Request` (headers in the sender's order, `Content-Length` included).
    pub fn request(&self) -> http::Request<http_body_util::Full<bytes::Bytes>> {
        let mut builder = http::Request::post(self.path).header("host", "127.0.0.1");
        for (name, value) in &self.headers {
            builder = builder.header(*name, value);
        }
        builder
            .header("content-length", self.body.len())
            .body(http_body_util::Full::new(bytes::Bytes::from(
                self.body.clone(),
            )))
            .unwrap()
    }

    /// As the bytes of an HTTP/1.1 request on a keep-alive connection.
    pub fn http1(&self) -> Vec<u8> {
        let mut out = format!("POST {} HTTP/1.1\r\nhost: 127.0.0.1\r\n", self.path).into_bytes();
        for (name, value) in &self.headers {
            out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        out.extend_from_slice(format!("content-length: {}\r\n\r\n", self.body.len()).as_bytes());
        out.extend_from_slice(&self.body);
        out
    }
}

/// A UUID-shaped event id, distinct for every `n` (and `round`).
pub fn event_id(round: u64, n: u64) -> String {
    format!(
        "6b1e2f90-{:04x}-4d8e-{:04x}-{:012x}",
        round & 0xffff,
        (n >> 48) & 0xffff,
        n & 0xffff_ffff_ffff
    )
}

/// Delivery `n` of `kind`.
pub fn delivery(kind: Kind, round: u64, n: u64) -> Delivery {
    match kind {
        Kind::Realistic => post_published(round, n),
        Kind::Trivial => trivial(round, n),
        Kind::Mix => match n % 8 {
            0 | 2 | 4 => post_published(round, n),
            1 => zernio_fixture(round, n, "message.received", MESSAGE_RECEIVED),
            3 => zernio_fixture(round, n, "comment.received", COMMENT_RECEIVED),
            5 => zernio_fixture(round, n, "post.platform.failed", PLATFORM_FAILED),
            6 => ayrshare_scheduled(round, n),
            _ => standard_message(round, n),
        },
    }
}

/// The keyring of [`SECRET`], built once.
fn keyring() -> &'static Keyring {
    static KEYRING: std::sync::OnceLock<Keyring> = std::sync::OnceLock::new();
    KEYRING.get_or_init(|| Keyring::new([SECRET]).unwrap())
}

fn hex_tag(body: &[u8]) -> String {
    keyring().sign(b"", body).to_hex()
}

/// Zernio's headers for `body` (event `event`, id `id`), in the order Zernio sends them.
fn zernio_headers(event: &str, id: &str, body: &[u8]) -> Vec<(&'static str, String)> {
    let tag = hex_tag(body);
    vec![
        ("content-type", "application/json".to_owned()),
        ("user-agent", "Zernio-Webhooks/1.0".to_owned()),
        ("x-zernio-event", event.to_owned()),
        ("x-late-event", event.to_owned()),
        ("x-zernio-event-id", id.to_owned()),
        ("x-late-event-id", id.to_owned()),
        ("x-zernio-signature", tag.clone()),
        ("x-late-signature", tag),
    ]
}

/// The realistic delivery: `post.published`, compact as Zernio's `JSON.stringify` writes it.
pub fn post_published(round: u64, n: u64) -> Delivery {
    let id = event_id(round, n);
    let body = format!(
        concat!(
            r#"{{"id":"{id}","event":"post.published","post":{{"id":"66b2d91e4f1a7c0012ab34cd","#,
            r#""content":"Our autumn menu is live 🍂\nCome try the pumpkin ravioli this weekend — "#,
            r#"\"the best in town\", says @luca_eats ✨\n\nOpen Thu–Sun, 18:00–23:00. "#,
            r#"Book at trattoria-luca.example/booking or call +41 44 123 45 67 🍝\n#autumn #trattoria #ravioli #zürich","#,
            r#""status":"published","scheduledFor":"2026-09-12T16:00:00.000Z","#,
            r#""publishedAt":"2026-09-12T16:00:07.201Z","platforms":["#,
            r#"{{"platform":"instagram","status":"published","accountId":"6601a3f4c2b9e81d7a4f0b12","#,
            r#""platformPostId":"18043219876543210","publishedUrl":"https://www.instagram.com/p/C9xQ2LmN4pR/"}},"#,
            r#"{{"platform":"twitter","status":"published","accountId":"6601a3f4c2b9e81d7a4f0b13","#,
            r#""platformPostId":"1834021987654321098","publishedUrl":"https://x.com/trattoria_luca/status/1834021987654321098"}}],"#,
            r#""metadata":{{"crmCampaignId":"cmp_4481","locale":"en-GB","campaign":"autumn-2026","author":"Luca \"L.\" Rossi"}}}},"#,
            r#""timestamp":"2026-09-12T16:00:09.884Z"}}"#
        ),
        id = id
    );
    let body = body.into_bytes();
    Delivery {
        provider: "zernio",
        event: "post.published",
        path: "/webhooks/zernio",
        headers: zernio_headers("post.published", &id, &body),
        body,
    }
}

/// The old trivial delivery: `webhook.test`, one 920-byte ASCII string, two headers.
pub fn trivial(round: u64, n: u64) -> Delivery {
    let id = event_id(round, n);
    let mut body = format!(
        r#"{{"id":"{id}","event":"webhook.test","timestamp":"2026-09-01T12:00:00.000Z","message":""#
    )
    .into_bytes();
    body.resize(1024 - 2, b'x');
    body.extend_from_slice(b"\"}");
    let tag = hex_tag(&body);
    Delivery {
        provider: "zernio",
        event: "webhook.test",
        path: "/webhooks/zernio",
        headers: vec![
            ("content-type", "application/json".to_owned()),
            ("x-zernio-signature", tag),
        ],
        body,
    }
}

const MESSAGE_RECEIVED: &str = include_str!("../../tests/fixtures/zernio/message.received.json");
const COMMENT_RECEIVED: &str = include_str!("../../tests/fixtures/zernio/comment.received.json");
const PLATFORM_FAILED: &str = include_str!("../../tests/fixtures/zernio/post.platform.failed.json");
const AYRSHARE_SCHEDULED: &str = include_str!("../../tests/fixtures/ayrshare/scheduled.json");

/// `json` without the whitespace outside strings (as a sender's `JSON.stringify` writes it).
fn compact(json: &str) -> String {
    let (mut out, mut in_string, mut escaped) = (String::with_capacity(json.len()), false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if !c.is_ascii_whitespace() {
            out.push(c);
            in_string = c == '"';
        }
    }
    out
}

/// A fixture with its top-level string field `field` set to `value` (the field's first
/// occurrence, which is the top-level one in these fixtures).
fn with_field(json: &str, field: &str, value: &str) -> String {
    let json = compact(json);
    let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
    let old = parsed[field].as_str().unwrap();
    let from = format!(r#""{field}":"{old}""#);
    assert!(json.contains(&from), "fixture has a top-level {field}");
    json.replacen(&from, &format!(r#""{field}":"{value}""#), 1)
}

fn zernio_fixture(round: u64, n: u64, event: &'static str, fixture: &str) -> Delivery {
    let id = event_id(round, n);
    let body = with_field(fixture, "id", &id).into_bytes();
    Delivery {
        provider: "zernio",
        event,
        path: "/webhooks/zernio",
        headers: zernio_headers(event, &id, &body),
        body,
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Ayrshare's `scheduled` action, with the signature, its `-V2` copy, the timestamp and the
/// delivery headers.
pub fn ayrshare_scheduled(round: u64, n: u64) -> Delivery {
    let hook = format!("hk_{}", event_id(round, n));
    let body = with_field(AYRSHARE_SCHEDULED, "hookId", &hook).into_bytes();
    let tag = hex_tag(&body);
    Delivery {
        provider: "ayrshare",
        event: "scheduled",
        path: "/webhooks/ayrshare",
        headers: vec![
            ("content-type", "application/json".to_owned()),
            ("user-agent", "Ayrshare-Webhooks".to_owned()),
            ("x-authorization-content-sha256", tag.clone()),
            ("x-authorization-content-sha256-v2", format!("v1={tag}")),
            ("x-authorization-timestamp", now().to_string()),
            ("x-ayrshare-delivery-id", format!("dlv_{n}")),
            ("x-ayrshare-delivery-attempt", "1".to_owned()),
        ],
        body,
    }
}

/// A Standard Webhooks message (`invoice.paid`), signed over `id.timestamp.body`.
pub fn standard_message(round: u64, n: u64) -> Delivery {
    let id = format!("msg_{}", event_id(round, n));
    let timestamp = now();
    let body = concat!(
        r#"{"type":"invoice.paid","timestamp":"2026-09-12T16:00:09.884Z","data":{"#,
        r#""invoice":"in_1Q2w3E4r5T6y7U8i","customer":"cus_R9o8I7u6Y5t4","amount":4200,"#,
        r#""currency":"eur","lines":[{"description":"Pumpkin ravioli × 2","amount":3600},"#,
        r#"{"description":"Espresso","amount":600}],"note":"Tisch 4 – \"Fensterplatz\"\n"}}"#
    )
    .as_bytes()
    .to_vec();
    let tag = keyring()
        .sign(format!("{id}.{timestamp}.").as_bytes(), &body)
        .to_base64();
    Delivery {
        provider: "standard",
        event: "invoice.paid",
        path: "/webhooks/standard",
        headers: vec![
            ("content-type", "application/json".to_owned()),
            ("user-agent", "Svix-Webhooks/1.0".to_owned()),
            ("webhook-id", id),
            ("webhook-timestamp", timestamp.to_string()),
            ("webhook-signature", format!("v1,{tag}")),
        ],
        body,
    }
}
