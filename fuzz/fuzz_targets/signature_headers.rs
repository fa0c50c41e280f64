//! Every provider's signature-header parsing (Zernio's current and legacy headers, Ayrshare's
//! header and its `-V2` rotation list and timestamp, Standard Webhooks' id / timestamp /
//! signature list, `svix-*` names included) on arbitrary headers: never a panic, and a refusal
//! always has a code.
#![no_main]

use std::time::{Duration, SystemTime};

use arbitrary::Arbitrary;
use hookgate::{ayrshare::Ayrshare, provider::Provider, standard::Standard, zernio::Zernio};
use hookgate_fuzz::{FuzzHeader, headers};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input {
    headers: Vec<FuzzHeader>,
    /// Seconds since the epoch for the clock.
    now: u32,
}

fuzz_target!(|input: Input| {
    thread_local! {
        static PROVIDERS: (Zernio, Ayrshare, Standard) = (
            Zernio::new(["fuzz-secret"]).unwrap(),
            Ayrshare::new(["fuzz-secret"]).unwrap().with_default_window(),
            Standard::new(["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]).unwrap(),
        );
    }
    let map = headers(&input.headers);
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::from(input.now));
    PROVIDERS.with(|(zernio, ayrshare, standard)| {
        for result in [
            zernio.signature(&map, now).map(|s| s.tags.len()),
            ayrshare.signature(&map, now).map(|s| s.tags.len()),
            standard.signature(&map, now).map(|s| s.tags.len()),
        ] {
            match result {
                Ok(tags) => assert!(tags > 0, "a parsed signature offers at least one tag"),
                Err(error) => assert!(!error.code().is_empty()),
            }
        }
        let _ = zernio.delivery_meta(&map);
        let _ = ayrshare.delivery_meta(&map);
        let _ = standard.delivery_meta(&map);
    });
});
