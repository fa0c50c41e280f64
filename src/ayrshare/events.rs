//! Ayrshare's typed events: one struct per `action[/subAction]`, and the [`Event`] catalogue.
//!
//! Every struct flattens the fields all actions share into [`Common`] (`refId`, `hookId`,
//! `created`, …) and keeps every field it does not model in `extra`, so nothing a delivery
//! carries is lost. Fields the wire specification does not confirm are optional, value sets are
//! open enums with an `Other` case, and free-form objects are kept as JSON.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// An event struct: its own fields, then [`Common`] and `extra`, both flattened.
macro_rules! event_struct {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* pub $field:ident: $ty:ty, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
        #[serde(rename_all = "camelCase")]
        #[non_exhaustive]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )*
            /// The fields every Ayrshare event carries (`refId`, `hookId`, `created`, …).
            #[serde(flatten)]
            pub common: Common,
            /// Every field not modelled above, as received.
            #[serde(flatten)]
            pub extra: Map<String, Value>,
        }

        impl Fields for $name {
            fn common(&self) -> &Common {
                &self.common
            }

            fn extra(&self) -> &Map<String, Value> {
                &self.extra
            }
        }
    };
}

/// What every typed Ayrshare event carries, whatever its action.
pub trait Fields {
    /// The envelope fields (`refId`, `hookId`, `created`, …).
    fn common(&self) -> &Common;
    /// Every field the typed model does not cover, as received.
    fn extra(&self) -> &Map<String, Value>;
}

/// `null` reads as the default (an empty list), like an absent field.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Option::<T>::deserialize(deserializer).map(Option::unwrap_or_default)
}

open_enum! {
    /// A social network key, as Ayrshare spells it (`platform`, `postIds[].platform`).
    pub enum Platform {
        /// `facebook`.
        Facebook = "facebook",
        /// `instagram`.
        Instagram = "instagram",
        /// `linkedin`.
        LinkedIn = "linkedin",
        /// `twitter` (X).
        Twitter = "twitter",
        /// `tiktok`.
        TikTok = "tiktok",
        /// `youtube`.
        YouTube = "youtube",
        /// `pinterest`.
        Pinterest = "pinterest",
        /// `reddit`.
        Reddit = "reddit",
        /// `threads`.
        Threads = "threads",
        /// `bluesky`.
        Bluesky = "bluesky",
        /// `gmb` (Google Business Profile).
        Gmb = "gmb",
        /// `telegram`.
        Telegram = "telegram",
        /// `snapchat`.
        Snapchat = "snapchat",
    }
}

open_enum! {
    /// An outcome: `success` or `error` (other values, like a batch entry's `scheduled`, are kept
    /// in `Other`).
    pub enum Status {
        /// `success`.
        Success = "success",
        /// `error`.
        Error = "error",
    }
}

open_enum! {
    /// What happened to a social account link (`social`'s `type`).
    pub enum SocialType {
        /// `link`: the profile linked a network.
        Link = "link",
        /// `unlink`: the network was unlinked, by the user or by Ayrshare (see `source`).
        Unlink = "unlink",
        /// `refresh`: the link must be refreshed by `refreshBy`.
        Refresh = "refresh",
    }
}

open_enum! {
    /// Who acted on a social account link (`social`'s `source`).
    pub enum SocialSource {
        /// `system`: Ayrshare acted automatically (for example on a revoked authorization).
        System = "system",
        /// `user`: the user acted.
        User = "user",
    }
}

open_enum! {
    /// The direction of a direct message (`messages`' `type`).
    pub enum MessageDirection {
        /// `received`: sent to the profile.
        Received = "received",
        /// `sent`: sent by the profile.
        Sent = "sent",
    }
}

/// The fields every Ayrshare event carries, whatever its action.
///
/// All optional except `action`: only `scheduled` confirms them. Read them from any event with
/// [`Event::common`].
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Common {
    /// The `action` (the registered webhook action), without the sub-action.
    #[serde(default)]
    pub action: String,
    /// The `subAction` refining the action, if any.
    pub sub_action: Option<String>,
    /// The User Profile's reference id: which profile the event is about (tenant routing, dedup
    /// scope).
    pub ref_id: Option<String>,
    /// The event's id, shared by every retry: the dedup key.
    pub hook_id: Option<String>,
    /// When the event happened (ISO-8601 UTC, second precision, e.g. `2026-09-12T16:00:06Z`).
    pub created: Option<String>,
    /// HTTP-style status of the operation (200 on success).
    pub code: Option<i64>,
    /// The webhook URL the call was sent to.
    pub url: Option<String>,
    /// The User Profile's title (for `feed`, the feed item's title).
    pub title: Option<String>,
}

/// One network's result in `postIds` (`scheduled`, `batch`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct PostId {
    /// `success` for a published post (a batch entry may say `scheduled`).
    pub status: Option<Status>,
    /// The network's post id (numeric ids are sent as strings; LinkedIn `urn:li:share:…`), or
    /// for a batch entry the Ayrshare post id.
    pub id: Option<String>,
    /// The post's public URL.
    pub post_url: Option<String>,
    /// The network.
    pub platform: Option<Platform>,
    /// Other keys of `/post` results (`isVideo`, `idShare`, `owner`, `type`, `usedQuota`, …).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One network's failure in `errors` (same shape as the `/post` endpoint's error entries).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct PostError {
    /// The operation, e.g. `post`.
    pub action: Option<String>,
    /// `error`.
    pub status: Option<Status>,
    /// Ayrshare's error code (e.g. 156).
    pub code: Option<i64>,
    /// Human-readable reason.
    pub message: Option<String>,
    /// The network that failed.
    pub platform: Option<Platform>,
    /// Other keys, as received.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Who sent a direct message (`senderDetails`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SenderDetails {
    /// Display name.
    pub name: Option<String>,
    /// Handle.
    pub username: Option<String>,
    /// Profile picture URL.
    pub profile_image: Option<String>,
}

/// The author of a comment or mention (`from`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Author {
    /// The network's user id.
    pub id: Option<String>,
    /// Handle (Instagram, X).
    pub username: Option<String>,
    /// Display name (Facebook).
    pub name: Option<String>,
}

event_struct! {
    /// `scheduled`: a post created with `scheduleDate` was processed, successfully or not.
    ///
    /// The best documented action: `status` and `id` are required.
    pub struct Scheduled {
        /// Overall outcome.
        pub status: Status,
        /// The Ayrshare post id.
        pub id: String,
        /// Per-network failures (empty on success).
        #[serde(default, deserialize_with = "null_as_default")]
        pub errors: Vec<PostError>,
        /// One entry per network the post was published to.
        #[serde(default, deserialize_with = "null_as_default")]
        pub post_ids: Vec<PostId>,
    }
}

event_struct! {
    /// `scheduled/tikTokPublished`: TikTok finished processing a video and it is public.
    ///
    /// Sent after the plain `scheduled` event (and for immediate TikTok posts), never for
    /// private, followers or friends visibility. Same shape as [`Scheduled`], fields unconfirmed.
    pub struct TikTokPublished {
        /// Overall outcome.
        pub status: Option<Status>,
        /// The Ayrshare post id.
        pub id: Option<String>,
        /// Per-network failures.
        #[serde(default, deserialize_with = "null_as_default")]
        pub errors: Vec<PostError>,
        /// The TikTok result, with its public URL.
        #[serde(default, deserialize_with = "null_as_default")]
        pub post_ids: Vec<PostId>,
    }
}

event_struct! {
    /// `social`: a profile linked, unlinked or must refresh a social network.
    pub struct Social {
        /// What happened (the body's `type`).
        #[serde(rename = "type")]
        pub kind: SocialType,
        /// The network.
        pub platform: Option<Platform>,
        /// Who acted: `system` (Ayrshare, e.g. on a revoked authorization) or `user`.
        pub source: Option<SocialSource>,
        /// Why Ayrshare unlinked the account (with `source: system`); most likely
        /// `{status, code, message}`, possibly a string.
        pub details: Option<Value>,
        /// Deadline to refresh the link (with `type: refresh`), most likely ISO-8601.
        pub refresh_by: Option<String>,
    }
}

event_struct! {
    /// `messages/messageCreated`: a direct message arrived or was sent (Facebook, Instagram,
    /// X for Enterprise; needs the Messaging add-on).
    pub struct MessageCreated {
        /// Direction (the body's `type`).
        #[serde(rename = "type")]
        pub kind: Option<MessageDirection>,
        /// The network.
        pub platform: Option<Platform>,
        /// The conversation (thread) id.
        pub conversation_id: Option<String>,
        /// The network's message id.
        pub message_id: Option<String>,
        /// The sender's network user id.
        pub sender_id: Option<String>,
        /// The recipient's network user id.
        pub recipient_id: Option<String>,
        /// The text.
        pub message: Option<String>,
        /// Who sent it.
        pub sender_details: Option<SenderDetails>,
        /// Attachment URLs.
        #[serde(default, deserialize_with = "null_as_default")]
        pub media_urls: Vec<String>,
    }
}

event_struct! {
    /// `messages/messageRead`: a direct message was read.
    pub struct MessageRead {
        /// The network.
        pub platform: Option<Platform>,
        /// The conversation (thread) id.
        pub conversation_id: Option<String>,
        /// The network's id of the message read.
        pub message_id: Option<String>,
        /// The sender's network user id.
        pub sender_id: Option<String>,
        /// The recipient's network user id.
        pub recipient_id: Option<String>,
        /// When it was read (ISO-8601, most likely).
        pub read: Option<String>,
    }
}

event_struct! {
    /// `messages/reactionCreated`: a reaction was added to a direct message.
    pub struct ReactionCreated {
        /// The network.
        pub platform: Option<Platform>,
        /// The conversation (thread) id.
        pub conversation_id: Option<String>,
        /// The network's id of the message reacted to.
        pub message_id: Option<String>,
        /// The reacting user's network id.
        pub sender_id: Option<String>,
        /// The recipient's network user id.
        pub recipient_id: Option<String>,
        /// The reaction (an emoji).
        pub reaction: Option<String>,
    }
}

event_struct! {
    /// `messages/reactionDeleted`: a reaction was removed from a direct message.
    pub struct ReactionDeleted {
        /// The network.
        pub platform: Option<Platform>,
        /// The conversation (thread) id.
        pub conversation_id: Option<String>,
        /// The network's id of the message.
        pub message_id: Option<String>,
        /// The reacting user's network id.
        pub sender_id: Option<String>,
        /// The recipient's network user id.
        pub recipient_id: Option<String>,
        /// The reaction removed, when sent.
        pub reaction: Option<String>,
    }
}

event_struct! {
    /// `messages/messageEdited`: a direct message was edited.
    pub struct MessageEdited {
        /// Direction (the body's `type`).
        #[serde(rename = "type")]
        pub kind: Option<MessageDirection>,
        /// The network.
        pub platform: Option<Platform>,
        /// The conversation (thread) id.
        pub conversation_id: Option<String>,
        /// The network's message id.
        pub message_id: Option<String>,
        /// The sender's network user id.
        pub sender_id: Option<String>,
        /// The recipient's network user id.
        pub recipient_id: Option<String>,
        /// The new text.
        pub message: Option<String>,
        /// Who sent it.
        pub sender_details: Option<SenderDetails>,
        /// Attachment URLs.
        #[serde(default, deserialize_with = "null_as_default")]
        pub media_urls: Vec<String>,
    }
}

event_struct! {
    /// `comments`: a new comment on a post (Instagram, Facebook).
    ///
    /// Modelled on Instagram's shape. Facebook comments arrive in Meta's raw form (`post_id`,
    /// `comment_id`, `message`, `verb`, `created_time`, …): read those from `extra`.
    pub struct Comments {
        /// The network.
        pub platform: Option<Platform>,
        /// The **Ayrshare** post id commented on (absent for posts not made through Ayrshare).
        pub post_id: Option<String>,
        /// The comment id.
        pub id: Option<String>,
        /// The comment text.
        pub text: Option<String>,
        /// The author.
        pub from: Option<Author>,
        /// The network's media object (`{id, media_product_type, …}` on Instagram).
        pub media: Option<Value>,
    }
}

event_struct! {
    /// `mentions`: the account was mentioned. Field set unconfirmed.
    pub struct Mentions {
        /// The network.
        pub platform: Option<Platform>,
        /// The network's id of the mentioning post.
        pub id: Option<String>,
        /// The mentioning text.
        pub text: Option<String>,
        /// The author.
        pub from: Option<Author>,
    }
}

event_struct! {
    /// `feed`: an RSS feed item was processed. Field set unconfirmed; the item's title arrives
    /// as `title`, read it with [`Feed::title`].
    pub struct Feed {
        /// Outcome.
        pub status: Option<Status>,
        /// The Ayrshare feed id.
        pub feed_id: Option<String>,
        /// The RSS feed URL.
        pub feed_url: Option<String>,
        /// The item's link.
        pub link: Option<String>,
        /// The id of the post made from the item.
        pub id: Option<String>,
    }
}

impl Feed {
    /// The feed item's title (the body's `title`, kept in [`Common::title`]).
    pub fn title(&self) -> Option<&str> {
        self.common.title.as_deref()
    }
}

event_struct! {
    /// `batch`: a batch (bulk) operation finished. Field set unconfirmed.
    pub struct Batch {
        /// Outcome.
        pub status: Option<Status>,
        /// The batch id.
        pub batch_id: Option<String>,
        /// The posts the batch created.
        #[serde(default, deserialize_with = "null_as_default")]
        pub post_ids: Vec<PostId>,
        /// Failures.
        #[serde(default, deserialize_with = "null_as_default")]
        pub errors: Vec<PostError>,
    }
}

event_struct! {
    /// `automations`: an automation ran. Field set unconfirmed.
    pub struct Automations {
        /// Outcome.
        pub status: Option<Status>,
        /// The automation id.
        pub automation_id: Option<String>,
        /// The network.
        pub platform: Option<Platform>,
        /// Human-readable detail.
        pub message: Option<String>,
    }
}

event_struct! {
    /// `accountActivity`: X (Twitter) account activity, forwarded. Field set unconfirmed.
    pub struct AccountActivity {
        /// The network (`twitter`).
        pub platform: Option<Platform>,
        /// The X Account Activity event name (the body's `type`, e.g. `tweet_create_events`,
        /// `favorite_events`).
        #[serde(rename = "type")]
        pub kind: Option<String>,
        /// The forwarded X object, as sent.
        pub data: Option<Value>,
    }
}

event_struct! {
    /// `suspended`: the profile was suspended. Field set unconfirmed.
    pub struct Suspended {
        /// Why, when sent.
        pub reason: Option<String>,
    }
}

catalogue! {
    /// Every Ayrshare event, by `action[/subAction]`, with an unknown case for names outside
    /// the catalogue and for payloads that drifted from their model.
    ///
    /// The fields every event carries are readable without matching, through
    /// [`Event::common`].
    pub enum Event for crate::ayrshare::Ayrshare as dyn Fields {
        Scheduled = "scheduled",
        TikTokPublished = "scheduled/tikTokPublished",
        Social = "social",
        MessageCreated = "messages/messageCreated",
        MessageRead = "messages/messageRead",
        ReactionCreated = "messages/reactionCreated",
        ReactionDeleted = "messages/reactionDeleted",
        MessageEdited = "messages/messageEdited",
        Comments = "comments",
        Mentions = "mentions",
        Feed = "feed",
        Batch = "batch",
        Automations = "automations",
        AccountActivity = "accountActivity",
        Suspended = "suspended",
    }
}

impl Event {
    /// The fields every event carries; `None` for an unknown event (read its
    /// [`json`](crate::event::UnknownEvent::json) instead).
    pub fn common(&self) -> Option<&Common> {
        self.view().map(Fields::common)
    }

    /// The fields the typed variant does not model; `None` for an unknown event.
    pub fn extra(&self) -> Option<&Map<String, Value>> {
        self.view().map(Fields::extra)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event as _;

    #[test]
    fn open_enums_keep_unknown_values() {
        assert_eq!(Platform::from("tiktok"), Platform::TikTok);
        assert_eq!(
            Platform::from("mastodon"),
            Platform::Other("mastodon".into())
        );
        let p: Platform = serde_json::from_str(r#""gmb""#).unwrap();
        assert_eq!((p.as_str(), p.to_string()), ("gmb", "gmb".to_owned()));
        assert_eq!(
            serde_json::to_string(&SocialType::Other("x".into())).unwrap(),
            r#""x""#
        );
        assert!(serde_json::from_str::<Status>("5").is_err());
    }

    #[test]
    fn leniency() {
        let raw = br#"{"action":"scheduled","status":"queued","id":"p","errors":null,"postIds":[{"id":"1","isVideo":true}],"refId":null,"surprise":{"a":1}}"#;
        let Event::Scheduled(e) = Event::decode("scheduled", raw).unwrap() else {
            panic!("not typed");
        };
        assert_eq!(e.status, Status::Other("queued".into()));
        assert!(e.errors.is_empty());
        assert_eq!(e.post_ids[0].extra["isVideo"], Value::Bool(true));
        assert_eq!(e.common.action, "scheduled");
        assert_eq!(e.common.ref_id, None);
        assert_eq!(e.extra["surprise"]["a"], 1);
        assert!(!e.extra.contains_key("action"));
    }
}
