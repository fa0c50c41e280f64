//! Secrets and signature checks: a keyring of pre-keyed HMAC-SHA256 states, grouped by tenant,
//! tried in constant time against every signature the sender offered.
//!
//! A [`Keyring`] holds the currently valid secrets of one or more **tenants** (one Ayrshare user
//! profile, one Zernio account, one customer of a Standard Webhooks sender), each tenant's
//! current secret first. Each secret is turned into a keyed HMAC state once, at construction; a
//! request clones that state instead of re-keying. The raw secret is zeroized as soon as it is
//! keyed, and the keyed states are zeroized on drop. `Debug` prints how many tenants and keys
//! there are, never a key.
//!
//! The single-tenant constructors ([`Keyring::new`], [`Keyring::from_owned`]) make one unnamed
//! tenant: a delivery it verifies has no [`Tenant`]. [`Keyring::builder`] names tenants, so the
//! tenant whose secret verified a delivery is known ([`Verifier::matched`]), becomes part of the
//! delivery's dedup key and of its [`Delivery`](crate::Delivery), and a body that names another
//! tenant is refused. A provider verifies with [`Secrets`](crate::secrets::Secrets) made from a
//! keyring, a keyring rotated at runtime, or your own per-tenant source; see
//! [`secrets`](crate::secrets) for how a delivery's tenant is chosen, and why a request never
//! costs more than [`MAX_KEYS_PER_TENANT`] (or, unhinted, [`MAX_KEYS_PER_REQUEST`]) HMACs.
//!
//! ```
//! use hookgate::keyring::{Keyring, Tag};
//!
//! let keyring = Keyring::new(["current-secret", "previous-secret"])?;
//! let body = br#"{"id":"1","event":"webhook.test"}"#;
//!
//! // What the sender computes with the previous secret, still valid during a rotation:
//! let tag = Keyring::new(["previous-secret"])?.sign(&[], body);
//! let offered = Tag::from_hex(&tag.to_hex()).unwrap();
//!
//! let mut verifier = keyring.verifier(&[]);
//! verifier.update(body);
//! assert_eq!(verifier.matches(&[offered]), Some(1)); // key #1, the previous secret
//!
//! // Two tenants: each one's keys are tried only when the tenant is named.
//! let tenants = Keyring::builder()
//!     .tenant("profile-a", ["a-current", "a-previous"])
//!     .tenant("profile-b", ["b-current"])
//!     .build()?;
//! let tag = Keyring::new(["b-current"])?.sign(&[], body);
//! let mut verifier = tenants.tenant_verifier("profile-b", &[]).unwrap();
//! verifier.update(body);
//! let matched = verifier.matched(&[tag]).unwrap();
//! assert_eq!(matched.tenant().map(|t| t.as_str()), Some("profile-b"));
//! # Ok::<(), hookgate::keyring::KeyringError>(())
//! ```

use std::{borrow::Borrow, collections::HashMap, fmt, sync::Arc};

use base64::Engine as _;
use hmac::{
    EagerHash, KeyInit,
    block_api::HmacCore,
    digest::{
        Output,
        block_api::{Buffer, FixedOutputCore, UpdateCore},
    },
};
use sha1::Sha1;
use sha2::{Sha256, Sha512};
use smallvec::SmallVec;
use subtle::{Choice, ConstantTimeEq};
use zeroize::{Zeroize as _, Zeroizing};

/// HMAC-SHA256 at the block level (the `hmac` crate's own core): a keyed state can be
/// finalized in place, where the buffered `Hmac` type is consumed (moved) to finalize.
type HmacSha256 = HmacCore<Sha256>;

/// The most secrets one tenant may hold (the current one and a few previous ones during
/// rotations): a delivery naming a tenant never costs more HMACs than this.
pub const MAX_KEYS_PER_TENANT: usize = 8;

/// The most keys tried for one delivery whose tenant is not named before verification (a
/// keyring used without a [`TenantFrom`](crate::secrets::TenantFrom) hint). A larger keyring
/// needs a hint: an unauthenticated request must never cost an HMAC per tenant.
pub const MAX_KEYS_PER_REQUEST: usize = 16;

/// The longest tenant id accepted (bytes), in a keyring or as a hint from a request.
pub const MAX_TENANT_LEN: usize = 128;

/// Where a keyring error happened: the provider, the variable (or list) the secrets came from,
/// and the tenant, as far as they are known. Displayed as a prefix of the error's message
/// (`zernio: ZERNIO_WEBHOOK_SECRET: `); never contains a secret.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorContext {
    /// The provider whose constructor refused the secrets.
    pub provider: Option<&'static str>,
    /// The environment variable, file or other source the secrets came from.
    pub variable: Option<Arc<str>>,
    /// The tenant whose secrets were refused.
    pub tenant: Option<Tenant>,
}

impl fmt::Display for ErrorContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(provider) = self.provider {
            write!(f, "{provider}: ")?;
        }
        if let Some(variable) = &self.variable {
            write!(f, "{variable}: ")?;
        }
        if let Some(tenant) = &self.tenant {
            write!(f, "tenant `{tenant}`: ")?;
        }
        Ok(())
    }
}

/// Refusals when building a [`Keyring`]. The message names the provider, the variable and the
/// tenant when known (see [`KeyringError::provider`], [`KeyringError::variable`]), and the
/// secret's position, never the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyringError {
    /// No secret was given. A keyring never means "verification skipped".
    #[error("{context}no secret given; a keyring needs at least one")]
    NoSecrets {
        /// Where it happened.
        context: ErrorContext,
    },
    /// The secret at this position (0 = current) is empty or only whitespace.
    #[error(
        "{context}secret #{index} is empty or only whitespace; it would accept forged deliveries"
    )]
    EmptySecret {
        /// Position of the empty secret in the list, 0 for the current one.
        index: usize,
        /// Where it happened.
        context: ErrorContext,
    },
    /// A secret in a provider-specific form (like `whsec_<base64>`) could not be decoded.
    #[error("{context}secret #{index} is not in the expected form: {reason}")]
    InvalidSecret {
        /// Position of the secret in the list.
        index: usize,
        /// What was wrong, without the secret itself.
        reason: &'static str,
        /// Where it happened.
        context: ErrorContext,
    },
    /// A tenant was given more than [`MAX_KEYS_PER_TENANT`] secrets.
    #[error("{context}{count} secrets; a tenant holds at most {MAX_KEYS_PER_TENANT}")]
    TooManySecrets {
        /// How many secrets were given.
        count: usize,
        /// Where it happened.
        context: ErrorContext,
    },
    /// A tenant id is empty, longer than [`MAX_TENANT_LEN`], or given twice.
    #[error("{context}tenant id is empty, longer than {MAX_TENANT_LEN} bytes, or repeated")]
    InvalidTenant {
        /// Where it happened (the tenant, when it is not empty).
        context: ErrorContext,
    },
}

impl KeyringError {
    fn context_mut(&mut self) -> &mut ErrorContext {
        match self {
            Self::NoSecrets { context }
            | Self::EmptySecret { context, .. }
            | Self::InvalidSecret { context, .. }
            | Self::TooManySecrets { context, .. }
            | Self::InvalidTenant { context } => context,
        }
    }

    fn context(&self) -> &ErrorContext {
        match self {
            Self::NoSecrets { context }
            | Self::EmptySecret { context, .. }
            | Self::InvalidSecret { context, .. }
            | Self::TooManySecrets { context, .. }
            | Self::InvalidTenant { context } => context,
        }
    }

    /// Names the provider in the error (the built-in providers' constructors do).
    #[must_use]
    pub fn for_provider(mut self, provider: &'static str) -> Self {
        self.context_mut().provider = Some(provider);
        self
    }

    /// Names where the secrets came from (an environment variable, a file), for the message:
    /// `zernio: ZERNIO_WEBHOOK_SECRET: secret #1 is empty or only whitespace; ...`.
    #[must_use]
    pub fn in_variable(mut self, variable: impl Into<Arc<str>>) -> Self {
        self.context_mut().variable = Some(variable.into());
        self
    }

    /// The provider named in the error, if any.
    pub fn provider(&self) -> Option<&'static str> {
        self.context().provider
    }

    /// The variable named in the error, if any.
    pub fn variable(&self) -> Option<&str> {
        self.context().variable.as_deref()
    }

    /// The tenant named in the error, if any.
    pub fn tenant(&self) -> Option<&Tenant> {
        self.context().tenant.as_ref()
    }

    /// The position of the refused secret in its list, when one secret was refused.
    pub fn index(&self) -> Option<usize> {
        match self {
            Self::EmptySecret { index, .. } | Self::InvalidSecret { index, .. } => Some(*index),
            _ => None,
        }
    }

    pub(crate) fn empty(index: usize) -> Self {
        Self::EmptySecret {
            index,
            context: ErrorContext::default(),
        }
    }

    #[cfg_attr(not(feature = "standard"), allow(dead_code))]
    pub(crate) fn invalid(index: usize, reason: &'static str) -> Self {
        Self::InvalidSecret {
            index,
            reason,
            context: ErrorContext::default(),
        }
    }

    fn no_secrets() -> Self {
        Self::NoSecrets {
            context: ErrorContext::default(),
        }
    }

    fn with_tenant(mut self, tenant: &Tenant) -> Self {
        self.context_mut().tenant = Some(tenant.clone());
        self
    }
}

/// The id of a tenant: whoever owns a set of secrets (an Ayrshare user profile's `refId`, a
/// Zernio account, a customer). Not secret: it appears in logs and in
/// [`Delivery::tenant`](crate::Delivery::tenant). Cheap to clone.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tenant(Arc<str>);

impl Tenant {
    /// A tenant id: 1 to [`MAX_TENANT_LEN`] bytes.
    pub fn new(id: impl Into<Arc<str>>) -> Result<Self, KeyringError> {
        let id: Arc<str> = id.into();
        if id.is_empty() || id.len() > MAX_TENANT_LEN {
            return Err(KeyringError::InvalidTenant {
                context: ErrorContext::default(),
            });
        }
        Ok(Self(id))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for Tenant {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Tenant {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Tenant {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for Tenant {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<Tenant> for str {
    fn eq(&self, other: &Tenant) -> bool {
        self == &*other.0
    }
}

impl PartialEq<&str> for Tenant {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl fmt::Display for Tenant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Tenant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tenant({:?})", &*self.0)
    }
}

/// The label a key's namespace fingerprint is computed over (see [`Match::namespace`]).
const NAMESPACE_LABEL: &[u8] = b"hookgate dedup namespace v1";

/// How a keyring's keys check a signature.
///
/// HMAC-SHA256 is the default (Zernio, Ayrshare, Standard Webhooks, most senders); HMAC-SHA1
/// (Twilio, older GitHub) and HMAC-SHA512 are keyed the same way, from the shared secret.
/// Ed25519 (Discord, Standard Webhooks `v1a`) verifies with the sender's **public** key: the
/// keyring holds 32-byte public keys, and cannot sign. In a configuration file the names are
/// `hmac-sha256`, `hmac-sha1`, `hmac-sha512` and `ed25519`.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Deserialize, serde::Serialize,
)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Algorithm {
    /// HMAC with SHA-256 (32-byte tags).
    #[default]
    HmacSha256,
    /// HMAC with SHA-1 (20-byte tags). SHA-1 is broken for collisions, not as an HMAC: kept
    /// for the senders that still sign this way.
    HmacSha1,
    /// HMAC with SHA-512 (64-byte tags).
    HmacSha512,
    /// Ed25519 signatures (64 bytes) under the sender's public keys (feature `ed25519`,
    /// `ed25519-dalek`'s streaming verifier: the body is hashed as it arrives, never copied).
    #[cfg(feature = "ed25519")]
    Ed25519,
}

impl Algorithm {
    /// The length in bytes of one tag (signature) of this algorithm.
    pub const fn tag_len(self) -> usize {
        match self {
            Self::HmacSha256 => 32,
            Self::HmacSha1 => 20,
            Self::HmacSha512 => 64,
            #[cfg(feature = "ed25519")]
            Self::Ed25519 => 64,
        }
    }

    /// Whether the keys are shared secrets (an HMAC), which can also sign.
    pub const fn is_hmac(self) -> bool {
        match self {
            Self::HmacSha256 | Self::HmacSha1 | Self::HmacSha512 => true,
            #[cfg(feature = "ed25519")]
            Self::Ed25519 => false,
        }
    }
}

/// One tenant's keys: `keys[start..end]` of the keyring.
struct TenantKeys {
    tenant: Option<Tenant>,
    start: usize,
    end: usize,
}

/// The keyed states of one algorithm (built from a [`KeyList`]).
enum KeySet {
    Sha256(Box<[HmacSha256]>),
    Sha1(Box<[HmacCore<Sha1>]>),
    Sha512(Box<[HmacCore<Sha512>]>),
    #[cfg(feature = "ed25519")]
    Ed25519(Box<[ed25519_dalek::VerifyingKey]>),
}

impl KeySet {
    fn len(&self) -> usize {
        match self {
            Self::Sha256(keys) => keys.len(),
            Self::Sha1(keys) => keys.len(),
            Self::Sha512(keys) => keys.len(),
            #[cfg(feature = "ed25519")]
            Self::Ed25519(keys) => keys.len(),
        }
    }

    fn algorithm(&self) -> Algorithm {
        match self {
            Self::Sha256(_) => Algorithm::HmacSha256,
            Self::Sha1(_) => Algorithm::HmacSha1,
            Self::Sha512(_) => Algorithm::HmacSha512,
            #[cfg(feature = "ed25519")]
            Self::Ed25519(_) => Algorithm::Ed25519,
        }
    }

    /// Key `i`'s namespace fingerprint: the first 16 bytes of its MAC of [`NAMESPACE_LABEL`]
    /// (of SHA-256 over the label and the key, for a public key).
    fn fingerprint(&self, i: usize) -> [u8; 16] {
        let tag = match self {
            Self::Sha256(keys) => Mac::new(&keys[i]).tag_of(&[NAMESPACE_LABEL]),
            Self::Sha1(keys) => Mac::new(&keys[i]).tag_of(&[NAMESPACE_LABEL]),
            Self::Sha512(keys) => Mac::new(&keys[i]).tag_of(&[NAMESPACE_LABEL]),
            #[cfg(feature = "ed25519")]
            Self::Ed25519(keys) => {
                use sha2::Digest as _;
                let digest = Sha256::new()
                    .chain_update(NAMESPACE_LABEL)
                    .chain_update(keys[i].as_bytes())
                    .finalize();
                Tag::from_slice(&digest).expect("32 bytes")
            }
        };
        let mut short = [0u8; 16];
        short.copy_from_slice(&tag.as_bytes()[..16]);
        short
    }

    /// The tag of `parts` (concatenated) under HMAC key `i`; `None` for public keys.
    fn sign(&self, i: usize, parts: &[&[u8]]) -> Option<Tag> {
        match self {
            Self::Sha256(keys) => Some(Mac::new(&keys[i]).tag_of(parts)),
            Self::Sha1(keys) => Some(Mac::new(&keys[i]).tag_of(parts)),
            Self::Sha512(keys) => Some(Mac::new(&keys[i]).tag_of(parts)),
            #[cfg(feature = "ed25519")]
            Self::Ed25519(_) => None,
        }
    }
}

/// Keys being collected, before they are frozen into a [`KeySet`].
enum KeyList {
    Sha256(Vec<HmacSha256>),
    Sha1(Vec<HmacCore<Sha1>>),
    Sha512(Vec<HmacCore<Sha512>>),
    #[cfg(feature = "ed25519")]
    Ed25519(Vec<ed25519_dalek::VerifyingKey>),
}

impl KeyList {
    fn new(algorithm: Algorithm) -> Self {
        match algorithm {
            Algorithm::HmacSha256 => Self::Sha256(Vec::new()),
            Algorithm::HmacSha1 => Self::Sha1(Vec::new()),
            Algorithm::HmacSha512 => Self::Sha512(Vec::new()),
            #[cfg(feature = "ed25519")]
            Algorithm::Ed25519 => Self::Ed25519(Vec::new()),
        }
    }

    fn len(&self) -> usize {
        match self {
            Self::Sha256(keys) => keys.len(),
            Self::Sha1(keys) => keys.len(),
            Self::Sha512(keys) => keys.len(),
            #[cfg(feature = "ed25519")]
            Self::Ed25519(keys) => keys.len(),
        }
    }

    /// Keys `secret` (HMAC accepts keys of any length); refuses a public key that is not 32
    /// bytes, not a curve point, or of small order (a weak key verifies forged signatures).
    fn push(&mut self, secret: &[u8]) -> Result<(), &'static str> {
        const ANY: &str = "HMAC takes keys of any length";
        match self {
            Self::Sha256(keys) => keys.push(HmacSha256::new_from_slice(secret).expect(ANY)),
            Self::Sha1(keys) => keys.push(HmacCore::new_from_slice(secret).expect(ANY)),
            Self::Sha512(keys) => keys.push(HmacCore::new_from_slice(secret).expect(ANY)),
            #[cfg(feature = "ed25519")]
            Self::Ed25519(keys) => {
                let bytes: &[u8; 32] = secret
                    .try_into()
                    .map_err(|_| "an Ed25519 public key is 32 bytes")?;
                let key = ed25519_dalek::VerifyingKey::from_bytes(bytes)
                    .map_err(|_| "not an Ed25519 public key")?;
                if key.is_weak() {
                    return Err("a weak (small-order) Ed25519 public key");
                }
                keys.push(key);
            }
        }
        Ok(())
    }

    fn truncate(&mut self, len: usize) {
        match self {
            Self::Sha256(keys) => keys.truncate(len),
            Self::Sha1(keys) => keys.truncate(len),
            Self::Sha512(keys) => keys.truncate(len),
            #[cfg(feature = "ed25519")]
            Self::Ed25519(keys) => keys.truncate(len),
        }
    }

    fn freeze(self) -> KeySet {
        match self {
            Self::Sha256(keys) => KeySet::Sha256(keys.into()),
            Self::Sha1(keys) => KeySet::Sha1(keys.into()),
            Self::Sha512(keys) => KeySet::Sha512(keys.into()),
            #[cfg(feature = "ed25519")]
            Self::Ed25519(keys) => KeySet::Ed25519(keys.into()),
        }
    }
}

struct Keys {
    keys: KeySet,
    /// Per key: HMAC(secret, NAMESPACE_LABEL), first 16 bytes. One-way: says nothing about the
    /// secret, and is never printed.
    fingerprints: Box<[[u8; 16]]>,
    /// In key order; contiguous ranges.
    tenants: Box<[TenantKeys]>,
    /// Tenant id to its entry, for keyrings of many tenants (a lookup per delivery).
    index: Option<HashMap<Tenant, usize>>,
}

/// From this many tenants on, a keyring indexes them in a hash map.
const INDEX_FROM: usize = 8;

impl Keys {
    /// The tenant entry holding key `position`.
    fn tenant_of(&self, position: usize) -> &TenantKeys {
        let i = self.tenants.partition_point(|t| t.end <= position);
        &self.tenants[i]
    }
}

/// The valid secrets of one provider, grouped by tenant, each tenant's current secret first,
/// pre-keyed for their [`Algorithm`] (HMAC-SHA256 unless told otherwise).
///
/// Cheap to clone (the keyed states are shared). See the [module docs](self) for an example.
#[derive(Clone)]
pub struct Keyring {
    inner: Arc<Keys>,
}

/// Checks one list of secrets and keys them.
fn key_secrets<I, K>(secrets: I, out: &mut KeyList) -> Result<usize, KeyringError>
where
    I: IntoIterator<Item = K>,
    K: AsRef<[u8]>,
{
    let mut count = 0;
    for (index, secret) in secrets.into_iter().enumerate() {
        let secret = secret.as_ref();
        // A whitespace-only secret is a mistake (an env var set to " ", a stray newline): as
        // weak as an empty one.
        if secret.trim_ascii().is_empty() {
            return Err(KeyringError::empty(index));
        }
        count += 1;
        if count > MAX_KEYS_PER_TENANT {
            continue; // counted, refused below
        }
        out.push(secret)
            .map_err(|reason| KeyringError::invalid(index, reason))?;
    }
    if count == 0 {
        return Err(KeyringError::no_secrets());
    }
    if count > MAX_KEYS_PER_TENANT {
        return Err(KeyringError::TooManySecrets {
            count,
            context: ErrorContext::default(),
        });
    }
    Ok(count)
}

impl Keyring {
    /// Builds an HMAC-SHA256 keyring of one unnamed tenant from secrets given as bytes (a `&str`
    /// is its UTF-8 bytes), current first.
    ///
    /// Refuses an empty list, any empty or whitespace-only secret, and more than
    /// [`MAX_KEYS_PER_TENANT`] secrets. List several secrets for the rotation of **one**
    /// sender's secret; for several senders (Ayrshare profiles, customers), name them with
    /// [`Keyring::builder`], so that one's secret never verifies another's deliveries.
    pub fn new<I, K>(secrets: I) -> Result<Self, KeyringError>
    where
        I: IntoIterator<Item = K>,
        K: AsRef<[u8]>,
    {
        Self::with_algorithm(Algorithm::HmacSha256, secrets)
    }

    /// Like [`Keyring::new`], for another [`Algorithm`]: HMAC secrets as bytes, or 32-byte
    /// Ed25519 public keys (decoded: see [`SecretFormat`](crate::generic::SecretFormat) for
    /// hex and base64 forms).
    pub fn with_algorithm<I, K>(algorithm: Algorithm, secrets: I) -> Result<Self, KeyringError>
    where
        I: IntoIterator<Item = K>,
        K: AsRef<[u8]>,
    {
        let mut keys = KeyList::new(algorithm);
        let count = key_secrets(secrets, &mut keys)?;
        Ok(Self::from_parts(
            keys,
            vec![TenantKeys {
                tenant: None,
                start: 0,
                end: count,
            }],
        ))
    }

    /// Builds a keyring of one unnamed tenant from owned secrets, zeroizing each one once it
    /// is keyed.
    pub fn from_owned<I>(secrets: I) -> Result<Self, KeyringError>
    where
        I: IntoIterator<Item = Vec<u8>>,
    {
        let secrets: Vec<Zeroizing<Vec<u8>>> = secrets.into_iter().map(Zeroizing::new).collect();
        Self::new(secrets.iter().map(|s| s.as_slice()))
    }

    /// A keyring of named tenants: `Keyring::builder().tenant("a", [..]).tenant("b", [..]).build()`.
    ///
    /// Name each tenant as its deliveries name it, where they do: for Ayrshare, the User
    /// Profile's `refId` (a body naming another tenant than the one whose secret verified it is
    /// refused).
    pub fn builder() -> KeyringBuilder {
        KeyringBuilder::default()
    }

    fn from_parts(keys: KeyList, tenants: Vec<TenantKeys>) -> Self {
        let keys = keys.freeze();
        let fingerprints = (0..keys.len()).map(|i| keys.fingerprint(i)).collect();
        let index = (tenants.len() >= INDEX_FROM).then(|| {
            tenants
                .iter()
                .enumerate()
                .filter_map(|(i, t)| Some((t.tenant.clone()?, i)))
                .collect()
        });
        Self {
            inner: Arc::new(Keys {
                keys,
                fingerprints,
                tenants: tenants.into(),
                index,
            }),
        }
    }

    /// The same keys as one tenant named `tenant` (a [`SecretSource`](crate::secrets::SecretSource)'s
    /// keyring, named by its cache).
    pub(crate) fn for_tenant(&self, tenant: Tenant) -> Self {
        let keys = &self.inner;
        let set = match &keys.keys {
            KeySet::Sha256(k) => KeySet::Sha256(k.clone()),
            KeySet::Sha1(k) => KeySet::Sha1(k.clone()),
            KeySet::Sha512(k) => KeySet::Sha512(k.clone()),
            #[cfg(feature = "ed25519")]
            KeySet::Ed25519(k) => KeySet::Ed25519(k.clone()),
        };
        Self {
            inner: Arc::new(Keys {
                keys: set,
                fingerprints: keys.fingerprints.clone(),
                tenants: vec![TenantKeys {
                    tenant: Some(tenant),
                    start: 0,
                    end: keys.keys.len(),
                }]
                .into(),
                index: None,
            }),
        }
    }

    /// The algorithm the keys verify with.
    pub fn algorithm(&self) -> Algorithm {
        self.inner.keys.algorithm()
    }

    /// Number of secrets in the keyring, all tenants together.
    pub fn len(&self) -> usize {
        self.inner.keys.len()
    }

    /// Always false: a keyring holds at least one secret.
    pub fn is_empty(&self) -> bool {
        self.inner.keys.len() == 0
    }

    /// The named tenants, in the order they were added (empty for a single-tenant keyring).
    pub fn tenants(&self) -> impl Iterator<Item = &Tenant> {
        self.inner.tenants.iter().filter_map(|t| t.tenant.as_ref())
    }

    /// Whether the keyring has keys for `tenant`.
    pub fn has_tenant(&self, tenant: &str) -> bool {
        self.find(tenant).is_some()
    }

    /// The only tenant of a keyring of one named tenant.
    pub(crate) fn sole_tenant(&self) -> Option<&Tenant> {
        match &*self.inner.tenants {
            [only] => only.tenant.as_ref(),
            _ => None,
        }
    }

    fn find(&self, tenant: &str) -> Option<&TenantKeys> {
        match &self.inner.index {
            Some(index) => index.get(tenant).map(|&i| &self.inner.tenants[i]),
            None => self
                .inner
                .tenants
                .iter()
                .find(|t| t.tenant.as_deref() == Some(tenant)),
        }
    }

    /// The positions of `tenant`'s keys.
    pub(crate) fn tenant_range(&self, tenant: &str) -> Option<(usize, usize)> {
        self.find(tenant).map(|t| (t.start, t.end))
    }

    /// Starts checking one delivery against **every** key of the keyring: `prefix` is whatever
    /// the provider signs before the body (empty for a provider that signs the body alone).
    /// Feed the body with [`Verifier::update`] as it arrives.
    ///
    /// An Ed25519 keyring needs the offered signatures from the start: use
    /// [`Keyring::verifier_for`] (this one matches nothing there).
    #[inline]
    pub fn verifier(&self, prefix: &[u8]) -> Verifier<'_> {
        self.verifier_over(0, self.inner.keys.len(), prefix, &[])
    }

    /// Like [`Keyring::verifier`], knowing the offered tags from the start, as every
    /// [`Algorithm`] allows (an Ed25519 signature's first half seeds the hash of the message).
    #[inline]
    pub fn verifier_for(&self, prefix: &[u8], offered: &[Tag]) -> Verifier<'_> {
        self.verifier_over(0, self.inner.keys.len(), prefix, offered)
    }

    /// Starts checking one delivery against the keys of `tenant` only (at most
    /// [`MAX_KEYS_PER_TENANT`] HMACs); `None` when the keyring has no such tenant.
    pub fn tenant_verifier(&self, tenant: &str, prefix: &[u8]) -> Option<Verifier<'_>> {
        let entry = self.find(tenant)?;
        Some(self.verifier_over(entry.start, entry.end, prefix, &[]))
    }

    #[inline]
    pub(crate) fn verifier_over(
        &self,
        start: usize,
        end: usize,
        prefix: &[u8],
        offered: &[Tag],
    ) -> Verifier<'_> {
        let macs = match &self.inner.keys {
            KeySet::Sha256(keys) => {
                let keys = &keys[start..end];
                let (first, rest) = keys.split_first().expect("a tenant is never empty");
                Macs::Sha256 {
                    first: Mac::new(first),
                    rest: if rest.is_empty() {
                        Vec::new()
                    } else {
                        rest.iter().map(Mac::new).collect()
                    },
                }
            }
            KeySet::Sha1(keys) => Macs::Sha1(keys[start..end].iter().map(Mac::new).collect()),
            KeySet::Sha512(keys) => Macs::Sha512(keys[start..end].iter().map(Mac::new).collect()),
            #[cfg(feature = "ed25519")]
            KeySet::Ed25519(keys) => {
                let mut streams = Vec::new();
                'keys: for (i, key) in keys[start..end].iter().enumerate() {
                    for tag in offered {
                        if streams.len() == MAX_ED25519_STREAMS {
                            break 'keys;
                        }
                        let Ok(bytes) = <&[u8; 64]>::try_from(tag.as_bytes()) else {
                            continue;
                        };
                        let signature = ed25519_dalek::Signature::from_bytes(bytes);
                        if let Ok(stream) = key.verify_stream(&signature) {
                            streams.push((i, stream));
                        }
                    }
                }
                Macs::Ed25519(streams)
            }
        };
        #[cfg(not(feature = "ed25519"))]
        let _ = offered;
        let mut verifier = Verifier {
            keys: &self.inner,
            start,
            macs,
        };
        if !prefix.is_empty() {
            verifier.update(prefix);
        }
        verifier
    }

    /// Signs `prefix` followed by `body` with the current (first) secret of the first tenant.
    ///
    /// For tests and senders; a receiver only needs [`Keyring::verifier`].
    ///
    /// # Panics
    ///
    /// For an Ed25519 keyring: public keys cannot sign ([`Keyring::try_sign`] answers `None`).
    pub fn sign(&self, prefix: &[u8], body: &[u8]) -> Tag {
        self.try_sign(&[prefix, body])
            .expect("an Ed25519 keyring holds public keys: it cannot sign")
    }

    /// Signs the concatenation of `parts` with the current (first) secret of the first tenant;
    /// `None` for a keyring of public keys.
    pub fn try_sign(&self, parts: &[&[u8]]) -> Option<Tag> {
        self.inner.keys.sign(0, parts)
    }

    /// The MAC of `parts` under the key at `position` (`None` for public keys).
    pub(crate) fn sign_at(&self, position: usize, parts: &[&[u8]]) -> Option<Tag> {
        (position < self.len()).then(|| self.inner.keys.sign(position, parts))?
    }

    /// Signs `prefix` followed by `body` with the current secret of `tenant` (`None` when the
    /// keyring has no such tenant, or holds public keys).
    pub fn sign_as(&self, tenant: &str, prefix: &[u8], body: &[u8]) -> Option<Tag> {
        let entry = self.find(tenant)?;
        self.inner.keys.sign(entry.start, &[prefix, body])
    }
}

/// The most Ed25519 (key, signature) pairs one delivery checks: each hashes the whole body.
pub const MAX_ED25519_STREAMS: usize = MAX_KEYS_PER_REQUEST;

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("algorithm", &self.inner.keys.algorithm())
            .field("tenants", &self.inner.tenants.len())
            .field("keys", &self.inner.keys.len())
            .finish_non_exhaustive()
    }
}

/// Builds a [`Keyring`] of named tenants. See [`Keyring::builder`].
pub struct KeyringBuilder {
    keys: KeyList,
    tenants: Vec<TenantKeys>,
    error: Option<KeyringError>,
}

impl Default for KeyringBuilder {
    fn default() -> Self {
        Self {
            keys: KeyList::new(Algorithm::HmacSha256),
            tenants: Vec::new(),
            error: None,
        }
    }
}

impl KeyringBuilder {
    /// The algorithm of every key (default HMAC-SHA256). Set it before the first tenant: the
    /// tenants already added keep theirs, so a later call is refused by
    /// [`KeyringBuilder::build`].
    #[must_use]
    pub fn algorithm(mut self, algorithm: Algorithm) -> Self {
        if self.tenants.is_empty() {
            self.keys = KeyList::new(algorithm);
        } else if self.error.is_none() && self.keys.len() > 0 {
            self.error = Some(KeyringError::invalid(
                0,
                "the algorithm is set before the first tenant",
            ));
        }
        self
    }

    /// Adds `tenant` with its secrets, current first (the rules of [`Keyring::new`]). The
    /// first error is kept and returned by [`KeyringBuilder::build`].
    #[must_use]
    pub fn tenant<I, K>(mut self, tenant: impl Into<Arc<str>>, secrets: I) -> Self
    where
        I: IntoIterator<Item = K>,
        K: AsRef<[u8]>,
    {
        if self.error.is_some() {
            return self;
        }
        let tenant = match Tenant::new(tenant) {
            Ok(tenant) => tenant,
            Err(error) => {
                self.error = Some(error);
                return self;
            }
        };
        if self
            .tenants
            .iter()
            .any(|t| t.tenant.as_ref() == Some(&tenant))
        {
            self.error = Some(
                KeyringError::InvalidTenant {
                    context: ErrorContext::default(),
                }
                .with_tenant(&tenant),
            );
            return self;
        }
        let start = self.keys.len();
        match key_secrets(secrets, &mut self.keys) {
            Ok(count) => self.tenants.push(TenantKeys {
                tenant: Some(tenant),
                start,
                end: start + count,
            }),
            Err(error) => {
                self.keys.truncate(start);
                self.error = Some(error.with_tenant(&tenant));
            }
        }
        self
    }

    /// The keyring; refuses a builder without tenants and reports the first refused tenant.
    pub fn build(self) -> Result<Keyring, KeyringError> {
        if let Some(error) = self.error {
            return Err(error);
        }
        if self.tenants.is_empty() {
            return Err(KeyringError::no_secrets());
        }
        Ok(Keyring::from_parts(self.keys, self.tenants))
    }
}

impl fmt::Debug for KeyringBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyringBuilder")
            .field("tenants", &self.tenants.len())
            .field("keys", &self.keys.len())
            .finish_non_exhaustive()
    }
}

/// One secret's HMAC in progress: the keyed state and the bytes of a partial block.
struct Mac<D: EagerHash> {
    core: HmacCore<D>,
    buffer: Buffer<HmacCore<D>>,
}

impl<D: EagerHash> Mac<D> {
    #[inline]
    fn new(key: &HmacCore<D>) -> Self {
        Self {
            core: key.clone(),
            buffer: Buffer::<HmacCore<D>>::default(),
        }
    }

    #[inline]
    fn update(&mut self, data: &[u8]) {
        let core = &mut self.core;
        self.buffer
            .digest_blocks(data, |blocks| core.update_blocks(blocks));
    }

    /// The tag, computed in place (once: the state is spent afterwards).
    #[inline]
    fn finalize_tag(&mut self) -> Tag {
        let mut out = Output::<HmacCore<D>>::default();
        self.core.finalize_fixed_core(&mut self.buffer, &mut out);
        let tag = Tag::from_slice(&out).expect("HMAC tags are at most 64 bytes");
        out.as_mut_slice().zeroize();
        tag
    }

    /// The tag of `parts`, concatenated.
    fn tag_of(mut self, parts: &[&[u8]]) -> Tag {
        for part in parts {
            self.update(part);
        }
        self.finalize_tag()
    }
}

impl Mac<Sha256> {
    /// The SHA-256 tag, computed in place into a wiped buffer (the hot path: no length).
    #[inline]
    fn finalize(&mut self) -> Zeroizing<[u8; 32]> {
        let mut out = Zeroizing::new([0u8; 32]);
        self.core
            .finalize_fixed_core(&mut self.buffer, (&mut *out).into());
        out
    }
}

/// The keyed states of one check, by algorithm.
enum Macs {
    // The current secret inline, the others (during a rotation) on the heap: no allocation
    // and nothing large to move for the usual single secret.
    Sha256 {
        first: Mac<Sha256>,
        rest: Vec<Mac<Sha256>>,
    },
    Sha1(Vec<Mac<Sha1>>),
    Sha512(Vec<Mac<Sha512>>),
    /// (key position from `start`, stream) per (key, offered signature) pair.
    #[cfg(feature = "ed25519")]
    Ed25519(Vec<(usize, ed25519_dalek::StreamVerifier)>),
}

/// A signature check in progress: one keyed state per secret tried (per secret and offered
/// signature for Ed25519), fed as the body arrives.
pub struct Verifier<'k> {
    keys: &'k Keys,
    /// Position of the first key tried in the keyring.
    start: usize,
    macs: Macs,
}

/// Which key verified a delivery: its tenant, its position in the tenant's list, and the
/// fingerprint the delivery's default dedup namespace comes from.
#[derive(Clone, Copy)]
pub struct Match<'k> {
    tenant: Option<&'k Tenant>,
    index: usize,
    namespace: &'k [u8; 16],
    /// Position of the verifying key in the keyring.
    position: usize,
}

impl<'k> Match<'k> {
    /// The tenant whose secret verified the delivery (`None` for a single-tenant keyring).
    pub fn tenant(&self) -> Option<&'k Tenant> {
        self.tenant
    }

    /// The position of the verifying secret in its tenant's list (0 = current).
    pub fn index(&self) -> usize {
        self.index
    }

    /// The position of the verifying key in the keyring.
    pub(crate) fn position(&self) -> usize {
        self.position
    }

    /// A one-way fingerprint of the **oldest** of the tenant's secrets that verified the
    /// delivery (the last one in the tenant's list): the default dedup namespace of the route.
    ///
    /// Why this key: two senders with different secrets never share a namespace, so they can
    /// never suppress each other's deliveries even when they share a dedup store; replicas with
    /// the same secrets compute the same namespace; and a sender that signs with two secrets
    /// during a rotation (Ayrshare, Standard Webhooks) keeps the older secret's namespace when
    /// the receiver adds the new secret in front, so a retry straddling that change is still a
    /// duplicate. Set an explicit namespace (`.namespace("billing")` on the service builder), which
    /// also survives removing the old secret.
    pub fn namespace(&self) -> &'k [u8; 16] {
        self.namespace
    }
}

impl fmt::Debug for Match<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Match")
            .field("tenant", &self.tenant)
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

impl<'k> Verifier<'k> {
    /// Feeds the next chunk of the signed content.
    #[inline]
    pub fn update(&mut self, chunk: &[u8]) {
        match &mut self.macs {
            Macs::Sha256 { first, rest } => {
                first.update(chunk);
                for mac in rest {
                    mac.update(chunk);
                }
            }
            Macs::Sha1(macs) => macs.iter_mut().for_each(|mac| mac.update(chunk)),
            Macs::Sha512(macs) => macs.iter_mut().for_each(|mac| mac.update(chunk)),
            #[cfg(feature = "ed25519")]
            Macs::Ed25519(streams) => streams.iter_mut().for_each(|(_, s)| s.update(chunk)),
        }
    }

    /// How many keyed states this verifier runs (one HMAC per key; one hash per key and
    /// offered signature for Ed25519).
    pub fn len(&self) -> usize {
        match &self.macs {
            Macs::Sha256 { rest, .. } => 1 + rest.len(),
            Macs::Sha1(macs) => macs.len(),
            Macs::Sha512(macs) => macs.len(),
            #[cfg(feature = "ed25519")]
            Macs::Ed25519(streams) => streams.len(),
        }
    }

    /// Whether it runs none (an Ed25519 check offered no well-formed signature).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Finishes the check: the position (among the keys this verifier tries) of the first
    /// secret whose MAC equals any offered tag. [`Verifier::matched`] also tells the tenant.
    ///
    /// Every (secret, tag) pair is compared in constant time, and all pairs are compared
    /// whatever matched, so the time taken says nothing about which tag was close.
    #[inline]
    pub fn matches(self, offered: &[Tag]) -> Option<usize> {
        let start = self.start;
        self.matched(offered).map(|m| m.position - start)
    }

    /// Finishes the check: which tenant's secret (and which of its secrets) produced any
    /// offered tag, compared as [`Verifier::matches`] does. (For Ed25519 the signatures given
    /// to [`Keyring::verifier_for`] are the ones checked, and `offered` is not read.)
    #[inline]
    pub fn matched(mut self, offered: &[Tag]) -> Option<Match<'k>> {
        let mut first = None;
        let mut last = 0;
        let start = self.start;
        let mut see = |index: usize, hit: Choice| {
            if bool::from(hit) {
                if first.is_none() {
                    first = Some(start + index);
                }
                last = start + index;
            }
        };
        match &mut self.macs {
            Macs::Sha256 { first, rest } => {
                for (index, mac) in std::iter::once(first).chain(rest).enumerate() {
                    let expected = mac.finalize();
                    let mut hit = Choice::from(0);
                    for tag in offered {
                        hit |= tags_equal(&expected, tag);
                    }
                    see(index, hit);
                }
            }
            Macs::Sha1(macs) => macs_matched(macs, offered, &mut see),
            Macs::Sha512(macs) => macs_matched(macs, offered, &mut see),
            #[cfg(feature = "ed25519")]
            Macs::Ed25519(streams) => {
                for (index, stream) in std::mem::take(streams) {
                    // Public-key verification: nothing secret to compare in constant time.
                    let hit = stream.finalize_and_verify().is_ok();
                    see(index, Choice::from(u8::from(hit)));
                }
            }
        }
        let global = first?;
        let entry = self.keys.tenant_of(global);
        // The oldest matching key of the same tenant names the namespace.
        let oldest = if last < entry.end { last } else { global };
        Some(Match {
            tenant: entry.tenant.as_ref(),
            index: global - entry.start,
            namespace: &self.keys.fingerprints[oldest],
            position: global,
        })
    }
}

/// Finishes HMACs of any hash: every (key, tag) pair compared in constant time.
fn macs_matched<D: EagerHash>(
    macs: &mut [Mac<D>],
    offered: &[Tag],
    see: &mut impl FnMut(usize, Choice),
) {
    for (index, mac) in macs.iter_mut().enumerate() {
        let expected = mac.finalize_tag();
        let mut hit = Choice::from(0);
        for tag in offered {
            hit |= expected.as_bytes().ct_eq(tag.as_bytes());
        }
        see(index, hit);
    }
}

/// Constant-time equality of a SHA-256 tag and an offered tag: the XOR of each 64-bit word
/// pair, OR-ed together (no branch, no early exit), then one comparison with zero behind
/// `subtle`'s optimization barrier. A tag of another length never matches (lengths are public).
#[inline]
fn tags_equal(a: &[u8; 32], b: &Tag) -> Choice {
    let mut difference = 0u64;
    for (x, y) in a.chunks_exact(8).zip(b.bytes[..32].chunks_exact(8)) {
        let x = u64::from_ne_bytes(x.try_into().expect("8 bytes"));
        let y = u64::from_ne_bytes(y.try_into().expect("8 bytes"));
        difference |= x ^ y;
    }
    difference.ct_eq(&0) & Choice::from(u8::from(b.len == 32))
}

impl fmt::Debug for Verifier<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("keys", &self.len())
            .finish_non_exhaustive()
    }
}

/// The tags a sender offered for one delivery, held inline up to two (no allocation for the
/// usual one or two signatures).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Tags(SmallVec<[Tag; 2]>);

impl Tags {
    /// No tags yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an offered tag.
    pub fn push(&mut self, tag: Tag) {
        self.0.push(tag);
    }
}

impl std::ops::Deref for Tags {
    type Target = [Tag];

    fn deref(&self) -> &[Tag] {
        &self.0
    }
}

impl From<Tag> for Tags {
    #[inline]
    fn from(tag: Tag) -> Self {
        let mut tags = Self::new();
        tags.push(tag);
        tags
    }
}

impl FromIterator<Tag> for Tags {
    fn from_iter<I: IntoIterator<Item = Tag>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl fmt::Debug for Tags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tags({} redacted)", self.0.len())
    }
}

/// The longest tag: an HMAC-SHA512 tag or an Ed25519 signature.
pub const MAX_TAG_LEN: usize = 64;

/// A tag (a MAC or a signature) of 1 to [`MAX_TAG_LEN`] bytes, as offered by a sender or
/// computed by [`Keyring::sign`]: 32 bytes for HMAC-SHA256, 20 for HMAC-SHA1, 64 for
/// HMAC-SHA512 and Ed25519.
///
/// `Debug` does not print the bytes.
#[derive(Clone, Copy)]
pub struct Tag {
    len: u8,
    bytes: [u8; MAX_TAG_LEN],
}

impl PartialEq for Tag {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Tag {}

impl Tag {
    /// A tag of these bytes; `None` when empty or longer than [`MAX_TAG_LEN`].
    #[inline]
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        if bytes.is_empty() || bytes.len() > MAX_TAG_LEN {
            return None;
        }
        let mut tag = Self {
            len: bytes.len() as u8,
            bytes: [0; MAX_TAG_LEN],
        };
        tag.bytes[..bytes.len()].copy_from_slice(bytes);
        Some(tag)
    }

    /// The tag's bytes.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// Parses exactly 64 hexadecimal digits (a 32-byte tag), in either case, after trimming
    /// spaces and tabs. Nothing else: no `0x` prefix, no separators.
    #[inline]
    pub fn from_hex(text: impl AsRef<[u8]>) -> Option<Self> {
        Self::from_hex_len(text, 32)
    }

    /// Parses exactly `2 * len` hexadecimal digits, in either case, after trimming spaces and
    /// tabs; no `0x` prefix, no separators.
    #[inline]
    pub fn from_hex_len(text: impl AsRef<[u8]>, len: usize) -> Option<Self> {
        let text = text.as_ref().trim_ascii();
        // `const_hex` strips a `0x` prefix before decoding: refuse one here (it validates
        // every digit itself, and `2 * len` characters are exactly `len` bytes).
        if len == 0
            || len > MAX_TAG_LEN
            || text.len() != 2 * len
            || matches!(text, [b'0', b'x' | b'X', ..])
        {
            return None;
        }
        let mut tag = Self {
            len: len as u8,
            bytes: [0; MAX_TAG_LEN],
        };
        const_hex::decode_to_slice(text, &mut tag.bytes[..len]).ok()?;
        Some(tag)
    }

    /// Parses standard base64 (with padding) of 32 bytes, after trimming spaces and tabs.
    pub fn from_base64(text: impl AsRef<[u8]>) -> Option<Self> {
        Self::from_base64_len(text, 32)
    }

    /// Parses standard base64 (with padding) of exactly `len` bytes, after trimming spaces and
    /// tabs.
    pub fn from_base64_len(text: impl AsRef<[u8]>, len: usize) -> Option<Self> {
        let text = text.as_ref().trim_ascii();
        // Refuse any other length before decoding.
        if len == 0 || len > MAX_TAG_LEN || text.len() != len.div_ceil(3) * 4 {
            return None;
        }
        let mut out = [0u8; MAX_TAG_LEN + 2];
        let n = base64::engine::general_purpose::STANDARD
            .decode_slice(text, &mut out)
            .ok()?;
        if n != len {
            return None;
        }
        Self::from_slice(&out[..n])
    }

    /// Lowercase hexadecimal, as Zernio and Ayrshare send it.
    pub fn to_hex(&self) -> String {
        const_hex::encode(self.as_bytes())
    }

    /// Standard base64, as Standard Webhooks sends it.
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.as_bytes())
    }
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Tag([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keyed states (two hash cores per secret) and the block buffers wipe themselves
    /// on drop: this fails to compile if a dependency's `zeroize` feature goes missing.
    #[test]
    fn keyed_states_and_buffers_zeroize_on_drop() {
        fn wiped<T: zeroize::ZeroizeOnDrop>() {}
        wiped::<<Sha256 as hmac::EagerHash>::Core>();
        wiped::<Buffer<HmacSha256>>();
    }

    #[test]
    fn refuses_empty_secrets() {
        assert!(matches!(
            Keyring::new(Vec::<&str>::new()).unwrap_err(),
            KeyringError::NoSecrets { .. }
        ));
        assert_eq!(Keyring::new(["ok", ""]).unwrap_err().index(), Some(1));
    }

    // Issue 11: a whitespace-only secret was accepted.
    #[test]
    fn refuses_whitespace_only_secrets() {
        for blank in [" ", "\t", "\n", "  \r\n "] {
            let error = Keyring::new(["ok", blank]).unwrap_err();
            assert!(
                matches!(error, KeyringError::EmptySecret { index: 1, .. }),
                "{blank:?}: {error:?}"
            );
        }
        // Surrounding whitespace in a real secret is the user's business: kept as given.
        assert!(Keyring::new([" padded "]).is_ok());
    }

    // Issue 11: keyring errors did not name the provider or the variable.
    #[test]
    fn errors_name_provider_variable_and_tenant() {
        let error = Keyring::new(["ok", ""])
            .unwrap_err()
            .for_provider("zernio")
            .in_variable("ZERNIO_WEBHOOK_SECRET");
        assert_eq!(
            error.to_string(),
            "zernio: ZERNIO_WEBHOOK_SECRET: secret #1 is empty or only whitespace; \
             it would accept forged deliveries"
        );
        assert_eq!(
            (error.provider(), error.variable()),
            (Some("zernio"), Some("ZERNIO_WEBHOOK_SECRET"))
        );
        let error = Keyring::builder()
            .tenant("profile-a", ["a"])
            .tenant("profile-b", ["b", " "])
            .build()
            .unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("tenant `profile-b`: secret #1"),
            "{error}"
        );
        let error = Keyring::builder()
            .tenant("a", ["x"])
            .tenant("a", ["y"])
            .build()
            .unwrap_err();
        assert!(
            matches!(error, KeyringError::InvalidTenant { .. }),
            "{error}"
        );
        assert!(Keyring::builder().tenant("", ["x"]).build().is_err());
        assert!(Keyring::builder().build().is_err());
        let nine = ["s"; MAX_KEYS_PER_TENANT + 1];
        assert!(matches!(
            Keyring::new(nine).unwrap_err(),
            KeyringError::TooManySecrets { count: 9, .. }
        ));
    }

    #[test]
    fn tenants_own_their_keys() {
        let keyring = Keyring::builder()
            .tenant("a", ["a1", "a2"])
            .tenant("b", ["b1"])
            .build()
            .unwrap();
        assert_eq!(keyring.len(), 3);
        let names: Vec<&str> = keyring.tenants().map(Tenant::as_str).collect();
        assert_eq!(names, ["a", "b"]);
        let by_b = Keyring::new(["b1"]).unwrap().sign(b"", b"body");
        assert_eq!(keyring.sign_as("b", b"", b"body"), Some(by_b));
        let by_a2 = Keyring::new(["a2"]).unwrap().sign(b"", b"body");

        // Every key: the tenant that verified is reported.
        let mut v = keyring.verifier(b"");
        v.update(b"body");
        let m = v.matched(&[by_b]).unwrap();
        assert_eq!((m.tenant().unwrap().as_str(), m.index()), ("b", 0));
        let mut v = keyring.verifier(b"");
        v.update(b"body");
        assert_eq!(v.matches(&[by_b]), Some(2));

        // One tenant's keys: another tenant's signature does not verify.
        let mut v = keyring.tenant_verifier("a", b"").unwrap();
        assert_eq!(v.len(), 2);
        v.update(b"body");
        assert!(v.matched(&[by_b]).is_none());
        let mut v = keyring.tenant_verifier("a", b"").unwrap();
        v.update(b"body");
        let m = v.matched(&[by_a2]).unwrap();
        assert_eq!((m.tenant().unwrap().as_str(), m.index()), ("a", 1));
        assert!(keyring.tenant_verifier("c", b"").is_none());

        // A single-tenant keyring has no named tenant.
        let single = Keyring::new(["a1"]).unwrap();
        let mut v = single.verifier(b"");
        v.update(b"body");
        let tag = single.sign(b"", b"body");
        assert!(v.matched(&[tag]).unwrap().tenant().is_none());
    }

    #[test]
    fn namespace_is_the_oldest_matching_key_and_differs_between_secrets() {
        let body = b"body";
        let old = Keyring::new(["old"]).unwrap();
        let both = Keyring::new(["new", "old"]).unwrap();
        let other = Keyring::new(["other"]).unwrap();
        let tags = [
            Keyring::new(["new"]).unwrap().sign(b"", body),
            old.sign(b"", body),
        ];
        let namespace = |keyring: &Keyring, tags: &[Tag]| {
            let mut v = keyring.verifier(b"");
            v.update(body);
            *v.matched(tags).unwrap().namespace()
        };
        // Dual-signed: adding the new secret in front keeps the old namespace.
        assert_eq!(namespace(&old, &tags), namespace(&both, &tags));
        // Same secret, another keyring (a replica): same namespace.
        assert_eq!(
            namespace(&old, &tags),
            namespace(&Keyring::new(["old"]).unwrap(), &tags)
        );
        let tag = other.sign(b"", body);
        assert_ne!(namespace(&other, &[tag]), namespace(&old, &tags));
    }

    #[test]
    fn debug_never_prints_a_secret() {
        let keyring = Keyring::new(["super-secret-value"]).unwrap();
        let text = format!("{keyring:?} {:?}", keyring.verifier(b""));
        assert!(!text.contains("super-secret"), "{text}");
        let tenants = Keyring::builder()
            .tenant("a", ["super-secret-value"])
            .build()
            .unwrap();
        let text = format!("{tenants:?} {:?}", Keyring::builder());
        assert!(!text.contains("super-secret"), "{text}");
        let tag = keyring.sign(b"", b"body");
        assert!(!format!("{tag:?}").contains(&tag.to_hex()[..8]));
    }

    #[test]
    fn streaming_equals_one_shot_and_finds_the_matching_key() {
        let keyring = Keyring::new(["new", "old"]).unwrap();
        let old = Keyring::new(["old"]).unwrap().sign(b"p.", b"hello world");
        let mut v = keyring.verifier(b"p.");
        v.update(b"hello ");
        v.update(b"world");
        assert_eq!(
            v.matches(&[Tag::from_slice(&[0; 32]).unwrap(), old]),
            Some(1)
        );

        let mut v = keyring.verifier(b"p.");
        v.update(b"hello world!");
        assert_eq!(v.matches(&[old]), None);
    }

    #[test]
    fn word_wise_comparison_sees_every_byte() {
        let a = [7u8; 32];
        let tag = |bytes: &[u8]| Tag::from_slice(bytes).unwrap();
        assert!(bool::from(tags_equal(&a, &tag(&a))));
        // A shorter tag equal on its length never matches.
        assert!(!bool::from(tags_equal(&a, &tag(&a[..20]))));
        for i in 0..32 {
            let mut b = a;
            b[i] ^= 0x80;
            assert!(!bool::from(tags_equal(&a, &tag(&b))), "byte {i}");
        }
    }

    #[test]
    fn tag_parsing() {
        let tag = Keyring::new(["k"]).unwrap().sign(b"", b"x");
        assert_eq!(
            Tag::from_hex(tag.to_hex().to_uppercase().as_bytes()),
            Some(tag)
        );
        assert_eq!(
            Tag::from_hex(format!(" {} ", tag.to_hex()).as_bytes()),
            Some(tag)
        );
        assert_eq!(Tag::from_hex(&tag.to_hex().as_bytes()[..63]), None);
        // Issue 11: `0x` was accepted (const_hex strips it).
        assert_eq!(Tag::from_hex(format!("0x{}", tag.to_hex())), None);
        assert_eq!(Tag::from_hex(format!("0X{}", tag.to_hex())), None);
        assert_eq!(Tag::from_hex(format!("0x{}", &tag.to_hex()[2..])), None);
        assert_eq!(Tag::from_hex(format!("{}00", tag.to_hex())), None);
        assert_eq!(Tag::from_hex(format!("{} ", &tag.to_hex()[..63])), None);
        assert_eq!(Tag::from_hex(tag.to_hex().replace('a', "g")), None);
        assert_eq!(Tag::from_base64(tag.to_base64().as_bytes()), Some(tag));
        assert_eq!(Tag::from_base64(b"c2hvcnQ="), None);
    }
}
