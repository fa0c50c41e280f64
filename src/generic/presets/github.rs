//! GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>`.

use crate::generic::{Builder, Generic, Sender};

/// GitHub repository, organization and App webhooks.
#[derive(Debug, Clone, Copy)]
pub struct GitHub;

impl Sender for GitHub {
    const NAME: &'static str = "github";
}

/// GitHub's scheme: HMAC-SHA256 of the body, hex, `sha256=` prefix, no timestamp; the event
/// name is `X-GitHub-Event` (`issues`, `push`, `ping`; the body's `action` says more).
///
/// The dedup key is `X-GitHub-Delivery`, a GUID GitHub keeps on redeliveries. GitHub does not
/// sign it (nor anything but the body): it is taken as an **unsigned** key, so someone holding a
/// captured delivery could resend it under a new GUID and have it handled again. GitHub signs
/// no timestamp, so no window bounds that either; if your handlers are not safe to run twice
/// for one body, drop the key (`.id_header_unsigned` off: build from [`Generic::builder_for`])
/// and dedup on the body's hash instead.
///
/// Vectors: GitHub's docs (`It's a Secret to Everybody`, `Hello, World!`) and octokit's tests,
/// in `tests/presets.rs`.
pub fn github() -> Builder<GitHub> {
    Generic::builder_for()
        .header("X-Hub-Signature-256")
        .prefix("sha256=")
        .event_header("X-GitHub-Event")
        .id_header_unsigned("X-GitHub-Delivery")
}
