// A plain closure returns `()`, not a future: not a handler.
use hookgate::{Webhooks, zernio::{self, Zernio}};

fn main() {
    let zernio = Zernio::new(["secret"]).unwrap();
    let _ = Webhooks::new(zernio).on(|_: zernio::PostPublished| {});
}
