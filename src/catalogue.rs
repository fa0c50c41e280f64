//! The two macros every provider's typed catalogue is built with, so that no provider writes
//! them again: open string enums, and the catalogue enum generated from one list of names.

use std::{fmt, marker::PhantomData};

use serde::de::{Error, Visitor};

/// An open string enum: the values a provider documents, plus `Other(String)` for anything newer.
///
/// Generates the enum (`#[non_exhaustive]`), `as_str`, `From<&str>`, `From<String>`,
/// `AsRef<str>`, `Display`, and `Serialize`/`Deserialize` as a plain JSON string. Decoding
/// never fails on a string and never yields `Other` for a listed value.
macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $wire:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $(
                #[doc = concat!("`", $wire, "`.")]
                $(#[$vmeta])*
                $variant,
            )+
            /// A value this version does not list (providers add values without notice), as
            /// sent. Decoding and the `From` conversions never put a listed value here.
            Other(String),
        }

        impl $name {
            /// The value as it appears on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $wire, )+
                    Self::Other(value) => value,
                }
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                match value {
                    $( $wire => Self::$variant, )+
                    other => Self::Other(other.to_owned()),
                }
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                match value.as_str() {
                    $( $wire => Self::$variant, )+
                    _ => Self::Other(value),
                }
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserializer.deserialize_str($crate::catalogue::OpenEnumVisitor::<Self>::new(
                    stringify!($name),
                ))
            }
        }
    };
}

/// A provider's catalogue: one line per event name, the only place a name is written.
///
/// Generates [`Event`](crate::event::Event) and [`EventOf`](crate::event::EventOf) (of the
/// provider named after `for`) for each per-name type (`NAMES = &[name]`, decoded
/// with [`decode_json`](crate::event::decode_json)), the enum with one boxed variant per name
/// plus `Unknown`, its `Event` impl (all names; `decode` dispatches on the name), `EventSet`,
/// `Serialize`, `name()`, `as_unknown()` and `From<Type>`. With `as dyn Trait`, also `view()`:
/// the typed payload as that trait object, for what every event of the provider carries.
macro_rules! catalogue {
    (
        $(#[$meta:meta])*
        pub enum $enum:ident for $provider:ty as $view:ty {
            $( $(#[$vmeta:meta])* $variant:ident = $name:literal, )+
        }
    ) => {
        catalogue! {
            $(#[$meta])*
            pub enum $enum for $provider {
                $( $(#[$vmeta])* $variant = $name, )+
            }
        }

        impl $enum {
            /// The typed payload behind the variant; `None` for [`Self::Unknown`].
            pub fn view(&self) -> Option<&$view> {
                match self {
                    $( Self::$variant(event) => Some(&**event as &$view), )+
                    Self::Unknown(_) => None,
                }
            }
        }
    };
    (
        $(#[$meta:meta])*
        pub enum $enum:ident for $provider:ty {
            $( $(#[$vmeta:meta])* $variant:ident = $name:literal, )+
        }
    ) => {
        catalogue! {
            @impl [false]
            $(#[$meta])*
            pub enum $enum for $provider {
                $( $(#[$vmeta])* $variant = $name, )+
            }
        }
    };
    // Every payload declares the provider's envelope fields: its decode refuses a repeat
    // (`Event::DECODE_CHECKS_ENVELOPE`).
    (
        $(#[$meta:meta])*
        pub enum $enum:ident for $provider:ty, decode checks envelope {
            $( $(#[$vmeta:meta])* $variant:ident = $name:literal, )+
        }
    ) => {
        catalogue! {
            @impl [true]
            $(#[$meta])*
            pub enum $enum for $provider {
                $( $(#[$vmeta])* $variant = $name, )+
            }
        }
    };
    (
        @impl [$checks:literal]
        $(#[$meta:meta])*
        pub enum $enum:ident for $provider:ty {
            $( $(#[$vmeta:meta])* $variant:ident = $name:literal, )+
        }
    ) => {
        $(
            impl $crate::event::Event for $variant {
                const NAMES: &'static [&'static str] = &[$name];
                const DECODE_CHECKS_JSON: bool = true;
                const DECODE_CHECKS_ENVELOPE: bool = $checks;

                fn decode(_name: &str, raw: &[u8]) -> Result<Self, $crate::event::DecodeError> {
                    $crate::event::decode_json(raw)
                }

                fn decode_text(
                    _name: &str,
                    text: &str,
                ) -> Result<Self, $crate::event::DecodeError> {
                    $crate::event::decode_json_text(text)
                }
            }

            impl $crate::event::EventOf<$provider> for $variant {}

            impl From<$variant> for $enum {
                fn from(event: $variant) -> Self {
                    Self::$variant(Box::new(event))
                }
            }
        )+

        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        pub enum $enum {
            $(
                #[doc = concat!("`", $name, "`: see [`", stringify!($variant), "`].")]
                $(#[$vmeta])*
                $variant(Box<$variant>),
            )+
            /// A name outside the catalogue, or a known name whose payload did not fit its
            /// model, with the raw JSON and the reason.
            Unknown($crate::event::UnknownEvent),
        }

        impl $enum {
            /// The event name: the variant's catalogue name, or the unknown event's name as sent.
            pub fn name(&self) -> &str {
                match self {
                    $( Self::$variant(_) => $name, )+
                    Self::Unknown(event) => event.name(),
                }
            }

            /// The unknown event, when this is [`Self::Unknown`].
            pub fn as_unknown(&self) -> Option<&$crate::event::UnknownEvent> {
                match self {
                    Self::Unknown(event) => Some(event),
                    _ => None,
                }
            }
        }

        impl $crate::event::Event for $enum {
            const NAMES: &'static [&'static str] = &[$($name),+];
            // Every name decodes with its variant's `decode_json`.
            const DECODE_CHECKS_JSON: bool = true;
            const DECODE_CHECKS_ENVELOPE: bool = $checks;

            fn decode(name: &str, raw: &[u8]) -> Result<Self, $crate::event::DecodeError> {
                match name {
                    $(
                        $name => Ok(Self::$variant(Box::new(
                            <$variant as $crate::event::Event>::decode(name, raw)?,
                        ))),
                    )+
                    other => Err($crate::event::DecodeError::custom(format_args!(
                        "`{other}` is not in the {} catalogue", stringify!($enum)
                    ))),
                }
            }

            fn decode_text(name: &str, text: &str) -> Result<Self, $crate::event::DecodeError> {
                match name {
                    $(
                        $name => Ok(Self::$variant(Box::new(
                            <$variant as $crate::event::Event>::decode_text(name, text)?,
                        ))),
                    )+
                    other => Err($crate::event::DecodeError::custom(format_args!(
                        "`{other}` is not in the {} catalogue", stringify!($enum)
                    ))),
                }
            }

            fn from_unknown(
                event: $crate::event::UnknownEvent,
            ) -> Result<Self, $crate::event::UnknownEvent> {
                Ok(Self::Unknown(event))
            }
        }

        /// Serializes as the event's JSON object (the variant's payload), and an unknown event
        /// as its raw JSON.
        impl ::serde::Serialize for $enum {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                match self {
                    $( Self::$variant(event) => ::serde::Serialize::serialize(event, serializer), )+
                    Self::Unknown(event) => ::serde::Serialize::serialize(&event.json(), serializer),
                }
            }
        }

        impl $crate::event::EventOf<$provider> for $enum {}

        impl $crate::event::EventSet for $enum {
            fn unknown(event: $crate::event::UnknownEvent) -> Self {
                Self::Unknown(event)
            }
        }
    };
}

/// The one visitor behind every `open_enum!`: accepts any JSON string, without allocating for a
/// listed value.
pub(crate) struct OpenEnumVisitor<T> {
    name: &'static str,
    marker: PhantomData<fn() -> T>,
}

impl<T> OpenEnumVisitor<T> {
    pub(crate) fn new(name: &'static str) -> Self {
        Self {
            name,
            marker: PhantomData,
        }
    }
}

impl<T> Visitor<'_> for OpenEnumVisitor<T>
where
    T: for<'a> From<&'a str> + From<String>,
{
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a string ({})", self.name)
    }

    fn visit_str<E: Error>(self, value: &str) -> Result<T, E> {
        Ok(T::from(value))
    }

    fn visit_string<E: Error>(self, value: String) -> Result<T, E> {
        Ok(T::from(value))
    }
}
