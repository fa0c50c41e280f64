//! Event payloads: one type per event name. Names that share a payload shape get a transparent
//! newtype over that shape.

use super::{models::*, values::*};

// ---------------------------------------------------------------------------------------------
// Posts
// ---------------------------------------------------------------------------------------------

payload! {
    /// The payload of the post-level events `post.scheduled`, `post.published`, `post.failed`,
    /// `post.partial`, `post.cancelled` and `post.recycled` (`WebhookPayloadPost`).
    ///
    /// It implements [`Event`](crate::event::Event) for all six names, so one handler can take
    /// them all.
    pub struct PostPayload {
        /// The post.
        pub post: Post,
    }
}

shared_payload! {
    PostPayload {
        /// `post.scheduled`: a post entered the scheduled state (created with a schedule, queued,
        /// draft promoted, failed or partial post retried, recycled clone created).
        PostScheduled,
        /// `post.published`: every target finished and all published.
        PostPublished,
        /// `post.failed`: every target finished and all failed.
        PostFailed,
        /// `post.partial`: every target finished, some published and some failed.
        PostPartial,
        /// `post.cancelled`: the post was cancelled.
        PostCancelled,
        /// `post.recycled`: the post was cloned and rescheduled (the clone also fires
        /// `post.scheduled`). Whether `post` is the source or the clone is unconfirmed (most
        /// likely the source).
        PostRecycled,
    }
}

payload! {
    /// The payload of the per-target events `post.platform.published`, `post.platform.failed`,
    /// `post.platform.deleted` and `post.tiktok.url_resolved` (`WebhookPayloadPostPlatform`).
    ///
    /// It implements [`Event`](crate::event::Event) for all four names.
    pub struct PostPlatformPayload {
        /// The whole post, as it was when the event fired.
        pub post: Post,
        /// The target this event is about.
        pub platform: PlatformResult,
        /// The target's account.
        pub account: PostAccount,
    }
}

shared_payload! {
    PostPlatformPayload {
        /// `post.platform.published`: one target published (it may arrive after the post-level
        /// rollup).
        PostPlatformPublished,
        /// `post.platform.failed`: one target failed permanently.
        PostPlatformFailed,
        /// `post.platform.deleted`: Zernio's hourly sync found a published target deleted on the
        /// platform.
        PostPlatformDeleted,
        /// `post.tiktok.url_resolved`: a TikTok target's public URL was backfilled (at most once
        /// per target).
        PostTiktokUrlResolved,
    }
}

payload! {
    /// The payload of `post.external.created`, `post.external.updated` and
    /// `post.external.deleted` (`WebhookPayloadExternalPost`).
    ///
    /// It implements [`Event`](crate::event::Event) for all three names.
    pub struct ExternalPostPayload {
        /// The native post.
        pub post: ExternalPost,
        /// The account it was found on.
        pub account: InboxAccount,
    }
}

shared_payload! {
    ExternalPostPayload {
        /// `post.external.created`: Zernio's sync found a post authored natively on the platform.
        PostExternalCreated,
        /// `post.external.updated`: a native post changed.
        PostExternalUpdated,
        /// `post.external.deleted`: a native post was deleted (`post.deleted_at` is set).
        PostExternalDeleted,
    }
}

// ---------------------------------------------------------------------------------------------
// Accounts and ads
// ---------------------------------------------------------------------------------------------

payload! {
    /// `account.connected`: a social account was connected.
    pub struct AccountConnected {
        /// The account.
        pub account: Account,
    }
}

payload! {
    /// `account.disconnected`: a social account was disconnected (by the user, or its token
    /// expired or was revoked).
    pub struct AccountDisconnected {
        /// The account, with why it disconnected.
        pub account: DisconnectedAccount,
    }
}

payload! {
    /// `account.ads.initial_sync_completed`: one ads account finished its 90-day backfill.
    pub struct AccountAdsInitialSyncCompleted {
        /// The ads account.
        pub account: AdsAccount,
        /// The sync result.
        pub sync: AdsSync,
    }
}

payload! {
    /// `ad.status_changed`: a Meta campaign, ad set or ad changed status.
    pub struct AdStatusChanged {
        /// The ads account.
        pub account: Account,
        /// The object that changed.
        pub ad_object: AdObject,
        /// Its new status.
        pub status: AdStatus,
        /// The issue, sometimes, on `WITH_ISSUES`; never on other statuses.
        pub error: Option<AdError>,
    }
}

// ---------------------------------------------------------------------------------------------
// Inbox
// ---------------------------------------------------------------------------------------------

inbox_payload! {
    /// `message.received`: an inbound direct message or SMS.
    pub struct MessageReceived {
        /// The message.
        pub message: Message,
        /// Quick replies, postbacks, interactive replies, orders, quotes, referrals, story
        /// replies; absent or `null` otherwise.
        pub metadata: Option<MessageMetadata>,
    }
}

inbox_payload! {
    /// `message.sent`: a message was sent through the API or the WhatsApp Business app.
    pub struct MessageSent {
        /// The message (its `source` says how a WhatsApp message was sent).
        pub message: Message,
    }
}

inbox_payload! {
    /// `message.edited`: a message was edited.
    pub struct MessageEdited {
        /// The message as it is now.
        pub message: Message,
        /// Its previous versions (oldest first, most likely).
        pub edit_history: Vec<EditHistoryEntry>,
        /// How many times it was edited.
        pub edit_count: serde_json::Number,
        /// When (ISO-8601).
        pub edited_at: String,
    }
}

inbox_payload! {
    /// `message.deleted`: a message was deleted (its text is kept).
    pub struct MessageDeleted {
        /// The message.
        pub message: Message,
        /// When (ISO-8601).
        pub deleted_at: String,
    }
}

inbox_payload! {
    /// The payload of `message.delivered`, `message.read` and `message.failed`
    /// (`WebhookPayloadMessageDeliveryStatus`).
    ///
    /// It implements [`Event`](crate::event::Event) for all three names.
    pub struct DeliveryStatusPayload {
        /// The message.
        pub message: Message,
        /// When the platform reported the status (ISO-8601).
        pub status_at: String,
        /// Why it failed (`message.failed` only; absent or `null` otherwise).
        pub error: Option<DeliveryError>,
    }
}

shared_payload! {
    DeliveryStatusPayload {
        /// `message.delivered`: an outgoing message was delivered.
        MessageDelivered,
        /// `message.read`: an outgoing message was read.
        MessageRead,
        /// `message.failed`: an outgoing message could not be delivered.
        MessageFailed,
    }
}

inbox_payload! {
    /// `reaction.received`: a reaction was added to or removed from a message.
    pub struct ReactionReceived {
        /// The reaction.
        pub reaction: Reaction,
    }
}

inbox_payload! {
    /// `referral.received`: a user opened a conversation through an ig.me / m.me link or an ad.
    pub struct ReferralReceived {
        /// The referral.
        pub referral: Referral,
        /// The user.
        pub sender: Sender,
    }
}

inbox_payload! {
    /// `conversation.started`: a thread appeared for the first time (its `conversation` carries
    /// `platform` and `participant_name`).
    pub struct ConversationStarted {
        /// When the conversation record was created (ISO-8601).
        pub started_at: String,
    }
}

// ---------------------------------------------------------------------------------------------
// Calls
// ---------------------------------------------------------------------------------------------

payload! {
    /// The payload of `call.received`, `call.ended` and `call.failed` (WhatsApp Business
    /// calling); each sends its own subset of [`Call`].
    ///
    /// It implements [`Event`](crate::event::Event) for all three names.
    pub struct CallPayload {
        /// The call.
        pub call: Call,
        /// The WhatsApp account.
        pub account: InboxAccount,
    }
}

shared_payload! {
    CallPayload {
        /// `call.received`: an inbound call arrived.
        CallReceived,
        /// `call.ended`: a call ended (duration, end reason, recording, billing).
        CallEnded,
        /// `call.failed`: a call failed (error).
        CallFailed,
    }
}

payload! {
    /// `call.permission_request`: a user answered a request for permission to call them.
    pub struct CallPermissionRequest {
        /// The answer.
        pub permission: CallPermission,
        /// The WhatsApp account.
        pub account: InboxAccount,
    }
}

// ---------------------------------------------------------------------------------------------
// Comments, reviews, leads
// ---------------------------------------------------------------------------------------------

payload! {
    /// `comment.received`: a comment on a post of a connected account.
    pub struct CommentReceived {
        /// The comment.
        pub comment: Comment,
        /// The post it is on.
        pub post: CommentPost,
        /// The account (`id`, `accountId`, `platform`, `username`).
        pub account: InboxAccount,
    }
}

payload! {
    /// The payload of `review.new` and `review.updated` (Google Business Profile).
    ///
    /// It implements [`Event`](crate::event::Event) for both names.
    pub struct ReviewPayload {
        /// The review.
        pub review: Review,
        /// The account (`id`, `accountId`, `platform`, `username`).
        pub account: InboxAccount,
    }
}

shared_payload! {
    ReviewPayload {
        /// `review.new`: a new review.
        ReviewNew,
        /// `review.updated`: a review changed (edited, or replied to).
        ReviewUpdated,
    }
}

payload! {
    /// `lead.received`: a Meta lead form was submitted.
    pub struct LeadReceived {
        /// The lead.
        pub lead: Lead,
        /// The Facebook page account.
        pub account: LeadAccount,
    }
}

// ---------------------------------------------------------------------------------------------
// WhatsApp
// ---------------------------------------------------------------------------------------------

payload! {
    /// `whatsapp.template.status_updated`: Meta reviewed a message template.
    pub struct WhatsappTemplateStatusUpdated {
        /// The WhatsApp account.
        pub account: Account,
        /// The template and its new status.
        pub template: TemplateStatusChange,
    }
}

payload! {
    /// `whatsapp.template.category_updated`: Meta announced or applied a template category
    /// change.
    pub struct WhatsappTemplateCategoryUpdated {
        /// The WhatsApp account.
        pub account: Account,
        /// The template and its category change.
        pub template: TemplateCategoryChange,
    }
}

payload! {
    lenient
    /// `whatsapp.automatic_event`: Meta detected a conversion (`LeadSubmitted`, `Purchase`) in a
    /// WhatsApp conversation (inline schema: nothing required).
    pub struct WhatsappAutomaticEvent {
        /// Zernio SocialAccount id.
        pub account_id: Option<String>,
        /// Zernio conversation id.
        pub conversation_id: Option<String>,
        /// The platform's message id.
        pub platform_message_id: Option<String>,
        /// The conversion.
        pub event_name: Option<AutomaticEventName>,
        /// The click id of the click-to-WhatsApp ad.
        pub ctwa_clid: Option<String>,
        /// Conversion value.
        pub custom_data: Option<CustomData>,
        /// When Meta detected it (ISO-8601).
        pub detected_at: Option<String>,
    }
}

payload! {
    lenient
    /// The payload of `whatsapp.number.activated`, `whatsapp.number.reactivated` and
    /// `whatsapp.number.kyc_submitted`: the number alone (inline schemas).
    ///
    /// It implements [`Event`](crate::event::Event) for all three names.
    pub struct WhatsappNumberPayload {
        /// The number.
        pub number: Option<WhatsappNumber>,
    }
}

shared_payload! {
    WhatsappNumberPayload {
        /// `whatsapp.number.activated`: a provisioned number is live.
        WhatsappNumberActivated,
        /// `whatsapp.number.reactivated`: a suspended number is live again.
        WhatsappNumberReactivated,
        /// `whatsapp.number.kyc_submitted`: the number's KYC documents were submitted.
        WhatsappNumberKycSubmitted,
    }
}

payload! {
    lenient
    /// The payload of `whatsapp.number.declined`, `whatsapp.number.suspended`,
    /// `whatsapp.number.released` and `whatsapp.number.action_required`: the number and a
    /// reason (inline schemas).
    ///
    /// It implements [`Event`](crate::event::Event) for all four names.
    pub struct WhatsappNumberReasonPayload {
        /// The number.
        pub number: Option<WhatsappNumber>,
        /// Why: a code such as `payment_failed`, `subscription_ended`, `user_requested`,
        /// `cleanup_suspended`, or free text (`action_required`); may be `null`.
        pub reason: Option<String>,
    }
}

shared_payload! {
    WhatsappNumberReasonPayload {
        /// `whatsapp.number.declined`: the number order was declined.
        WhatsappNumberDeclined,
        /// `whatsapp.number.suspended`: the number was suspended.
        WhatsappNumberSuspended,
        /// `whatsapp.number.released`: the number was released.
        WhatsappNumberReleased,
        /// `whatsapp.number.action_required`: the order needs something from the customer.
        WhatsappNumberActionRequired,
    }
}

payload! {
    lenient
    /// `whatsapp.number.verification_required`: the number's owner must verify their identity
    /// (inline schema).
    pub struct WhatsappNumberVerificationRequired {
        /// The number.
        pub number: Option<WhatsappNumber>,
        /// Where to verify.
        pub verification_url: Option<String>,
    }
}

// ---------------------------------------------------------------------------------------------
// Verifications and the test event
// ---------------------------------------------------------------------------------------------

payload! {
    lenient
    /// `verification.approved`: a phone verification succeeded (inline schema).
    pub struct VerificationApproved {
        /// The verification.
        pub verification: Option<Verification>,
    }
}

payload! {
    lenient
    /// `verification.failed`: a phone verification failed (inline schema).
    pub struct VerificationFailed {
        /// The verification.
        pub verification: Option<Verification>,
        /// Why (`max_attempts_reached`).
        pub reason: Option<VerificationFailureReason>,
    }
}

payload! {
    /// `webhook.test`: a test fire from the dashboard or `POST /v1/webhooks/test` (fresh `id`,
    /// no retries, sent whatever the subscribed events).
    pub struct WebhookTest {
        /// Fixed text: `This is a test webhook from Zernio`.
        pub message: String,
    }
}
