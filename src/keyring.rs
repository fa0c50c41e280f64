//! Secrets and signature checks: a keyring of pre-keyed HMAC-SHA256 states, tried in constant
//! time against every signature the sender offered.
//!
//! A [`Keyring`] holds every currently valid secret of one provider, current first. Each secret
//! is turned into a keyed HMAC state once, at construction; a request clones that state
//! instead of re-keying. The raw secret is zeroized as soon as it is keyed, and the keyed
//! states are zeroized on drop. `Debug` prints how many keys there are, never a key.
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
//! # Ok::<(), hookgate::keyring::KeyringError>(())
//! ```

use std::{fmt, sync::Arc};

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

/// Refusals when building a [`Keyring`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyringError {
    /// No secret was given. A keyring never means "verification skipped".
    #[error("a keyring needs at least one secret")]
    NoSecrets,
    /// The secret at this position (0 = current) is empty.
    #[error("secret #{index} is empty; an empty secret would accept forged deliveries")]
    EmptySecret {
        /// Position of the empty secret in the list, 0 for the current one.
        index: usize,
    },
    /// A secret in a provider-specific form (like `whsec_<base64>`) could not be decoded.
    #[error("secret #{index} is not in the expected form: {reason}")]
    InvalidSecret {
        /// Position of the secret in the list.
        index: usize,
        /// What was wrong, without the secret itself.
        reason: &'static str,
    },
}

/// The valid secrets of one provider, current first, pre-keyed for HMAC-SHA256.
///
/// Cheap to clone (the keyed states are shared). See the [module docs](self) for an example.
#[derive(Clone)]
pub struct Keyring {
    keys: Arc<[HmacSha256]>,
}

impl Keyring {
    /// Builds a keyring from secrets given as bytes (a `&str` is its UTF-8 bytes), current first.
    ///
    /// Refuses an empty list and any empty secret.
    pub fn new<I, K>(secrets: I) -> Result<Self, KeyringError>
    where
        I: IntoIterator<Item = K>,
        K: AsRef<[u8]>,
    {
        let mut keys = Vec::new();
        for (index, secret) in secrets.into_iter().enumerate() {
            let secret = secret.as_ref();
            if secret.is_empty() {
                return Err(KeyringError::EmptySecret { index });
            }
            // HMAC accepts keys of any length.
            keys.push(HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length"));
        }
        if keys.is_empty() {
            return Err(KeyringError::NoSecrets);
        }
        Ok(Self { keys: keys.into() })
    }

    /// Builds a keyring from owned secrets, zeroizing each one once it is keyed.
    pub fn from_owned<I>(secrets: I) -> Result<Self, KeyringError>
    where
        I: IntoIterator<Item = Vec<u8>>,
    {
        let secrets: Vec<Zeroizing<Vec<u8>>> = secrets.into_iter().map(Zeroizing::new).collect();
        Self::new(secrets.iter().map(|s| s.as_slice()))
    }

    /// Number of secrets in the keyring.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Always false: a keyring holds at least one secret.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Starts checking one delivery: `prefix` is whatever the provider signs before the body
    /// (empty for a provider that signs the body alone). Feed the body with
    /// [`Verifier::update`] as it arrives.
    #[inline]
    pub fn verifier(&self, prefix: &[u8]) -> Verifier {
        let (first, rest) = self.keys.split_first().expect("a keyring is never empty");
        let mut verifier = Verifier {
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

    /// Signs `prefix` followed by `body` with the current (first) secret.
    ///
    /// For tests and senders; a receiver only needs [`Keyring::verifier`].
    pub fn sign(&self, prefix: &[u8], body: &[u8]) -> Tag {
        let mut mac = Mac::new(&self.keys[0]);
        mac.update(prefix);
        mac.update(body);
        Tag(*mac.finalize())
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
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

/// An HMAC-SHA256 check in progress: one keyed state per secret, fed as the body arrives.
pub struct Verifier {
    // The current secret inline, the others (during a rotation) on the heap: no allocation
    // and nothing large to move for the usual single secret.
    first: Mac,
    rest: Vec<Mac>,
}

impl Verifier {
    /// Feeds the next chunk of the signed content.
    #[inline]
    pub fn update(&mut self, chunk: &[u8]) {
        self.first.update(chunk);
        for mac in &mut self.rest {
            mac.update(chunk);
        }
    }

    /// Finishes the check: the position of the first secret whose MAC equals any offered tag.
    ///
    /// Every (secret, tag) pair is compared in constant time, and all pairs are compared
    /// whatever matched, so the time taken says nothing about which tag was close.
    #[inline]
    pub fn matches(mut self, offered: &[Tag]) -> Option<usize> {
        let mut found = None;
        let macs = std::iter::once(&mut self.first).chain(&mut self.rest);
        for (index, mac) in macs.enumerate() {
            let expected = mac.finalize();
            let mut hit = Choice::from(0);
            for tag in offered {
                hit |= tags_equal(&expected, &tag.0);
            }
            if bool::from(hit) && found.is_none() {
                found = Some(index);
            }
        }
        found
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

impl fmt::Debug for Verifier {
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
    /// Parses 64 hexadecimal digits, in either case, after trimming spaces and tabs.
    #[inline]
    pub fn from_hex(text: impl AsRef<[u8]>) -> Option<Self> {
        let text = text.as_ref().trim_ascii();
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
        assert_eq!(
            Keyring::new(Vec::<&str>::new()).unwrap_err(),
            KeyringError::NoSecrets
        );
        assert_eq!(
            Keyring::new(["ok", ""]).unwrap_err(),
            KeyringError::EmptySecret { index: 1 }
        );
    }

    #[test]
    fn debug_never_prints_a_secret() {
        let keyring = Keyring::new(["super-secret-value"]).unwrap();
        let text = format!("{keyring:?} {:?}", keyring.verifier(b""));
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
        assert_eq!(Tag::from_base64(tag.to_base64().as_bytes()), Some(tag));
        assert_eq!(Tag::from_base64(b"c2hvcnQ="), None);
    }
}
