// Four arguments is no handler shape.
use hookgate::{Delivery, Webhooks, zernio::{self, Zernio}};

#[derive(Clone)]
struct App;

fn main() {
    let zernio = Zernio::new(["secret"]).unwrap();
    let _ = Webhooks::with_state(zernio, App).on(
        |_: zernio::PostPublished, _: Delivery, _: App, _: u32| async {},
    );
}
