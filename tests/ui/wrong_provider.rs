// A handler for a Zernio event on an Ayrshare dispatcher would never run: it does not compile.
use hookgate::{Webhooks, ayrshare::Ayrshare, zernio};

fn main() {
    let ayrshare = Ayrshare::new(["secret"]).unwrap();
    let _ = Webhooks::new(ayrshare).on(|_: zernio::PostPublished| async {});
}
