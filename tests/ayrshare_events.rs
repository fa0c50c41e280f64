//! Ayrshare's typed events against the fixtures in `tests/fixtures/ayrshare` (one per action
//! and sub-action), and the unknown path for new actions and drifted payloads.

#![cfg(feature = "ayrshare")]

use std::{collections::BTreeSet, fs, path::Path};

use bytes::Bytes;
use hookgate::{
    ayrshare::{Ayrshare, Event, MessageDirection, Platform, SocialSource, SocialType, Status},
    event::{Event as _, UnknownReason, decode_or_unknown},
    provider::Provider,
};
use http::HeaderMap;
use serde_json::Value;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/ayrshare");

/// Every fixture: (file stem, raw body), sorted by name.
fn fixtures() -> Vec<(String, Bytes)> {
    let mut out: Vec<(String, Bytes)> = fs::read_dir(FIXTURES)
        .unwrap_or_else(|e| panic!("reading {FIXTURES}: {e}"))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .map(|path| {
            let stem = path.file_stem().unwrap().to_str().unwrap().to_owned();
            (stem, Bytes::from(fs::read(&path).unwrap()))
        })
        .collect();
    out.sort();
    assert!(out.len() >= 17, "fixtures missing from {FIXTURES}");
    out
}

#[track_caller]
fn fixture(stem: &str) -> Bytes {
    Bytes::from(fs::read(Path::new(FIXTURES).join(format!("{stem}.json"))).unwrap())
}

fn provider() -> Ayrshare {
    Ayrshare::new(["test-secret"]).unwrap()
}

/// The event name the pipeline computes, with the dedup key and scope.
#[track_caller]
fn envelope(raw: &Bytes) -> (String, Option<String>, Option<String>) {
    let body = std::str::from_utf8(raw).unwrap();
    let headers = HeaderMap::new();
    let e = provider().envelope(&headers, body).unwrap();
    (
        e.name.into_owned(),
        e.key.map(|k| k.into_owned()),
        e.scope.map(|s| s.into_owned()),
    )
}

/// Decodes a fixture the way the pipeline does.
#[track_caller]
fn decode(stem: &str) -> Event {
    let raw = fixture(stem);
    let (name, _, _) = envelope(&raw);
    decode_or_unknown::<Event>(&name, &raw)
}

/// The typed payload serialized back to JSON.
fn to_json(event: &Event) -> Value {
    let value = match event {
        Event::Scheduled(e) => serde_json::to_value(e),
        Event::TikTokPublished(e) => serde_json::to_value(e),
        Event::Social(e) => serde_json::to_value(e),
        Event::MessageCreated(e) => serde_json::to_value(e),
        Event::MessageRead(e) => serde_json::to_value(e),
        Event::ReactionCreated(e) => serde_json::to_value(e),
        Event::ReactionDeleted(e) => serde_json::to_value(e),
        Event::MessageEdited(e) => serde_json::to_value(e),
        Event::Comments(e) => serde_json::to_value(e),
        Event::Mentions(e) => serde_json::to_value(e),
        Event::Feed(e) => serde_json::to_value(e),
        Event::Batch(e) => serde_json::to_value(e),
        Event::Automations(e) => serde_json::to_value(e),
        Event::AccountActivity(e) => serde_json::to_value(e),
        Event::Suspended(e) => serde_json::to_value(e),
        other => panic!("not typed: {other:?}"),
    };
    value.unwrap()
}

/// Serialization writes absent options as `null`; the fixtures have no `null`s.
fn without_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

#[test]
fn every_fixture_decodes_to_its_own_typed_variant() {
    let mut seen = BTreeSet::new();
    for (stem, raw) in fixtures() {
        let (name, key, scope) = envelope(&raw);
        // The fixture file is named for its action and sub-action (`social.*` by `type`).
        let expected = match stem.split_once('.') {
            Some(("social", _)) | None => stem.split('.').next().unwrap().to_owned(),
            Some((action, sub)) => format!("{action}/{sub}"),
        };
        assert_eq!(name, expected, "{stem}");
        assert!(
            Event::NAMES.contains(&name.as_str()),
            "{name} not in the catalogue"
        );
        seen.insert(name.clone());

        let event = decode_or_unknown::<Event>(&name, &raw);
        assert!(!matches!(event, Event::Unknown(_)), "{stem}: {event:?}");
        assert_eq!(event.name(), name);
        assert_eq!(Event::decode(&name, &raw).as_ref(), Ok(&event));

        // The common envelope is readable without matching, and agrees with the pipeline's.
        let common = event.common().unwrap();
        assert_eq!(common.hook_id, key, "{stem}");
        assert_eq!(common.ref_id, scope, "{stem}");
        assert!(
            common.hook_id.is_some() && common.ref_id.is_some(),
            "{stem}"
        );
        assert_eq!(
            common.url.as_deref(),
            Some("https://hooks.brightpath-agency.com/ayrshare")
        );
        assert_eq!(common.code, Some(200), "{stem}");
        assert!(
            common
                .created
                .as_deref()
                .is_some_and(|c| c.starts_with("2026-09-"))
        );
        assert_eq!(
            format!(
                "{}{}",
                common.action,
                common
                    .sub_action
                    .as_deref()
                    .map(|s| format!("/{s}"))
                    .unwrap_or_default()
            ),
            name
        );

        // Every fixture field is modelled, and nothing is lost on the way back to JSON.
        assert_eq!(
            event.extra().map(|m| m.len()),
            Some(0),
            "{stem}: {:?}",
            event.extra()
        );
        let original: Value = serde_json::from_slice(&raw).unwrap();
        let back = without_nulls(to_json(&event));
        for (field, value) in original.as_object().unwrap() {
            assert_eq!(back.get(field), Some(value), "{stem}: field `{field}`");
        }
    }
    let catalogue: BTreeSet<String> = Event::NAMES.iter().map(|n| n.to_string()).collect();
    assert_eq!(seen, catalogue, "every event name has a fixture");
}

#[test]
fn scheduled_fields() {
    let Event::Scheduled(e) = decode("scheduled") else {
        panic!("scheduled");
    };
    assert_eq!(
        (e.status.clone(), e.id.as_str()),
        (Status::Success, "Kd8sQm2vLx7RtY4wPz1N")
    );
    assert!(e.errors.is_empty());
    let platforms: Vec<_> = e
        .post_ids
        .iter()
        .map(|p| p.platform.clone().unwrap())
        .collect();
    assert_eq!(
        platforms,
        [Platform::Facebook, Platform::LinkedIn, Platform::Twitter]
    );
    assert_eq!(
        e.post_ids[1].id.as_deref(),
        Some("urn:li:share:7239876543210987654")
    );
    assert_eq!(e.common.sub_action, None);

    let Event::TikTokPublished(e) = decode("scheduled.tikTokPublished") else {
        panic!("tikTokPublished");
    };
    assert_eq!(e.post_ids[0].platform, Some(Platform::TikTok));
    assert!(
        e.post_ids[0]
            .post_url
            .as_deref()
            .unwrap()
            .starts_with("https://www.tiktok.com/")
    );
    assert_eq!(e.common.sub_action.as_deref(), Some("tikTokPublished"));
}

#[test]
fn social_fields() {
    let Event::Social(link) = decode("social.link") else {
        panic!("link")
    };
    assert_eq!(
        (link.kind.clone(), link.source.clone()),
        (SocialType::Link, Some(SocialSource::User))
    );
    assert_eq!(
        link.common.title.as_deref(),
        Some("Brightpath Coffee Roasters")
    );

    let Event::Social(unlink) = decode("social.unlink") else {
        panic!("unlink")
    };
    assert_eq!(unlink.kind, SocialType::Unlink);
    assert_eq!(unlink.source, Some(SocialSource::System));
    assert_eq!(unlink.platform, Some(Platform::LinkedIn));
    assert_eq!(unlink.details.as_ref().unwrap()["code"], 272);

    let Event::Social(refresh) = decode("social.refresh") else {
        panic!("refresh")
    };
    assert_eq!(refresh.kind, SocialType::Refresh);
    assert_eq!(refresh.refresh_by.as_deref(), Some("2026-10-01T00:00:00Z"));
}

#[test]
fn messages_fields() {
    let Event::MessageCreated(e) = decode("messages.messageCreated") else {
        panic!("created")
    };
    assert_eq!(e.kind, Some(MessageDirection::Received));
    assert_eq!(e.platform, Some(Platform::Instagram));
    assert_eq!(
        e.message.as_deref(),
        Some("Hi! Do you ship beans to Ireland?")
    );
    assert_eq!(
        e.sender_details.as_ref().unwrap().username.as_deref(),
        Some("priya.eats")
    );
    assert!(e.media_urls.is_empty());

    let Event::MessageEdited(e) = decode("messages.messageEdited") else {
        panic!("edited")
    };
    assert!(e.message.unwrap().ends_with("Northern Ireland?"));

    let Event::MessageRead(e) = decode("messages.messageRead") else {
        panic!("read")
    };
    assert_eq!(e.read.as_deref(), Some("2026-09-13T18:25:39Z"));

    let Event::ReactionCreated(e) = decode("messages.reactionCreated") else {
        panic!("reaction")
    };
    assert_eq!(e.reaction.as_deref(), Some("❤️"));
    let Event::ReactionDeleted(e) = decode("messages.reactionDeleted") else {
        panic!("deleted")
    };
    assert_eq!(
        e.conversation_id.as_deref(),
        Some("aWdfZAG06MTpJR01lc3NhZA2VUaHJlYWQ6MTc4NDE0MDAx")
    );
}

#[test]
fn less_documented_actions() {
    let Event::Comments(e) = decode("comments") else {
        panic!("comments")
    };
    assert_eq!(e.post_id.as_deref(), Some("Kd8sQm2vLx7RtY4wPz1N"));
    assert_eq!(
        e.from.as_ref().unwrap().username.as_deref(),
        Some("latte.larry")
    );
    assert_eq!(e.media.as_ref().unwrap()["media_product_type"], "FEED");

    let Event::Mentions(e) = decode("mentions") else {
        panic!("mentions")
    };
    assert_eq!(e.platform, Some(Platform::Twitter));
    assert_eq!(e.from.unwrap().username.as_deref(), Some("leeds_eats"));

    let Event::Feed(e) = decode("feed") else {
        panic!("feed")
    };
    assert_eq!(e.title(), Some("How we roast our single-origin espresso"));
    assert_eq!(
        e.feed_url.as_deref(),
        Some("https://brightpathcoffee.com/blog/rss.xml")
    );

    let Event::Batch(e) = decode("batch") else {
        panic!("batch")
    };
    assert_eq!(e.post_ids.len(), 2);
    assert_eq!(
        e.post_ids[0].status,
        Some(Status::Other("scheduled".into()))
    );

    let Event::Automations(e) = decode("automations") else {
        panic!("automations")
    };
    assert_eq!(e.automation_id.as_deref(), Some("au_6c2f9e"));

    let Event::AccountActivity(e) = decode("accountActivity") else {
        panic!("accountActivity")
    };
    assert_eq!(e.kind.as_deref(), Some("tweet_create_events"));
    assert_eq!(
        e.data.unwrap()["tweet_create_events"][0]["user"]["screen_name"],
        "hungry_hannah"
    );

    let Event::Suspended(e) = decode("suspended") else {
        panic!("suspended")
    };
    assert_eq!(
        e.reason.as_deref(),
        Some("Too many rate-limited requests in 24 hours")
    );
}

#[test]
fn facebook_comment_in_meta_raw_form_keeps_its_fields() {
    let raw = Bytes::from_static(
        br#"{"action":"comments","platform":"facebook","from":{"id":"1","name":"Ann"},"post_id":"10_20","comment_id":"20_30","message":"Nice","verb":"add","created_time":1789228800,"refId":"r","hookId":"hk"}"#,
    );
    let Event::Comments(e) = decode_or_unknown::<Event>("comments", &raw) else {
        panic!("comments");
    };
    assert_eq!(e.from.unwrap().name.as_deref(), Some("Ann"));
    assert_eq!(e.extra["comment_id"], "20_30");
    assert_eq!(e.extra["created_time"], 1789228800);
}

#[test]
fn unknown_actions_and_sub_actions_take_the_unknown_path() {
    for body in [
        r#"{"action":"livestreams","hookId":"hk_1","refId":"r"}"#,
        r#"{"action":"messages","subAction":"typingStarted","hookId":"hk_2"}"#,
        r#"{"action":"messages","hookId":"hk_3"}"#,
        r#"{"action":"scheduled","subAction":"youTubeProcessed","status":"success","id":"p"}"#,
    ] {
        let raw = Bytes::from(body);
        let (name, _, _) = envelope(&raw);
        assert!(Event::decode(&name, &raw).is_err(), "{name}");
        let Event::Unknown(unknown) = decode_or_unknown::<Event>(&name, &raw) else {
            panic!("{name} decoded as typed");
        };
        assert_eq!(unknown.name(), name);
        assert_eq!(unknown.reason(), &UnknownReason::UnknownName);
        assert_eq!(unknown.raw(), &raw);
        let event = Event::Unknown(unknown);
        assert_eq!(
            (event.name(), event.common(), event.extra()),
            (name.as_str(), None, None)
        );
    }
}

#[test]
fn drifted_payloads_take_the_unknown_path_with_the_error() {
    let scheduled = String::from_utf8(fixture("scheduled").to_vec()).unwrap();
    for (name, body, path) in [
        // A confirmed field with another type.
        (
            "scheduled",
            scheduled.replace(r#""errors": []"#, r#""errors": "none""#),
            "errors",
        ),
        // A required field missing.
        (
            "scheduled",
            scheduled.replace(r#""status": "success","#, ""),
            ".",
        ),
        // A common field with another type (serde loses the path inside the flattened
        // `Common`: the error says `.`).
        (
            "scheduled",
            scheduled.replace(r#""code": 200"#, r#""code": "200""#),
            ".",
        ),
        // `social` without its `type`.
        (
            "social",
            r#"{"action":"social","platform":"x","hookId":"h"}"#.to_owned(),
            ".",
        ),
        (
            "messages/messageCreated",
            r#"{"action":"messages","subAction":"messageCreated","senderDetails":"Ann"}"#
                .to_owned(),
            "senderDetails",
        ),
    ] {
        let raw = Bytes::from(body);
        assert_eq!(envelope(&raw).0, name);
        let Event::Unknown(unknown) = decode_or_unknown::<Event>(name, &raw) else {
            panic!("{name}: drift decoded as typed ({path})");
        };
        let UnknownReason::Drifted(error) = unknown.reason() else {
            panic!("{name}: {:?}", unknown.reason());
        };
        assert_eq!(error.path(), path, "{name}: {error}");
        assert_eq!(unknown.raw(), &raw);
        assert_eq!(unknown.decode_error(), Some(error));
    }
}

/// The provider inside the real pipeline (no network: the dispatcher is called as a service).
mod pipeline {
    use std::{
        sync::{Arc, Mutex},
        time::{Duration, SystemTime},
    };

    use bytes::Bytes;
    use hookgate::{
        Delivery, Webhooks,
        ayrshare::{self, Ayrshare},
        event::UnknownEvent,
        keyring::Keyring,
    };
    use http::{Request, StatusCode};
    use http_body_util::Full;
    use tower::ServiceExt;

    const NEW: &str = "ayr_new_secret_2026";
    const OLD: &str = "ayr_old_secret_2025";
    const NOW: u64 = 1_789_228_807;

    #[derive(Clone, Default)]
    struct Seen(Arc<Mutex<Vec<(String, Delivery)>>>);

    fn dispatcher(provider: Ayrshare, seen: &Seen) -> hookgate::Dispatcher<Ayrshare, Seen> {
        Webhooks::with_state(provider, seen.clone())
            .on(
                |e: ayrshare::Scheduled, d: Delivery, seen: Seen| async move {
                    seen.0.lock().unwrap().push((e.id, d));
                },
            )
            .on(
                |e: ayrshare::MessageCreated, d: Delivery, seen: Seen| async move {
                    seen.0
                        .lock()
                        .unwrap()
                        .push((e.message.unwrap_or_default(), d));
                },
            )
            .fallback(|e: UnknownEvent, d: Delivery, seen: Seen| async move {
                seen.0
                    .lock()
                    .unwrap()
                    .push((format!("unknown {}", e.name()), d));
            })
            .clock(|| SystemTime::UNIX_EPOCH + Duration::from_secs(NOW))
            .build()
            .unwrap()
    }

    fn sign(secret: &str, body: &[u8]) -> String {
        Keyring::new([secret]).unwrap().sign(b"", body).to_hex()
    }

    async fn post(
        service: &hookgate::Dispatcher<Ayrshare, Seen>,
        body: &Bytes,
        headers: &[(&str, String)],
    ) -> StatusCode {
        let mut request = Request::post("/webhooks/ayrshare")
            .header("content-type", "application/json")
            .body(Full::new(body.clone()))
            .unwrap();
        for (name, value) in headers {
            request.headers_mut().append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        service.clone().oneshot(request).await.unwrap().status()
    }

    /// Headers as Ayrshare sends them during a rotation.
    fn rotation_headers(body: &[u8], attempt: u32) -> Vec<(&'static str, String)> {
        let (new, old) = (sign(NEW, body), sign(OLD, body));
        vec![
            (ayrshare::HEADER_TIMESTAMP, NOW.to_string()),
            (ayrshare::HEADER_SIGNATURE, new.clone()),
            (ayrshare::HEADER_SIGNATURE_V2, format!("v1={new},v1={old}")),
            (ayrshare::HEADER_DELIVERY_ID, format!("dlv_{attempt}")),
            (ayrshare::HEADER_DELIVERY_ATTEMPT, attempt.to_string()),
        ]
    }

    #[tokio::test]
    async fn rotation_dedup_and_meta_through_the_pipeline() {
        let seen = Seen::default();
        // The receiver has not added the new secret yet: the old one in -V2 still verifies.
        let service = dispatcher(Ayrshare::new([OLD]).unwrap(), &seen);
        let body = super::fixture("scheduled");

        assert_eq!(
            post(&service, &body, &rotation_headers(&body, 1)).await,
            StatusCode::OK
        );
        // A retry of the same event: answered 200, handler not called again.
        assert_eq!(
            post(&service, &body, &rotation_headers(&body, 2)).await,
            StatusCode::OK
        );
        let seen = seen.0.lock().unwrap();
        assert_eq!(seen.len(), 1);
        let (id, delivery) = &seen[0];
        assert_eq!(id, "Kd8sQm2vLx7RtY4wPz1N");
        assert_eq!(
            (delivery.provider(), delivery.event()),
            ("ayrshare", "scheduled")
        );
        assert_eq!(delivery.key(), "hk_3Jq9XvT2mR8pLw5N");
        assert!(!delivery.key_is_body_hash());
        assert_eq!(
            (delivery.attempt(), delivery.delivery_id()),
            (Some(1), Some("dlv_1"))
        );
        for header in [ayrshare::HEADER_SIGNATURE, ayrshare::HEADER_SIGNATURE_V2] {
            let value = delivery.headers()[header].to_str().unwrap();
            assert!(
                [NEW, OLD]
                    .iter()
                    .all(|secret| !value.contains(&sign(secret, &body)[..16])),
                "{header} not redacted: {value}"
            );
        }
    }

    #[tokio::test]
    async fn sub_actions_body_hash_fallback_and_unknown_actions() {
        let seen = Seen::default();
        let service = dispatcher(Ayrshare::new([NEW]).unwrap(), &seen);

        let created = super::fixture("messages.messageCreated");
        assert_eq!(
            post(&service, &created, &rotation_headers(&created, 1)).await,
            StatusCode::OK
        );

        // No hookId: handled, keyed by the body hash, and a byte-identical retry is a duplicate.
        let no_hook = Bytes::from_static(
            br#"{"action":"messages","subAction":"messageCreated","message":"no hook","refId":"r"}"#,
        );
        for attempt in 1..=2 {
            let status = post(&service, &no_hook, &rotation_headers(&no_hook, attempt)).await;
            assert_eq!(status, StatusCode::OK);
        }

        // A new action: the fallback gets it, answered 200.
        let new_action = Bytes::from_static(br#"{"action":"livestreams","hookId":"hk_live"}"#);
        let status = post(&service, &new_action, &rotation_headers(&new_action, 1)).await;
        assert_eq!(status, StatusCode::OK);

        let seen = seen.0.lock().unwrap();
        let got: Vec<(&str, &str, bool)> = seen
            .iter()
            .map(|(what, d)| (what.as_str(), d.event(), d.key_is_body_hash()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "Hi! Do you ship beans to Ireland?",
                    "messages/messageCreated",
                    false
                ),
                ("no hook", "messages/messageCreated", true),
                ("unknown livestreams", "livestreams", false),
            ]
        );
    }

    #[tokio::test]
    async fn refusals_through_the_pipeline() {
        let seen = Seen::default();
        let body = super::fixture("scheduled");
        let plain = dispatcher(Ayrshare::new([NEW]).unwrap(), &seen);
        let windowed = dispatcher(Ayrshare::new([NEW]).unwrap().with_default_window(), &seen);

        // Unsigned, wrong secret, ambiguous: 401.
        let unsigned = [(ayrshare::HEADER_TIMESTAMP, NOW.to_string())];
        assert_eq!(
            post(&plain, &body, &unsigned).await,
            StatusCode::UNAUTHORIZED
        );
        let wrong = [(ayrshare::HEADER_SIGNATURE, sign("ayr_other", &body))];
        assert_eq!(post(&plain, &body, &wrong).await, StatusCode::UNAUTHORIZED);
        let twice = [
            (ayrshare::HEADER_SIGNATURE, sign(NEW, &body)),
            (ayrshare::HEADER_SIGNATURE, sign(OLD, &body)),
        ];
        assert_eq!(post(&plain, &body, &twice).await, StatusCode::UNAUTHORIZED);

        // The window: off accepts an old timestamp, on refuses it (and a missing one).
        let stale = [
            (ayrshare::HEADER_SIGNATURE, sign(NEW, &body)),
            (ayrshare::HEADER_TIMESTAMP, (NOW - 7200).to_string()),
        ];
        assert_eq!(
            post(&windowed, &body, &stale).await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            post(&windowed, &body, &stale[..1]).await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(post(&plain, &body, &stale).await, StatusCode::OK);

        // Signed but without `action`: 400.
        let no_action = Bytes::from_static(br#"{"hookId":"hk_x"}"#);
        let signed = [(ayrshare::HEADER_SIGNATURE, sign(NEW, &no_action))];
        assert_eq!(
            post(&plain, &no_action, &signed).await,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(seen.0.lock().unwrap().len(), 1);
    }
}
