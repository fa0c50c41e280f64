//! The macros that build Zernio's models: lenient structs, payload envelopes and per-name
//! newtypes over shared shapes (open enums and the catalogue enum come from the core).
//!
//! Everything repeated across Zernio's 49 payloads is written once here, so the models say only
//! what differs between events.

/// Lenient payload models: one or more structs with the common derives and attributes.
///
/// Every struct gets `Debug, Clone, PartialEq, Deserialize, Serialize` and `#[non_exhaustive]`,
/// and never `deny_unknown_fields`. A field typed `Option<T>` is *optional*: it gets
/// `#[serde(default, skip_serializing_if = "Option::is_none")]`, so it may be absent or `null`
/// and is left out again when serialized. A field Zernio always sends but that may be `null` is
/// typed [`Nullable<T>`](super::models::Nullable) (an alias of `Option<T>`), which serializes
/// `None` back as `null`. Write the struct's `rename_all` yourself: most of Zernio's wire is
/// camelCase, Meta's pass-through objects are snake_case.
macro_rules! model {
    // Munch one field: `Option<T>` is optional.
    (@fields $head:tt [$($done:tt)*]
        $(#[$fmeta:meta])* pub $field:ident : Option<$ty:ty> $(, $($rest:tt)*)?
    ) => {
        model!(@fields $head [
            $($done)*
            $(#[$fmeta])*
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub $field: Option<$ty>,
        ] $($($rest)*)?);
    };
    // Munch one field: anything else is required.
    (@fields $head:tt [$($done:tt)*]
        $(#[$fmeta:meta])* pub $field:ident : $ty:ty $(, $($rest:tt)*)?
    ) => {
        model!(@fields $head [$($done)* $(#[$fmeta])* pub $field: $ty,] $($($rest)*)?);
    };
    // All fields munched: emit the struct.
    (@fields [$(#[$meta:meta])* $name:ident] [$($done:tt)*]) => {
        #[derive(Debug, Clone, PartialEq, ::serde::Deserialize, ::serde::Serialize)]
        $(#[$meta])*
        #[non_exhaustive]
        pub struct $name {
            $($done)*
        }
    };
    () => {};
    (
        $(#[$meta:meta])*
        pub struct $name:ident { $($body:tt)* }
        $($rest:tt)*
    ) => {
        model!(@fields [$(#[$meta])* $name] [] $($body)*);
        model!($($rest)*);
    };
}

/// A whole event payload: [`model!`] plus the envelope keys every Zernio event carries (`id`,
/// `event`, `timestamp`), camelCase on the wire.
///
/// `payload! { lenient ... }` is for the inline schemas (`whatsapp.number.*`, `verification.*`,
/// `whatsapp.automatic_event`), which mark nothing required: `id` and `timestamp` are optional
/// there. `event` is always required: the pipeline cannot route a body without it.
macro_rules! payload {
    (
        $(#[$meta:meta])*
        pub struct $name:ident { $($body:tt)* }
    ) => {
        model! {
            $(#[$meta])*
            #[serde(rename_all = "camelCase")]
            pub struct $name {
                /// Event id: the dedup key, equal to `X-Zernio-Event-Id`. Opaque (UUID or ULID-like).
                pub id: String,
                /// Event name, equal to `X-Zernio-Event` (e.g. `post.published`).
                pub event: String,
                /// When Zernio built the event (ISO-8601 UTC with milliseconds); unchanged on
                /// retries and redeliveries, so it is no freshness proof.
                pub timestamp: String,
                $($body)*
            }
        }
    };
    (
        lenient
        $(#[$meta:meta])*
        pub struct $name:ident { $($body:tt)* }
    ) => {
        model! {
            $(#[$meta])*
            #[serde(rename_all = "camelCase")]
            pub struct $name {
                /// Event id: the dedup key, equal to `X-Zernio-Event-Id`. Always sent in
                /// practice, but this inline schema marks nothing required.
                pub id: Option<String>,
                /// Event name, equal to `X-Zernio-Event`.
                pub event: String,
                /// When Zernio built the event (ISO-8601 UTC); optional in this inline schema.
                pub timestamp: Option<String>,
                $($body)*
            }
        }
    };
}

/// An inbox event payload: [`payload!`] plus the `conversation` and `account` blocks that every
/// inbox event carries.
macro_rules! inbox_payload {
    (
        $(#[$meta:meta])*
        pub struct $name:ident { $($body:tt)* }
    ) => {
        payload! {
            $(#[$meta])*
            pub struct $name {
                $($body)*
                /// The conversation (thread) the event belongs to.
                pub conversation: Conversation,
                /// The connected inbox account that received or sent it.
                pub account: InboxAccount,
            }
        }
    };
}

/// An account block keyed by `accountId` (account, ads, template and post-platform events):
/// the common fields plus the struct's own, camelCase on the wire.
macro_rules! account {
    (
        $(#[$meta:meta])*
        pub struct $name:ident { $($body:tt)* }
    ) => {
        model! {
            $(#[$meta])*
            #[serde(rename_all = "camelCase")]
            pub struct $name {
                /// Zernio SocialAccount id.
                pub account_id: String,
                /// The platform of the account (`metaads` for ads accounts).
                pub platform: Platform,
                /// Handle or name of the account on the platform.
                pub username: String,
                /// Display name, when the platform has one.
                pub display_name: Option<String>,
                $($body)*
            }
        }
    };
}

/// Per-name newtypes over a payload shape that several event names share.
///
/// For each name: `#[serde(transparent)] pub struct Name(pub Shape)` with `Deref`/`DerefMut` to
/// the shape, `into_inner` and `From<Name> for Shape`. The shape itself also implements
/// [`Event`](crate::event::Event) for all of those names at once (its `NAMES` are taken from the
/// newtypes', which the catalogue defines), so one handler can take every name of the shape.
macro_rules! shared_payload {
    (
        $shape:ident {
            $( $(#[$meta:meta])* $name:ident, )+
        }
    ) => {
        impl $crate::event::Event for $shape {
            const NAMES: &'static [&'static str] =
                &[$( <$name as $crate::event::Event>::NAMES[0], )+];
            const DECODE_CHECKS_JSON: bool = true;
            // A `payload!` struct: it declares `id` and `event`.
            const DECODE_CHECKS_ENVELOPE: bool = true;

            fn decode(_name: &str, raw: &[u8]) -> Result<Self, $crate::event::DecodeError> {
                $crate::event::decode_json(raw)
            }

            fn decode_text(_name: &str, text: &str) -> Result<Self, $crate::event::DecodeError> {
                $crate::event::decode_json_text(text)
            }
        }

        impl $crate::event::EventOf<$crate::zernio::Zernio> for $shape {}

        $(
            $(#[$meta])*
            #[doc = ""]
            #[doc = concat!("A transparent newtype over [`", stringify!($shape), "`], the shape this ")]
            #[doc = "event shares with others; its fields are reachable through `Deref`."]
            #[derive(Debug, Clone, PartialEq, ::serde::Deserialize, ::serde::Serialize)]
            #[serde(transparent)]
            pub struct $name(pub $shape);

            impl $name {
                #[doc = concat!("The shared [`", stringify!($shape), "`].")]
                pub fn into_inner(self) -> $shape {
                    self.0
                }
            }

            impl ::std::ops::Deref for $name {
                type Target = $shape;

                fn deref(&self) -> &$shape {
                    &self.0
                }
            }

            impl ::std::ops::DerefMut for $name {
                fn deref_mut(&mut self) -> &mut $shape {
                    &mut self.0
                }
            }

            impl From<$name> for $shape {
                fn from(event: $name) -> Self {
                    event.0
                }
            }
        )+
    };
}
