//! Signing secrets from the environment, a file or a flag; never printed.

use std::{fmt, path::PathBuf};

use zeroize::Zeroizing;

use crate::{error::Error, provider::Kind};

/// One or more secrets, current first (a rotation keeps the previous one second).
pub(crate) struct Secrets(Vec<Zeroizing<String>>);

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secrets([redacted; {}])", self.0.len())
    }
}

impl Secrets {
    /// Splits a comma-separated list (the receiver's format), trimming blanks.
    pub(crate) fn parse(text: &str, origin: &str) -> Result<Self, Error> {
        let list: Vec<_> = text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| Zeroizing::new(s.to_owned()))
            .collect();
        if list.is_empty() {
            return Err(Error::usage(format_args!("{origin} holds no secret")));
        }
        Ok(Self(list))
    }

    /// The secrets, current first.
    pub(crate) fn all(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|s| s.as_str())
    }

    /// The current (first) secret.
    pub(crate) fn current(&self) -> &str {
        &self.0[0]
    }

    /// The previous (second) secret, for `--rotate`.
    pub(crate) fn previous(&self) -> Option<&str> {
        self.0.get(1).map(|s| s.as_str())
    }
}

/// Where the signing secret comes from (shared by `sign`, `verify` and `send`).
#[derive(clap::Args)]
pub(crate) struct SecretArgs {
    /// The signing secret, or a comma-separated list, current first. Other users may see
    /// command lines: prefer the environment variable (ZERNIO_WEBHOOK_SECRET,
    /// AYRSHARE_WEBHOOK_SECRET, STANDARD_WEBHOOK_SECRET as `whsec_…`) or --secret-file.
    #[arg(long, value_name = "SECRET", conflicts_with = "secret_file")]
    pub(crate) secret: Option<String>,
    /// Read the secret (or comma-separated list) from this file.
    #[arg(long, value_name = "FILE")]
    pub(crate) secret_file: Option<PathBuf>,
}

impl SecretArgs {
    /// The secrets for `kind`: the flag, else the file, else the provider's variable.
    pub(crate) fn resolve(&self, kind: Kind) -> Result<Secrets, Error> {
        if let Some(secret) = &self.secret {
            return Secrets::parse(secret, "--secret");
        }
        if let Some(path) = &self.secret_file {
            let text = Zeroizing::new(read_file(path)?);
            return Secrets::parse(&text, &path.display().to_string());
        }
        match std::env::var(kind.secret_var()) {
            Ok(value) => Secrets::parse(&Zeroizing::new(value), kind.secret_var()),
            Err(_) => Err(Error::usage(format_args!(
                "no signing secret: set {} or pass --secret-file FILE (or --secret)",
                kind.secret_var()
            ))),
        }
    }
}

/// A secret to hand to a provider API (registration, rotation): only when asked for.
#[derive(clap::Args)]
pub(crate) struct NewSecretArgs {
    /// The webhook signing secret to send. Other users may see command lines: prefer
    /// --secret-file or --secret-from-env.
    #[arg(long, value_name = "SECRET", conflicts_with_all = ["secret_file", "secret_from_env"])]
    pub(crate) secret: Option<String>,
    /// Read the signing secret from this file.
    #[arg(long, value_name = "FILE", conflicts_with = "secret_from_env")]
    pub(crate) secret_file: Option<PathBuf>,
    /// Take the signing secret from the provider's variable (its first entry), the one your
    /// receiver verifies with.
    #[arg(long)]
    pub(crate) secret_from_env: bool,
}

impl NewSecretArgs {
    /// The secret to send, if one was asked for.
    pub(crate) fn resolve(&self, kind: Kind) -> Result<Option<Zeroizing<String>>, Error> {
        let secrets = if let Some(secret) = &self.secret {
            Secrets::parse(secret, "--secret")?
        } else if let Some(path) = &self.secret_file {
            Secrets::parse(&Zeroizing::new(read_file(path)?), "the secret file")?
        } else if self.secret_from_env {
            SecretArgs {
                secret: None,
                secret_file: None,
            }
            .resolve(kind)?
        } else {
            return Ok(None);
        };
        Ok(Some(Zeroizing::new(secrets.current().to_owned())))
    }
}

/// A file's text, or a usage error naming it.
pub(crate) fn read_file(path: &std::path::Path) -> Result<String, Error> {
    use std::io::Read as _;
    /// Secrets and header lists are short: a bigger file is a mistake (`/dev/zero`, a log).
    const LIMIT: u64 = 64 * 1024;
    let cannot =
        |e: std::io::Error| Error::usage(format_args!("cannot read {}: {e}", path.display()));
    let mut text = String::new();
    std::fs::File::open(path)
        .map_err(cannot)?
        .take(LIMIT + 1)
        .read_to_string(&mut text)
        .map_err(cannot)?;
    if text.len() as u64 > LIMIT {
        return Err(Error::usage(format_args!(
            "{} is over {} KiB: not a secret or header file",
            path.display(),
            LIMIT / 1024
        )));
    }
    Ok(text)
}
