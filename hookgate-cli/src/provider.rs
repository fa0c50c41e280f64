//! The providers the CLI knows, and their conventions (variables, routes, headers).

use clap::ValueEnum;

/// A sender hookgate verifies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Kind {
    /// Zernio (formerly Late): hex HMAC of the body in `X-Zernio-Signature` (+ `X-Late-*`).
    Zernio,
    /// Ayrshare: hex HMAC of the body in `X-Authorization-Content-SHA256` (+ `-V2` list).
    Ayrshare,
    /// Standard Webhooks (Svix): `webhook-id`, `webhook-timestamp`, `webhook-signature`.
    Standard,
}

impl Kind {
    /// The name used in routes and messages.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Zernio => "zernio",
            Self::Ayrshare => "ayrshare",
            Self::Standard => "standard",
        }
    }

    /// The environment variable holding the signing secrets (the receiver's).
    pub(crate) fn secret_var(self) -> &'static str {
        match self {
            Self::Zernio => "ZERNIO_WEBHOOK_SECRET",
            Self::Ayrshare => "AYRSHARE_WEBHOOK_SECRET",
            Self::Standard => "STANDARD_WEBHOOK_SECRET",
        }
    }

    /// The receiver example's route on localhost.
    pub(crate) fn default_url(self) -> String {
        format!("http://127.0.0.1:3000/webhooks/{}", self.name())
    }
}
