//! The event catalogue: one realistic payload per event, from the repository's fixtures, made
//! fresh (new id, current timestamp) for every `send`, with `--set` overrides.

use std::time::SystemTime;

use serde_json::{Map, Value};

use crate::{error::Error, provider::Kind};

/// One catalogued event: its name on the command line and its fixture.
#[derive(Debug)]
pub(crate) struct Fixture {
    /// `post.published`; for Ayrshare the fixture name, `action` or `action.refinement`
    /// (`messages.messageCreated`, `social.link`).
    pub(crate) name: &'static str,
    /// The fixture's JSON text, as the sender sends it (pretty-printed in the file).
    pub(crate) json: &'static str,
}

/// The fixtures of `tests/fixtures/<dir>/<name>.json`, embedded at build time. The list must
/// name every file of the folder: a test checks it.
macro_rules! fixtures {
    ($dir:literal: [$($name:literal),+ $(,)?]) => {
        &[$(Fixture {
            name: $name,
            json: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/", $dir, "/", $name, ".json"
            )),
        }),+]
    };
}

/// Every Zernio event (the 48 subscribable ones and `webhook.test`).
pub(crate) static ZERNIO: &[Fixture] = fixtures!("zernio": [
    "account.ads.initial_sync_completed",
    "account.connected",
    "account.disconnected",
    "ad.status_changed",
    "call.ended",
    "call.failed",
    "call.permission_request",
    "call.received",
    "comment.received",
    "conversation.started",
    "lead.received",
    "message.deleted",
    "message.delivered",
    "message.edited",
    "message.failed",
    "message.read",
    "message.received",
    "message.sent",
    "post.cancelled",
    "post.external.created",
    "post.external.deleted",
    "post.external.updated",
    "post.failed",
    "post.partial",
    "post.platform.deleted",
    "post.platform.failed",
    "post.platform.published",
    "post.published",
    "post.recycled",
    "post.scheduled",
    "post.tiktok.url_resolved",
    "reaction.received",
    "referral.received",
    "review.new",
    "review.updated",
    "verification.approved",
    "verification.failed",
    "webhook.test",
    "whatsapp.automatic_event",
    "whatsapp.number.action_required",
    "whatsapp.number.activated",
    "whatsapp.number.declined",
    "whatsapp.number.kyc_submitted",
    "whatsapp.number.reactivated",
    "whatsapp.number.released",
    "whatsapp.number.suspended",
    "whatsapp.number.verification_required",
    "whatsapp.template.category_updated",
    "whatsapp.template.status_updated",
]);

/// Every Ayrshare action (and sub-action or `social` type) with a known shape.
pub(crate) static AYRSHARE: &[Fixture] = fixtures!("ayrshare": [
    "accountActivity",
    "automations",
    "batch",
    "comments",
    "feed",
    "mentions",
    "messages.messageCreated",
    "messages.messageEdited",
    "messages.messageRead",
    "messages.reactionCreated",
    "messages.reactionDeleted",
    "scheduled",
    "scheduled.tikTokPublished",
    "social.link",
    "social.refresh",
    "social.unlink",
    "suspended",
]);

/// The catalogue of `kind` (empty for Standard Webhooks, whose event types are the sender's).
pub(crate) fn catalogue(kind: Kind) -> &'static [Fixture] {
    match kind {
        Kind::Zernio => ZERNIO,
        Kind::Ayrshare => AYRSHARE,
        Kind::Standard => &[],
    }
}

/// The fixture for `event`; Ayrshare names may also be written as the library names them
/// (`messages/messageCreated`).
pub(crate) fn find(kind: Kind, event: &str) -> Result<&'static Fixture, Error> {
    let wanted = event.replace('/', ".");
    catalogue(kind)
        .iter()
        .find(|fixture| fixture.name == wanted)
        .ok_or_else(|| {
            Error::usage(format_args!(
                "no {} event `{event}` in the catalogue (`hookgate events {}` lists them)",
                kind.name(),
                kind.name()
            ))
        })
}

/// A delivery body ready to sign, with what the headers need.
#[derive(Debug, Clone)]
pub(crate) struct Payload {
    /// The raw body, compact JSON as the senders serialize it.
    pub(crate) body: Vec<u8>,
    /// The event name for the headers and messages (`event`, `action`, `type`).
    pub(crate) event: String,
    /// The sender's delivery key: Zernio's `id`, Ayrshare's `hookId`, the Standard `webhook-id`.
    pub(crate) id: Option<String>,
}

/// A fresh payload for `event`: the fixture with a new id and the current timestamp
/// (Zernio `id` + `timestamp`, Ayrshare `hookId` + `created`), or for Standard Webhooks
/// `{"type": event, "timestamp": …, "data": {}}` with a new `webhook-id`; then `sets`.
pub(crate) fn fresh(
    kind: Kind,
    event: &str,
    sets: &[Set],
    now: SystemTime,
) -> Result<Payload, Error> {
    let uuid = uuid::Uuid::new_v4();
    let (mut value, id) = match kind {
        Kind::Zernio => {
            let mut value = parse_fixture(find(kind, event)?)?;
            let id = uuid.to_string();
            value["id"] = id.clone().into();
            value["timestamp"] = humantime::format_rfc3339_millis(now).to_string().into();
            (value, id)
        }
        Kind::Ayrshare => {
            let mut value = parse_fixture(find(kind, event)?)?;
            // Ayrshare's look like `hk_3Jq9XvT2mR8pLw5N`.
            let id = format!("hk_{}", &uuid.simple().to_string()[..16]);
            value["hookId"] = id.clone().into();
            value["created"] = humantime::format_rfc3339_seconds(now).to_string().into();
            (value, id)
        }
        Kind::Standard => {
            let value = serde_json::json!({
                "type": event,
                "timestamp": humantime::format_rfc3339_millis(now).to_string(),
                "data": {},
            });
            (value, format!("msg_{}", uuid.simple()))
        }
    };
    for set in sets {
        set.apply(&mut value)?;
    }
    let event = event_name(kind, &value).unwrap_or_else(|| event.to_owned());
    // A `--set` of the body's id changes the delivery's id too (the id header, the key in the
    // summary): read it back.
    let field = match kind {
        Kind::Zernio => Some("id"),
        Kind::Ayrshare => Some("hookId"),
        Kind::Standard => None,
    };
    let id = field
        .and_then(|field| value.get(field)?.as_str().map(str::to_owned))
        .unwrap_or(id);
    let body = serde_json::to_vec(&value).expect("a JSON value serializes");
    Ok(Payload {
        body,
        event,
        id: Some(id),
    })
}

/// A body given as is (`--body FILE`): sent byte for byte; the event name and key are read
/// from it when it is a JSON object, for the headers that carry them (Standard Webhooks keys
/// live in the headers: a fresh `webhook-id`).
pub(crate) fn verbatim(kind: Kind, body: Vec<u8>, event: Option<&str>) -> Payload {
    let value: Option<Value> = serde_json::from_slice(&body).ok();
    let from_body = value.as_ref().and_then(|value| event_name(kind, value));
    let id = value.as_ref().and_then(|value| {
        let field = match kind {
            Kind::Zernio => "id",
            Kind::Ayrshare => "hookId",
            Kind::Standard => return Some(format!("msg_{}", uuid::Uuid::new_v4().simple())),
        };
        value.get(field)?.as_str().map(str::to_owned)
    });
    Payload {
        body,
        event: from_body
            .or_else(|| event.map(str::to_owned))
            .unwrap_or_default(),
        id,
    }
}

/// The event name the provider's envelope gives a body.
fn event_name(kind: Kind, value: &Value) -> Option<String> {
    let text = |field: &str| value.get(field)?.as_str().map(str::to_owned);
    match kind {
        Kind::Zernio => text("event"),
        Kind::Ayrshare => {
            let action = text("action")?;
            match text("subAction").filter(|s| !s.is_empty()) {
                Some(sub) => Some(format!("{action}/{sub}")),
                None => Some(action),
            }
        }
        Kind::Standard => text("type"),
    }
}

fn parse_fixture(fixture: &Fixture) -> Result<Value, Error> {
    serde_json::from_str(fixture.json)
        .map_err(|e| Error::usage(format_args!("fixture {}: {e}", fixture.name)))
}

/// One `--set path=value` override: a dot path (array indexes as numbers) and a JSON value,
/// or a string when the value is not JSON.
#[derive(Debug, Clone)]
pub(crate) struct Set {
    path: Vec<String>,
    value: Value,
}

impl std::str::FromStr for Set {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (path, value) = text
            .split_once('=')
            .ok_or_else(|| format!("`{text}` is not PATH=VALUE"))?;
        if path.is_empty() || path.split('.').any(str::is_empty) {
            return Err(format!("`{path}` is not a dot path like post.status"));
        }
        let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.into()));
        Ok(Self {
            path: path.split('.').map(str::to_owned).collect(),
            value,
        })
    }
}

impl Set {
    /// Writes the value at the path, creating missing objects on the way.
    pub(crate) fn apply(&self, root: &mut Value) -> Result<(), Error> {
        let mut node = root;
        for (depth, segment) in self.path.iter().enumerate() {
            let last = depth + 1 == self.path.len();
            node = match node {
                Value::Array(items) => {
                    let len = items.len();
                    let index: usize = segment.parse().map_err(|_| {
                        self.error(format_args!("`{segment}` indexes an array: use a number"))
                    })?;
                    items.get_mut(index).ok_or_else(|| {
                        self.error(format_args!(
                            "index {index} is past the array's {len} items"
                        ))
                    })?
                }
                Value::Object(map) => map.entry(segment.as_str()).or_insert_with(|| {
                    if last {
                        Value::Null
                    } else {
                        Value::Object(Map::new())
                    }
                }),
                Value::Null => {
                    *node = Value::Object(Map::new());
                    node.as_object_mut()
                        .expect("just made an object")
                        .entry(segment.as_str())
                        .or_insert(Value::Null)
                }
                _ => {
                    return Err(self.error(format_args!(
                        "`{segment}` is inside a value that is neither an object nor an array"
                    )));
                }
            };
        }
        *node = self.value.clone();
        Ok(())
    }

    fn error(&self, message: impl std::fmt::Display) -> Error {
        Error::usage(format_args!("--set {}: {message}", self.path.join(".")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lists name every fixture file, so every catalogued event can be sent.
    #[test]
    fn the_lists_name_every_fixture() {
        for (dir, list) in [("zernio", ZERNIO), ("ayrshare", AYRSHARE)] {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../tests/fixtures")
                .join(dir);
            let mut files: Vec<String> = std::fs::read_dir(&path)
                .unwrap()
                .map(|entry| entry.unwrap().file_name().into_string().unwrap())
                .filter_map(|name| name.strip_suffix(".json").map(str::to_owned))
                .collect();
            files.sort();
            let mut names: Vec<_> = list.iter().map(|f| f.name.to_owned()).collect();
            names.sort();
            assert_eq!(names, files, "{dir}");
        }
        assert_eq!(ZERNIO.len(), 49);
    }

    #[test]
    fn fresh_payloads_get_a_new_id_and_timestamp() {
        let now = SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_789_228_807_123);
        let one = fresh(Kind::Zernio, "post.published", &[], now).unwrap();
        let two = fresh(Kind::Zernio, "post.published", &[], now).unwrap();
        assert_ne!(one.id, two.id);
        let json: Value = serde_json::from_slice(&one.body).unwrap();
        assert_eq!(json["id"].as_str(), one.id.as_deref());
        assert_eq!(json["timestamp"], "2026-09-12T16:00:07.123Z");
        assert_eq!(json["event"], "post.published");
        assert_eq!(one.event, "post.published");
        // Compact, non-ASCII unescaped, like JSON.stringify.
        let text = std::str::from_utf8(&one.body).unwrap();
        assert!(!text.contains('\n') && text.contains('🍂'), "{text}");

        let ayr = fresh(Kind::Ayrshare, "messages/messageCreated", &[], now).unwrap();
        let json: Value = serde_json::from_slice(&ayr.body).unwrap();
        assert_eq!(json["hookId"].as_str(), ayr.id.as_deref());
        assert!(ayr.id.as_deref().unwrap().starts_with("hk_"));
        assert_eq!(json["created"], "2026-09-12T16:00:07Z");
        assert_eq!(ayr.event, "messages/messageCreated");

        let std = fresh(Kind::Standard, "invoice.paid", &[], now).unwrap();
        let json: Value = serde_json::from_slice(&std.body).unwrap();
        assert_eq!(json["type"], "invoice.paid");
        assert_eq!(json["data"], serde_json::json!({}));
        assert!(std.id.unwrap().starts_with("msg_"));
    }

    #[test]
    fn sets_write_json_values_strings_and_array_items() {
        let sets: Vec<Set> = [
            "post.status=failed",
            "post.platforms.1.status=\"failed\"",
            "post.metadata.retries=3",
            "post.extra.deep=true",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        let payload = fresh(Kind::Zernio, "post.published", &sets, SystemTime::now()).unwrap();
        let json: Value = serde_json::from_slice(&payload.body).unwrap();
        assert_eq!(json["post"]["status"], "failed");
        assert_eq!(json["post"]["platforms"][1]["status"], "failed");
        assert_eq!(json["post"]["platforms"][0]["status"], "published");
        assert_eq!(json["post"]["metadata"]["retries"], 3);
        assert_eq!(json["post"]["extra"]["deep"], true);

        // The key fields can be pinned too (to replay one id).
        let pinned: Set = "id=evt_fixed".parse().unwrap();
        let payload = fresh(Kind::Zernio, "webhook.test", &[pinned], SystemTime::now()).unwrap();
        let json: Value = serde_json::from_slice(&payload.body).unwrap();
        assert_eq!(json["id"], "evt_fixed");
    }

    #[test]
    fn bad_sets_and_names_are_usage_errors() {
        assert!("nopath".parse::<Set>().is_err());
        assert!("a..b=1".parse::<Set>().is_err());
        let past: Set = "post.platforms.9.status=x".parse().unwrap();
        let err = fresh(Kind::Zernio, "post.published", &[past], SystemTime::now()).unwrap_err();
        assert!(err.to_string().contains("past the array"), "{err}");
        let inside: Set = "event.x=1".parse().unwrap();
        assert!(fresh(Kind::Zernio, "post.published", &[inside], SystemTime::now()).is_err());
        let err = fresh(Kind::Zernio, "post.exploded", &[], SystemTime::now()).unwrap_err();
        assert_eq!(err.exit_code(), crate::error::EXIT_USAGE);
    }
}
