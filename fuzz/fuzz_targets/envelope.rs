//! Envelope extraction (event name, dedup key, scope) of every provider on arbitrary bodies
//! and headers: never a panic; an accepted envelope has a non-empty name.
#![no_main]

use arbitrary::Unstructured;
use hookgate::{ayrshare::Ayrshare, provider::Provider, standard::Standard, zernio::Zernio};
use hookgate_fuzz::{FuzzHeader, headers};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // [header spec length n][n bytes of header spec][body]: a fixture seed is `00` + its body.
    let (spec, body) = hookgate_fuzz::split(data);
    let list: Vec<FuzzHeader> = Unstructured::new(spec).arbitrary().unwrap_or_default();
    let Ok(body) = std::str::from_utf8(body) else {
        return; // the pipeline checks UTF-8 before any envelope
    };
    thread_local! {
        static PROVIDERS: (Zernio, Ayrshare, Standard) = (
            Zernio::new(["fuzz-secret"]).unwrap(),
            Ayrshare::new(["fuzz-secret"]).unwrap(),
            Standard::new(["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]).unwrap(),
        );
    }
    let map = headers(&list);
    PROVIDERS.with(|(zernio, ayrshare, standard)| {
        for result in [
            zernio.envelope(&map, body).map(|e| e.name.len()),
            ayrshare.envelope(&map, body).map(|e| e.name.len()),
            standard.envelope(&map, body).map(|e| e.name.len()),
        ] {
            match result {
                Ok(_) => {}
                Err(error) => assert!(!error.code().is_empty()),
            }
        }
    });
});
