//! Where a provider's secrets come from, and how a delivery's tenant is chosen before its
//! signature is checked.
//!
//! A provider holds [`Secrets`], made from one of:
//!
//! - a [`Keyring`] (static: the common case, and the fastest: no lock, no allocation, no
//!   reference count on the way to the HMAC);
//! - a [`Rotating`] keyring, replaced at runtime without a restart ([`Rotating::rotate`]): the
//!   current keyring sits behind an [`arc_swap::ArcSwap`], so reading it takes no lock (the
//!   `arc-swap` crate is the ecosystem's well-kept answer to "a value read on every request and
//!   replaced rarely");
//! - a [`CachedSource`]: your own async [`SecretSource`] (a database, a vault), looked up per
//!   tenant, with a bounded cache of keyrings (LRU, TTL, negative entries for unknown tenants)
//!   that you can [invalidate](CachedSource::invalidate) when a tenant's secret changes.
//!
//! [`TenantFrom`] says where a delivery's tenant is named before verification: the route, a
//! path segment, a header, or the body (Ayrshare's `refId`). Only that tenant's keys are tried,
//! so an unauthenticated request costs at most [`MAX_KEYS_PER_TENANT`] HMACs whatever the number
//! of tenants. The hint is a claim, not a fact: verification with that tenant's secret is what
//! makes it true, and a body that names another tenant than the one that verified it is refused
//! ([`SignatureError::TenantMismatch`](crate::provider::SignatureError::TenantMismatch)).
//! Without a hint ([`TenantFrom::AnyKey`]) every key of the keyring is tried, which is allowed
//! for keyrings of at most [`MAX_KEYS_PER_REQUEST`] keys.
//!
//! ```
//! # #[cfg(feature = "standard")] {
//! use std::time::Duration;
//!
//! use hookgate::{
//!     keyring::Keyring,
//!     secrets::{CacheOptions, CachedSource, SecretSource, SourceError, TenantFrom},
//!     standard::Standard,
//!     BoxFuture,
//! };
//!
//! /// Your customers' signing secrets, wherever they live.
//! struct Customers;
//!
//! impl SecretSource for Customers {
//!     fn keyring<'a>(&'a self, tenant: &'a str) -> BoxFuture<'a, Result<Option<Keyring>, SourceError>> {
//!         Box::pin(async move {
//!             // Look the tenant up; `Ok(None)` when there is no such customer.
//!             Ok(match tenant {
//!                 "acme" => Some(hookgate::standard::keyring(["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"])?),
//!                 _ => None,
//!             })
//!         })
//!     }
//! }
//!
//! let source = CachedSource::with_options(
//!     Customers,
//!     CacheOptions::default().capacity(10_000).ttl(Duration::from_secs(300)),
//! );
//! // `POST /webhooks/standard/{customer}`: the tenant is the third path segment.
//! let standard = Standard::with_secrets(source.secrets(TenantFrom::PathSegment(2)));
//! // Later, when acme rotates its secret:
//! source.invalidate("acme");
//! # drop(standard);
//! # }
//! ```

use std::{
    collections::hash_map::RandomState,
    fmt,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use arc_swap::ArcSwap;
use http::{HeaderName, request::Parts};
use schnellru::{ByLength, LruMap};

#[cfg(doc)]
use crate::keyring::MAX_KEYS_PER_TENANT;
use crate::{
    future::BoxFuture,
    keyring::{Keyring, MAX_KEYS_PER_REQUEST, MAX_TENANT_LEN, Tenant},
};

/// Where a delivery's tenant is named, before its signature is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TenantFrom {
    /// The default: the provider's body hint when its bodies name a tenant (Ayrshare's
    /// `refId`) and the keys are a source or a keyring of more than [`MAX_KEYS_PER_REQUEST`]
    /// keys; otherwise every key ([`TenantFrom::AnyKey`]).
    Auto,
    /// No hint: every key of the keyring is tried (one HMAC each, streamed with the body).
    /// Refused (401, logged as a configuration error) for keyrings of more than
    /// [`MAX_KEYS_PER_REQUEST`] keys and for sources.
    AnyKey,
    /// The route serves this one tenant.
    Route(Tenant),
    /// The `n`-th segment of the request path, counted from 0 after the leading `/`
    /// (`/webhooks/standard/acme`: segment 2 is `acme`). With axum's `nest`, the path is the
    /// one the service sees.
    PathSegment(usize),
    /// The value of this request header.
    Header(HeaderName),
    /// The provider's tenant field in the body (Ayrshare: `refId`). The body is read whole
    /// first, then verified with that tenant's keys.
    Body,
}

/// A user-supplied, async source of secrets, looked up per tenant. Wrap it in a
/// [`CachedSource`]. See the [module docs](self) for an example.
pub trait SecretSource: Send + Sync + 'static {
    /// The keyring of `tenant` (its secrets, current first, e.g. from [`Keyring::new`]), or
    /// `Ok(None)` when there is no such tenant. `tenant` comes from the request and is not yet
    /// authenticated: treat it as untrusted input (it is at most [`MAX_TENANT_LEN`] bytes).
    fn keyring<'a>(
        &'a self,
        tenant: &'a str,
    ) -> BoxFuture<'a, Result<Option<Keyring>, SourceError>>;
}

/// A [`SecretSource`] failed (unreachable, timed out): the delivery is answered 503, so the
/// sender retries. The message is logged; never put a secret in it.
#[derive(Debug, thiserror::Error)]
#[error("secret source: {message}")]
pub struct SourceError {
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl SourceError {
    /// A source error with a message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            source: None,
        }
    }

    /// A source error caused by `source`.
    pub fn with_source(
        message: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self {
            message: message.into(),
            source: Some(source.into()),
        }
    }
}

impl From<crate::keyring::KeyringError> for SourceError {
    fn from(error: crate::keyring::KeyringError) -> Self {
        Self::with_source("a tenant's secrets were refused", error)
    }
}

/// The secrets a provider verifies with, and where a delivery's tenant comes from. Cheap to
/// clone. See the [module docs](self).
#[derive(Clone)]
pub struct Secrets {
    keys: Keys,
    tenant_from: TenantFrom,
}

#[derive(Clone)]
enum Keys {
    Static(Keyring),
    Rotating(Rotating),
    Source(CachedSource),
}

impl From<Keyring> for Secrets {
    fn from(keyring: Keyring) -> Self {
        // A keyring of one named tenant serves that tenant: name it, so that only its keys
        // are tried and the delivery carries it.
        let tenant_from = match keyring.sole_tenant() {
            Some(tenant) => TenantFrom::Route(tenant.clone()),
            None => TenantFrom::Auto,
        };
        Self {
            keys: Keys::Static(keyring),
            tenant_from,
        }
    }
}

impl From<Rotating> for Secrets {
    fn from(rotating: Rotating) -> Self {
        Self {
            keys: Keys::Rotating(rotating),
            tenant_from: TenantFrom::Auto,
        }
    }
}

impl From<CachedSource> for Secrets {
    fn from(source: CachedSource) -> Self {
        Self {
            keys: Keys::Source(source),
            tenant_from: TenantFrom::Auto,
        }
    }
}

impl Secrets {
    /// Where each delivery's tenant is named (default [`TenantFrom::Auto`]).
    #[must_use]
    pub fn tenant_from(mut self, tenant_from: TenantFrom) -> Self {
        self.tenant_from = tenant_from;
        self
    }

    /// The static keyring, when the secrets are one.
    pub fn keyring(&self) -> Option<&Keyring> {
        match &self.keys {
            Keys::Static(keyring) => Some(keyring),
            _ => None,
        }
    }

    /// The keyring in use now, for signing in tests and senders: the static one, or the
    /// rotating one's current keyring; `None` for a source.
    pub fn current(&self) -> Option<Keyring> {
        match &self.keys {
            Keys::Static(keyring) => Some(keyring.clone()),
            Keys::Rotating(rotating) => Some((*rotating.current()).clone()),
            Keys::Source(_) => None,
        }
    }

    /// How this delivery's tenant is chosen, resolved against the kind of keys.
    pub(crate) fn plan<'r>(&self, parts: &'r Parts, body_hint: bool) -> Plan<'r, '_> {
        let many = |len: usize| len > MAX_KEYS_PER_REQUEST;
        match &self.tenant_from {
            TenantFrom::Auto => match &self.keys {
                Keys::Static(keyring) if !many(keyring.len()) || !body_hint => Plan::AnyKey,
                Keys::Rotating(_) if !body_hint => Plan::AnyKey,
                Keys::Rotating(rotating) if !many(rotating.current.load().len()) => Plan::AnyKey,
                Keys::Source(_) if !body_hint => Plan::NoHint,
                _ => Plan::Body,
            },
            TenantFrom::AnyKey => Plan::AnyKey,
            TenantFrom::Route(tenant) => Plan::Tenant(tenant.as_str()),
            TenantFrom::PathSegment(n) => {
                let segment = parts.uri.path().split('/').skip(1).nth(*n);
                match segment.filter(|s| !s.is_empty()) {
                    Some(tenant) => Plan::Request(tenant),
                    None => Plan::NoHint,
                }
            }
            TenantFrom::Header(name) => {
                let mut values = parts.headers.get_all(name).iter();
                match (values.next().and_then(|v| v.to_str().ok()), values.next()) {
                    (Some(tenant), None) if !tenant.trim().is_empty() => {
                        Plan::Request(tenant.trim())
                    }
                    _ => Plan::NoHint,
                }
            }
            TenantFrom::Body => Plan::Body,
        }
    }

    /// The keys to verify one delivery with: all keys (`tenant` = `None`, static and rotating
    /// keyrings of at most [`MAX_KEYS_PER_REQUEST`] keys), or one tenant's.
    pub(crate) async fn keys<'a>(
        &'a self,
        tenant: Option<&'a str>,
    ) -> Result<Selected<'a>, Refusal> {
        if tenant.is_some_and(|t| t.is_empty() || t.len() > MAX_TENANT_LEN) {
            return Err(Refusal::UnknownTenant);
        }
        let keyring = match &self.keys {
            Keys::Static(keyring) => Held::Borrowed(keyring),
            Keys::Rotating(rotating) => Held::Shared(rotating.current()),
            Keys::Source(source) => match tenant {
                Some(tenant) => match source.get(tenant).await? {
                    Some(keyring) => Held::Shared(keyring),
                    None => return Err(Refusal::UnknownTenant),
                },
                None => return Err(Refusal::NoHint),
            },
        };
        let range = match tenant {
            None if keyring.len() > MAX_KEYS_PER_REQUEST => return Err(Refusal::NoHint),
            None => (0, keyring.len()),
            Some(tenant) => keyring.tenant_range(tenant).ok_or(Refusal::UnknownTenant)?,
        };
        Ok(Selected { keyring, range })
    }
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: &dyn fmt::Debug = match &self.keys {
            Keys::Static(keyring) => keyring,
            Keys::Rotating(rotating) => rotating,
            Keys::Source(source) => source,
        };
        f.debug_struct("Secrets")
            .field("keys", keys)
            .field("tenant_from", &self.tenant_from)
            .finish()
    }
}

/// Where the pipeline takes a delivery's tenant from.
#[derive(Debug)]
pub(crate) enum Plan<'r, 's> {
    /// Every key, streamed with the body.
    AnyKey,
    /// The route's tenant.
    Tenant(&'s str),
    /// A tenant named by the request (path or header), not yet verified.
    Request(&'r str),
    /// The provider's tenant field in the body: read the body first.
    Body,
    /// The tenant should come from the request, which names none.
    NoHint,
}

/// Why no keys could be chosen for a delivery.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// The request named no tenant, and the keys need one (401).
    NoHint,
    /// The named tenant has no secrets (401).
    UnknownTenant,
    /// The source failed (503).
    Source(SourceError),
}

impl From<SourceError> for Refusal {
    fn from(error: SourceError) -> Self {
        Self::Source(error)
    }
}

/// A keyring, borrowed (static) or shared (rotating, cached).
pub(crate) enum Held<'a> {
    Borrowed(&'a Keyring),
    Shared(Arc<Keyring>),
}

impl std::ops::Deref for Held<'_> {
    type Target = Keyring;

    fn deref(&self) -> &Keyring {
        match self {
            Self::Borrowed(keyring) => keyring,
            Self::Shared(keyring) => keyring,
        }
    }
}

/// The keys chosen for one delivery: positions `range` of the keyring.
pub(crate) struct Selected<'a> {
    keyring: Held<'a>,
    range: (usize, usize),
}

impl Selected<'_> {
    /// A verifier over the chosen keys, for the `offered` tags (which an Ed25519 check needs
    /// from the start).
    #[inline]
    pub(crate) fn verifier(
        &self,
        prefix: &[u8],
        offered: &[crate::keyring::Tag],
    ) -> crate::keyring::Verifier<'_> {
        self.keyring
            .verifier_over(self.range.0, self.range.1, prefix, offered)
    }

    /// The MAC of `parts` under the key at `position` of the keyring (a challenge's answer).
    pub(crate) fn sign_at(&self, position: usize, parts: &[&[u8]]) -> Option<crate::keyring::Tag> {
        self.keyring.sign_at(position, parts)
    }
}

/// A keyring replaced at runtime, without a restart and without a lock on the read path.
///
/// Clones share the same current keyring. Build the provider from it (`From<Rotating> for
/// Secrets`), keep a clone, and call [`Rotating::rotate`] when the secrets change: deliveries
/// already being verified finish with the keyring they started with.
///
/// ```
/// use hookgate::{keyring::Keyring, secrets::Rotating};
///
/// let keys = Rotating::new(Keyring::new(["old"])?);
/// // A rotation: add the new secret in front, keep the old one while retries drain...
/// keys.rotate(Keyring::new(["new", "old"])?);
/// // ...then drop it.
/// keys.rotate(Keyring::new(["new"])?);
/// assert_eq!(keys.current().len(), 1);
/// # Ok::<(), hookgate::keyring::KeyringError>(())
/// ```
#[derive(Clone)]
pub struct Rotating {
    current: Arc<ArcSwap<Keyring>>,
}

impl Rotating {
    /// Starts with `keyring`.
    pub fn new(keyring: Keyring) -> Self {
        Self {
            current: Arc::new(ArcSwap::from_pointee(keyring)),
        }
    }

    /// Replaces the keyring for every delivery verified from now on.
    pub fn rotate(&self, keyring: Keyring) {
        self.current.store(Arc::new(keyring));
    }

    /// The keyring in use now.
    pub fn current(&self) -> Arc<Keyring> {
        self.current.load_full()
    }

    /// These keys as a provider's [`Secrets`], the tenant chosen by `tenant_from`.
    pub fn secrets(&self, tenant_from: TenantFrom) -> Secrets {
        Secrets::from(self.clone()).tenant_from(tenant_from)
    }
}

impl fmt::Debug for Rotating {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Rotating").field(&*self.current()).finish()
    }
}

/// Default number of tenants a [`CachedSource`] remembers.
pub const DEFAULT_CACHE_CAPACITY: u32 = 10_000;
/// Default time a [`CachedSource`] keeps a tenant's keyring.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(300);
/// Default time a [`CachedSource`] remembers that a tenant does not exist.
pub const DEFAULT_NEGATIVE_TTL: Duration = Duration::from_secs(30);

/// The bounds of a [`CachedSource`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheOptions {
    /// How many tenants are kept at most (least recently used first out).
    pub capacity: u32,
    /// How long a tenant's keyring is kept: the longest a rotation takes to be seen without
    /// [`CachedSource::invalidate`].
    pub ttl: Duration,
    /// How long an unknown tenant is remembered as unknown.
    pub negative_ttl: Duration,
}

impl Default for CacheOptions {
    fn default() -> Self {
        Self {
            capacity: DEFAULT_CACHE_CAPACITY,
            ttl: DEFAULT_CACHE_TTL,
            negative_ttl: DEFAULT_NEGATIVE_TTL,
        }
    }
}

impl CacheOptions {
    /// The default options with another capacity.
    #[must_use]
    pub fn capacity(mut self, tenants: u32) -> Self {
        self.capacity = tenants;
        self
    }

    /// The default options with another TTL.
    #[must_use]
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// The default options with another negative TTL.
    #[must_use]
    pub fn negative_ttl(mut self, ttl: Duration) -> Self {
        self.negative_ttl = ttl;
        self
    }
}

/// A [`SecretSource`] with a bounded cache: at most `capacity` tenants (least recently used
/// first out), each kept for `ttl`; an unknown tenant is remembered for a shorter time, so a
/// flood of made-up tenant names costs one source lookup per name and period, never per
/// request: concurrent misses of one tenant wait for the same lookup. Clones share the cache.
/// Lookups of different tenants run concurrently; the cache's mutexes are only held to read
/// or write an entry, never across the source's `await`.
#[derive(Clone)]
pub struct CachedSource {
    inner: Arc<CacheInner>,
}

struct CacheInner {
    source: Box<dyn SecretSource>,
    ttl: Duration,
    negative_ttl: Duration,
    map: Mutex<LruMap<Tenant, Entry, ByLength, RandomState>>,
    /// The lookups under way, one per tenant: concurrent misses of one tenant wait for the
    /// same lookup. An entry lives while a delivery waits for it (bounded by the deliveries
    /// in flight).
    in_flight: Mutex<std::collections::HashMap<Box<str>, Arc<Lookup>>>,
}

/// One lookup of the source, shared by the deliveries that wait for it (an error by its
/// message: each waiter gets it, and the pipeline logs it).
type Lookup = tokio::sync::OnceCell<Result<Option<Arc<Keyring>>, String>>;

/// A delivery's share of a [`Lookup`]: the last to leave an unfinished lookup (every waiter
/// gave up), or the first to leave a finished one, removes it from the lookups under way.
struct Waiting<'a> {
    cache: &'a CacheInner,
    tenant: &'a str,
    lookup: Arc<Lookup>,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let mut in_flight = self
            .cache
            .in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Counted under the lock that every new waiter clones it under: the map's and ours.
        if let Some(current) = in_flight.get(self.tenant)
            && Arc::ptr_eq(current, &self.lookup)
            && (self.lookup.initialized() || Arc::strong_count(&self.lookup) <= 2)
        {
            in_flight.remove(self.tenant);
        }
    }
}

struct Entry {
    keyring: Option<Arc<Keyring>>,
    /// `None`: never (a TTL too long to add to the clock, such as `Duration::MAX`).
    expires: Option<Instant>,
}

impl CachedSource {
    /// Caches `source` with the default [`CacheOptions`].
    pub fn new(source: impl SecretSource) -> Self {
        Self::with_options(source, CacheOptions::default())
    }

    /// Caches `source` with these options.
    pub fn with_options(source: impl SecretSource, options: CacheOptions) -> Self {
        Self {
            inner: Arc::new(CacheInner {
                source: Box::new(source),
                ttl: options.ttl,
                negative_ttl: options.negative_ttl,
                map: Mutex::new(LruMap::with_hasher(
                    ByLength::new(options.capacity.max(1)),
                    RandomState::new(),
                )),
                in_flight: Mutex::default(),
            }),
        }
    }

    /// These keys as a provider's [`Secrets`], the tenant chosen by `tenant_from`.
    pub fn secrets(&self, tenant_from: TenantFrom) -> Secrets {
        Secrets::from(self.clone()).tenant_from(tenant_from)
    }

    /// Forgets `tenant`'s cached keyring: its next delivery looks it up again (after a
    /// rotation, or a new tenant that was cached as unknown).
    pub fn invalidate(&self, tenant: &str) {
        self.lock().remove(tenant);
    }

    /// Forgets every cached keyring.
    pub fn invalidate_all(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruMap<Tenant, Entry, ByLength, RandomState>> {
        // A panic while holding this lock leaves the map consistent (every write is one call).
        self.inner
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The keyring of `tenant`, from the cache or the source.
    async fn get(&self, tenant: &str) -> Result<Option<Arc<Keyring>>, SourceError> {
        let now = Instant::now();
        if let Some(entry) = self.lock().get(tenant)
            && entry.expires.is_none_or(|expires| expires > now)
        {
            return Ok(entry.keyring.clone());
        }
        let id = Tenant::new(tenant).map_err(|_| SourceError::new("tenant id out of bounds"))?;
        let lookup = self
            .inner
            .in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(tenant.into())
            .or_default()
            .clone();
        let waiting = Waiting {
            cache: &self.inner,
            tenant,
            lookup,
        };
        // One lookup for every concurrent miss of this tenant; if the delivery running it is
        // dropped, a waiting one takes it over.
        waiting
            .lookup
            .get_or_init(|| async {
                self.look_up(tenant, id)
                    .await
                    .map_err(|error| error.message)
            })
            .await
            .clone()
            .map_err(SourceError::new)
    }

    /// Asks the source for `tenant`'s keyring and caches the answer.
    async fn look_up(&self, tenant: &str, id: Tenant) -> Result<Option<Arc<Keyring>>, SourceError> {
        let keyring = self.inner.source.keyring(tenant).await?;
        if keyring
            .as_ref()
            .is_some_and(|k| k.len() > crate::keyring::MAX_KEYS_PER_TENANT)
        {
            return Err(SourceError::new(
                "a tenant's keyring holds more than MAX_KEYS_PER_TENANT secrets",
            ));
        }
        // Name the keyring's tenant, so that the delivery carries it.
        let keyring = keyring.map(|keyring| Arc::new(keyring.for_tenant(id.clone())));
        let ttl = if keyring.is_some() {
            self.inner.ttl
        } else {
            self.inner.negative_ttl
        };
        self.lock().insert(
            id,
            Entry {
                keyring: keyring.clone(),
                expires: Instant::now().checked_add(ttl),
            },
        );
        Ok(keyring)
    }
}

impl fmt::Debug for CachedSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedSource")
            .field("cached", &self.lock().len())
            .field("ttl", &self.inner.ttl)
            .field("negative_ttl", &self.inner.negative_ttl)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(uri: &str, headers: &[(&str, &str)]) -> Parts {
        let mut request = http::Request::post(uri);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(()).unwrap().into_parts().0
    }

    #[test]
    fn plans() {
        let keyring = Keyring::new(["s"]).unwrap();
        let secrets = Secrets::from(keyring.clone());
        let p = parts("/webhooks/x/acme", &[("x-tenant", "beta"), ("x-two", "a")]);
        assert!(matches!(secrets.plan(&p, true), Plan::AnyKey));
        let by_path = secrets.clone().tenant_from(TenantFrom::PathSegment(2));
        assert!(matches!(by_path.plan(&p, false), Plan::Request("acme")));
        let by_path = secrets.clone().tenant_from(TenantFrom::PathSegment(3));
        assert!(matches!(by_path.plan(&p, false), Plan::NoHint));
        let by_header = secrets
            .clone()
            .tenant_from(TenantFrom::Header(HeaderName::from_static("x-tenant")));
        assert!(matches!(by_header.plan(&p, false), Plan::Request("beta")));
        // A repeated header names no tenant.
        let mut twice = p.clone();
        twice.headers.append("x-tenant", "gamma".parse().unwrap());
        assert!(matches!(by_header.plan(&twice, false), Plan::NoHint));
        // A keyring of one named tenant serves that tenant.
        let one = Keyring::builder().tenant("solo", ["s"]).build().unwrap();
        assert!(matches!(
            Secrets::from(one).plan(&p, true),
            Plan::Tenant("solo")
        ));
        // A big keyring with a body hint reads the body.
        let mut builder = Keyring::builder();
        for i in 0..=MAX_KEYS_PER_REQUEST {
            builder = builder.tenant(format!("t{i}"), ["s"]);
        }
        let big = Secrets::from(builder.build().unwrap());
        assert!(matches!(big.plan(&p, true), Plan::Body));
        assert!(matches!(big.plan(&p, false), Plan::AnyKey));
    }

    #[tokio::test]
    async fn a_big_keyring_needs_a_tenant() {
        let mut builder = Keyring::builder();
        for i in 0..=MAX_KEYS_PER_REQUEST {
            builder = builder.tenant(format!("t{i}"), ["s"]);
        }
        let big = Secrets::from(builder.build().unwrap());
        assert!(matches!(big.keys(None).await, Err(Refusal::NoHint)));
        assert_eq!(
            big.keys(Some("t3"))
                .await
                .ok()
                .unwrap()
                .verifier(b"", &[])
                .len(),
            1
        );
        assert!(matches!(
            big.keys(Some("nobody")).await,
            Err(Refusal::UnknownTenant)
        ));
        let long = "x".repeat(MAX_TENANT_LEN + 1);
        assert!(matches!(
            big.keys(Some(&long)).await,
            Err(Refusal::UnknownTenant)
        ));
    }

    /// Counts lookups; every tenant but `nobody` has one secret.
    struct Counting(std::sync::atomic::AtomicUsize);

    impl SecretSource for Counting {
        fn keyring<'a>(
            &'a self,
            tenant: &'a str,
        ) -> BoxFuture<'a, Result<Option<Keyring>, SourceError>> {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Box::pin(
                async move { Ok((tenant != "nobody").then(|| Keyring::new([tenant]).unwrap())) },
            )
        }
    }

    /// A source that answers after 100 ms ("down": an error) and counts its lookups.
    struct Slow(Arc<std::sync::atomic::AtomicUsize>);

    impl SecretSource for Slow {
        fn keyring<'a>(
            &'a self,
            tenant: &'a str,
        ) -> BoxFuture<'a, Result<Option<Keyring>, SourceError>> {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if tenant == "down" {
                    return Err(SourceError::new("database unreachable"));
                }
                Ok(Some(Keyring::new([tenant]).unwrap()))
            })
        }
    }

    #[tokio::test]
    async fn concurrent_misses_of_one_tenant_share_one_lookup() {
        use std::sync::atomic::Ordering::SeqCst;
        let lookups = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let cache = CachedSource::new(Slow(lookups.clone()));
        let under_way = |cache: &CachedSource| cache.inner.in_flight.lock().unwrap().len();

        let answers = futures_util::future::join_all((0..20).map(|_| cache.get("acme"))).await;
        assert!(answers.iter().all(|a| a.as_ref().unwrap().is_some()));
        assert_eq!(lookups.load(SeqCst), 1);
        assert_eq!(under_way(&cache), 0);

        // An error reaches every waiter, with its message, and is not cached.
        let answers = futures_util::future::join_all((0..5).map(|_| cache.get("down"))).await;
        for answer in answers {
            assert_eq!(
                answer.unwrap_err().to_string(),
                "secret source: database unreachable"
            );
        }
        assert_eq!(lookups.load(SeqCst), 2);
        assert!(cache.get("down").await.is_err());
        assert_eq!(lookups.load(SeqCst), 3);

        // A lookup whose only waiter gave up leaves nothing behind (a flood of made-up names
        // from clients that hang up must not grow the lookups under way).
        let gave_up = tokio::time::timeout(Duration::from_millis(10), cache.get("other")).await;
        assert!(gave_up.is_err());
        assert_eq!(under_way(&cache), 0);
        assert!(cache.get("other").await.unwrap().is_some());
        assert_eq!(under_way(&cache), 0);
    }

    #[tokio::test]
    async fn the_cache_is_bounded_and_expires() {
        use std::sync::atomic::Ordering::SeqCst;
        let counting = Arc::new(Counting(Default::default()));
        struct Shared(Arc<Counting>);
        impl SecretSource for Shared {
            fn keyring<'a>(
                &'a self,
                tenant: &'a str,
            ) -> BoxFuture<'a, Result<Option<Keyring>, SourceError>> {
                self.0.keyring(tenant)
            }
        }
        let count = || counting.0.load(SeqCst);
        // Capacity 2: a third tenant evicts the least recently used.
        let cache = CachedSource::with_options(
            Shared(counting.clone()),
            CacheOptions::default().capacity(2),
        );
        let keyring = cache.get("a").await.unwrap().unwrap();
        assert_eq!(keyring.tenants().next().map(Tenant::as_str), Some("a"));
        cache.get("b").await.unwrap();
        cache.get("a").await.unwrap();
        assert_eq!(count(), 2);
        cache.get("c").await.unwrap(); // evicts b
        cache.get("a").await.unwrap();
        assert_eq!(count(), 3);
        cache.get("b").await.unwrap();
        assert_eq!(count(), 4);
        // Unknown tenants are remembered too, and forgotten on request.
        assert!(cache.get("nobody").await.unwrap().is_none());
        assert!(cache.get("nobody").await.unwrap().is_none());
        assert_eq!(count(), 5);
        cache.invalidate("nobody");
        assert!(cache.get("nobody").await.unwrap().is_none());
        assert_eq!(count(), 6);
        // A TTL of zero keeps nothing.
        let uncached = CachedSource::with_options(
            Shared(counting.clone()),
            CacheOptions::default().ttl(Duration::ZERO),
        );
        uncached.get("a").await.unwrap();
        uncached.get("a").await.unwrap();
        assert_eq!(count(), 8);
        assert!(format!("{cache:?}").contains("cached: 2"), "{cache:?}");
        // A TTL too long to add to the clock means "forever": no overflow panic (it used to
        // panic after every lookup, so every delivery got 500 and every lookup hit the source).
        let forever = CachedSource::with_options(
            Shared(counting.clone()),
            CacheOptions::default()
                .ttl(Duration::MAX)
                .negative_ttl(Duration::MAX),
        );
        forever.get("a").await.unwrap().unwrap();
        forever.get("a").await.unwrap().unwrap();
        assert!(forever.get("nobody").await.unwrap().is_none());
        assert!(forever.get("nobody").await.unwrap().is_none());
        assert_eq!(count(), 10);
    }
}
