//! The whole pipeline: arbitrary headers and body through each provider's service (a fixed
//! keyring, typed handlers and a fallback that count their calls), either as sent (forged) or
//! signed with the right secret first (to reach the envelope, dedup and dispatch). Asserts that
//! nothing panics, that a forged delivery never reaches a handler, and that no refused delivery
//! (any non-2xx answer) ever reached one.
#![no_main]

use std::{
    cell::RefCell,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use arbitrary::Unstructured;
use bytes::Bytes;
use hookgate::{
    Webhooks,
    ayrshare::{self, Ayrshare},
    event::UnknownEvent,
    provider::Provider,
    standard::{self, Standard},
    testing::{Sign, signed_request},
    zernio::{self, Zernio},
};
use hookgate_fuzz::{FuzzHeader, headers};
use http::Request;
use http_body_util::Full;
use libfuzzer_sys::fuzz_target;
use tower::{ServiceExt, util::BoxCloneService};

const SECRET: &str = "fuzz-secret";
const STANDARD_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// `[provider][flags][header spec length n][n bytes of header spec][body]`; flags bit 0: sign
/// the body with the right secret before adding the fuzzer's headers; bit 1: not a POST. A
/// fixture seed is `p 01 00` + its body.
struct Input {
    provider: u8,
    sign: bool,
    post: bool,
    headers: Vec<FuzzHeader>,
    body: Vec<u8>,
}

impl Input {
    fn parse(data: &[u8]) -> Option<Self> {
        let [provider, flags, rest @ ..] = data else {
            return None;
        };
        let (spec, body) = hookgate_fuzz::split(rest);
        Some(Self {
            provider: *provider,
            sign: flags & 1 == 1,
            post: flags & 2 == 0,
            headers: Unstructured::new(spec).arbitrary().unwrap_or_default(),
            body: body.to_vec(),
        })
    }
}

type Service = BoxCloneService<
    Request<Full<Bytes>>,
    http::Response<hookgate::ResponseBody<Full<Bytes>>>,
    std::convert::Infallible,
>;

struct World {
    runtime: tokio::runtime::Runtime,
    calls: Arc<AtomicUsize>,
    services: Vec<(Service, Box<dyn Fn(&[u8]) -> Request<Full<Bytes>>>)>,
}

fn counted<P: Provider>(webhooks: Webhooks<P>, calls: &Arc<AtomicUsize>) -> Webhooks<P> {
    let calls = calls.clone();
    webhooks.fallback(move |_: UnknownEvent| {
        calls.fetch_add(1, Ordering::SeqCst);
        async {}
    })
}

fn signer<P: Sign + Provider>(
    provider: P,
    uri: &'static str,
) -> Box<dyn Fn(&[u8]) -> Request<Full<Bytes>>> {
    Box::new(move |body| signed_request(&provider, uri, Bytes::copy_from_slice(body)))
}

fn world() -> World {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let zernio_service = counted(Webhooks::new(Zernio::new([SECRET]).unwrap()), &calls)
        .on(move |_: zernio::PostPublished| {
            c.fetch_add(1, Ordering::SeqCst);
            async {}
        })
        .build()
        .unwrap();
    let c = calls.clone();
    let ayrshare_service = counted(Webhooks::new(Ayrshare::new([SECRET]).unwrap()), &calls)
        .on(move |_: ayrshare::Scheduled| {
            c.fetch_add(1, Ordering::SeqCst);
            async {}
        })
        .build()
        .unwrap();
    let c = calls.clone();
    let standard_service = counted(
        Webhooks::new(Standard::new([STANDARD_SECRET]).unwrap()),
        &calls,
    )
    .on_any(move |_: standard::Event| {
        c.fetch_add(1, Ordering::SeqCst);
        async {}
    })
    .build()
    .unwrap();
    World {
        runtime,
        calls,
        services: vec![
            (
                BoxCloneService::new(zernio_service),
                signer(Zernio::new([SECRET]).unwrap(), "/z"),
            ),
            (
                BoxCloneService::new(ayrshare_service),
                signer(Ayrshare::new([SECRET]).unwrap(), "/a"),
            ),
            (
                BoxCloneService::new(standard_service),
                signer(Standard::new([STANDARD_SECRET]).unwrap(), "/s"),
            ),
        ],
    }
}

thread_local! {
    static WORLD: RefCell<World> = RefCell::new(world());
}

fuzz_target!(|data: &[u8]| {
    let Some(input) = Input::parse(data) else {
        return;
    };
    WORLD.with(|world| {
        let world = world.borrow();
        let (service, sign) = &world.services[usize::from(input.provider) % world.services.len()];
        let mut request = if input.sign {
            sign(&input.body)
        } else {
            Request::post("/x")
                .body(Full::new(Bytes::copy_from_slice(&input.body)))
                .unwrap()
        };
        if !input.post {
            *request.method_mut() = http::Method::PUT;
        }
        for (name, value) in &headers(&input.headers) {
            request.headers_mut().append(name, value.clone());
        }
        let before = world.calls.load(Ordering::SeqCst);
        let response = world
            .runtime
            .block_on(service.clone().oneshot(request))
            .unwrap();
        let ran = world.calls.load(Ordering::SeqCst) - before;
        assert!(ran <= 1, "one delivery ran {ran} handlers");
        if !input.sign {
            assert_eq!(
                ran,
                0,
                "a forged delivery reached a handler: {}",
                response.status()
            );
        }
        if !response.status().is_success() {
            assert_eq!(
                ran,
                0,
                "a refused delivery ({}) reached a handler",
                response.status()
            );
        }
    });
});
