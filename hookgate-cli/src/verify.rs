//! Verification through the library's real pipeline: the headers and body become a request
//! that a `Webhooks` dispatcher (the provider with the given secrets, in-process) answers; its
//! status is the verdict.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, SystemTime},
};

use bytes::Bytes;
use hookgate::{
    Delivery, Webhooks,
    ayrshare::Ayrshare,
    event::UnknownEvent,
    provider::Provider,
    standard::{self, Standard},
    zernio::Zernio,
};
use http::{HeaderMap, HeaderName, HeaderValue, Request};
use http_body_util::{BodyExt, Full};
use tower::ServiceExt;

use crate::{error::Error, provider::Kind, secret::Secrets};

/// What the handler saw of a verified delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Verified {
    /// The event name the envelope gives.
    pub(crate) event: String,
    /// The dedup key (the sender's, or the body-hash fallback).
    pub(crate) key: String,
    /// Whether the typed handler took it (false: unknown name or drifted payload).
    pub(crate) typed: bool,
}

type Seen = Arc<Mutex<Option<Verified>>>;

fn record(seen: &Seen, delivery: &Delivery, typed: bool) {
    *seen.lock().expect("not poisoned") = Some(Verified {
        event: delivery.event().to_owned(),
        key: delivery.key().to_owned(),
        typed,
    });
}

/// Verifies `body` with `headers` against `secrets` (every one of them: a rotation's keyring),
/// at `now` (for the timestamp windows).
pub(crate) async fn verify(
    kind: Kind,
    secrets: &Secrets,
    headers: HeaderMap,
    body: Bytes,
    now: SystemTime,
) -> Result<Verified, Error> {
    let secrets: Vec<&str> = secrets.all().collect();
    let bad_secret = |e: hookgate::keyring::KeyringError| {
        Error::usage(format_args!("{}: {e}", kind.secret_var()))
    };
    let seen = Seen::default();
    let answer = match kind {
        Kind::Zernio => {
            let webhooks = catalogue(Zernio::new(&secrets).map_err(bad_secret)?, seen.clone());
            run(webhooks, headers, body, now).await
        }
        Kind::Ayrshare => {
            let webhooks = catalogue(Ayrshare::new(&secrets).map_err(bad_secret)?, seen.clone());
            run(webhooks, headers, body, now).await
        }
        Kind::Standard => {
            // Standard Webhooks has no catalogue: every well-formed envelope is typed.
            let webhooks =
                Webhooks::with_state(Standard::new(&secrets).map_err(bad_secret)?, seen.clone())
                    .on_any(
                        |_: standard::Event, delivery: Delivery, seen: Seen| async move {
                            record(&seen, &delivery, true)
                        },
                    )
                    .fallback(untyped);
            run(webhooks, headers, body, now).await
        }
    }?;
    let (status, text) = answer;
    if status.is_success() {
        return seen
            .lock()
            .expect("not poisoned")
            .take()
            .ok_or_else(|| Error::Failed(format!("{status} without reaching a handler: {text}")));
    }
    // The pipeline's refusals are `{"error": "...", "code": "..."}`.
    let reason = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|json| {
            let error = json.get("error")?.as_str()?;
            let code = json.get("code").and_then(|c| c.as_str()).unwrap_or("");
            Some(format!("{error} ({code})"))
        })
        .unwrap_or(text);
    // The pipeline checks the signature before the body: a 400 is a valid signature over a
    // body the provider refuses.
    let verdict = if status == http::StatusCode::BAD_REQUEST {
        "signature valid, but the receiver refuses the body"
    } else {
        "invalid"
    };
    Err(Error::Failed(format!(
        "{verdict}: {} {}: {reason}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    )))
}

/// Every catalogued event to one typed handler, the rest to the fallback.
fn catalogue<P: Provider>(provider: P, seen: Seen) -> Webhooks<P, Seen> {
    Webhooks::with_state(provider, seen)
        .on(
            |_: P::Event, delivery: Delivery, seen: Seen| async move { record(&seen, &delivery, true) },
        )
        .fallback(untyped)
}

async fn untyped(_: UnknownEvent, delivery: Delivery, seen: Seen) {
    record(&seen, &delivery, false)
}

async fn run<P: Provider>(
    webhooks: Webhooks<P, Seen>,
    headers: HeaderMap,
    body: Bytes,
    now: SystemTime,
) -> Result<(http::StatusCode, String), Error> {
    let service = webhooks
        .clock(move || now)
        .handler_timeout(Some(Duration::from_secs(10)))
        .build()
        .expect("one typed handler and a fallback");
    let mut request = Request::post("/verify")
        .body(Full::new(body))
        .expect("a valid request");
    *request.headers_mut() = headers;
    let response = match service.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map(|body| body.to_bytes())
        .unwrap_or_default();
    Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
}

/// Parses `Name: value` lines (the output of `hookgate sign`); blank lines and `#` comments
/// are skipped.
pub(crate) fn parse_headers<'a>(
    lines: impl IntoIterator<Item = &'a str>,
) -> Result<HeaderMap, Error> {
    let mut headers = HeaderMap::new();
    for line in lines {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| Error::usage(format_args!("`{line}` is not `Name: value`")))?;
        let name = HeaderName::try_from(name.trim())
            .map_err(|_| Error::usage(format_args!("`{}` is not a header name", name.trim())))?;
        let value = HeaderValue::try_from(value.trim())
            .map_err(|_| Error::usage(format_args!("the value of {name} is not a header value")))?;
        headers.append(name, value);
    }
    Ok(headers)
}
