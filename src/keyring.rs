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
    KeyInit,
    block_api::HmacCore,
    digest::block_api::{Buffer, FixedOutputCore, UpdateCore},
};
use sha2::Sha256;
use smallvec::SmallVec;
use subtle::{Choice, ConstantTimeEq};
use zeroize::Zeroizing;

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

/// One tenant's keys: `keys[start..end]` of the keyring.
struct TenantKeys {
    tenant: Option<Tenant>,
    start: usize,
    end: usize,
}

struct Keys {
    keys: Box<[HmacSha256]>,
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
/// pre-keyed for HMAC-SHA256.
///
/// Cheap to clone (the keyed states are shared). See the [module docs](self) for an example.
#[derive(Clone)]
pub struct Keyring {
    inner: Arc<Keys>,
}

/// Checks one list of secrets and keys them.
fn key_secrets<I, K>(secrets: I, out: &mut Vec<HmacSha256>) -> Result<usize, KeyringError>
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
        // HMAC accepts keys of any length.
        out.push(HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length"));
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
    /// Builds a keyring of one unnamed tenant from secrets given as bytes (a `&str` is its UTF-8
    /// bytes), current first.
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
        let mut keys = Vec::new();
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

    fn from_parts(keys: Vec<HmacSha256>, tenants: Vec<TenantKeys>) -> Self {
        let fingerprints = keys
            .iter()
            .map(|key| {
                let mut mac = Mac::new(key);
                mac.update(NAMESPACE_LABEL);
                let full = mac.finalize();
                let mut short = [0u8; 16];
                short.copy_from_slice(&full[..16]);
                short
            })
            .collect();
        let index = (tenants.len() >= INDEX_FROM).then(|| {
            tenants
                .iter()
                .enumerate()
                .filter_map(|(i, t)| Some((t.tenant.clone()?, i)))
                .collect()
        });
        Self {
            inner: Arc::new(Keys {
                keys: keys.into(),
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
        Self {
            inner: Arc::new(Keys {
                keys: keys.keys.clone(),
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

    /// Number of secrets in the keyring, all tenants together.
    pub fn len(&self) -> usize {
        self.inner.keys.len()
    }

    /// Always false: a keyring holds at least one secret.
    pub fn is_empty(&self) -> bool {
        self.inner.keys.is_empty()
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
    #[inline]
    pub fn verifier(&self, prefix: &[u8]) -> Verifier<'_> {
        self.verifier_over(0, self.inner.keys.len(), prefix)
    }

    /// Starts checking one delivery against the keys of `tenant` only (at most
    /// [`MAX_KEYS_PER_TENANT`] HMACs); `None` when the keyring has no such tenant.
    pub fn tenant_verifier(&self, tenant: &str, prefix: &[u8]) -> Option<Verifier<'_>> {
        let entry = self.find(tenant)?;
        Some(self.verifier_over(entry.start, entry.end, prefix))
    }

    #[inline]
    pub(crate) fn verifier_over(&self, start: usize, end: usize, prefix: &[u8]) -> Verifier<'_> {
        let keys = &self.inner.keys[start..end];
        let (first, rest) = keys.split_first().expect("a tenant is never empty");
        let mut verifier = Verifier {
            keys: &self.inner,
            start,
            first: Mac::new(first),
            rest: Vec::new(),
        };
        if !rest.is_empty() {
            verifier.rest = rest.iter().map(Mac::new).collect();
        }
        if !prefix.is_empty() {
            verifier.update(prefix);
        }
        verifier
    }

    /// Signs `prefix` followed by `body` with the current (first) secret of the first tenant.
    ///
    /// For tests and senders; a receiver only needs [`Keyring::verifier`].
    pub fn sign(&self, prefix: &[u8], body: &[u8]) -> Tag {
        Self::sign_with(&self.inner.keys[0], prefix, body)
    }

    /// Signs `prefix` followed by `body` with the current secret of `tenant`.
    pub fn sign_as(&self, tenant: &str, prefix: &[u8], body: &[u8]) -> Option<Tag> {
        let entry = self.find(tenant)?;
        Some(Self::sign_with(&self.inner.keys[entry.start], prefix, body))
    }

    fn sign_with(key: &HmacSha256, prefix: &[u8], body: &[u8]) -> Tag {
        let mut mac = Mac::new(key);
        mac.update(prefix);
        mac.update(body);
        Tag(*mac.finalize())
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("tenants", &self.inner.tenants.len())
            .field("keys", &self.inner.keys.len())
            .finish_non_exhaustive()
    }
}

/// Builds a [`Keyring`] of named tenants. See [`Keyring::builder`].
#[derive(Default)]
pub struct KeyringBuilder {
    keys: Vec<HmacSha256>,
    tenants: Vec<TenantKeys>,
    error: Option<KeyringError>,
}

impl KeyringBuilder {
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
struct Mac {
    core: HmacSha256,
    buffer: Buffer<HmacSha256>,
}

impl Mac {
    #[inline]
    fn new(key: &HmacSha256) -> Self {
        Self {
            core: key.clone(),
            buffer: Buffer::<HmacSha256>::default(),
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
    fn finalize(&mut self) -> Zeroizing<[u8; 32]> {
        let mut out = Zeroizing::new([0u8; 32]);
        self.core
            .finalize_fixed_core(&mut self.buffer, (&mut *out).into());
        out
    }
}

/// An HMAC-SHA256 check in progress: one keyed state per secret tried, fed as the body arrives.
pub struct Verifier<'k> {
    keys: &'k Keys,
    /// Position of the first key tried in the keyring.
    start: usize,
    // The current secret inline, the others (during a rotation) on the heap: no allocation
    // and nothing large to move for the usual single secret.
    first: Mac,
    rest: Vec<Mac>,
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
        self.first.update(chunk);
        for mac in &mut self.rest {
            mac.update(chunk);
        }
    }

    /// How many keys this verifier tries (one HMAC each).
    pub fn len(&self) -> usize {
        1 + self.rest.len()
    }

    /// Always false: a verifier tries at least one key.
    pub fn is_empty(&self) -> bool {
        false
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
    /// offered tag, compared as [`Verifier::matches`] does.
    #[inline]
    pub fn matched(mut self, offered: &[Tag]) -> Option<Match<'k>> {
        let mut first = None;
        let mut last = 0;
        let macs = std::iter::once(&mut self.first).chain(&mut self.rest);
        for (index, mac) in macs.enumerate() {
            let expected = mac.finalize();
            let mut hit = Choice::from(0);
            for tag in offered {
                hit |= tags_equal(&expected, &tag.0);
            }
            if bool::from(hit) {
                if first.is_none() {
                    first = Some(self.start + index);
                }
                last = self.start + index;
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

/// Constant-time equality of two tags: the XOR of each 64-bit word pair, OR-ed together
/// (no branch, no early exit), then one comparison with zero behind `subtle`'s optimization
/// barrier.
fn tags_equal(a: &[u8; 32], b: &[u8; 32]) -> Choice {
    let mut difference = 0u64;
    for (x, y) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        let x = u64::from_ne_bytes(x.try_into().expect("8 bytes"));
        let y = u64::from_ne_bytes(y.try_into().expect("8 bytes"));
        difference |= x ^ y;
    }
    difference.ct_eq(&0)
}

impl fmt::Debug for Verifier<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("keys", &(1 + self.rest.len()))
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

/// A 32-byte HMAC-SHA256 tag, as offered by a sender or computed by [`Keyring::sign`].
///
/// `Debug` does not print the bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Tag(pub [u8; 32]);

impl Tag {
    /// Parses exactly 64 hexadecimal digits, in either case, after trimming spaces and tabs.
    /// Nothing else: no `0x` prefix, no separators.
    #[inline]
    pub fn from_hex(text: impl AsRef<[u8]>) -> Option<Self> {
        let text = text.as_ref().trim_ascii();
        // `const_hex` strips a `0x` prefix before decoding: refuse one here (it validates
        // every digit itself, and 64 characters are exactly 32 bytes).
        if text.len() != 64 || matches!(text, [b'0', b'x' | b'X', ..]) {
            return None;
        }
        let mut out = [0u8; 32];
        const_hex::decode_to_slice(text, &mut out).ok()?;
        Some(Self(out))
    }

    /// Parses standard base64 (with padding) of 32 bytes, after trimming spaces and tabs.
    pub fn from_base64(text: impl AsRef<[u8]>) -> Option<Self> {
        let text = text.as_ref().trim_ascii();
        // 32 bytes are 44 base64 characters; refuse anything else before decoding.
        if text.len() != 44 {
            return None;
        }
        let mut out = [0u8; 33];
        let n = base64::engine::general_purpose::STANDARD
            .decode_slice(text, &mut out)
            .ok()?;
        (n == 32).then(|| Self(out[..32].try_into().expect("length checked")))
    }

    /// Lowercase hexadecimal, as Zernio and Ayrshare send it.
    pub fn to_hex(&self) -> String {
        const_hex::encode(self.0)
    }

    /// Standard base64, as Standard Webhooks sends it.
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.0)
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
        assert_eq!(v.matches(&[Tag([0; 32]), old]), Some(1));

        let mut v = keyring.verifier(b"p.");
        v.update(b"hello world!");
        assert_eq!(v.matches(&[old]), None);
    }

    #[test]
    fn word_wise_comparison_sees_every_byte() {
        let a = [7u8; 32];
        assert!(bool::from(tags_equal(&a, &a)));
        for i in 0..32 {
            let mut b = a;
            b[i] ^= 0x80;
            assert!(!bool::from(tags_equal(&a, &b)), "byte {i}");
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
