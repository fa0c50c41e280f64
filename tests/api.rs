//! The handler API as a user meets it: handler shapes, build errors, `Verified<E>` and the
//! test kit.

#![cfg(all(feature = "zernio", feature = "testing"))]

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use hookgate::{
    Delivery, Webhooks,
    testing::signed_request,
    zernio::{self, Zernio},
};
use http_body_util::BodyExt;
use tower::ServiceExt;

const SECRET: &str = "api-test-secret";

fn zernio() -> Zernio {
    Zernio::new([SECRET]).unwrap()
}

fn test_body(id: &str) -> String {
    format!(
        r#"{{"id":"{id}","event":"webhook.test","message":"hi","timestamp":"2026-09-01T12:00:00.000Z"}}"#
    )
}

async fn status_body(
    response: http::Response<impl http_body::Body<Error: std::fmt::Debug>>,
) -> (u16, String) {
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

#[derive(Clone, Default)]
struct App {
    calls: Arc<AtomicUsize>,
}

#[tokio::test]
async fn a_handler_may_take_the_event_and_the_state() {
    let app = App::default();
    let service = Webhooks::with_state(zernio(), app.clone())
        .on(|_: zernio::WebhookTest, app: App| async move {
            app.calls.fetch_add(1, Ordering::SeqCst);
        })
        .build()
        .unwrap();
    let response = service
        .oneshot(signed_request(&zernio(), "/", test_body("state-1")))
        .await
        .unwrap();
    assert_eq!(
        status_body(response).await,
        (200, r#"{"status":"handled"}"#.to_owned())
    );
    assert_eq!(app.calls.load(Ordering::SeqCst), 1);
}

/// The four shapes side by side, each run by its own event: every call adds its own weight.
#[tokio::test]
async fn every_handler_shape_runs() {
    let app = App::default();
    let service = Webhooks::with_state(zernio(), app.clone())
        .on(|_: zernio::PostPublished| async {})
        .on(|_: zernio::PostFailed, delivery: Delivery| async move {
            assert_eq!(delivery.event(), "post.failed");
        })
        .on(|_: zernio::WebhookTest, app: App| async move {
            app.calls.fetch_add(1, Ordering::SeqCst);
        })
        .on(
            |_: zernio::PostScheduled, delivery: Delivery, app: App| async move {
                assert_eq!(delivery.event(), "post.scheduled");
                app.calls.fetch_add(10, Ordering::SeqCst);
                Ok::<_, std::io::Error>(())
            },
        )
        .build()
        .unwrap();
    for event in [
        "post.published",
        "post.failed",
        "webhook.test",
        "post.scheduled",
    ] {
        let body = hookgate::testing::payload("zernio", event);
        let response = service
            .clone()
            .oneshot(signed_request(&zernio(), "/", body))
            .await
            .unwrap();
        assert_eq!(
            status_body(response).await,
            (200, r#"{"status":"handled"}"#.to_owned()),
            "{event}"
        );
    }
    assert_eq!(app.calls.load(Ordering::SeqCst), 11);
}

#[test]
fn a_lease_not_longer_than_the_handler_timeout_is_refused() {
    let fallback = |_: hookgate::event::UnknownEvent| async {};
    let build = |lease: u64, timeout: Option<u64>| {
        Webhooks::new(zernio())
            .lease(Duration::from_secs(lease))
            .handler_timeout(timeout.map(Duration::from_secs))
            .fallback(fallback)
            .build()
            .err()
    };
    let refused = build(30, Some(30)).expect("a lease equal to the timeout is refused");
    assert_eq!(
        refused,
        hookgate::BuildError::LeaseNotAboveHandlerTimeout {
            lease: Duration::from_secs(30),
            handler_timeout: Duration::from_secs(30),
        }
    );
    assert!(
        refused
            .to_string()
            .contains("must be longer than the handler timeout")
    );
    assert!(build(10, Some(30)).is_some());
    assert_eq!(build(31, Some(30)), None);
    // Without a handler timeout the lease bounds nothing it could be compared with.
    assert_eq!(build(1, None), None);
}

#[test]
fn a_dispatcher_with_nothing_registered_is_refused() {
    let result = Webhooks::new(zernio()).build();
    assert_eq!(result.unwrap_err(), hookgate::BuildError::NoHandlers);
    // A fallback alone is enough: it takes every event.
    let fallback_only = Webhooks::new(zernio())
        .fallback(|_: hookgate::event::UnknownEvent| async {})
        .build();
    assert!(fallback_only.is_ok());
}

#[cfg(feature = "axum")]
mod verified {
    use axum::{Extension, Router, routing::post};
    use hookgate::{Verified, WebhookLayer};

    use super::*;

    #[tokio::test]
    async fn the_delivery_stays_in_the_extensions() {
        let app = Router::new().route(
            "/",
            post(
                |Verified { delivery, .. }: Verified<zernio::Event>,
                 Extension(again): Extension<Delivery>| async move {
                    assert_eq!(delivery.key(), again.key());
                    again.key().to_owned()
                },
            )
            .layer(WebhookLayer::new(zernio())),
        );
        let response = app
            .oneshot(signed_request(&zernio(), "/", test_body("ext-1")))
            .await
            .unwrap();
        assert_eq!(status_body(response).await, (200, "ext-1".to_owned()));
    }

    #[tokio::test]
    async fn one_event_type_takes_its_event_and_acknowledges_the_others_as_ignored() {
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = calls.clone();
        let app = Router::new().route(
            "/",
            post(
                move |Verified { event, .. }: Verified<zernio::WebhookTest>| async move {
                    assert_eq!(event.event, "webhook.test");
                    seen.fetch_add(1, Ordering::SeqCst);
                    "took it"
                },
            )
            .layer(WebhookLayer::new(zernio())),
        );
        let send = |body: String| {
            let app = app.clone();
            async move {
                let response = app
                    .oneshot(signed_request(&zernio(), "/", body))
                    .await
                    .unwrap();
                status_body(response).await
            }
        };
        assert_eq!(send(test_body("one-1")).await, (200, "took it".to_owned()));
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        // Another event of the provider: never this route's, acknowledged, not run.
        let other = r#"{"id":"one-2","event":"account.disconnected","timestamp":"2026-09-01T12:00:00.000Z"}"#;
        let ignored = (200, r#"{"status":"ignored"}"#.to_owned());
        assert_eq!(send(other.to_owned()).await, ignored);
        // This event, drifted from its model (no timestamp): acknowledged too.
        let drifted = r#"{"id":"one-3","event":"webhook.test"}"#;
        assert_eq!(send(drifted.to_owned()).await, ignored);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // The layer committed both keys: their retries are duplicates.
        assert_eq!(
            send(other.to_owned()).await,
            (200, r#"{"status":"duplicate"}"#.to_owned())
        );
    }
}

mod kit {
    use hookgate::{
        event::Event as _,
        testing::{self, Outcome, assert_handled},
    };

    use super::*;

    /// Every catalogued event of `provider`, sent twice as fresh payloads through a dispatcher
    /// whose only handler takes the catalogue enum: each is handled (it decoded into its typed
    /// variant: drift would be `ignored`), and the second payload is a new event, not a
    /// duplicate.
    async fn every_payload_is_handled<P, E>(provider: P, name: &str, names: &[&str])
    where
        P: hookgate::testing::Sign + Clone,
        E: hookgate::event::EventOf<P>,
    {
        assert_eq!(testing::events(name), names);
        let service = Webhooks::new(provider.clone())
            .on(|_: E| async {})
            .build()
            .unwrap();
        for event in names {
            for _ in 0..2 {
                let request = signed_request(&provider, "/", testing::payload(name, event));
                let response = service.clone().oneshot(request).await.unwrap();
                assert_eq!(
                    Outcome::from_response(response).await,
                    Outcome::Handled,
                    "{name} {event}"
                );
            }
        }
    }

    #[tokio::test]
    async fn zernio_payloads_cover_the_catalogue_and_are_fresh() {
        every_payload_is_handled::<_, zernio::Event>(zernio(), "zernio", zernio::Event::NAMES)
            .await;
    }

    #[cfg(feature = "ayrshare")]
    #[tokio::test]
    async fn ayrshare_payloads_cover_the_catalogue_and_are_fresh() {
        use hookgate::ayrshare::{self, Ayrshare};
        every_payload_is_handled::<_, ayrshare::Event>(
            Ayrshare::new(["ayrshare-secret"]).unwrap(),
            "ayrshare",
            ayrshare::Event::NAMES,
        )
        .await;
        // A fixture's own name picks one of the names several fixtures share.
        assert!(testing::payload("ayrshare", "social.unlink").contains(r#""type":"unlink""#));
    }

    #[tokio::test]
    async fn payloads_are_fresh() {
        let (a, b) = (
            testing::payload("zernio", "post.published"),
            testing::payload("zernio", "post.published"),
        );
        let (a, b): (serde_json::Value, serde_json::Value) = (
            serde_json::from_str(&a).unwrap(),
            serde_json::from_str(&b).unwrap(),
        );
        assert_ne!(a["id"], b["id"]);
        // The timestamp is now: this year or later, not the fixture's.
        let year: u32 = a["timestamp"].as_str().unwrap()[..4].parse().unwrap();
        assert!(year >= 2026, "{}", a["timestamp"]);
        assert_eq!(
            a["timestamp"].as_str().unwrap().len(),
            "2026-09-01T12:00:00.000Z".len()
        );
    }

    #[tokio::test]
    async fn the_outcome_tells_handled_from_ignored() {
        let service = Webhooks::new(zernio())
            .on(|_: zernio::PostPublished| async {})
            .build()
            .unwrap();
        let handled = signed_request(&zernio(), "/", testing::payload("zernio", "post.published"));
        assert_handled(service.clone().oneshot(handled).await.unwrap()).await;
        // Another event: 200 as well, but no handler ran.
        let other = signed_request(&zernio(), "/", testing::payload("zernio", "webhook.test"));
        let response = service.clone().oneshot(other).await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(Outcome::from_response(response).await, Outcome::Ignored);
        // A bad signature is a refusal with its code.
        let mut forged = signed_request(&zernio(), "/", testing::payload("zernio", "webhook.test"));
        let body = testing::payload("zernio", "post.published");
        *forged.body_mut() = http_body_util::Full::new(body.into());
        let outcome = Outcome::from_response(service.oneshot(forged).await.unwrap()).await;
        assert!(
            matches!(&outcome, Outcome::Refused { status, .. } if status.as_u16() == 401),
            "{outcome:?}"
        );
    }

    #[tokio::test]
    #[should_panic(expected = "expected the delivery to be handled, got: 200 ignored")]
    async fn assert_handled_fails_on_ignored() {
        let service = Webhooks::new(zernio())
            .on(|_: zernio::PostPublished| async {})
            .build()
            .unwrap();
        let other = signed_request(&zernio(), "/", testing::payload("zernio", "webhook.test"));
        assert_handled(service.oneshot(other).await.unwrap()).await;
    }
}
