//! Typed decode of every catalogue (Zernio, Ayrshare, Standard Webhooks) for every event name
//! it knows and for arbitrary names: never a panic; an unknown name never decodes to a typed
//! variant.
#![no_main]

use bytes::Bytes;
use hookgate::event::decode_or_unknown;
use libfuzzer_sys::fuzz_target;

fn run<E: hookgate::event::EventSet>(pick: u8, raw: &Bytes) {
    // 255 is a name outside every catalogue; anything else picks a catalogued name.
    let name = match pick {
        255 => "fuzz.unknown",
        _ if E::NAMES.is_empty() => "fuzz.event",
        _ => E::NAMES[usize::from(pick) % E::NAMES.len()],
    };
    let _ = E::decode(name, raw);
    let _ = decode_or_unknown::<E>(name, raw);
}

fuzz_target!(|data: &[u8]| {
    // [name pick][body]: a fixture seed is its name's index + its body.
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let raw = Bytes::copy_from_slice(body);
    run::<hookgate::zernio::Event>(pick, &raw);
    run::<hookgate::ayrshare::Event>(pick, &raw);
    run::<hookgate::standard::Event>(pick, &raw);
});
