//! Decode-level tests of Zernio's typed event catalogue, against the provider fixtures, the JSON
//! Schema bundle and the wire spec kept in `tests/fixtures/` (HTTP-level tests live elsewhere).

#![cfg(feature = "zernio")]

use std::{
    collections::BTreeSet,
    fs,
    path::{Path, PathBuf},
};

use bytes::Bytes;
use hookgate::{
    event::{Event as EventTrait, UnknownReason, decode_or_unknown},
    zernio::{self, Event, *},
};
use serde_json::{Value, json};

/// The wire spec and the JSON Schema bundle.
const SPEC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/spec");
/// One payload per event name.
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/zernio");

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Every fixture file, sorted.
fn fixture_files() -> Vec<PathBuf> {
    let entries = fs::read_dir(FIXTURES).unwrap_or_else(|e| panic!("reading {FIXTURES}: {e}"));
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    files
}

/// The fixture for `name`, if there is one.
#[track_caller]
fn fixture_path(name: &str) -> Option<PathBuf> {
    Some(Path::new(FIXTURES).join(format!("{name}.json"))).filter(|path| path.exists())
}

#[track_caller]
fn raw(name: &str) -> Vec<u8> {
    let path = fixture_path(name).unwrap_or_else(|| panic!("no fixture for `{name}`"));
    fs::read(path).unwrap()
}

#[track_caller]
fn json(name: &str) -> Value {
    serde_json::from_slice(&raw(name)).unwrap()
}

/// Decodes the fixture of `name` through the catalogue enum.
#[track_caller]
fn decode(name: &str) -> Event {
    <Event as EventTrait>::decode(name, &raw(name))
        .unwrap_or_else(|error| panic!("`{name}` did not decode: {error}"))
}

/// Decodes an edited payload through the catalogue enum.
#[track_caller]
fn decode_value(name: &str, value: &Value) -> Result<Event, hookgate::event::DecodeError> {
    <Event as EventTrait>::decode(name, &serde_json::to_vec(value).unwrap())
}

/// The fixture of `name`, edited by `edit`.
#[track_caller]
fn edited(name: &str, edit: impl FnOnce(&mut Value)) -> Value {
    let mut value = json(name);
    edit(&mut value);
    value
}

/// `value` without the object members that are `null`, recursively.
///
/// Optional fields that may be `null` are plain `Option`s, so an explicit `null` and an absent
/// key decode alike and serialize as absent; compare payloads modulo those.
fn without_nulls(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}

/// Asserts that `serialized` has `null` only where `original` has it: optional fields that were
/// absent are left out again rather than written as `null`.
#[track_caller]
fn assert_no_extra_nulls(serialized: &Value, original: &Value, context: &str) {
    fn walk(serialized: &Value, original: Option<&Value>, path: &str, out: &mut Vec<String>) {
        match serialized {
            Value::Null if !original.is_some_and(Value::is_null) => out.push(path.to_owned()),
            Value::Object(map) => {
                for (key, value) in map {
                    let here = format!("{path}/{key}");
                    walk(value, original.and_then(|o| o.get(key)), &here, out);
                }
            }
            Value::Array(items) => {
                for (i, value) in items.iter().enumerate() {
                    walk(
                        value,
                        original.and_then(|o| o.get(i)),
                        &format!("{path}/{i}"),
                        out,
                    );
                }
            }
            _ => {}
        }
    }
    let mut extra = Vec::new();
    walk(serialized, Some(original), "", &mut extra);
    assert!(
        extra.is_empty(),
        "{context}: serialized `null` at {extra:?}"
    );
}

/// Sets the member at `pointer` (the parent must exist), adding it when absent.
#[track_caller]
fn set(value: &mut Value, pointer: &str, new: Value) {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let parent = if parent.is_empty() {
        value
    } else {
        value
            .pointer_mut(parent)
            .unwrap_or_else(|| panic!("no {parent}"))
    };
    match parent {
        Value::Object(map) => {
            map.insert(key.to_owned(), new);
        }
        Value::Array(items) => items[key.parse::<usize>().unwrap()] = new,
        other => panic!("cannot set {pointer} in {other}"),
    }
}

fn str_at<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at {pointer}"))
}

/// Unwraps one variant of the catalogue enum or fails with what it was.
macro_rules! expect {
    ($event:expr, $variant:ident) => {
        match $event {
            Event::$variant(inner) => *inner,
            other => panic!("expected {}, got {:?}", stringify!($variant), other.name()),
        }
    };
}

// ---------------------------------------------------------------------------------------------
// The catalogue
// ---------------------------------------------------------------------------------------------

/// The 49 names of `zernio.md` section 5, read from its table.
fn spec_names() -> BTreeSet<String> {
    let spec = fs::read_to_string(format!("{SPEC}/zernio.md")).unwrap();
    let start = spec.find("## 5. Event catalogue").unwrap();
    let end = spec.find("## 6. Payload schemas").unwrap();
    spec[start..end]
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .map(|rest| rest[..rest.find('`').unwrap()].to_owned())
        .filter(|name| name != "event") // the table's header row
        .collect()
}

/// The keys of the schema bundle's `x-event-map`.
fn schema_names() -> BTreeSet<String> {
    let schema: Value =
        serde_json::from_slice(&fs::read(format!("{SPEC}/zernio-webhooks.schema.json")).unwrap())
            .unwrap();
    schema["x-event-map"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

#[test]
fn catalogue_matches_spec_schema_and_fixtures() {
    let names: BTreeSet<String> = Event::NAMES.iter().map(|n| n.to_string()).collect();
    assert_eq!(Event::NAMES.len(), 49, "catalogue size");
    assert_eq!(names.len(), 49, "duplicate names in the catalogue");
    assert_eq!(names, schema_names(), "catalogue vs schema x-event-map");
    assert_eq!(names, spec_names(), "catalogue vs zernio.md section 5");
    assert!(names.contains("webhook.test"));

    let missing: Vec<&String> = names
        .iter()
        .filter(|name| fixture_path(name).is_none())
        .collect();
    assert!(missing.is_empty(), "names without a fixture: {missing:?}");
}

#[test]
fn every_name_has_a_variant_that_reports_it() {
    // Decoding each name's fixture yields a typed variant whose `name()` is that name, so every
    // name in NAMES is wired to a variant (the catalogue macro generates both from one list).
    for name in Event::NAMES {
        let event = decode(name);
        assert!(event.as_unknown().is_none(), "`{name}` decoded as Unknown");
        assert_eq!(event.name(), *name);
        // The variant (and its type) is the name in UpperCamelCase, so no two names with the
        // same shape can be swapped in the catalogue.
        let camel: String = name
            .split(['.', '_'])
            .map(|word| word[..1].to_uppercase() + &word[1..])
            .collect();
        let debug = format!("{event:?}");
        assert!(
            debug.starts_with(&format!("{camel}(")),
            "`{name}` is {debug:.60}"
        );
    }
}

#[test]
fn shared_shapes_cover_their_names() {
    fn check<T: EventTrait>(expected: &[&str]) {
        assert_eq!(T::NAMES, expected);
        for name in T::NAMES {
            assert!(Event::NAMES.contains(name));
            T::decode(name, &raw(name)).unwrap_or_else(|e| panic!("`{name}`: {e}"));
        }
    }
    check::<PostPayload>(&[
        "post.scheduled",
        "post.published",
        "post.failed",
        "post.partial",
        "post.cancelled",
        "post.recycled",
    ]);
    check::<PostPlatformPayload>(&[
        "post.platform.published",
        "post.platform.failed",
        "post.platform.deleted",
        "post.tiktok.url_resolved",
    ]);
    check::<ExternalPostPayload>(&[
        "post.external.created",
        "post.external.updated",
        "post.external.deleted",
    ]);
    check::<DeliveryStatusPayload>(&["message.delivered", "message.read", "message.failed"]);
    check::<CallPayload>(&["call.received", "call.ended", "call.failed"]);
    check::<ReviewPayload>(&["review.new", "review.updated"]);
    check::<WhatsappNumberPayload>(&[
        "whatsapp.number.activated",
        "whatsapp.number.reactivated",
        "whatsapp.number.kyc_submitted",
    ]);
    check::<WhatsappNumberReasonPayload>(&[
        "whatsapp.number.declined",
        "whatsapp.number.suspended",
        "whatsapp.number.released",
        "whatsapp.number.action_required",
    ]);
    // Per-name types carry exactly their own name.
    assert_eq!(PostPublished::NAMES, ["post.published"]);
    assert_eq!(
        WhatsappNumberKycSubmitted::NAMES,
        ["whatsapp.number.kyc_submitted"]
    );
    assert_eq!(WebhookTest::NAMES, ["webhook.test"]);
}

#[test]
fn every_fixture_decodes_to_its_variant_and_round_trips() {
    let files = fixture_files();
    assert!(files.len() >= 49, "only {} fixtures", files.len());
    for path in files {
        let bytes = fs::read(&path).unwrap();
        let original: Value = serde_json::from_slice(&bytes).unwrap();
        let name = original["event"].as_str().unwrap();
        assert_eq!(
            path.file_stem().unwrap().to_str().unwrap(),
            name,
            "{path:?} is named after its event"
        );

        let event = <Event as EventTrait>::decode(name, &bytes)
            .unwrap_or_else(|error| panic!("{path:?} did not decode: {error}"));
        assert!(event.as_unknown().is_none(), "{path:?} decoded as Unknown");
        assert_eq!(event.name(), name, "{path:?}");

        // The pipeline's path gives the same thing.
        let via_pipeline: Event = decode_or_unknown(name, &Bytes::from(bytes.clone()));
        assert_eq!(via_pipeline, event, "{path:?}");

        // Serializing the typed event gives back the fixture: every field of every fixture is
        // modelled (none silently dropped by a misspelt name), and absent optional fields stay
        // absent (an explicit `null` in an optional field comes back absent).
        assert_eq!(
            without_nulls(&serde_json::to_value(&event).unwrap()),
            without_nulls(&original),
            "{path:?} does not round-trip"
        );
        assert_no_extra_nulls(
            &serde_json::to_value(&event).unwrap(),
            &original,
            &format!("{path:?}"),
        );
    }
}

/// Which payload [`from_schema`] builds.
#[derive(Clone, Copy, PartialEq)]
enum Fill {
    /// Every property the schema lists, never `null`.
    Max,
    /// Only the `required` properties, `null` wherever the type allows it.
    Min,
}

/// Builds a payload that validates against `schema` (resolving `$ref`s in `defs`).
fn from_schema(schema: &Value, defs: &Value, fill: Fill) -> Value {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.strip_prefix("#/$defs/").unwrap();
        return from_schema(&defs[name], defs, fill);
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().map(|t| t.as_str().unwrap()).collect(),
        other => panic!("no type in {other}"),
    };
    if fill == Fill::Min && types.contains(&"null") {
        return Value::Null;
    }
    let kind = *types.iter().find(|t| **t != "null").unwrap();
    match kind {
        "object" => {
            let required: Vec<&str> = schema["required"]
                .as_array()
                .map(|r| r.iter().map(|n| n.as_str().unwrap()).collect())
                .unwrap_or_default();
            let mut object = serde_json::Map::new();
            if let Some(properties) = schema["properties"].as_object() {
                for (key, property) in properties {
                    if fill == Fill::Max || required.contains(&key.as_str()) {
                        object.insert(key.clone(), from_schema(property, defs, fill));
                    }
                }
            } else if fill == Fill::Max {
                // A free-form object.
                object.insert("key".into(), json!("value"));
            }
            Value::Object(object)
        }
        "array" => Value::Array(vec![from_schema(&schema["items"], defs, fill)]),
        "string" => match (&schema["enum"], schema["format"].as_str()) {
            (Value::Array(values), _) => values[0].clone(),
            (_, Some("date-time")) => json!("2026-09-01T12:00:00.000Z"),
            _ => json!("text"),
        },
        "integer" => json!(3),
        "number" => json!(0.25),
        "boolean" => json!(true),
        other => panic!("type {other}"),
    }
}

#[test]
fn payloads_built_from_the_schema_decode() {
    let schema: Value =
        serde_json::from_slice(&fs::read(format!("{SPEC}/zernio-webhooks.schema.json")).unwrap())
            .unwrap();
    let defs = &schema["$defs"];
    for (name, reference) in schema["x-event-map"].as_object().unwrap() {
        let definition = json!({ "$ref": reference });
        for fill in [Fill::Max, Fill::Min] {
            let mut value = from_schema(&definition, defs, fill);
            value["event"] = json!(name);
            let event = decode_value(name, &value).unwrap_or_else(|error| {
                panic!(
                    "{name} ({}) did not decode: {error}\n{value:#}",
                    fill_name(fill)
                )
            });
            assert_eq!(event.name(), name);
            let serialized = serde_json::to_value(&event).unwrap();
            if fill == Fill::Max {
                // Every property of the schema is modelled, under its wire name, with a type
                // that gives the value back.
                assert_eq!(
                    serialized, value,
                    "{name}: a schema property is not modelled"
                );
            } else {
                // Nothing more than the schema's `required` is required by the model.
                assert_eq!(without_nulls(&serialized), without_nulls(&value), "{name}");
                assert_no_extra_nulls(&serialized, &value, name);
            }
        }
    }

    fn fill_name(fill: Fill) -> &'static str {
        match fill {
            Fill::Max => "every property",
            Fill::Min => "required properties only, nulls where allowed",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A few fields per shape, against the fixture
// ---------------------------------------------------------------------------------------------

#[test]
fn post_rollups() {
    let fixture = json("post.published");
    let event = expect!(decode("post.published"), PostPublished);
    assert_eq!(event.id, str_at(&fixture, "/id"));
    assert_eq!(event.event, "post.published");
    assert_eq!(event.timestamp, str_at(&fixture, "/timestamp"));
    assert_eq!(event.post.id, str_at(&fixture, "/post/id"));
    assert_eq!(event.post.status, PostStatus::Published);
    assert_eq!(
        event.post.published_at.as_deref(),
        Some(str_at(&fixture, "/post/publishedAt"))
    );
    assert_eq!(event.post.platforms.len(), 2);
    let instagram = &event.post.platforms[0];
    assert_eq!(instagram.platform, Platform::Instagram);
    assert_eq!(instagram.status, TargetStatus::Published);
    assert_eq!(
        instagram.published_url.as_deref(),
        Some(str_at(&fixture, "/post/platforms/0/publishedUrl"))
    );
    let metadata = event.post.metadata.as_ref().unwrap();
    assert_eq!(metadata["crmCampaignId"], "cmp_4481");
    // The newtype unwraps to the shared shape.
    let shape: PostPayload = event.into_inner();
    assert_eq!(shape.post.content, str_at(&fixture, "/post/content"));

    let failed = expect!(decode("post.failed"), PostFailed);
    assert_eq!(failed.post.status, PostStatus::Failed);
    assert_eq!(
        failed.post.platforms[1].error.as_deref(),
        Some(str_at(&json("post.failed"), "/post/platforms/1/error"))
    );
    let scheduled = expect!(decode("post.scheduled"), PostScheduled);
    assert_eq!(scheduled.post.published_at, None);
    assert_eq!(scheduled.post.platforms[0].status, TargetStatus::Pending);
    assert_eq!(
        expect!(decode("post.partial"), PostPartial).post.status,
        PostStatus::Partial
    );
    assert_eq!(
        expect!(decode("post.cancelled"), PostCancelled).post.status,
        PostStatus::Cancelled
    );
    assert_eq!(
        expect!(decode("post.recycled"), PostRecycled).post.metadata,
        None
    );
}

#[test]
fn post_platform_events() {
    let published = expect!(decode("post.platform.published"), PostPlatformPublished);
    assert_eq!(published.platform.name, Platform::Twitter);
    assert_eq!(published.platform.status, PlatformOutcome::Published);
    assert_eq!(published.post.status, PostStatus::Publishing);
    assert_eq!(published.account.account_id, "6601a3f4c2b9e81d7a4f0b13");
    assert_eq!(
        published.account.display_name.as_deref(),
        Some("Trattoria Luca")
    );

    let failed = expect!(decode("post.platform.failed"), PostPlatformFailed);
    assert_eq!(failed.platform.status, PlatformOutcome::Failed);
    assert_eq!(
        failed.platform.error.as_deref(),
        Some(str_at(&json("post.platform.failed"), "/platform/error"))
    );
    assert_eq!(failed.platform.name, Platform::LinkedIn);

    let deleted = expect!(decode("post.platform.deleted"), PostPlatformDeleted);
    assert_eq!(deleted.platform.status, PlatformOutcome::Deleted);
    assert_eq!(
        deleted.platform.deleted_at.as_deref(),
        Some("2026-09-20T03:12:44.000Z")
    );

    let tiktok = expect!(decode("post.tiktok.url_resolved"), PostTiktokUrlResolved);
    assert_eq!(tiktok.platform.name, Platform::TikTok);
    assert_eq!(tiktok.platform.status, PlatformOutcome::Published);
    assert_eq!(
        tiktok.platform.published_url.as_deref(),
        Some(str_at(
            &json("post.tiktok.url_resolved"),
            "/platform/publishedUrl"
        ))
    );
}

#[test]
fn external_posts() {
    let created = expect!(decode("post.external.created"), PostExternalCreated);
    let fixture = json("post.external.created");
    assert_eq!(created.post.id, str_at(&fixture, "/post/id"));
    assert_eq!(created.post.platform, Platform::GoogleBusiness);
    assert_eq!(created.post.media_type, MediaType::Image);
    assert_eq!(created.post.source, PostSource::External);
    assert_eq!(created.post.media_items[0].kind, MediaType::Image);
    assert_eq!(
        created.post.media_items[0].thumbnail.as_deref(),
        Some(str_at(&fixture, "/post/mediaItems/0/thumbnail"))
    );
    assert_eq!(created.post.deleted_at, None);
    assert_eq!(created.account.username, "Trattoria Luca - Camden");
    assert!(
        expect!(decode("post.external.updated"), PostExternalUpdated)
            .post
            .content
            .contains("AND Saturday")
    );
    let deleted = expect!(decode("post.external.deleted"), PostExternalDeleted);
    assert_eq!(
        deleted.post.deleted_at.as_deref(),
        Some("2026-09-21T09:00:05.000Z")
    );
}

#[test]
fn accounts_and_ads() {
    let connected = expect!(decode("account.connected"), AccountConnected);
    assert_eq!(connected.account.account_id, "6601a3f4c2b9e81d7a4f0b12");
    assert_eq!(connected.account.profile_id, "65f1c0a2b7e4d9a1c2f3e4d5");
    assert_eq!(connected.account.platform, Platform::Instagram);
    assert_eq!(connected.account.username, "trattoria.luca");

    let disconnected = expect!(decode("account.disconnected"), AccountDisconnected);
    assert_eq!(
        disconnected.account.disconnection_type,
        DisconnectionType::Unintentional
    );
    assert_eq!(disconnected.account.reason, "Token expired or revoked");

    let sync = expect!(
        decode("account.ads.initial_sync_completed"),
        AccountAdsInitialSyncCompleted
    );
    assert_eq!(sync.account.platform, Platform::MetaAds);
    assert_eq!(
        sync.account.platform_ad_account_ids.as_deref(),
        Some(&["act_1330190928038136".to_owned()][..])
    );
    assert_eq!(sync.sync.status, AdsSyncStatus::Success);
    assert_eq!(sync.sync.total_ads.as_u64(), Some(37));
    assert_eq!(sync.sync.failed.as_u64(), Some(0));
    assert_eq!(sync.sync.error_category, None);

    let ad = expect!(decode("ad.status_changed"), AdStatusChanged);
    assert_eq!(ad.ad_object.level, AdLevel::Ad);
    assert_eq!(ad.ad_object.platform_ad_account_id, "act_1330190928038136");
    assert_eq!(ad.status.raw, "ACTIVE");
    assert_eq!(ad.error, None);
}

#[test]
fn inbox_messages() {
    let fixture = json("message.received");
    let received = expect!(decode("message.received"), MessageReceived);
    assert_eq!(received.message.id, str_at(&fixture, "/message/id"));
    assert_eq!(received.message.platform, Platform::Instagram);
    assert_eq!(received.message.direction, MessageDirection::Incoming);
    assert_eq!(
        received.message.text.as_deref(),
        Some(str_at(&fixture, "/message/text"))
    );
    assert!(received.message.attachments.is_empty());
    let profile = received.message.sender.instagram_profile.as_ref().unwrap();
    assert_eq!(profile.is_follower, Some(true));
    assert_eq!(
        profile.follower_count.as_ref().and_then(|n| n.as_u64()),
        Some(1843)
    );
    assert_eq!(received.conversation.status, ConversationStatus::Active);
    assert_eq!(received.conversation.platform, None);
    assert_eq!(received.account.id, "6601a3f4c2b9e81d7a4f0b12");
    assert_eq!(received.metadata, None);

    let sent = expect!(decode("message.sent"), MessageSent);
    assert_eq!(sent.message.source, Some(MessageSource::CloudApi));
    assert_eq!(sent.message.platform, Platform::WhatsApp);
    assert_eq!(sent.message.direction, MessageDirection::Outgoing);

    let edited = expect!(decode("message.edited"), MessageEdited);
    assert_eq!(edited.edit_count.as_u64(), Some(1));
    assert_eq!(
        edited.edit_history[0].text.as_deref(),
        Some("Can we make it 8pm instead?")
    );
    assert_eq!(edited.message.platform, Platform::Telegram);

    let deleted = expect!(decode("message.deleted"), MessageDeleted);
    assert_eq!(deleted.deleted_at, "2026-09-13T18:30:41.000Z");
    assert_eq!(deleted.message.text.as_deref(), Some("oops wrong chat"));

    let failed = expect!(decode("message.failed"), MessageFailed);
    assert_eq!(failed.message.text, None);
    assert_eq!(
        failed.message.attachments[0].kind,
        Some(AttachmentType::Image)
    );
    let error = failed.error.as_ref().unwrap();
    assert_eq!(error.code.as_ref().and_then(|n| n.as_u64()), Some(131026));
    assert_eq!(error.title.as_deref(), Some("Message undeliverable"));
    let delivered = expect!(decode("message.delivered"), MessageDelivered);
    assert_eq!(delivered.status_at, "2026-09-13T09:07:14.000Z");
    assert_eq!(delivered.error, None);
    assert!(expect!(decode("message.read"), MessageRead).message.is_read);
}

#[test]
fn reactions_referrals_conversations() {
    let reaction = expect!(decode("reaction.received"), ReactionReceived);
    assert_eq!(reaction.reaction.emoji, "👍");
    assert_eq!(reaction.reaction.action, ReactionAction::Added);
    assert_eq!(
        reaction.reaction.sender.phone_number.as_deref(),
        Some("+447700900123")
    );

    let referral = expect!(decode("referral.received"), ReferralReceived);
    assert_eq!(
        referral.referral.reference.as_deref(),
        Some("autumn_menu_qr")
    );
    assert_eq!(referral.referral.source, Some(ReferralSource::Shortlink));
    assert_eq!(referral.referral.kind.as_deref(), Some("OPEN_THREAD"));
    assert_eq!(referral.sender.id, "6789012345678901");
    assert_eq!(referral.account.platform, Platform::Facebook);

    let started = expect!(decode("conversation.started"), ConversationStarted);
    assert_eq!(started.conversation.platform, Some(Platform::WhatsApp));
    assert_eq!(
        started.conversation.participant_name.as_deref(),
        Some("Tom Hughes")
    );
    assert_eq!(started.started_at, "2026-09-13T09:05:30.000Z");
}

#[test]
fn calls() {
    let received = expect!(decode("call.received"), CallReceived);
    assert_eq!(received.call.direction, Some(CallDirection::Inbound));
    assert_eq!(received.call.forward_to.as_deref(), Some("+442079460111"));
    assert_eq!(received.account.platform, Platform::WhatsApp);

    let ended = expect!(decode("call.ended"), CallEnded);
    assert_eq!(
        ended
            .call
            .duration_seconds
            .as_ref()
            .and_then(|n| n.as_u64()),
        Some(217)
    );
    assert_eq!(ended.call.end_reason, Some(CallEndReason::Hangup));
    assert_eq!(ended.call.sip_hangup_cause, None);
    let billing = ended.call.billing.as_ref().unwrap();
    assert_eq!(billing.total_cost_usd, Some(0.0685));
    assert_eq!(billing.meta_cost_usd, Some(0.0432));

    let failed = expect!(decode("call.failed"), CallFailed);
    assert_eq!(failed.call.meta_call_id, None);
    let error = failed.call.error.as_ref().unwrap();
    assert_eq!(error.code.as_ref().and_then(|n| n.as_u64()), Some(138006));

    let permission = expect!(decode("call.permission_request"), CallPermissionRequest);
    assert_eq!(
        permission.permission.response,
        Some(PermissionResponse::Accept)
    );
    assert_eq!(permission.permission.is_permanent, Some(false));
}

#[test]
fn comments_reviews_leads() {
    let comment = expect!(decode("comment.received"), CommentReceived);
    assert_eq!(comment.comment.platform, Platform::Instagram);
    assert_eq!(comment.comment.author.picture, None);
    assert_eq!(comment.comment.author.is_own_account, Some(false));
    assert!(!comment.comment.is_reply);
    assert_eq!(comment.comment.parent_comment_id, None);
    assert_eq!(comment.post.id.as_deref(), Some("66b2d91e4f1a7c0012ab34cd"));
    assert_eq!(
        comment.post.permalink.as_deref(),
        Some("https://www.instagram.com/p/C9xQ2LmN4pR/")
    );

    let new = expect!(decode("review.new"), ReviewNew);
    assert_eq!(new.review.platform, Platform::GoogleBusiness);
    assert_eq!(new.review.rating.as_u64(), Some(5));
    assert!(!new.review.has_reply);
    assert_eq!(new.review.reply, None);
    let updated = expect!(decode("review.updated"), ReviewUpdated);
    assert_eq!(
        updated.review.reply.as_ref().map(|r| r.text.as_str()),
        Some("Grazie Daniel! See you again soon.")
    );

    let lead = expect!(decode("lead.received"), LeadReceived);
    assert_eq!(lead.lead.field("email"), Some("olivia.grant@example.com"));
    assert_eq!(lead.lead.field("party_size"), Some("k3"));
    assert_eq!(lead.lead.field("nope"), None);
    assert!(!lead.lead.is_organic);
    assert_eq!(lead.account.platform, Platform::Facebook);
}

#[test]
fn whatsapp_and_verification() {
    let status = expect!(
        decode("whatsapp.template.status_updated"),
        WhatsappTemplateStatusUpdated
    );
    assert_eq!(status.template.status, TemplateStatus::Approved);
    assert_eq!(status.template.reason, "NONE");
    assert_eq!(status.account.platform, Platform::WhatsApp);

    let category = expect!(
        decode("whatsapp.template.category_updated"),
        WhatsappTemplateCategoryUpdated
    );
    assert_eq!(category.template.change_type, CategoryChangeType::Applied);
    assert_eq!(category.template.category, TemplateCategory::Marketing);
    assert_eq!(
        category.template.previous_category,
        Some(TemplateCategory::Utility)
    );
    assert_eq!(category.template.scheduled_category, None);

    let automatic = expect!(decode("whatsapp.automatic_event"), WhatsappAutomaticEvent);
    assert_eq!(automatic.event_name, Some(AutomaticEventName::Purchase));
    let custom = automatic.custom_data.as_ref().unwrap();
    assert_eq!(
        (custom.currency.as_deref(), custom.value),
        (Some("GBP"), Some(86.5))
    );
    assert_eq!(
        automatic.id.as_deref(),
        Some("03824d5e-6f7a-4b8c-9d9e-0f1a2b3c4da5")
    );

    let activated = expect!(decode("whatsapp.number.activated"), WhatsappNumberActivated);
    let number = activated.number.as_ref().unwrap();
    assert_eq!(
        (number.phone_number.as_deref(), number.country.as_deref()),
        (Some("+442079460958"), Some("GB"))
    );
    for name in [
        "whatsapp.number.reactivated",
        "whatsapp.number.kyc_submitted",
    ] {
        assert!(decode(name).as_unknown().is_none());
    }
    let suspended = expect!(decode("whatsapp.number.suspended"), WhatsappNumberSuspended);
    assert_eq!(suspended.reason.as_deref(), Some("payment_failed"));
    let released = expect!(decode("whatsapp.number.released"), WhatsappNumberReleased);
    assert_eq!(released.reason.as_deref(), Some("user_requested"));
    let action = expect!(
        decode("whatsapp.number.action_required"),
        WhatsappNumberActionRequired
    );
    assert!(
        action
            .reason
            .as_deref()
            .unwrap()
            .starts_with("Please upload")
    );
    let declined = expect!(decode("whatsapp.number.declined"), WhatsappNumberDeclined);
    assert!(declined.reason.is_some());
    let verify = expect!(
        decode("whatsapp.number.verification_required"),
        WhatsappNumberVerificationRequired
    );
    assert!(
        verify
            .verification_url
            .as_deref()
            .unwrap()
            .starts_with("https://")
    );

    let approved = expect!(decode("verification.approved"), VerificationApproved);
    let verification = approved.verification.as_ref().unwrap();
    assert_eq!(verification.channel, Some(VerificationChannel::Sms));
    assert_eq!(verification.to.as_deref(), Some("+447700900321"));
    let failed = expect!(decode("verification.failed"), VerificationFailed);
    assert_eq!(
        failed.reason,
        Some(VerificationFailureReason::MaxAttemptsReached)
    );

    let test = expect!(decode("webhook.test"), WebhookTest);
    assert_eq!(test.message, "This is a test webhook from Zernio");
    assert_eq!(test.id, str_at(&json("webhook.test"), "/id"));
}

#[test]
fn message_metadata_when_present() {
    // The shared fixture has no metadata; exercise the block (snake_case Meta objects included).
    let value = edited("message.received", |v| {
        v["metadata"] = json!({
            "interactiveType": "button_reply",
            "interactiveId": "book_now",
            "order": {
                "catalog_id": "cat_1",
                "product_items": [{"product_retailer_id": "sku_9", "quantity": 2, "item_price": 12.5, "currency": "GBP"}]
            },
            "referral": {
                "ctwa_clid": "Afc3", "source_type": "ad", "ref": "r1", "source": "ADS",
                "ads_context_data": {"ad_title": "Autumn", "flow_id": "f1"}
            },
            "storyReply": {"storyId": "s1"},
            "contacts": [{"name": {"formatted_name": "A"}}],
            "contactsOrigin": "other",
            "unsupported": {"code": 131051, "title": "Unsupported"},
            "flowResponseData": {"party": 4}
        });
    });
    let event = expect!(
        decode_value("message.received", &value).unwrap(),
        MessageReceived
    );
    let metadata = event.metadata.as_ref().unwrap();
    assert_eq!(
        metadata.interactive_type,
        Some(InteractiveType::ButtonReply)
    );
    let order = metadata.order.as_ref().unwrap();
    assert_eq!(order.catalog_id.as_deref(), Some("cat_1"));
    let item = &order.product_items.as_ref().unwrap()[0];
    assert_eq!(
        (
            item.item_price,
            item.quantity.as_ref().and_then(|n| n.as_u64())
        ),
        (Some(12.5), Some(2))
    );
    let referral = metadata.referral.as_ref().unwrap();
    assert_eq!(referral.ctwa_clid.as_deref(), Some("Afc3"));
    assert_eq!(referral.reference.as_deref(), Some("r1"));
    assert_eq!(referral.source, Some(ReferralSource::Ads));
    assert_eq!(
        referral
            .ads_context_data
            .as_ref()
            .unwrap()
            .flow_id
            .as_deref(),
        Some("f1")
    );
    assert_eq!(metadata.story_reply.as_ref().unwrap().story_id, "s1");
    assert_eq!(metadata.contacts_origin, Some(ContactsOrigin::OtherOrigin));
    assert_eq!(metadata.flow_response_data.as_ref().unwrap()["party"], 4);
    assert_eq!(serde_json::to_value(Event::from(event)).unwrap(), value);
}

// ---------------------------------------------------------------------------------------------
// Drift
// ---------------------------------------------------------------------------------------------

#[test]
fn unknown_fields_are_ignored() {
    let value = edited("post.published", |v| {
        v["brandNewTopLevel"] = json!({"nested": [1, 2, 3]});
        v["post"]["aiSummary"] = json!("new field");
        v["post"]["platforms"][0]["errorCategory"] = json!("auth_expired");
    });
    let event = expect!(
        decode_value("post.published", &value).unwrap(),
        PostPublished
    );
    assert_eq!(event.post.platforms[0].platform, Platform::Instagram);

    let value = edited("message.received", |v| {
        v["message"]["sender"]["newIdentity"] = json!({"x": 1});
        v["conversation"]["labels"] = json!(["vip"]);
    });
    assert!(decode_value("message.received", &value).is_ok());
}

#[test]
fn wrong_type_is_an_error_with_a_path_and_drifts_to_unknown() {
    let value = edited("post.published", |v| {
        v["post"]["platforms"][1]["status"] = json!(5)
    });
    let error = decode_value("post.published", &value).unwrap_err();
    assert_eq!(error.path(), "post.platforms[1].status");
    assert!(
        error.to_string().contains("post.platforms[1].status"),
        "{error}"
    );

    let bytes = Bytes::from(serde_json::to_vec(&value).unwrap());
    let event: Event = decode_or_unknown("post.published", &bytes);
    let unknown = event.as_unknown().expect("drifted payload goes to Unknown");
    assert_eq!(event.name(), "post.published");
    assert_eq!(unknown.raw(), &bytes);
    match unknown.reason() {
        UnknownReason::Drifted(drift) => assert_eq!(drift.path(), "post.platforms[1].status"),
        other => panic!("expected Drifted, got {other:?}"),
    }

    // A missing required field drifts too.
    let value = edited("account.disconnected", |v| {
        v["account"]
            .as_object_mut()
            .unwrap()
            .remove("disconnectionType");
    });
    let error = decode_value("account.disconnected", &value).unwrap_err();
    assert_eq!(error.path(), "account");
    // And a per-name type reports the same path.
    let value = edited("call.ended", |v| {
        v["call"]["billing"]["totalCostUSD"] = json!("0.07")
    });
    let error = CallEnded::decode("call.ended", &serde_json::to_vec(&value).unwrap()).unwrap_err();
    assert_eq!(error.path(), "call.billing.totalCostUSD");
}

#[test]
fn unknown_name_is_an_error_and_goes_to_unknown() {
    let bytes = Bytes::from(raw("post.published"));
    let error = <Event as EventTrait>::decode("post.exploded", &bytes).unwrap_err();
    assert!(error.to_string().contains("post.exploded"), "{error}");

    let event: Event = decode_or_unknown("post.exploded", &bytes);
    let unknown = event.as_unknown().unwrap();
    assert_eq!(unknown.reason(), &UnknownReason::UnknownName);
    assert_eq!(event.name(), "post.exploded");
    // An unknown event serializes as its raw JSON.
    assert_eq!(
        serde_json::to_value(&event).unwrap(),
        json("post.published")
    );
}

#[test]
fn missing_optional_blocks_decode() {
    let cases: &[(&str, &[&str])] = &[
        (
            "post.published",
            &[
                "/post/metadata",
                "/post/publishedAt",
                "/post/platforms/0/accountId",
            ],
        ),
        (
            "post.platform.published",
            &["/platform/platformPostId", "/account/displayName"],
        ),
        (
            "call.ended",
            &[
                "/call/billing",
                "/call/recordingUrl",
                "/call/durationSeconds",
            ],
        ),
        (
            "call.received",
            &["/call/id", "/call/direction", "/call/metaCallId"],
        ),
        ("message.failed", &["/error"]),
        (
            "message.received",
            &["/message/sender/instagramProfile", "/account/accountId"],
        ),
        ("comment.received", &["/comment/author/username"]),
        ("review.updated", &["/review/reply"]),
        ("lead.received", &["/lead/formName", "/lead/adId"]),
        (
            "account.ads.initial_sync_completed",
            &["/account/platformAdAccountIds"],
        ),
        (
            "whatsapp.template.category_updated",
            &["/template/previousCategory"],
        ),
        // Inline schemas mark nothing required: even the id and the timestamp may be absent.
        (
            "whatsapp.number.activated",
            &["/id", "/timestamp", "/number"],
        ),
        ("verification.failed", &["/verification", "/reason"]),
        ("whatsapp.automatic_event", &["/customData", "/eventName"]),
    ];
    for (name, pointers) in cases {
        let value = edited(name, |v| {
            for pointer in *pointers {
                let (parent, key) = pointer.rsplit_once('/').unwrap();
                let parent = if parent.is_empty() {
                    &mut *v
                } else {
                    v.pointer_mut(parent).unwrap()
                };
                assert!(
                    parent.as_object_mut().unwrap().remove(key).is_some(),
                    "{name} {pointer}"
                );
            }
        });
        let event = decode_value(name, &value)
            .unwrap_or_else(|error| panic!("{name} without {pointers:?}: {error}"));
        assert_eq!(event.name(), *name);
        // Absent stays absent when serialized again.
        let serialized = serde_json::to_value(&event).unwrap();
        assert_eq!(without_nulls(&serialized), without_nulls(&value), "{name}");
        assert_no_extra_nulls(&serialized, &value, name);
    }
    let value = edited("call.ended", |v| {
        v["call"].as_object_mut().unwrap().remove("billing");
    });
    assert_eq!(
        expect!(decode_value("call.ended", &value).unwrap(), CallEnded)
            .call
            .billing,
        None
    );
}

#[test]
fn null_where_a_value_is_usual_decodes() {
    let cases: &[(&str, &[&str])] = &[
        (
            "message.received",
            &["/message/text", "/metadata", "/message/sender/phoneNumber"],
        ),
        ("message.delivered", &["/error"]),
        ("message.failed", &["/error/explanation"]),
        (
            "post.external.created",
            &["/post/url", "/post/thumbnailUrl", "/post/mediaItems/0/url"],
        ),
        ("post.external.deleted", &["/post/deletedAt"]),
        (
            "comment.received",
            &[
                "/comment/postId",
                "/post/id",
                "/post/content",
                "/post/imageUrl",
            ],
        ),
        (
            "review.new",
            &["/review/reviewer/id", "/review/reviewer/profileImage"],
        ),
        (
            "lead.received",
            &[
                "/lead/adId",
                "/lead/adsetId",
                "/lead/campaignId",
                "/lead/formName",
            ],
        ),
        ("call.ended", &["/call/hangupCause", "/call/metaCallId"]),
        ("whatsapp.number.declined", &["/reason"]),
        (
            "message.deleted",
            &[
                "/message/sender/instagramProfile/isFollower",
                "/message/sender/instagramProfile/followerCount",
            ],
        ),
    ];
    for (name, pointers) in cases {
        let value = edited(name, |v| {
            for pointer in *pointers {
                set(v, pointer, Value::Null);
            }
        });
        let event = decode_value(name, &value)
            .unwrap_or_else(|error| panic!("{name} with null {pointers:?}: {error}"));
        assert_eq!(event.name(), *name);
    }

    let value = edited("message.received", |v| {
        v["metadata"] = json!({"referral": null})
    });
    let event = expect!(
        decode_value("message.received", &value).unwrap(),
        MessageReceived
    );
    assert_eq!(event.metadata.unwrap().referral, None);

    let value = edited("comment.received", |v| v["comment"]["postId"] = Value::Null);
    let event = expect!(
        decode_value("comment.received", &value).unwrap(),
        CommentReceived
    );
    assert_eq!(event.comment.post_id, None);
    // A nullable field Zernio always sends keeps its `null` when serialized again; an optional
    // one that was `null` is left out.
    let serialized = serde_json::to_value(&event).unwrap();
    assert_eq!(serialized["comment"]["postId"], Value::Null);
    assert!(
        serialized["comment"]
            .as_object()
            .unwrap()
            .contains_key("postId")
    );
    assert!(
        serialized["comment"]
            .as_object()
            .unwrap()
            .contains_key("parentCommentId")
    );
    assert!(
        !serialized["comment"]["author"]
            .as_object()
            .unwrap()
            .contains_key("picture")
    );
}

#[test]
fn unknown_open_enum_values_land_in_other() {
    let value = edited("post.platform.published", |v| {
        v["post"]["status"] = json!("archived");
        v["post"]["platforms"][0]["platform"] = json!("mastodon");
        v["post"]["platforms"][0]["status"] = json!("queued_for_review");
        v["platform"]["status"] = json!("hidden");
    });
    let event = expect!(
        decode_value("post.platform.published", &value).unwrap(),
        PostPlatformPublished
    );
    assert_eq!(event.post.status, PostStatus::Other("archived".into()));
    assert_eq!(
        event.post.platforms[0].platform,
        Platform::Other("mastodon".into())
    );
    assert_eq!(event.post.platforms[0].platform.as_str(), "mastodon");
    assert_eq!(
        event.post.platforms[0].status,
        TargetStatus::Other("queued_for_review".into())
    );
    assert_eq!(
        event.platform.status,
        PlatformOutcome::Other("hidden".into())
    );
    // The unknown values are serialized back as sent.
    assert_eq!(serde_json::to_value(Event::from(event)).unwrap(), value);

    let value = edited("account.ads.initial_sync_completed", |v| {
        v["sync"]["status"] = json!("partial");
        v["sync"]["errorCategory"] = json!("billing_blocked");
    });
    let event = expect!(
        decode_value("account.ads.initial_sync_completed", &value).unwrap(),
        AccountAdsInitialSyncCompleted
    );
    assert_eq!(event.sync.status, AdsSyncStatus::Other("partial".into()));
    assert_eq!(
        event.sync.error_category,
        Some(AdsSyncErrorCategory::Other("billing_blocked".into()))
    );

    let value = edited("whatsapp.template.status_updated", |v| {
        v["template"]["status"] = json!("LIMIT_EXCEEDED");
    });
    let event = expect!(
        decode_value("whatsapp.template.status_updated", &value).unwrap(),
        WhatsappTemplateStatusUpdated
    );
    assert_eq!(event.template.status.to_string(), "LIMIT_EXCEEDED");

    // Listed values never land in Other, whichever way they are built.
    assert_eq!(Platform::from("tiktok"), Platform::TikTok);
    assert_eq!(Platform::from(String::from("metaads")), Platform::MetaAds);
    assert_eq!(ContactsOrigin::from("other"), ContactsOrigin::OtherOrigin);
    assert_eq!(
        AdsSyncErrorCategory::from("unknown"),
        AdsSyncErrorCategory::Unknown
    );
    assert_eq!(
        serde_json::to_value(MessageSource::WhatsappBusinessApp).unwrap(),
        "whatsapp_business_app"
    );
}

#[test]
fn numbers_never_overflow() {
    let value = edited("message.received", |v| {
        v["message"]["sender"]["instagramProfile"]["followerCount"] = json!(1.0e20);
    });
    let event = expect!(
        decode_value("message.received", &value).unwrap(),
        MessageReceived
    );
    let count = event
        .message
        .sender
        .instagram_profile
        .unwrap()
        .follower_count
        .unwrap();
    assert_eq!(count.as_f64(), Some(1.0e20));

    let value = edited("account.ads.initial_sync_completed", |v| {
        v["sync"]["totalAds"] = json!(u64::MAX);
        v["sync"]["synced"] = json!(-1);
        v["sync"]["failed"] = json!(2.5);
    });
    assert!(decode_value("account.ads.initial_sync_completed", &value).is_ok());
}

#[test]
fn the_enum_stays_small() {
    // Every variant is boxed: the enum is no bigger than its unknown case plus a tag.
    assert!(
        std::mem::size_of::<Event>()
            <= std::mem::size_of::<hookgate::event::UnknownEvent>() + std::mem::size_of::<usize>()
    );
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<Event>();
    assert_send_sync::<zernio::PostPayload>();
}

/// What `DECODE_CHECKS_ENVELOPE` promises for every Zernio event (the pipeline stops reading
/// the envelope at `id` and `event` and leaves the rest to the decode): each fixture decodes,
/// and the same fixture with `event` or `id` given again at the end of its top level does not,
/// through the catalogue enum and through the text decode the dispatcher calls.
#[test]
fn every_zernio_decode_refuses_a_repeated_envelope_field() {
    const { assert!(<Event as EventTrait>::DECODE_CHECKS_ENVELOPE) };
    const { assert!(<PostPublished as EventTrait>::DECODE_CHECKS_ENVELOPE) };
    const { assert!(<PostPayload as EventTrait>::DECODE_CHECKS_ENVELOPE) };
    let files = fixture_files();
    assert!(files.len() >= 40, "{} fixtures", files.len());
    for path in files {
        let text = fs::read_to_string(&path).unwrap();
        let name = serde_json::from_str::<Value>(&text).unwrap()["event"]
            .as_str()
            .unwrap()
            .to_owned();
        let text = text.trim_end();
        assert!(
            <Event as EventTrait>::decode_text(&name, text).is_ok(),
            "{name}"
        );
        let open = &text[..text.len() - 1];
        for repeat in [r#""event":"webhook.test""#, r#""id":"another""#] {
            let repeated = format!("{open},{repeat}}}");
            assert!(
                <Event as EventTrait>::decode_text(&name, &repeated).is_err(),
                "{name} decoded with {repeat} repeated"
            );
            assert!(
                <Event as EventTrait>::decode(&name, repeated.as_bytes()).is_err(),
                "{name} decoded with {repeat} repeated"
            );
        }
    }
}
