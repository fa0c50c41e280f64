//! hookgate (crate docs are written below, in `docs/`).
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "ayrshare")]
pub mod ayrshare;
pub mod dedup;
pub mod event;
pub mod keyring;
pub mod provider;
#[cfg(feature = "zernio")]
pub mod zernio;
