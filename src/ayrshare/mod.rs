//! Ayrshare: signature scheme and typed events (in progress).
