//! Sub-objects shared by several Zernio events, modelled once.

use serde_json::{Map, Number, Value};

use super::values::*;

/// A field Zernio always sends that may be JSON `null`; serialized back as `null`.
///
/// Plain `Option<T>` fields in these models are the ones Zernio may leave out: they decode from
/// absent or `null` and are left out when serialized.
pub type Nullable<T> = Option<T>;

/// A free-form JSON object (caller metadata, Meta pass-through data).
pub type JsonObject = Map<String, Value>;

// ---------------------------------------------------------------------------------------------
// Posts
// ---------------------------------------------------------------------------------------------

model! {
    /// A Zernio post (`post` in `post.*` and `post.platform.*`).
    #[serde(rename_all = "camelCase")]
    pub struct Post {
        /// Zernio post id (a 24-hex ObjectId in practice).
        pub id: String,
        /// The post text.
        pub content: String,
        /// Post-level status when the event fired (`publishing` while other targets still run).
        pub status: PostStatus,
        /// When the post is or was scheduled (ISO-8601).
        pub scheduled_for: String,
        /// When the post published (ISO-8601); absent until it has.
        pub published_at: Option<String>,
        /// One entry per target platform.
        pub platforms: Vec<PlatformTarget>,
        /// The caller's free-form metadata, echoed back; absent when there is none.
        pub metadata: Option<JsonObject>,
    }

    /// One target platform of a post (`post.platforms[]`).
    #[serde(rename_all = "camelCase")]
    pub struct PlatformTarget {
        /// The target platform.
        pub platform: Platform,
        /// The target's status.
        pub status: TargetStatus,
        /// Zernio SocialAccount id; absent on legacy or orphaned targets.
        pub account_id: Option<String>,
        /// The platform's id for the published post.
        pub platform_post_id: Option<String>,
        /// Public URL of the published post; may be `""` for TikTok until
        /// `post.tiktok.url_resolved`.
        pub published_url: Option<String>,
        /// The platform's error text, on failed targets only (and even then may be absent).
        pub error: Option<String>,
    }

    /// The one target a `post.platform.*` event is about (`platform`).
    #[serde(rename_all = "camelCase")]
    pub struct PlatformResult {
        /// Platform key (`twitter`, `tiktok`, `instagram`, ...).
        pub name: Platform,
        /// What happened to the target; matches the event suffix.
        pub status: PlatformOutcome,
        /// The platform's id for the post (published/deleted; may be `""` for TikTok before the
        /// URL is resolved).
        pub platform_post_id: Option<String>,
        /// Public URL of the post.
        pub published_url: Option<String>,
        /// The platform's error text (`post.platform.failed`).
        pub error: Option<String>,
        /// When Zernio detected the deletion (`post.platform.deleted`; not the platform's own
        /// deletion time).
        pub deleted_at: Option<String>,
    }

    /// A post authored natively on the platform, found by Zernio's hourly sync
    /// (`post` in `post.external.*`).
    #[serde(rename_all = "camelCase")]
    pub struct ExternalPost {
        /// The platform's own post id (not a Zernio post id).
        pub id: String,
        /// The platform.
        pub platform: Platform,
        /// Zernio SocialAccount id.
        pub account_id: String,
        /// Public URL; `null` when the platform exposes none.
        pub url: Nullable<String>,
        /// The post text.
        pub content: String,
        /// Media kind of the whole post.
        pub media_type: MediaType,
        /// The post's media files.
        pub media_items: Vec<ExternalMediaItem>,
        /// Thumbnail URL, or `null`.
        pub thumbnail_url: Nullable<String>,
        /// When the post was published (ISO-8601).
        pub published_at: String,
        /// Instagram only: `FEED`, `REELS`, `STORY` or `AD`.
        pub media_product_type: Option<MediaProductType>,
        /// Whether the platform labels the post AI-generated.
        pub is_ai_generated: Option<bool>,
        /// Whether a reel was also shared to the feed.
        pub is_shared_to_feed: Option<bool>,
        /// The platform's audio type for the media.
        pub media_audio_type: Option<String>,
        /// Always `external`.
        pub source: PostSource,
        /// When Zernio saw the deletion (`post.external.deleted`); absent or `null` otherwise.
        pub deleted_at: Option<String>,
    }

    /// One media file of an external post (`mediaItems[]`).
    #[serde(rename_all = "camelCase")]
    pub struct ExternalMediaItem {
        /// `image` or `video`.
        #[serde(rename = "type")]
        pub kind: MediaType,
        /// File URL; `null` when the file could not be fetched.
        pub url: Nullable<String>,
        /// Thumbnail URL (may exist even when `url` is `null`).
        pub thumbnail: Option<String>,
        /// Whether the file could be fetched.
        pub media_status: Option<MediaStatus>,
        /// Why it could not.
        pub unavailable_reason: Option<UnavailableReason>,
    }
}

// ---------------------------------------------------------------------------------------------
// Accounts
// ---------------------------------------------------------------------------------------------

account! {
    /// A connected account, keyed by `accountId` (`account.connected`, `ad.status_changed`,
    /// `whatsapp.template.*`).
    pub struct Account {
        /// Zernio profile (workspace) id.
        pub profile_id: String,
    }
}

account! {
    /// The account of a `post.platform.*` event (keyed by `accountId`, no profile id).
    pub struct PostAccount {}
}

account! {
    /// The account of `account.disconnected`.
    pub struct DisconnectedAccount {
        /// Zernio profile (workspace) id.
        pub profile_id: String,
        /// `intentional` (user action) or `unintentional` (token expired or revoked).
        pub disconnection_type: DisconnectionType,
        /// Free text; Zernio's default is "Token expired or revoked".
        pub reason: String,
    }
}

account! {
    /// The ads account of `account.ads.initial_sync_completed`.
    pub struct AdsAccount {
        /// Zernio profile (workspace) id.
        pub profile_id: String,
        /// The platform's user id.
        pub platform_user_id: Option<String>,
        /// Profile picture URL.
        pub profile_picture: Option<String>,
        /// Meta `act_…` id, when the connection was scoped to one ad account.
        pub platform_ad_account_id: Option<String>,
        /// Every Meta `act_…` id of the connection.
        pub platform_ad_account_ids: Option<Vec<String>>,
    }
}

model! {
    /// An account keyed by `id` (`InboxWebhookAccount`): inbox and call events, and the
    /// `comment.received`, `review.*` and `post.external.*` accounts (which carry a subset).
    #[serde(rename_all = "camelCase")]
    pub struct InboxAccount {
        /// Zernio SocialAccount id.
        pub id: String,
        /// Same value as `id` (the canonical filter field).
        pub account_id: Option<String>,
        /// Zernio profile id.
        pub profile_id: Option<String>,
        /// The platform of the account.
        pub platform: Platform,
        /// Handle or name of the account on the platform.
        pub username: String,
        /// Display name.
        pub display_name: Option<String>,
    }

    /// The Facebook page account of `lead.received` (no username).
    #[serde(rename_all = "camelCase")]
    pub struct LeadAccount {
        /// Zernio SocialAccount id.
        pub id: String,
        /// Same value as `id`.
        pub account_id: Option<String>,
        /// The platform (`facebook`).
        pub platform: Platform,
    }
}

// ---------------------------------------------------------------------------------------------
// Inbox
// ---------------------------------------------------------------------------------------------

model! {
    /// An inbox message (`InboxWebhookMessage`; `message` in every `message.*` event).
    ///
    /// `message.sent` sends a reduced variant (a smaller `sender`) plus `source`.
    #[serde(rename_all = "camelCase")]
    pub struct Message {
        /// Zernio message id.
        pub id: String,
        /// Zernio conversation id.
        pub conversation_id: String,
        /// The channel (`instagram`, `facebook`, `telegram`, `whatsapp`, `sms`).
        pub platform: Platform,
        /// The platform's message id (e.g. WhatsApp `wamid.…`).
        pub platform_message_id: String,
        /// Incoming or outgoing.
        pub direction: MessageDirection,
        /// The text; `null` for media-only messages (kept on deleted messages).
        pub text: Nullable<String>,
        /// Media attached to the message.
        pub attachments: Vec<Attachment>,
        /// Who sent it.
        pub sender: Sender,
        /// When it was sent (ISO-8601).
        pub sent_at: String,
        /// Whether it has been read.
        pub is_read: bool,
        /// WhatsApp `message.sent` only: sent from the Business app or through the Cloud API.
        pub source: Option<MessageSource>,
    }

    /// A message attachment (`attachments[]`, also in `editHistory[].attachments`).
    ///
    /// `type` and `url` are required on messages but optional in edit history, so both are
    /// optional here.
    #[serde(rename_all = "camelCase")]
    pub struct Attachment {
        /// `image`, `video`, `file`, `sticker`, `audio`, ...
        #[serde(rename = "type")]
        pub kind: Option<AttachmentType>,
        /// WhatsApp: an authenticated Zernio media URL; Meta: a CDN URL that expires.
        pub url: Option<String>,
        /// Platform-specific extra data.
        pub payload: Option<JsonObject>,
    }

    /// The sender of a message, reaction or referral (`sender`); each event sends a subset.
    #[serde(rename_all = "camelCase")]
    pub struct Sender {
        /// WhatsApp: the phone number without `+`, or the business-scoped user id; other
        /// platforms: the platform user id.
        pub id: String,
        /// Zernio CRM contact id.
        pub contact_id: Option<String>,
        /// Display name.
        pub name: Option<String>,
        /// Handle.
        pub username: Option<String>,
        /// Profile picture URL.
        pub picture: Option<String>,
        /// WhatsApp only: E.164 with `+`; may be `null` for username-only users.
        pub phone_number: Option<String>,
        /// WhatsApp business-scoped user id.
        pub business_scoped_user_id: Option<String>,
        /// WhatsApp parent business-scoped user id.
        pub parent_business_scoped_user_id: Option<String>,
        /// WhatsApp username.
        pub whatsapp_username: Option<String>,
        /// Instagram only.
        pub instagram_profile: Option<InstagramProfile>,
    }

    /// What Instagram says about a user relative to the account (every value may be `null`).
    #[serde(rename_all = "camelCase")]
    pub struct InstagramProfile {
        /// Whether the user follows the account.
        pub is_follower: Option<bool>,
        /// Whether the account follows the user.
        pub is_following: Option<bool>,
        /// The user's follower count.
        pub follower_count: Option<Number>,
        /// Whether the user is verified.
        pub is_verified: Option<bool>,
    }

    /// A conversation (thread) (`InboxWebhookConversation`).
    #[serde(rename_all = "camelCase")]
    pub struct Conversation {
        /// Zernio conversation id.
        pub id: String,
        /// `conversation.started` only: the channel.
        pub platform: Option<Platform>,
        /// The platform's thread id.
        pub platform_conversation_id: String,
        /// The other participant's platform id.
        pub participant_id: Option<String>,
        /// The other participant's name (always sent on `conversation.started`).
        pub participant_name: Option<String>,
        /// The other participant's handle.
        pub participant_username: Option<String>,
        /// The other participant's picture URL.
        pub participant_picture: Option<String>,
        /// Active or archived.
        pub status: ConversationStatus,
        /// Zernio CRM contact id (best effort).
        pub contact_id: Option<String>,
    }

    /// Extra context of an inbound message (`metadata` on `message.received`): quick replies,
    /// postbacks, interactive and flow replies, orders, quotes, referrals, story replies.
    #[serde(rename_all = "camelCase")]
    pub struct MessageMetadata {
        /// Id of the message this one quotes.
        pub quoted_message_id: Option<String>,
        /// Payload of a tapped quick reply.
        pub quick_reply_payload: Option<String>,
        /// Payload of a tapped postback button.
        pub postback_payload: Option<String>,
        /// Title of a tapped postback button.
        pub postback_title: Option<String>,
        /// Telegram callback data.
        pub callback_data: Option<String>,
        /// Kind of WhatsApp interactive reply.
        pub interactive_type: Option<InteractiveType>,
        /// Id of the chosen button or list row.
        pub interactive_id: Option<String>,
        /// Payload of a template quick-reply button.
        pub button_payload: Option<String>,
        /// The raw JSON string of a WhatsApp Flow response.
        pub flow_response_json: Option<String>,
        /// The parsed WhatsApp Flow response.
        pub flow_response_data: Option<JsonObject>,
        /// A WhatsApp catalogue order.
        pub order: Option<Order>,
        /// The catalogue product the user asked about.
        pub referred_product: Option<ReferredProduct>,
        /// Shared contact cards, as sent by the platform.
        pub contacts: Option<Vec<Value>>,
        /// Where the shared contacts came from.
        pub contacts_origin: Option<ContactsOrigin>,
        /// The story this message replies to.
        pub story_reply: Option<StoryReply>,
        /// Whether the message is a story mention.
        pub is_story_mention: Option<bool>,
        /// Meta click attribution; only on the first inbound message after the click.
        pub referral: Option<Referral>,
        /// The platform could not render the message.
        pub unsupported: Option<Unsupported>,
        /// The message had nothing renderable.
        pub no_renderable_content: Option<bool>,
    }

    /// A WhatsApp catalogue order (`metadata.order`, Meta's snake_case).
    pub struct Order {
        /// The catalogue id.
        pub catalog_id: Option<String>,
        /// The buyer's note.
        pub text: Option<String>,
        /// The ordered items.
        pub product_items: Option<Vec<ProductItem>>,
    }

    /// One line of an order (`product_items[]`).
    pub struct ProductItem {
        /// The product's retailer id.
        pub product_retailer_id: Option<String>,
        /// How many.
        pub quantity: Option<Number>,
        /// Unit price.
        pub item_price: Option<f64>,
        /// ISO 4217 currency.
        pub currency: Option<String>,
    }

    /// A catalogue product a message refers to (`metadata.referredProduct`).
    pub struct ReferredProduct {
        /// The catalogue id.
        pub catalog_id: Option<String>,
        /// The product's retailer id.
        pub product_retailer_id: Option<String>,
    }

    /// The story a message replies to (`metadata.storyReply`).
    #[serde(rename_all = "camelCase")]
    pub struct StoryReply {
        /// The story id.
        pub story_id: String,
        /// The story URL.
        pub story_url: Option<String>,
    }

    /// Meta referral data (Meta's snake_case): `referral` on `referral.received` (ig.me / m.me
    /// links and ads) and `metadata.referral` on `message.received` (click-to-WhatsApp ads).
    pub struct Referral {
        /// The click id of a click-to-WhatsApp ad.
        pub ctwa_clid: Option<String>,
        /// Id of the ad or post.
        pub source_id: Option<String>,
        /// `ad` or `post`.
        pub source_type: Option<String>,
        /// URL of the ad or post.
        pub source_url: Option<String>,
        /// The ad's headline.
        pub headline: Option<String>,
        /// The ad's body.
        pub body: Option<String>,
        /// The ad's media type.
        pub media_type: Option<String>,
        /// The ad's image.
        pub image_url: Option<String>,
        /// The ad's video.
        pub video_url: Option<String>,
        /// The ad's thumbnail.
        pub thumbnail_url: Option<String>,
        /// The ad id.
        pub ad_id: Option<String>,
        /// The `ref` parameter of the ig.me / m.me link.
        #[serde(rename = "ref")]
        pub reference: Option<String>,
        /// `ADS`, `SHORTLINK`, `SHORTLINKS`, `IGME-SOURCE-LINK`.
        pub source: Option<ReferralSource>,
        /// Referral type (e.g. `OPEN_THREAD`).
        #[serde(rename = "type")]
        pub kind: Option<String>,
        /// The referring URI.
        pub referer_uri: Option<String>,
        /// Context of the ad.
        pub ads_context_data: Option<AdsContextData>,
    }

    /// Context of the ad behind a referral (`ads_context_data`).
    pub struct AdsContextData {
        /// The ad's title.
        pub ad_title: Option<String>,
        /// The ad's photo.
        pub photo_url: Option<String>,
        /// The ad's video.
        pub video_url: Option<String>,
        /// The boosted post.
        pub post_id: Option<String>,
        /// The advertised product.
        pub product_id: Option<String>,
        /// The WhatsApp Flow the ad opens.
        pub flow_id: Option<String>,
    }

    /// A message the platform could not render (`metadata.unsupported`).
    pub struct Unsupported {
        /// The platform's error code.
        pub code: Option<Number>,
        /// Short title.
        pub title: Option<String>,
        /// Details.
        pub details: Option<String>,
    }

    /// A previous version of an edited message (`editHistory[]`).
    #[serde(rename_all = "camelCase")]
    pub struct EditHistoryEntry {
        /// The text then (`null` for media only).
        pub text: Nullable<String>,
        /// The attachments then.
        pub attachments: Vec<Attachment>,
        /// When this version was replaced (ISO-8601).
        pub edited_at: String,
    }

    /// Why a message failed (`error` on `message.failed`).
    pub struct DeliveryError {
        /// Meta error code, or SMS carrier code.
        pub code: Option<Number>,
        /// Short title.
        pub title: Option<String>,
        /// Message.
        pub message: Option<String>,
        /// Plain-language explanation.
        pub explanation: Option<String>,
    }

    /// A reaction to a message (`reaction`).
    #[serde(rename_all = "camelCase")]
    pub struct Reaction {
        /// The emoji; may be `""` on removals.
        pub emoji: String,
        /// Added or removed.
        pub action: ReactionAction,
        /// Zernio message id, when resolvable.
        pub message_id: Option<String>,
        /// The platform's id of the message reacted to.
        pub platform_message_id: String,
        /// Who reacted.
        pub sender: Sender,
        /// When (ISO-8601).
        pub reacted_at: String,
    }
}

// ---------------------------------------------------------------------------------------------
// Calls
// ---------------------------------------------------------------------------------------------

model! {
    /// A WhatsApp Business call (`call` in `call.received`, `call.ended`, `call.failed`; each
    /// sends a subset, and the schema marks nothing required).
    #[serde(rename_all = "camelCase")]
    pub struct Call {
        /// Zernio call id.
        pub id: Option<String>,
        /// Meta's call id.
        pub meta_call_id: Option<String>,
        /// Zernio SocialAccount id.
        pub account_id: Option<String>,
        /// Zernio phone number id.
        pub phone_number_id: Option<String>,
        /// Inbound or outbound.
        pub direction: Option<CallDirection>,
        /// Caller number.
        pub from: Option<String>,
        /// Callee number.
        pub to: Option<String>,
        /// `call.received`: the number the call is forwarded to.
        pub forward_to: Option<String>,
        /// `call.received`: Zernio CRM contact id.
        pub contact_id: Option<String>,
        /// `call.received`: Zernio conversation id.
        pub conversation_id: Option<String>,
        /// When the call started (ISO-8601).
        pub started_at: Option<String>,
        /// `call.ended`: when it ended.
        pub ended_at: Option<String>,
        /// `call.ended`: duration in seconds.
        pub duration_seconds: Option<Number>,
        /// `call.ended`: why it ended.
        pub end_reason: Option<CallEndReason>,
        /// `call.ended`: hang-up cause.
        pub hangup_cause: Option<String>,
        /// `call.ended`: SIP hang-up code, as a string (e.g. `"486"`).
        pub sip_hangup_cause: Option<String>,
        /// `call.ended`: recording URL.
        pub recording_url: Option<String>,
        /// `call.ended`: when the recording expires.
        pub recording_expires_at: Option<String>,
        /// `call.ended`: costs.
        pub billing: Option<CallBilling>,
        /// `call.failed`: when it failed.
        pub failed_at: Option<String>,
        /// `call.failed`: why.
        pub error: Option<CallError>,
    }

    /// Pass-through costs of a call, in USD (`call.billing`).
    pub struct CallBilling {
        /// Meta's cost.
        #[serde(rename = "metaCostUSD")]
        pub meta_cost_usd: Option<f64>,
        /// Telnyx's cost.
        #[serde(rename = "telnyxCostUSD")]
        pub telnyx_cost_usd: Option<f64>,
        /// Recording cost.
        #[serde(rename = "recordingCostUSD")]
        pub recording_cost_usd: Option<f64>,
        /// Billable cost.
        #[serde(rename = "billableCostUSD")]
        pub billable_cost_usd: Option<f64>,
        /// Total cost.
        #[serde(rename = "totalCostUSD")]
        pub total_cost_usd: Option<f64>,
    }

    /// Why a call failed (`call.error`).
    pub struct CallError {
        /// Meta's error code.
        pub code: Option<Number>,
        /// Message.
        pub message: Option<String>,
    }

    /// A call permission answer (`permission` on `call.permission_request`).
    #[serde(rename_all = "camelCase")]
    pub struct CallPermission {
        /// The user's number.
        pub from: Option<String>,
        /// Accept or reject.
        pub response: Option<PermissionResponse>,
        /// Whether the permission does not expire.
        pub is_permanent: Option<bool>,
        /// When it expires (ISO-8601).
        pub expiration_timestamp: Option<String>,
        /// How the user answered (e.g. `user_action`).
        pub response_source: Option<String>,
    }
}

// ---------------------------------------------------------------------------------------------
// Comments, reviews, leads, ads, templates, numbers, verifications
// ---------------------------------------------------------------------------------------------

model! {
    /// A comment on a post (`comment` on `comment.received`).
    #[serde(rename_all = "camelCase")]
    pub struct Comment {
        /// The platform's comment id.
        pub id: String,
        /// Zernio post id; `null` for posts not published through Zernio.
        pub post_id: Nullable<String>,
        /// The platform's post id.
        pub platform_post_id: String,
        /// The platform.
        pub platform: Platform,
        /// The comment text (may be empty for sticker/GIF/photo comments).
        pub text: String,
        /// Who wrote it.
        pub author: CommentAuthor,
        /// When (ISO-8601).
        pub created_at: String,
        /// Whether it replies to another comment.
        pub is_reply: bool,
        /// The comment it replies to, or `null`.
        pub parent_comment_id: Nullable<String>,
        /// The ad the comment was left on.
        pub ad: Option<CommentAd>,
        /// Facebook sticker/GIF/photo.
        pub attachment: Option<CommentAttachment>,
    }

    /// The author of a comment (`comment.author`).
    #[serde(rename_all = "camelCase")]
    pub struct CommentAuthor {
        /// The platform's user id.
        pub id: String,
        /// Handle.
        pub username: Option<String>,
        /// Display name.
        pub name: Option<String>,
        /// Picture URL.
        pub picture: Option<String>,
        /// Meta only: whether the connected account wrote it (absent = not evaluated).
        pub is_own_account: Option<bool>,
        /// Instagram only.
        pub instagram_profile: Option<InstagramProfile>,
    }

    /// The ad a comment was left on (`comment.ad`).
    #[serde(rename_all = "camelCase")]
    pub struct CommentAd {
        /// Ad id.
        pub id: Option<String>,
        /// Ad title.
        pub title: Option<String>,
        /// Promotion status.
        pub promotion_status: Option<String>,
    }

    /// A Facebook comment's sticker, GIF or photo (`comment.attachment`).
    #[serde(rename_all = "camelCase")]
    pub struct CommentAttachment {
        /// Attachment type.
        #[serde(rename = "type")]
        pub kind: String,
        /// Image URL.
        pub image_url: Option<String>,
        /// Link URL.
        pub url: Option<String>,
    }

    /// The post a comment belongs to (`post` on `comment.received`).
    #[serde(rename_all = "camelCase")]
    pub struct CommentPost {
        /// Zernio post id, or `null`.
        pub id: Nullable<String>,
        /// The platform's post id.
        pub platform_post_id: String,
        /// The post text, or `null`.
        pub content: Nullable<String>,
        /// The post image, or `null`.
        pub image_url: Nullable<String>,
        /// The post URL, or `null`.
        pub permalink: Nullable<String>,
    }

    /// A Google Business Profile review (`ReviewWebhookReview`).
    #[serde(rename_all = "camelCase")]
    pub struct Review {
        /// The review's resource name.
        pub id: String,
        /// `googlebusiness`.
        pub platform: Platform,
        /// Star rating, 1 to 5.
        pub rating: Number,
        /// The text; `""` for a rating without text.
        pub text: String,
        /// Who wrote it.
        pub reviewer: Reviewer,
        /// When (ISO-8601).
        pub created_at: String,
        /// Whether the business replied.
        pub has_reply: bool,
        /// The reply, when `has_reply`.
        pub reply: Option<ReviewReply>,
    }

    /// The author of a review (`review.reviewer`).
    #[serde(rename_all = "camelCase")]
    pub struct Reviewer {
        /// Google's id; `null` for anonymous reviewers.
        pub id: Nullable<String>,
        /// Display name.
        pub name: String,
        /// Picture URL, or `null`.
        pub profile_image: Nullable<String>,
    }

    /// The business's reply to a review (`review.reply`).
    #[serde(rename_all = "camelCase")]
    pub struct ReviewReply {
        /// The reply text.
        pub text: String,
        /// When (ISO-8601).
        pub created_at: String,
    }

    /// A Meta lead form submission (`lead` on `lead.received`).
    #[serde(rename_all = "camelCase")]
    pub struct Lead {
        /// Zernio lead id.
        pub id: String,
        /// Meta's leadgen id.
        pub leadgen_id: String,
        /// The form id.
        pub form_id: String,
        /// The form name.
        pub form_name: Option<String>,
        /// The ad; `null` for organic or test leads.
        pub ad_id: Option<String>,
        /// The ad set.
        pub adset_id: Option<String>,
        /// The campaign.
        pub campaign_id: Option<String>,
        /// Answers by question key. Zernio sends every value as a string (multiple-choice
        /// answers are option keys like `k1`); see [`Lead::field`].
        pub fields: JsonObject,
        /// Whether the lead is organic.
        pub is_organic: bool,
        /// When (ISO-8601).
        pub created_at: String,
    }

    /// The Meta ad object whose status changed (`adObject`).
    #[serde(rename_all = "camelCase")]
    pub struct AdObject {
        /// Campaign, ad set or ad.
        pub level: AdLevel,
        /// Meta's id of the object.
        pub platform_id: String,
        /// Meta `act_…` ad account id.
        pub platform_ad_account_id: String,
    }

    /// The new status of an ad object (`status`).
    pub struct AdStatus {
        /// Meta's status name, e.g. `ACTIVE`, `PAUSED`, `WITH_ISSUES`.
        pub raw: String,
    }

    /// The issue behind a `WITH_ISSUES` status (`error`; optional even then).
    pub struct AdError {
        /// Meta's error code, as a string; the stable discriminator.
        pub code: String,
        /// Summary, localized to the ad account owner.
        pub summary: Option<String>,
        /// Message.
        pub message: Option<String>,
    }

    /// The initial ads sync result (`sync`).
    #[serde(rename_all = "camelCase")]
    pub struct AdsSync {
        /// Success or failure.
        pub status: AdsSyncStatus,
        /// Ads found.
        pub total_ads: Number,
        /// Ads synced.
        pub synced: Number,
        /// Ads that failed to sync.
        pub failed: Number,
        /// Error text.
        pub error: Option<String>,
        /// The platform's error code, as a string (e.g. `"190"`).
        pub error_code: Option<String>,
        /// The platform's error subcode, as a string.
        pub error_subcode: Option<String>,
        /// Stable category, for branching.
        pub error_category: Option<AdsSyncErrorCategory>,
    }

    /// A template's new review status (`template` on `whatsapp.template.status_updated`).
    #[serde(rename_all = "camelCase")]
    pub struct TemplateStatusChange {
        /// Meta's template id, as a string.
        pub template_id: String,
        /// Template name.
        pub name: String,
        /// Template language (e.g. `en_GB`).
        pub language: String,
        /// The new status.
        pub status: TemplateStatus,
        /// Free text, or `NONE`.
        pub reason: String,
    }

    /// A template's category change (`template` on `whatsapp.template.category_updated`).
    #[serde(rename_all = "camelCase")]
    pub struct TemplateCategoryChange {
        /// Meta's template id, as a string.
        pub template_id: String,
        /// Template name.
        pub name: String,
        /// Template language.
        pub language: String,
        /// Announced or done.
        pub change_type: CategoryChangeType,
        /// The category now.
        pub category: TemplateCategory,
        /// `applied` only: the category before.
        pub previous_category: Option<TemplateCategory>,
        /// `scheduled` only: the category to come.
        pub scheduled_category: Option<TemplateCategory>,
        /// `scheduled` only: when it takes effect (ISO-8601).
        pub effective_at: Option<String>,
    }

    /// Conversion data of a WhatsApp automatic event (`customData`).
    pub struct CustomData {
        /// ISO 4217 currency.
        pub currency: Option<String>,
        /// Value.
        pub value: Option<f64>,
    }

    /// A Zernio-provisioned WhatsApp number (`number` on `whatsapp.number.*`; inline schema,
    /// nothing required).
    #[serde(rename_all = "camelCase")]
    pub struct WhatsappNumber {
        /// Zernio number id.
        pub id: Option<String>,
        /// The number, E.164.
        pub phone_number: Option<String>,
        /// ISO country code.
        pub country: Option<String>,
        /// Zernio profile id.
        pub profile_id: Option<String>,
    }

    /// A phone verification (`verification` on `verification.*`; inline schema).
    #[serde(rename_all = "camelCase")]
    pub struct Verification {
        /// Zernio verification id.
        pub verification_id: Option<String>,
        /// `sms`.
        pub channel: Option<VerificationChannel>,
        /// The number verified.
        pub to: Option<String>,
    }
}

impl Lead {
    /// The answer to question `key`, when it is a string (as Zernio sends every answer).
    pub fn field(&self, key: &str) -> Option<&str> {
        self.fields.get(key).and_then(Value::as_str)
    }
}
