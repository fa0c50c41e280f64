// A handler's future returns `()` or `Result<(), E>`, not a status code.
use hookgate::{Webhooks, zernio::{self, Zernio}};

fn main() {
    let zernio = Zernio::new(["secret"]).unwrap();
    let _ = Webhooks::new(zernio).on(|_: zernio::PostPublished| async { 200u16 });
}
