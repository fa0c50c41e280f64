//! Zernio's typed event catalogue (documented in the [`zernio`](crate::zernio) module docs).
//!
//! - `macros`: the macros that generate everything repetitive,
//! - `values`: open string enums,
//! - `models`: sub-objects shared by several events,
//! - `payloads`: one type per event name (newtypes over shared shapes),
//! - here: the catalogue enum, the only place an event name is written.

#[macro_use]
mod macros;
mod models;
mod payloads;
mod values;

pub use models::*;
pub use payloads::*;
pub use values::*;

catalogue! {
    /// Every Zernio event, with an unknown case for names outside the catalogue and for payloads
    /// that drifted from their model.
    ///
    /// Each variant boxes its payload, so the enum stays small. Decode it with
    /// [`decode_or_unknown`](crate::event::decode_or_unknown) (never fails) or
    /// [`Event::decode`](crate::event::Event::decode) (fails on unknown names and drift); the
    /// pipeline's `Delivery::raw()` keeps the raw body next to every typed event.
    pub enum Event for crate::zernio::Zernio, decode checks envelope {
        PostScheduled = "post.scheduled",
        PostPublished = "post.published",
        PostFailed = "post.failed",
        PostPartial = "post.partial",
        PostCancelled = "post.cancelled",
        PostRecycled = "post.recycled",
        PostPlatformPublished = "post.platform.published",
        PostPlatformFailed = "post.platform.failed",
        PostPlatformDeleted = "post.platform.deleted",
        PostTiktokUrlResolved = "post.tiktok.url_resolved",
        AccountConnected = "account.connected",
        AccountDisconnected = "account.disconnected",
        AccountAdsInitialSyncCompleted = "account.ads.initial_sync_completed",
        MessageReceived = "message.received",
        ConversationStarted = "conversation.started",
        CallReceived = "call.received",
        CallEnded = "call.ended",
        CallFailed = "call.failed",
        CallPermissionRequest = "call.permission_request",
        MessageSent = "message.sent",
        MessageEdited = "message.edited",
        MessageDeleted = "message.deleted",
        MessageDelivered = "message.delivered",
        MessageRead = "message.read",
        MessageFailed = "message.failed",
        ReactionReceived = "reaction.received",
        ReferralReceived = "referral.received",
        CommentReceived = "comment.received",
        ReviewNew = "review.new",
        ReviewUpdated = "review.updated",
        PostExternalCreated = "post.external.created",
        PostExternalUpdated = "post.external.updated",
        PostExternalDeleted = "post.external.deleted",
        LeadReceived = "lead.received",
        AdStatusChanged = "ad.status_changed",
        WhatsappTemplateStatusUpdated = "whatsapp.template.status_updated",
        WhatsappTemplateCategoryUpdated = "whatsapp.template.category_updated",
        WhatsappAutomaticEvent = "whatsapp.automatic_event",
        WhatsappNumberActivated = "whatsapp.number.activated",
        WhatsappNumberDeclined = "whatsapp.number.declined",
        WhatsappNumberActionRequired = "whatsapp.number.action_required",
        WhatsappNumberVerificationRequired = "whatsapp.number.verification_required",
        WhatsappNumberSuspended = "whatsapp.number.suspended",
        WhatsappNumberReactivated = "whatsapp.number.reactivated",
        WhatsappNumberReleased = "whatsapp.number.released",
        WhatsappNumberKycSubmitted = "whatsapp.number.kyc_submitted",
        VerificationApproved = "verification.approved",
        VerificationFailed = "verification.failed",
        WebhookTest = "webhook.test",
    }
}
