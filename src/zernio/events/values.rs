//! Open string enums: the closed-looking value sets of Zernio's payloads, each with an
//! `Other(String)` case so a new value never fails a delivery.

open_enum! {
    /// A Zernio platform key (`post.platforms[].platform`, `platform.name`, `account.platform`,
    /// `message.platform`, ...).
    ///
    /// The listed values are the publishing platforms of Zernio's API, the inbox channels and
    /// `metaads` (ads accounts); each event's schema allows a subset.
    pub enum Platform {
        Twitter = "twitter",
        Threads = "threads",
        Instagram = "instagram",
        YouTube = "youtube",
        Facebook = "facebook",
        LinkedIn = "linkedin",
        Pinterest = "pinterest",
        Reddit = "reddit",
        TikTok = "tiktok",
        Bluesky = "bluesky",
        /// Google Business Profile.
        GoogleBusiness = "googlebusiness",
        Telegram = "telegram",
        WhatsApp = "whatsapp",
        Sms = "sms",
        Slack = "slack",
        /// A Meta ads account.
        MetaAds = "metaads",
    }
}

open_enum! {
    /// Post-level status at fire time (`post.status`; a plain string in the OpenAPI spec, values
    /// from Zernio's contract).
    pub enum PostStatus {
        Draft = "draft",
        Scheduled = "scheduled",
        Publishing = "publishing",
        Published = "published",
        /// Some targets published, some failed.
        Partial = "partial",
        Failed = "failed",
        Cancelled = "cancelled",
    }
}

open_enum! {
    /// Per-target status (`post.platforms[].status`).
    pub enum TargetStatus {
        Pending = "pending",
        Processing = "processing",
        Uploading = "uploading",
        Published = "published",
        Failed = "failed",
        /// Cancelled, or removed from the platform through Zernio's unpublish call.
        Cancelled = "cancelled",
    }
}

open_enum! {
    /// Outcome of one target in `post.platform.*` (`platform.status`; `published` for
    /// `post.tiktok.url_resolved`).
    pub enum PlatformOutcome {
        Published = "published",
        Failed = "failed",
        Deleted = "deleted",
    }
}

open_enum! {
    /// Why an account disconnected (`account.disconnectionType`).
    pub enum DisconnectionType {
        /// A user action.
        Intentional = "intentional",
        /// The token expired or was revoked.
        Unintentional = "unintentional",
    }
}

open_enum! {
    /// Result of an ads account's initial sync (`sync.status`).
    pub enum AdsSyncStatus {
        Success = "success",
        Failure = "failure",
    }
}

open_enum! {
    /// Stable category of an ads sync failure, for branching (`sync.errorCategory`).
    pub enum AdsSyncErrorCategory {
        TokenInvalid = "token_invalid",
        PermissionDenied = "permission_denied",
        NoAdAccounts = "no_ad_accounts",
        RateLimited = "rate_limited",
        DiscoveryFailed = "discovery_failed",
        /// Zernio's own "unknown" category (not a value this crate does not know: that is `Other`).
        Unknown = "unknown",
    }
}

open_enum! {
    /// Direction of an inbox message (`message.direction`).
    pub enum MessageDirection {
        Incoming = "incoming",
        Outgoing = "outgoing",
    }
}

open_enum! {
    /// How a WhatsApp message was sent (`message.source` on `message.sent`).
    pub enum MessageSource {
        /// The WhatsApp Business phone app (Coexistence).
        WhatsappBusinessApp = "whatsapp_business_app",
        /// The Cloud API (through Zernio).
        CloudApi = "cloud_api",
    }
}

open_enum! {
    /// Kind of a message attachment (`attachments[].type`; an open string in the spec).
    pub enum AttachmentType {
        Image = "image",
        Video = "video",
        Audio = "audio",
        File = "file",
        Sticker = "sticker",
    }
}

open_enum! {
    /// Status of a conversation (`conversation.status`).
    pub enum ConversationStatus {
        Active = "active",
        Archived = "archived",
    }
}

open_enum! {
    /// Kind of a WhatsApp interactive reply (`metadata.interactiveType`).
    pub enum InteractiveType {
        ButtonReply = "button_reply",
        ListReply = "list_reply",
        /// A WhatsApp Flow response.
        NfmReply = "nfm_reply",
    }
}

open_enum! {
    /// Where shared contacts came from (`metadata.contactsOrigin`).
    pub enum ContactsOrigin {
        /// Shared in answer to a contact request.
        ContactRequest = "contact_request",
        /// Zernio's own `other` value (distinct from [`Self::Other`], an unlisted value).
        OtherOrigin = "other",
    }
}

open_enum! {
    /// Whether a reaction was added or removed (`reaction.action`).
    pub enum ReactionAction {
        Added = "added",
        Removed = "removed",
    }
}

open_enum! {
    /// Direction of a WhatsApp call (`call.direction`).
    pub enum CallDirection {
        Inbound = "inbound",
        Outbound = "outbound",
    }
}

open_enum! {
    /// Why a call ended (`call.endReason`).
    pub enum CallEndReason {
        Hangup = "hangup",
        NoAnswer = "no_answer",
        Rejected = "rejected",
        Error = "error",
    }
}

open_enum! {
    /// The user's answer to a call permission request (`permission.response`).
    pub enum PermissionResponse {
        Accept = "accept",
        Reject = "reject",
    }
}

open_enum! {
    /// Media kind of an external post (`post.mediaType`) or of one of its items
    /// (`mediaItems[].type`, `image` or `video` there).
    pub enum MediaType {
        Image = "image",
        Video = "video",
        Gif = "gif",
        Document = "document",
        Text = "text",
        Carousel = "carousel",
    }
}

open_enum! {
    /// Whether an external post's media file could be fetched (`mediaItems[].mediaStatus`).
    pub enum MediaStatus {
        Available = "available",
        Unavailable = "unavailable",
    }
}

open_enum! {
    /// Why an external post's media file is unavailable (`mediaItems[].unavailableReason`).
    pub enum UnavailableReason {
        /// The platform withholds the file.
        PlatformWithheld = "platform_withheld",
    }
}

open_enum! {
    /// Origin of a post (`post.source` on `post.external.*`; always `external` there).
    pub enum PostSource {
        /// Authored natively on the platform, found by Zernio's sync.
        External = "external",
    }
}

open_enum! {
    /// Instagram media product type of an external post (`post.mediaProductType`).
    pub enum MediaProductType {
        Feed = "FEED",
        Reels = "REELS",
        Story = "STORY",
        Ad = "AD",
    }
}

open_enum! {
    /// Level of a Meta ad object (`adObject.level`).
    pub enum AdLevel {
        Campaign = "CAMPAIGN",
        AdSet = "AD_SET",
        Ad = "AD",
    }
}

open_enum! {
    /// Review status of a WhatsApp message template (`template.status`).
    pub enum TemplateStatus {
        Approved = "APPROVED",
        Rejected = "REJECTED",
        Pending = "PENDING",
        Paused = "PAUSED",
        Disabled = "DISABLED",
        InAppeal = "IN_APPEAL",
        PendingDeletion = "PENDING_DELETION",
    }
}

open_enum! {
    /// Category of a WhatsApp message template (`template.category` and friends).
    pub enum TemplateCategory {
        Utility = "UTILITY",
        Marketing = "MARKETING",
        Authentication = "AUTHENTICATION",
    }
}

open_enum! {
    /// Whether a template category change is announced or done (`template.changeType`).
    pub enum CategoryChangeType {
        /// Announced: `scheduledCategory` and `effectiveAt` say what and when.
        Scheduled = "scheduled",
        /// Done: `previousCategory` says what it was.
        Applied = "applied",
    }
}

open_enum! {
    /// Channel of a phone verification (`verification.channel`).
    pub enum VerificationChannel {
        Sms = "sms",
    }
}

open_enum! {
    /// Why a phone verification failed (`reason` on `verification.failed`).
    pub enum VerificationFailureReason {
        MaxAttemptsReached = "max_attempts_reached",
    }
}

open_enum! {
    /// Meta conversion event detected in a WhatsApp conversation (`eventName` on
    /// `whatsapp.automatic_event`; an open string in the spec).
    pub enum AutomaticEventName {
        LeadSubmitted = "LeadSubmitted",
        Purchase = "Purchase",
    }
}

open_enum! {
    /// Source of a Meta referral (`referral.source`).
    pub enum ReferralSource {
        /// A click-to-message ad.
        Ads = "ADS",
        Shortlink = "SHORTLINK",
        Shortlinks = "SHORTLINKS",
        /// An ig.me link.
        IgmeSourceLink = "IGME-SOURCE-LINK",
    }
}
