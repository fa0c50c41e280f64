//! Any sender: a provider configured in a few lines, or from a config file, for every HMAC
//! scheme (SHA-256, SHA-1, SHA-512) and Ed25519.
//!
#![doc = include_str!("../../docs/generic-provider.md")]

mod envelope;
mod events;
pub mod presets;
mod scheme;
mod sign;
mod template;

use std::{
    borrow::Cow,
    collections::HashSet,
    fmt,
    marker::PhantomData,
    sync::{Arc, Mutex, OnceLock},
    time::{Duration, SystemTime},
};

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, Response, request::Parts};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

pub use events::Event;
pub use scheme::MAX_SIGNATURES;
pub use sign::{SignError, Signer};

use crate::{
    keyring::{Algorithm, Keyring, KeyringError},
    provider::{
        Challenge, DeliveryMeta, Envelope, EnvelopeError, Prefix, Provider, SignatureError, Signed,
        SignedBody,
    },
    secrets::Secrets,
};
use envelope::JsonPath;
use scheme::{List, Location, Timestamp, TimestampAt};
use template::{Piece, Template, Values};

/// Names a [`Generic`] provider: the `NAME` of its deliveries (dedup scope, logs, metrics,
/// [`Delivery::provider`](crate::Delivery::provider)).
///
/// [`Custom`] is `"generic"`; a preset or your own sender declares a unit type:
///
/// ```
/// struct Acme;
/// impl hookgate::generic::Sender for Acme {
///     const NAME: &'static str = "acme";
/// }
/// ```
pub trait Sender: Send + Sync + 'static {
    /// Short lowercase name.
    const NAME: &'static str;
}

/// The default [`Sender`]: named `generic`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Custom;

impl Sender for Custom {
    const NAME: &'static str = "generic";
}

/// How signatures are encoded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Encoding {
    /// Hexadecimal, either case (the default).
    #[default]
    Hex,
    /// Standard base64 with padding.
    Base64,
}

/// The unit of a timestamp.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Unit {
    /// Unix seconds (the default).
    #[default]
    Seconds,
    /// Unix milliseconds.
    Milliseconds,
}

/// How the configured secrets are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum SecretFormat {
    /// The secret's bytes as given (a `&str` is its UTF-8 bytes): the default.
    #[default]
    Raw,
    /// Standard base64 of the key bytes.
    Base64,
    /// `whsec_` followed by base64 (Standard Webhooks, Svix); the prefix is optional.
    Whsec,
    /// Hexadecimal of the key bytes (Ed25519 public keys, as Discord shows them).
    Hex,
}

impl SecretFormat {
    /// The key bytes of `secret` written in this format (`reason` when it is not).
    pub fn decode(self, secret: &[u8]) -> Result<Zeroizing<Vec<u8>>, &'static str> {
        let text = secret.trim_ascii();
        let b64 = |text: &[u8]| {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .map(Zeroizing::new)
                .map_err(|_| "not base64")
        };
        match self {
            Self::Raw => Ok(Zeroizing::new(secret.to_vec())),
            Self::Base64 => b64(text),
            Self::Whsec => b64(text.strip_prefix(b"whsec_").unwrap_or(text)),
            Self::Hex => const_hex::decode(text)
                .map(Zeroizing::new)
                .map_err(|_| "not hexadecimal"),
        }
    }
}

/// Where a value (event name, dedup key) is read.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Field {
    /// A request header (case-insensitive name).
    Header(String),
    /// A dotted path of object keys in the JSON body (`type`, `event.type`).
    Json(String),
    /// Always this value (a sender with one kind of event).
    Fixed(String),
}

/// Where the timestamp is.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum TimestampFrom {
    /// A request header.
    Header(String),
    /// The signature header's `k=v` list, under [`ListConfig::timestamp_key`].
    List,
}

/// A signature header written as a `k=v` list (`t=1,v1=ab..`, `ts=1;h1=ab..`,
/// `v1,c2ln v1,b3Ro` with `kv_separator = ','` and `pair_separator = ' '`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ListConfig {
    /// Between entries (default `,`).
    #[serde(default = "comma")]
    pub pair_separator: char,
    /// Between a key and its value (default `=`).
    #[serde(default = "equals")]
    pub kv_separator: char,
    /// The key of the entries that hold a signature (the scheme label: `v1`, `h1`). Every entry
    /// with this key is offered (rotation); others are ignored.
    pub signature_key: String,
    /// The key of the timestamp entry (`t`, `ts`), when the timestamp is in the list.
    #[serde(default)]
    pub timestamp_key: Option<String>,
}

fn comma() -> char {
    ','
}
fn equals() -> char {
    '='
}

/// The timestamp rules.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TimestampConfig {
    /// Where it is.
    pub from: TimestampFrom,
    /// Seconds (default) or milliseconds.
    #[serde(default)]
    pub unit: Unit,
    /// How far from now it may be, both ways, in seconds (default 300).
    #[serde(default = "five_minutes")]
    pub tolerance_secs: u64,
}

fn five_minutes() -> u64 {
    300
}

/// A generic provider's whole configuration, as a builder fills it or a config file gives it
/// (every field but `header` and `event` has a default; unknown fields are refused).
///
/// ```
/// let config: hookgate::generic::Config = serde_json::from_str(r#"{
///     "header": "X-Hub-Signature-256",
///     "prefix": "sha256=",
///     "event": {"header": "X-GitHub-Event"}
/// }"#)?;
/// let github = hookgate::generic::Generic::from_config(config).secrets(["It's a Secret to Everybody"])?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The algorithm (default `hmac-sha256`).
    #[serde(default)]
    pub algorithm: Algorithm,
    /// The signature header.
    pub header: String,
    /// The header's `k=v` list, if it is one.
    #[serde(default)]
    pub list: Option<ListConfig>,
    /// Before each signature (`sha256=`, `v0=`); default none.
    #[serde(default)]
    pub prefix: String,
    /// Hex (default) or base64.
    #[serde(default)]
    pub encoding: Encoding,
    /// Between several signatures in one header value (without a list), e.g. `' '`.
    #[serde(default)]
    pub separator: Option<char>,
    /// What is signed (default `{body}`): see the module docs for the placeholders.
    #[serde(default = "body")]
    pub signed: String,
    /// How the secrets are written (default raw).
    #[serde(default)]
    pub secret_format: SecretFormat,
    /// The timestamp rules, if the sender sends one.
    #[serde(default)]
    pub timestamp: Option<TimestampConfig>,
    /// Where the event name is.
    pub event: Field,
    /// Where the dedup key is (default: none, the SHA-256 of the body).
    #[serde(default)]
    pub id: Option<Field>,
    /// Accept a dedup key from a header the template does not sign. **Risk**: anyone who
    /// captured one signed delivery can replay it with a new id, and it is handled again (the
    /// signature stays valid). Only for senders whose body has no id and whose deliveries are
    /// safe to handle twice, or with a timestamp tolerance that bounds the replay window.
    #[serde(default)]
    pub accept_unsigned_id: bool,
    /// The route's public URL (`https://example.com/webhooks/twilio`) for `{url}`; default:
    /// `https://` + `Host` + the request's path.
    #[serde(default)]
    pub public_url: Option<String>,
    /// How long a handled key is remembered, in seconds (default 72 hours).
    #[serde(default)]
    pub dedup_ttl_secs: Option<u64>,
    /// Accept bodies that are not JSON (form-encoded, binary); default false: a signed body that
    /// is not JSON is refused 400 `invalid_json`. With it, the event name and key must come
    /// from headers (or be fixed), and handlers get the raw bytes
    /// ([`Event::Unknown`] for the untyped event).
    #[serde(default)]
    pub any_body: bool,
}

fn body() -> String {
    "{body}".into()
}

/// A configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A header name is not valid.
    #[error("`{0}` is not a valid header name")]
    HeaderName(String),
    /// The template is not valid.
    #[error("template: {0}")]
    Template(&'static str),
    /// A JSON path is empty or has an empty segment.
    #[error("`{0}` is not a dotted JSON path")]
    JsonPath(String),
    /// The event name and the dedup key paths overlap (one is a prefix of the other).
    #[error("the event and id JSON paths overlap")]
    OverlappingPaths,
    /// A separator is not one of those allowed (entries and signatures: space `,` `;` `|`
    /// `&`; key and value: `=` `:` `,`), or a list's two separators are the same.
    #[error("separators: space , ; | & between entries, = : , between key and value, not the same")]
    Separator,
    /// A prefix or a list key is not visible ASCII, holds a separator, or (a key) is empty;
    /// or the two list keys are the same.
    #[error("`{0}` is not usable as a prefix or list key")]
    Token(String),
    /// The timestamp is in the list, and the list has no timestamp key (or there is no list).
    #[error("the timestamp is read from the list, which has no `timestamp_key`")]
    NoTimestampKey,
    /// The template names `{timestamp}` and no timestamp is configured.
    #[error("the template signs `{{timestamp}}` but no timestamp is configured")]
    NoTimestamp,
    /// A timestamp is configured and the template does not sign it: anyone could refresh it,
    /// so it would bound nothing.
    #[error("a timestamp is configured but the template does not sign `{{timestamp}}`")]
    UnsignedTimestamp,
    /// The template names `{id}` and the id is not read from a header.
    #[error("the template signs `{{id}}` but the id is not read from a header")]
    NoIdHeader,
    /// The id is read from a header that the template does not sign.
    #[error(
        "the id header `{0}` is not signed by the template: sign it (`{{id}}`) or set accept_unsigned_id, knowing the risk"
    )]
    UnsignedId(String),
    /// The secrets were refused.
    #[error(transparent)]
    Keyring(#[from] KeyringError),
    /// The secrets are a keyring of another algorithm.
    #[error("the keyring's algorithm is not the configuration's")]
    AlgorithmMismatch,
}

/// Interns a string for the life of the process: header names of configured providers, which
/// the [`Provider`] interface names as `&'static str`. Each distinct name is stored once, so
/// the total is bounded by the distinct names ever configured.
pub(crate) fn intern(name: &str) -> &'static str {
    static NAMES: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut names = NAMES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(known) = names.get(name) {
        return known;
    }
    let leaked: &'static str = Box::leak(name.into());
    names.insert(leaked);
    leaked
}

/// Interns a set of header names (see [`intern`]).
fn intern_headers(names: &[&'static str]) -> &'static [HeaderName] {
    static SETS: OnceLock<Mutex<Vec<&'static [HeaderName]>>> = OnceLock::new();
    let mut sets = SETS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let wanted: Vec<HeaderName> = names.iter().map(|n| HeaderName::from_static(n)).collect();
    if let Some(known) = sets.iter().find(|set| ***set == *wanted) {
        return known;
    }
    let leaked: &'static [HeaderName] = Box::leak(wanted.into_boxed_slice());
    sets.push(leaked);
    leaked
}

/// Where a field is, compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    Header(&'static str),
    Json(JsonPath),
    Fixed(&'static str),
}

/// A hook that answers a verified challenge (see [`Provider::challenge`]).
pub type ChallengeHook = Arc<dyn Fn(&Challenge<'_>) -> Option<Response<Bytes>> + Send + Sync>;

/// A hook that says what stands for the body in the signed content of one request (see
/// [`SignedBody`]): Twilio signs its form parameters, sorted, not the raw body.
pub type DeriveHook = Arc<dyn Fn(&Parts) -> Result<SignedBody, SignatureError> + Send + Sync>;

/// The compiled scheme, shared by clones.
struct Scheme {
    config: Config,
    location: Location,
    template: Template,
    timestamp: Option<Timestamp>,
    event: Source,
    id: Option<Source>,
    /// The id header, when `{id}` is signed.
    id_header: &'static str,
    signature_headers: &'static [HeaderName],
    dedup_ttl: Duration,
    challenge: Option<ChallengeHook>,
    derive: Option<DeriveHook>,
}

/// A provider for any sender, configured by [`Generic::builder`] or [`Generic::from_config`].
/// See the [module docs](self).
pub struct Generic<S: Sender = Custom> {
    scheme: Arc<Scheme>,
    secrets: Secrets,
    sender: PhantomData<fn() -> S>,
}

impl<S: Sender> Clone for Generic<S> {
    fn clone(&self) -> Self {
        Self {
            scheme: self.scheme.clone(),
            secrets: self.secrets.clone(),
            sender: PhantomData,
        }
    }
}

impl<S: Sender> fmt::Debug for Generic<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Generic")
            .field("name", &S::NAME)
            .field("config", &self.scheme.config)
            .field("secrets", &self.secrets)
            .finish_non_exhaustive()
    }
}

/// Configures a [`Generic`] provider: the setters fill a [`Config`]; [`Builder::secrets`]
/// (or [`Builder::with_secrets`]) checks it and builds the provider.
pub struct Builder<S: Sender = Custom> {
    config: Config,
    challenge: Option<ChallengeHook>,
    derive: Option<DeriveHook>,
    sender: PhantomData<fn() -> S>,
}

impl<S: Sender> fmt::Debug for Builder<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("name", &S::NAME)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Generic<Custom> {
    /// A builder for a provider named `generic`: `Generic::builder().header("X-Signature")
    /// .event_json("type").secrets(["secret"])?`. Name it with [`Generic::builder_for`].
    pub fn builder() -> Builder<Custom> {
        Builder::new()
    }

    /// A builder from a whole configuration (e.g. read from a file with serde).
    pub fn from_config(config: Config) -> Builder<Custom> {
        Builder::from_config(config)
    }
}

impl<S: Sender> Generic<S> {
    /// A builder for a provider named by the sender type `S`.
    pub fn builder_for() -> Builder<S> {
        Builder::new()
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.scheme.config
    }
}

impl<S: Sender> Default for Builder<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: Sender> Builder<S> {
    /// An empty configuration: HMAC-SHA256 of `{body}`, hex, no timestamp, the event name
    /// from the JSON body's `type`; set at least the signature header.
    pub fn new() -> Self {
        Self::from_config(Config {
            algorithm: Algorithm::HmacSha256,
            header: String::new(),
            list: None,
            prefix: String::new(),
            encoding: Encoding::Hex,
            separator: None,
            signed: body(),
            secret_format: SecretFormat::Raw,
            timestamp: None,
            event: Field::Json("type".into()),
            id: None,
            accept_unsigned_id: false,
            public_url: None,
            dedup_ttl_secs: None,
            any_body: false,
        })
    }

    /// A builder from a whole configuration.
    pub fn from_config(config: Config) -> Self {
        Self {
            config,
            challenge: None,
            derive: None,
            sender: PhantomData,
        }
    }

    /// The algorithm (default HMAC-SHA256).
    pub fn algorithm(mut self, algorithm: Algorithm) -> Self {
        self.config.algorithm = algorithm;
        self
    }

    /// The signature header (any case).
    pub fn header(mut self, name: &str) -> Self {
        self.config.header = name.into();
        self
    }

    /// The signature header is a `k=v` list: entries split at `pair_separator`, keys at
    /// `kv_separator`; entries keyed `signature_key` hold signatures.
    pub fn list(mut self, pair_separator: char, kv_separator: char, signature_key: &str) -> Self {
        self.config.list = Some(ListConfig {
            pair_separator,
            kv_separator,
            signature_key: signature_key.into(),
            timestamp_key: self.config.list.and_then(|l| l.timestamp_key),
        });
        self
    }

    /// Before each signature (`sha256=`, `v0=`).
    pub fn prefix(mut self, prefix: &str) -> Self {
        self.config.prefix = prefix.into();
        self
    }

    /// Hex (default) or base64.
    pub fn encoding(mut self, encoding: Encoding) -> Self {
        self.config.encoding = encoding;
        self
    }

    /// Several signatures in one header value, split at `separator` (without a list).
    pub fn separator(mut self, separator: char) -> Self {
        self.config.separator = Some(separator);
        self
    }

    /// What is signed: a template over `{body}` (exactly once), `{timestamp}`, `{id}`, `{url}`,
    /// `{method}` and `{header:Name}`; `{{` and `}}` for braces. Default `{body}`.
    pub fn signed(mut self, template: &str) -> Self {
        self.config.signed = template.into();
        self
    }

    /// How the secrets are written (default raw).
    pub fn secret_format(mut self, format: SecretFormat) -> Self {
        self.config.secret_format = format;
        self
    }

    /// The timestamp is this header, in `unit`, accepted within `tolerance` of now both ways.
    pub fn timestamp_header(mut self, name: &str, unit: Unit, tolerance: Duration) -> Self {
        self.config.timestamp = Some(TimestampConfig {
            from: TimestampFrom::Header(name.into()),
            unit,
            tolerance_secs: tolerance.as_secs(),
        });
        self
    }

    /// The timestamp is the list's entry keyed `key` (call [`Builder::list`] too), in `unit`,
    /// accepted within `tolerance` of now both ways.
    pub fn timestamp_in_list(mut self, key: &str, unit: Unit, tolerance: Duration) -> Self {
        if let Some(list) = &mut self.config.list {
            list.timestamp_key = Some(key.into());
        } else {
            self.config.list = Some(ListConfig {
                pair_separator: ',',
                kv_separator: '=',
                signature_key: String::new(),
                timestamp_key: Some(key.into()),
            });
        }
        self.config.timestamp = Some(TimestampConfig {
            from: TimestampFrom::List,
            unit,
            tolerance_secs: tolerance.as_secs(),
        });
        self
    }

    /// The event name is this header's value.
    pub fn event_header(mut self, name: &str) -> Self {
        self.config.event = Field::Header(name.into());
        self
    }

    /// The event name is at this dotted path of the JSON body (default `type`).
    pub fn event_json(mut self, path: &str) -> Self {
        self.config.event = Field::Json(path.into());
        self
    }

    /// Every delivery has this event name.
    pub fn event_fixed(mut self, name: &str) -> Self {
        self.config.event = Field::Fixed(name.into());
        self
    }

    /// The dedup key is at this dotted path of the (signed) JSON body.
    pub fn id_json(mut self, path: &str) -> Self {
        self.config.id = Some(Field::Json(path.into()));
        self
    }

    /// The dedup key is this header, which the template signs as `{id}` (refused otherwise).
    pub fn id_header(mut self, name: &str) -> Self {
        self.config.id = Some(Field::Header(name.into()));
        self
    }

    /// The dedup key is this header, which the sender does **not** sign. See
    /// [`Config::accept_unsigned_id`] for the risk: a captured delivery replayed with a new id
    /// is handled again.
    pub fn id_header_unsigned(mut self, name: &str) -> Self {
        self.config.id = Some(Field::Header(name.into()));
        self.config.accept_unsigned_id = true;
        self
    }

    /// The route's public URL, for `{url}`.
    pub fn public_url(mut self, url: &str) -> Self {
        self.config.public_url = Some(url.into());
        self
    }

    /// How long a handled key is remembered (default 72 hours).
    pub fn dedup_ttl(mut self, ttl: Duration) -> Self {
        self.config.dedup_ttl_secs = Some(ttl.as_secs());
        self
    }

    /// Accepts bodies that are not JSON (see [`Config::any_body`]).
    pub fn any_body(mut self) -> Self {
        self.config.any_body = true;
        self
    }

    /// Answers verified challenges (Zoom's URL validation, Discord's `PING`) before dispatch.
    /// Hooks run in the order they were added, a preset's first, and the first answer wins: a
    /// hook of yours adds to a preset's (Linear's timestamp check, say), never replaces it.
    pub fn challenge(
        mut self,
        hook: impl Fn(&Challenge<'_>) -> Option<Response<Bytes>> + Send + Sync + 'static,
    ) -> Self {
        self.challenge = Some(match self.challenge.take() {
            Some(first) => Arc::new(move |challenge: &Challenge<'_>| {
                first(challenge).or_else(|| hook(challenge))
            }),
            None => Arc::new(hook),
        });
        self
    }

    /// Signs content derived from the body instead of the body (see [`DeriveHook`]).
    pub fn derive(
        mut self,
        hook: impl Fn(&Parts) -> Result<SignedBody, SignatureError> + Send + Sync + 'static,
    ) -> Self {
        self.derive = Some(Arc::new(hook));
        self
    }

    /// The configuration so far.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Builds the provider with these secrets (current first), written in the configured
    /// [`SecretFormat`]; decoded key bytes are zeroized once keyed.
    pub fn secrets<I, K>(self, secrets: I) -> Result<Generic<S>, ConfigError>
    where
        I: IntoIterator<Item = K>,
        K: AsRef<[u8]>,
    {
        let format = self.config.secret_format;
        let mut decoded = Vec::new();
        for (index, secret) in secrets.into_iter().enumerate() {
            let secret = secret.as_ref();
            if secret.trim_ascii().is_empty() {
                return Err(ConfigError::Keyring(
                    KeyringError::empty(index).for_provider(S::NAME),
                ));
            }
            decoded.push(format.decode(secret).map_err(|reason| {
                ConfigError::Keyring(KeyringError::invalid(index, reason).for_provider(S::NAME))
            })?);
        }
        let keyring = Keyring::with_algorithm(self.config.algorithm, decoded.iter())
            .map_err(|e| e.for_provider(S::NAME))?;
        self.with_secrets(keyring)
    }

    /// Builds the provider with a keyring (of the configured algorithm), a rotating keyring or
    /// a secret source.
    pub fn with_secrets(self, secrets: impl Into<Secrets>) -> Result<Generic<S>, ConfigError> {
        let secrets = secrets.into();
        if let Some(keyring) = secrets.current()
            && keyring.algorithm() != self.config.algorithm
        {
            return Err(ConfigError::AlgorithmMismatch);
        }
        let scheme = self.compile()?;
        Ok(Generic {
            scheme: Arc::new(scheme),
            secrets,
            sender: PhantomData,
        })
    }

    fn compile(self) -> Result<Scheme, ConfigError> {
        let config = self.config;
        let header = header_name(&config.header)?;
        // Separators are chosen among characters that no hex or base64 signature, prefix or
        // key holds, so that what a sender writes always parses back to the same pieces.
        let among = |c: char, allowed: &[u8]| {
            u8::try_from(c)
                .ok()
                .filter(|b| allowed.contains(b))
                .ok_or(ConfigError::Separator)
        };
        let list = match &config.list {
            Some(list) => {
                let pair = among(list.pair_separator, PAIR_SEPARATORS)?;
                let kv = among(list.kv_separator, KV_SEPARATORS)?;
                if pair == kv {
                    return Err(ConfigError::Separator);
                }
                token(&list.signature_key, &[pair, kv], false)?;
                if let Some(key) = &list.timestamp_key {
                    token(key, &[pair, kv], false)?;
                    if *key == list.signature_key {
                        return Err(ConfigError::Token(key.clone()));
                    }
                }
                Some(List {
                    pair_separator: pair,
                    kv_separator: kv,
                    signature_key: list.signature_key.as_bytes().into(),
                    timestamp_key: list.timestamp_key.as_ref().map(|k| k.as_bytes().into()),
                })
            }
            None => None,
        };
        let separator = match (config.separator, &list) {
            (Some(c), None) => Some(among(c, PAIR_SEPARATORS)?),
            _ => None,
        };
        let mut reserved: Vec<u8> = separator.into_iter().collect();
        if let Some(list) = &list {
            reserved.push(list.pair_separator);
        }
        token(&config.prefix, &reserved, true)?;
        let timestamp = match &config.timestamp {
            Some(ts) => Some(Timestamp {
                at: match &ts.from {
                    TimestampFrom::Header(name) => TimestampAt::Header(header_name(name)?),
                    TimestampFrom::List => {
                        if list
                            .as_ref()
                            .and_then(|l| l.timestamp_key.as_ref())
                            .is_none()
                        {
                            return Err(ConfigError::NoTimestampKey);
                        }
                        TimestampAt::List
                    }
                },
                unit: ts.unit,
                tolerance: Duration::from_secs(ts.tolerance_secs),
            }),
            None => None,
        };
        let template = Template::parse(&config.signed)?;
        if template.uses(&Piece::Header(header)) {
            return Err(ConfigError::Template(
                "the template cannot sign the signature header",
            ));
        }
        if template.uses(&Piece::Timestamp) && timestamp.is_none() {
            return Err(ConfigError::NoTimestamp);
        }
        if timestamp.is_some() && !template.uses(&Piece::Timestamp) {
            return Err(ConfigError::UnsignedTimestamp);
        }
        let source = |field: &Field| -> Result<Source, ConfigError> {
            Ok(match field {
                Field::Header(name) => Source::Header(header_name(name)?),
                Field::Json(path) => {
                    Source::Json(JsonPath::parse(path).ok_or(ConfigError::JsonPath(path.clone()))?)
                }
                Field::Fixed(name) => Source::Fixed(intern(name)),
            })
        };
        let event = source(&config.event)?;
        let id = config.id.as_ref().map(source).transpose()?;
        if let (Source::Json(a), Some(Source::Json(b))) = (&event, &id)
            && a.overlaps(b)
            && a != b
        {
            return Err(ConfigError::OverlappingPaths);
        }
        let id_header = match &id {
            Some(Source::Header(name)) => {
                let signed = template.uses(&Piece::Id) || template.uses(&Piece::Header(name));
                if !signed && !config.accept_unsigned_id {
                    return Err(ConfigError::UnsignedId(name.to_string()));
                }
                name
            }
            _ if template.uses(&Piece::Id) => return Err(ConfigError::NoIdHeader),
            _ => "",
        };
        let location = Location {
            header,
            list,
            prefix: config.prefix.as_bytes().into(),
            encoding: config.encoding,
            separator,
            algorithm: config.algorithm,
        };
        let dedup_ttl = Duration::from_secs(config.dedup_ttl_secs.unwrap_or(72 * 3600));
        Ok(Scheme {
            signature_headers: intern_headers(&[header]),
            location,
            template,
            timestamp,
            event,
            id,
            id_header,
            dedup_ttl,
            challenge: self.challenge,
            derive: self.derive,
            config,
        })
    }
}

/// Characters that may separate signatures or list entries.
const PAIR_SEPARATORS: &[u8] = b" ,;|&";
/// Characters that may separate a list entry's key from its value.
const KV_SEPARATORS: &[u8] = b"=:,";

/// Checks a prefix or a list key: visible ASCII, none of `reserved` (empty only if `may_be_empty`).
fn token(text: &str, reserved: &[u8], may_be_empty: bool) -> Result<(), ConfigError> {
    let visible = text
        .bytes()
        .all(|b| b.is_ascii_graphic() && !reserved.contains(&b));
    if visible && (may_be_empty || !text.is_empty()) {
        Ok(())
    } else {
        Err(ConfigError::Token(text.into()))
    }
}

/// A lowercase, interned, valid header name.
fn header_name(name: &str) -> Result<&'static str, ConfigError> {
    let lower = name.trim().to_ascii_lowercase();
    HeaderName::try_from(lower.as_str()).map_err(|_| ConfigError::HeaderName(name.into()))?;
    Ok(intern(&lower))
}

impl<S: Sender> Generic<S> {
    /// The template's values for one request (timestamp checked by the caller).
    fn values<'r>(&'r self, parts: &'r Parts, timestamp: Option<&'r [u8]>) -> Values<'r> {
        let scheme = &*self.scheme;
        let id = match scheme.id_header {
            "" => None,
            name => parts.headers.get(name).map(|v| v.as_bytes()),
        };
        Values {
            parts,
            timestamp,
            id,
            id_header: scheme.id_header,
            public_url: scheme.config.public_url.as_deref(),
        }
    }

    /// Reads and checks the signature headers of a request, as the pipeline does.
    fn read(&self, parts: &Parts, now: SystemTime) -> Result<Signed, SignatureError> {
        let scheme = &*self.scheme;
        let headers = &parts.headers;
        let found = scheme.location.find(headers)?;
        let timestamp = match &scheme.timestamp {
            Some(rules) => {
                Some(rules.check(headers, found.list_timestamp, scheme.location.header, now)?)
            }
            None => None,
        };
        if !scheme.id_header.is_empty()
            && let Err(SignatureError::Ambiguous(name)) =
                crate::provider::single_header(headers, scheme.id_header)
        {
            return Err(SignatureError::Ambiguous(name));
        }
        let (mut prefix, mut suffix) = (Prefix::new(), Prefix::new());
        let template = &scheme.template;
        if !template.before.is_empty() || !template.after.is_empty() {
            let values = self.values(parts, timestamp);
            template::render(&template.before, &values, &mut prefix)?;
            template::render(&template.after, &values, &mut suffix)?;
        }
        let body = match &scheme.derive {
            Some(derive) => derive(parts)?,
            None => SignedBody::Raw,
        };
        Ok(Signed {
            prefix,
            tags: found.tags,
            suffix,
            body,
        })
    }

    fn field<'a>(
        &self,
        source: &Source,
        headers: &'a HeaderMap,
        from_json: Option<Cow<'a, str>>,
    ) -> Option<Cow<'a, str>> {
        match source {
            Source::Header(name) => headers
                .get(*name)
                .and_then(|v| v.to_str().ok())
                .map(|v| Cow::Borrowed(v.trim())),
            Source::Json(_) => from_json,
            Source::Fixed(value) => Some(Cow::Borrowed(value)),
        }
    }
}

impl<S: Sender> Provider for Generic<S> {
    const NAME: &'static str = S::NAME;
    type Event = Event;

    fn signature_headers(&self) -> &'static [HeaderName] {
        self.scheme.signature_headers
    }

    fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    /// The headers alone: a template that signs `{url}` or `{method}` reads them from a
    /// request of `POST /` (the pipeline calls [`Provider::request_signature`]).
    fn signature(&self, headers: &HeaderMap, now: SystemTime) -> Result<Signed, SignatureError> {
        let mut parts = http::Request::post("/")
            .body(())
            .expect("a valid request")
            .into_parts()
            .0;
        parts.headers = headers.clone();
        self.read(&parts, now)
    }

    #[inline]
    fn request_signature(&self, parts: &Parts, now: SystemTime) -> Result<Signed, SignatureError> {
        self.read(parts, now)
    }

    fn challenge(&self, challenge: &Challenge<'_>) -> Option<Response<Bytes>> {
        self.scheme
            .challenge
            .as_ref()
            .and_then(|hook| hook(challenge))
    }

    fn envelope<'a>(
        &self,
        headers: &'a HeaderMap,
        body: &'a str,
    ) -> Result<Envelope<'a>, EnvelopeError> {
        let scheme = &*self.scheme;
        fn path(source: Option<&Source>) -> Option<&JsonPath> {
            match source {
                Some(Source::Json(path)) => Some(path),
                _ => None,
            }
        }
        let [event_json, id_json] = match (path(Some(&scheme.event)), path(scheme.id.as_ref())) {
            (None, None) => [None, None],
            // Bodies that need not be JSON get no later check: the whole walk here.
            paths if scheme.config.any_body => envelope::extract(body, [paths.0, paths.1])?,
            paths => envelope::find(body, [paths.0, paths.1])?,
        };
        let discriminator = match &scheme.event {
            Source::Header(name) | Source::Fixed(name) => *name,
            Source::Json(_) => "event",
        };
        let name = self
            .field(&scheme.event, headers, event_json)
            .ok_or(EnvelopeError::MissingDiscriminator(discriminator))?;
        if name.is_empty() {
            return Err(EnvelopeError::EmptyDiscriminator(discriminator));
        }
        let key = scheme
            .id
            .as_ref()
            .and_then(|id| self.field(id, headers, id_json))
            .filter(|key| !key.is_empty());
        Ok(Envelope {
            name,
            key,
            scope: None,
        })
    }

    fn delivery_meta(&self, headers: &HeaderMap) -> DeliveryMeta {
        let mut meta = DeliveryMeta::default();
        if let Some(Source::Header(name)) = &self.scheme.id {
            meta.delivery_id = headers
                .get(*name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
        }
        meta
    }

    fn dedup_ttl(&self) -> Duration {
        self.scheme.dedup_ttl
    }

    fn json_body(&self) -> bool {
        !self.scheme.config.any_body
    }
}
