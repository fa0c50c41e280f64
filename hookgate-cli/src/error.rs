//! The CLI's errors and the exit status each one maps to.

/// Exit status: success.
pub(crate) const EXIT_OK: u8 = 0;
/// Exit status: a verification failed, an answer was not 2xx, or a provider API refused.
pub(crate) const EXIT_FAILED: u8 = 1;
/// Exit status: bad usage (arguments, a missing secret or API key, an unreadable file).
pub(crate) const EXIT_USAGE: u8 = 2;
/// Exit status: no answer (connection refused, DNS, timeout).
pub(crate) const EXIT_NETWORK: u8 = 3;

/// Why a command failed. Messages never contain a secret, an API key or a signature.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// Bad arguments or input.
    #[error("{0}")]
    Usage(String),
    /// The check or request was carried out and the answer is "no".
    #[error("{0}")]
    Failed(String),
    /// A provider API answered with an error status.
    #[error("{method} {url}: {status}: {message}")]
    Api {
        /// The request's method.
        method: String,
        /// The request's URL (never with credentials).
        url: String,
        /// The answer's status.
        status: u16,
        /// The API's error message (or the start of its body).
        message: String,
    },
    /// No answer.
    #[error("{0}")]
    Network(String),
}

impl Error {
    /// The process exit status for this error.
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => EXIT_USAGE,
            Self::Failed(_) | Self::Api { .. } => EXIT_FAILED,
            Self::Network(_) => EXIT_NETWORK,
        }
    }

    /// A usage error.
    pub(crate) fn usage(message: impl std::fmt::Display) -> Self {
        Self::Usage(message.to_string())
    }

    /// A transport error from reqwest: what failed, the URL, and the chain of causes.
    pub(crate) fn network(error: &reqwest::Error) -> Self {
        let kind = if error.is_timeout() {
            "timed out"
        } else if error.is_connect() {
            "cannot connect"
        } else if error.is_body() || error.is_decode() {
            "reading the answer failed"
        } else {
            "request failed"
        };
        let mut message = match error.url() {
            Some(url) => format!("{kind} ({url})"),
            None => kind.to_owned(),
        };
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        Self::Network(message)
    }
}
