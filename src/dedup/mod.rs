//! De-duplication: a delivery key is claimed before the handler runs, committed after it
//! succeeded and released when it failed, so a retry, a replay or a concurrent duplicate never
//! runs a handler twice and a failed delivery is never lost.
//!
//! [`DedupStore`] is the async trait (its "Guarantees" say what a store promises);
//! [`MemoryStore`] (a sharded LRU with TTL and leases) is the default, and `RedisDedupStore`
//! (feature `redis`) shares the keys between replicas.
//!
//! ```
//! use std::time::Duration;
//! use hookgate::dedup::{Claim, DedupKey, DedupStore, MemoryStore};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), hookgate::dedup::DedupError> {
//! let store = MemoryStore::new();
//! let key = DedupKey::new("zernio", None, "evt_1");
//! let Claim::Acquired(lease) = store.claim(&key, Duration::from_secs(60)).await? else {
//!     unreachable!("a new key is acquired");
//! };
//! // Same key while the first holder runs: in flight (answer 429, the sender retries).
//! assert!(matches!(store.claim(&key, Duration::from_secs(60)).await?, Claim::InFlight { .. }));
//! // The handler succeeded: remember the key for the provider's retry horizon.
//! assert!(store.commit(&key, lease, Duration::from_secs(72 * 3600)).await?);
//! assert!(matches!(store.claim(&key, Duration::from_secs(60)).await?, Claim::Done));
//! # Ok(())
//! # }
//! ```

mod memory;
#[cfg(feature = "redis")]
mod redis;

use std::{fmt, future::Future, pin::Pin, time::Duration};

use sha2::{Digest, Sha256};

pub use memory::MemoryStore;
#[cfg(feature = "redis")]
pub use redis::RedisDedupStore;

pub use crate::future::BoxFuture;

/// The future a [`DedupStore`] method returns: an answer already known (an in-memory store
/// answers at once, without allocating), or a boxed future (a networked store).
pub struct StoreFuture<'a, T>(StoreFutureInner<'a, T>);

enum StoreFutureInner<'a, T> {
    Ready(Option<T>),
    Boxed(BoxFuture<'a, T>),
}

impl<'a, T> StoreFuture<'a, T> {
    /// An answer known now.
    pub fn ready(value: T) -> Self {
        Self(StoreFutureInner::Ready(Some(value)))
    }

    /// An answer still to come.
    pub fn boxed(future: impl Future<Output = T> + Send + 'a) -> Self {
        Self(StoreFutureInner::Boxed(Box::pin(future)))
    }
}

impl<T: Unpin> Future for StoreFuture<'_, T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<T> {
        match &mut self.get_mut().0 {
            StoreFutureInner::Ready(value) => {
                std::task::Poll::Ready(value.take().expect("StoreFuture polled after completion"))
            }
            StoreFutureInner::Boxed(future) => future.as_mut().poll(cx),
        }
    }
}

impl<T> fmt::Debug for StoreFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            StoreFutureInner::Ready(_) => "StoreFuture::Ready",
            StoreFutureInner::Boxed(_) => "StoreFuture::Boxed",
        })
    }
}

/// A delivery key, namespaced so that two senders can never suppress each other, stored as a
/// fixed-size digest: 16 bytes of SHA-256 over every part of its namespace and the key.
///
/// The parts ([`KeyParts`]): the tenant whose secret verified the delivery, the provider, the
/// route's namespace, the provider's scope (Ayrshare's `refId`), whether the key is the
/// sender's id or the body-hash fallback, and the key itself. Each part is length-prefixed
/// (and optional parts flagged), so no choice of one part can reproduce another's bytes: a
/// sender id equal to some body's hex hash never meets that body's key.
///
/// Keys only ever come from signed content, so nobody but the sender chooses them.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct DedupKey {
    provider: &'static str,
    digest: [u8; 16],
}

/// Where a delivery key came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyOrigin {
    /// The sender's own id for the event (Zernio `id`, Ayrshare `hookId`, `webhook-id`).
    Sender,
    /// The hex SHA-256 of the raw body, for a delivery without an id.
    BodyHash,
}

/// The route's part of a [`DedupKey`]'s namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Namespace<'a> {
    /// No route namespace ([`DedupKey::new`]).
    None,
    /// A namespace configured on the route (`.namespace("billing")`).
    Configured(&'a str),
    /// The default: a fingerprint of the secret that verified the delivery (see
    /// [`Match::namespace`](crate::keyring::Match::namespace)).
    Fingerprint(&'a [u8; 16]),
}

/// The parts of a key, gathered on the stack and hashed at once; what does not fit is
/// streamed into the hash.
struct Feed {
    buf: [u8; 128],
    len: usize,
    hash: Option<Sha256>,
}

impl Feed {
    #[inline]
    fn new() -> Self {
        Self {
            buf: [0; 128],
            len: 0,
            hash: None,
        }
    }

    #[inline]
    fn push(&mut self, bytes: &[u8]) {
        if let Some(room) = self.buf.get_mut(self.len..self.len + bytes.len()) {
            room.copy_from_slice(bytes);
            self.len += bytes.len();
        } else {
            let hash = self.hash.get_or_insert_with(Sha256::new);
            hash.update(&self.buf[..self.len]);
            hash.update(bytes);
            self.len = 0;
        }
    }

    /// A length (LEB128) and the bytes.
    #[inline]
    fn part(&mut self, bytes: &[u8]) {
        let mut len = bytes.len();
        let mut prefix = [0u8; 10];
        let mut n = 0;
        loop {
            let low = (len & 0x7f) as u8;
            len >>= 7;
            if len == 0 {
                prefix[n] = low;
                n += 1;
                break;
            }
            prefix[n] = low | 0x80;
            n += 1;
        }
        self.push(&prefix[..n]);
        self.push(bytes);
    }

    #[inline]
    fn finish(self) -> [u8; 32] {
        match self.hash {
            None => Sha256::digest(&self.buf[..self.len]).into(),
            Some(mut hash) => {
                hash.update(&self.buf[..self.len]);
                hash.finalize().into()
            }
        }
    }
}

/// Everything a [`DedupKey`] is namespaced by, besides the provider. Borrowed, so building a
/// key allocates nothing.
#[derive(Debug, Clone, Copy)]
pub struct KeyParts<'a> {
    /// The tenant whose secret verified the delivery (`None` for a single-tenant keyring).
    pub tenant: Option<&'a str>,
    /// The route's namespace: the one configured on the service, or by default the
    /// verifying secret's fingerprint.
    pub namespace: Namespace<'a>,
    /// A narrower scope inside the provider (Ayrshare's `refId`), if any.
    pub scope: Option<&'a str>,
    /// Whether `key` is the sender's id or the body hash.
    pub origin: KeyOrigin,
    /// The key itself.
    pub key: &'a str,
}

impl DedupKey {
    /// Scopes `key` (a sender's id) to `provider` (and `scope`, like Ayrshare's `refId`, when
    /// given), with no tenant and an empty namespace. The pipeline uses
    /// [`DedupKey::from_parts`].
    pub fn new(provider: &'static str, scope: Option<&str>, key: &str) -> Self {
        Self::from_parts(
            provider,
            &KeyParts {
                tenant: None,
                namespace: Namespace::None,
                scope,
                origin: KeyOrigin::Sender,
                key,
            },
        )
    }

    /// The key of `parts` for `provider`: one SHA-256 over the parts, each length-prefixed.
    ///
    /// The encoding is compact so that a usual key costs one SHA-256 block, as before
    /// namespaces: a flags byte (key origin; which optional parts follow; the namespace's
    /// kind), then the provider, the tenant, the namespace, the scope (each a LEB128 length
    /// and its bytes; a fingerprint namespace is its 16 bytes), then the key, which is
    /// whatever remains. The parts are gathered on the stack and hashed in one call; a part
    /// that does not fit is streamed. Nothing is allocated.
    #[inline]
    pub fn from_parts(provider: &'static str, parts: &KeyParts<'_>) -> Self {
        let mut flags = match parts.origin {
            KeyOrigin::Sender => 0u8,
            KeyOrigin::BodyHash => 1,
        };
        if parts.tenant.is_some() {
            flags |= 1 << 1;
        }
        if parts.scope.is_some() {
            flags |= 1 << 2;
        }
        flags |= match parts.namespace {
            Namespace::None => 0,
            Namespace::Configured(_) => 1 << 3,
            Namespace::Fingerprint(_) => 2 << 3,
        };
        let mut feed = Feed::new();
        feed.push(&[flags]);
        feed.part(provider.as_bytes());
        if let Some(tenant) = parts.tenant {
            feed.part(tenant.as_bytes());
        }
        match parts.namespace {
            Namespace::None => {}
            Namespace::Configured(name) => feed.part(name.as_bytes()),
            Namespace::Fingerprint(fingerprint) => feed.push(fingerprint),
        }
        if let Some(scope) = parts.scope {
            feed.part(scope.as_bytes());
        }
        feed.push(parts.key.as_bytes());
        let full = feed.finish();
        let mut digest = [0u8; 16];
        digest.copy_from_slice(&full[..16]);
        Self { provider, digest }
    }

    /// The provider this key belongs to.
    pub fn provider(&self) -> &'static str {
        self.provider
    }

    /// The 16-byte digest that stores use as the key.
    pub fn digest(&self) -> &[u8; 16] {
        &self.digest
    }

    /// The digest in lowercase hex (32 characters), e.g. for a Redis key.
    pub fn to_hex(&self) -> String {
        const_hex::encode(self.digest)
    }
}

impl fmt::Debug for DedupKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DedupKey({}:{})", self.provider, self.to_hex())
    }
}

/// Proof of a claim: only its holder can commit or release the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    token: u64,
}

impl Lease {
    /// A lease with a store-chosen token (for [`DedupStore`] implementations).
    pub fn new(token: u64) -> Self {
        Self { token }
    }

    /// The store-chosen token.
    pub fn token(&self) -> u64 {
        self.token
    }
}

/// What a claim found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// The key is new (or its previous claim expired): the caller holds it now.
    Acquired(Lease),
    /// Another delivery with this key is being handled; try again after `retry_after`.
    InFlight {
        /// When the other holder's lease ends at the latest.
        retry_after: Duration,
    },
    /// A delivery with this key was already handled.
    Done,
}

/// A dedup store failed (unreachable, timed out, answered an error) or is full of deliveries
/// still being handled ([`is_full`](Self::is_full)). The pipeline answers 503 with
/// `Retry-After` so the provider retries: nothing is lost, and the handler is not called.
#[derive(Debug, thiserror::Error)]
#[error("dedup store: {message}")]
pub struct DedupError {
    message: String,
    full: bool,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl DedupError {
    /// A store error with a message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            full: false,
            source: None,
        }
    }

    /// A store error caused by `source`.
    pub fn with_source(
        message: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self {
            message: message.into(),
            full: false,
            source: Some(source.into()),
        }
    }

    /// The store has no room for a new key without forgetting one still in flight (which would
    /// let a duplicate run while the first delivery is handled): the claim is refused, and
    /// succeeds again once deliveries finish.
    pub fn full(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            full: true,
            source: None,
        }
    }

    /// Whether the store refused a claim because it is full of deliveries in flight (see
    /// [`full`](Self::full)), rather than because it failed.
    pub fn is_full(&self) -> bool {
        self.full
    }
}

/// Where claimed and handled delivery keys live.
///
/// Every method must be atomic with respect to the others for the same key: two concurrent
/// claims of a new key give one [`Claim::Acquired`] and one [`Claim::InFlight`]. A claim lasts
/// `lease` unless committed (then the key is remembered for `ttl`) or released (then it is
/// forgotten, so the provider's retry is handled). A lease that ends without either makes the
/// key claimable again, so a crashed handler never blocks a key forever.
///
/// # Guarantees
///
/// Together with the pipeline, the stores make delivery at least once (a handler's work is
/// never marked handled before it succeeded), and at most once per key for as long as the store
/// remembers the key. [`MemoryStore`] and `RedisDedupStore` keep these; a store of your own
/// should too:
///
/// - **A key in flight is not forgotten before its lease ends**, not even to make room: a
///   duplicate arriving while a delivery is handled gets [`Claim::InFlight`] (429), and the
///   holder's commit finds its claim. A store with no room left but for keys in flight
///   refuses new claims with [`DedupError::full`] (503 with `Retry-After`). (Redis keeps this
///   with its `noeviction` policy; see `RedisDedupStore`'s "Persistence".)
/// - **Only the holder can commit or release.** A [`Lease`] whose claim ended, and whose key
///   was claimed again since, gets `Ok(false)` and never ends the other holder's claim.
/// - **Commit and release are idempotent for their lease**, so that they can be retried: a
///   repeated commit by the lease that committed answers `Ok(true)`; a repeated release answers
///   `Ok(false)` and changes nothing.
/// - **A store error never loses a delivery.** On claim, the pipeline answers 503 (with
///   `Retry-After`) without calling the handler. On commit or release, after the handler ran,
///   the pipeline answers as the handler did and retries in the background with backoff (for
///   about two minutes) until the store answers. A commit that finds the key no longer held
///   (the lease ran out, or the store lost the key) claims it again and commits it, unless
///   another delivery of the key holds it.
/// - **What a store forgets is handled again**: a handled key evicted for room (least recently
///   used first), expired (`ttl`), or lost with the store (a restart without persistence) is a
///   new key to the next delivery, whose handler then runs again. Size and persist the store
///   for the provider's retry horizon.
pub trait DedupStore: Send + Sync + 'static {
    /// Claims `key` for `lease`.
    fn claim<'a>(
        &'a self,
        key: &'a DedupKey,
        lease: Duration,
    ) -> StoreFuture<'a, Result<Claim, DedupError>>;

    /// Marks `key` handled for `ttl`, if `lease` still holds it. `Ok(false)` when it did not
    /// (the lease ended and another delivery claimed the key). Idempotent: a repeated commit
    /// by the lease that committed the key answers `Ok(true)` again (a retried commit whose
    /// first answer was lost), and leaves its TTL as it was.
    fn commit<'a>(
        &'a self,
        key: &'a DedupKey,
        lease: Lease,
        ttl: Duration,
    ) -> StoreFuture<'a, Result<bool, DedupError>>;

    /// Forgets `key`, if `lease` still holds it. `Ok(false)` when it did not.
    fn release<'a>(
        &'a self,
        key: &'a DedupKey,
        lease: Lease,
    ) -> StoreFuture<'a, Result<bool, DedupError>>;
}

impl<S: DedupStore + ?Sized> DedupStore for std::sync::Arc<S> {
    fn claim<'a>(
        &'a self,
        key: &'a DedupKey,
        lease: Duration,
    ) -> StoreFuture<'a, Result<Claim, DedupError>> {
        (**self).claim(key, lease)
    }

    fn commit<'a>(
        &'a self,
        key: &'a DedupKey,
        lease: Lease,
        ttl: Duration,
    ) -> StoreFuture<'a, Result<bool, DedupError>> {
        (**self).commit(key, lease, ttl)
    }

    fn release<'a>(
        &'a self,
        key: &'a DedupKey,
        lease: Lease,
    ) -> StoreFuture<'a, Result<bool, DedupError>> {
        (**self).release(key, lease)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_scoped() {
        let a = DedupKey::new("zernio", None, "k");
        assert_eq!(a, DedupKey::new("zernio", None, "k"));
        assert_ne!(a.digest(), DedupKey::new("ayrshare", None, "k").digest());
        assert_ne!(
            a.digest(),
            DedupKey::new("zernio", Some("ref"), "k").digest()
        );
        // Length-prefixed parts: moving bytes between scope and key changes the digest.
        assert_ne!(
            DedupKey::new("p", Some("ab"), "c").digest(),
            DedupKey::new("p", Some("a"), "bc").digest()
        );
        // No scope and an empty scope are different scopes.
        assert_ne!(
            DedupKey::new("p", None, "k").digest(),
            DedupKey::new("p", Some(""), "k").digest()
        );
    }

    // Issue 11: the namespace was only the provider's name.
    #[test]
    fn every_part_namespaces_the_key() {
        let base = KeyParts {
            tenant: Some("a"),
            namespace: Namespace::Configured("billing"),
            scope: None,
            origin: KeyOrigin::Sender,
            key: "evt_1",
        };
        let key = |parts: KeyParts<'_>| *DedupKey::from_parts("standard", &parts).digest();
        let reference = key(base);
        assert_eq!(reference, key(base));
        let fingerprint = [b'x'; 16];
        for other in [
            KeyParts {
                tenant: Some("b"),
                ..base
            },
            KeyParts {
                tenant: None,
                ..base
            },
            KeyParts {
                tenant: Some(""),
                ..base
            },
            KeyParts {
                namespace: Namespace::Configured("shipping"),
                ..base
            },
            KeyParts {
                namespace: Namespace::Configured(""),
                ..base
            },
            KeyParts {
                namespace: Namespace::None,
                ..base
            },
            KeyParts {
                namespace: Namespace::Fingerprint(&fingerprint),
                ..base
            },
            KeyParts {
                scope: Some("r"),
                ..base
            },
            KeyParts {
                scope: Some(""),
                ..base
            },
            KeyParts {
                origin: KeyOrigin::BodyHash,
                ..base
            },
            KeyParts {
                key: "evt_2",
                ..base
            },
        ] {
            assert_ne!(reference, key(other), "{other:?}");
        }
        assert_ne!(reference, *DedupKey::from_parts("zernio", &base).digest());
        // Moving bytes between parts changes the digest.
        let configured = |name| KeyParts {
            namespace: Namespace::Configured(name),
            ..base
        };
        assert_ne!(
            key(KeyParts {
                tenant: Some("ab"),
                ..configured("c")
            }),
            key(KeyParts {
                tenant: Some("a"),
                ..configured("bc")
            })
        );
        assert_ne!(
            key(KeyParts {
                scope: Some("ab"),
                key: "c",
                ..base
            }),
            key(KeyParts {
                scope: Some("a"),
                key: "bc",
                ..base
            })
        );
        // A configured namespace never equals a fingerprint's bytes.
        assert_ne!(
            key(KeyParts {
                namespace: Namespace::Fingerprint(&fingerprint),
                ..base
            }),
            key(configured("xxxxxxxxxxxxxxxx"))
        );
        // Long parts (streamed past the stack buffer) are hashed whole, and the same way
        // every time.
        let (long, longer) = ("k".repeat(300), "k".repeat(301));
        assert_ne!(
            key(KeyParts { key: &long, ..base }),
            key(KeyParts {
                key: &longer,
                ..base
            })
        );
        assert_eq!(
            key(KeyParts { key: &long, ..base }),
            key(KeyParts { key: &long, ..base })
        );
        let long_tenant = "t".repeat(200);
        assert_ne!(
            key(KeyParts {
                tenant: Some(&long_tenant),
                key: "x",
                ..base
            }),
            key(KeyParts {
                tenant: Some(&long_tenant),
                key: "y",
                ..base
            })
        );
    }

    /// The encoding against a plain SHA-256 of the same bytes: the stack buffer and the
    /// streamed path hash exactly the documented encoding.
    #[test]
    fn encoding_is_the_documented_one() {
        let fingerprint = [7u8; 16];
        let parts = KeyParts {
            tenant: Some("acme"),
            namespace: Namespace::Fingerprint(&fingerprint),
            scope: Some("r"),
            origin: KeyOrigin::BodyHash,
            key: "k",
        };
        let mut bytes = vec![1 | 2 | 4 | (2 << 3), 8];
        bytes.extend_from_slice(b"standard");
        bytes.push(4);
        bytes.extend_from_slice(b"acme");
        bytes.extend_from_slice(&fingerprint);
        bytes.extend_from_slice(&[1, b'r', b'k']);
        let expected = Sha256::digest(&bytes);
        assert_eq!(
            DedupKey::from_parts("standard", &parts).digest(),
            &expected[..16]
        );
        // A 200-byte key: a two-byte length prefix, streamed.
        let key = "z".repeat(200);
        let parts = KeyParts {
            scope: Some(&key),
            key: "",
            ..parts
        };
        let mut bytes = vec![1 | 2 | 4 | (2 << 3), 8];
        bytes.extend_from_slice(b"standard");
        bytes.push(4);
        bytes.extend_from_slice(b"acme");
        bytes.extend_from_slice(&fingerprint);
        bytes.extend_from_slice(&[200 & 0x7f | 0x80, 1]);
        bytes.extend_from_slice(key.as_bytes());
        let expected = Sha256::digest(&bytes);
        assert_eq!(
            DedupKey::from_parts("standard", &parts).digest(),
            &expected[..16]
        );
    }

    // Issue 11: body-hash keys live apart from sender-given ids.
    #[test]
    fn a_sender_id_equal_to_a_body_hash_is_another_key() {
        let hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        let parts = |origin| KeyParts {
            tenant: None,
            namespace: Namespace::None,
            scope: None,
            origin,
            key: hash,
        };
        assert_ne!(
            DedupKey::from_parts("zernio", &parts(KeyOrigin::Sender)),
            DedupKey::from_parts("zernio", &parts(KeyOrigin::BodyHash))
        );
    }
}
