//! Campaigns: the words and rules of sending email — consent and its legal
//! bases, suppression, broadcast and recipient states, the reasons a person
//! is skipped, the pre-launch checks, caps and quiet hours. Pure rules; the
//! app applies them to stored data.

pub mod consent;
pub mod guardrail;
pub mod quiet;

use serde::{Deserialize, Serialize};

/// A closed set of words stored and shown as snake_case text.
macro_rules! words {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// The word as stored or typed (case and surrounding space ignored).
            pub fn parse(s: &str) -> Option<$name> {
                let s = s.trim().to_ascii_lowercase();
                $name::ALL.iter().copied().find(|v| v.as_str() == s)
            }

            /// Every accepted word, for error messages.
            pub fn choices() -> String {
                $name::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use words;

words! {
    /// Why an address is on a suppression list.
    SuppressionReason {
        /// The receiving server said the address does not exist.
        HardBounce => "hard_bounce",
        /// Too many temporary failures in a row.
        SoftBounce => "soft_bounce",
        /// The person marked an email as spam.
        Complaint => "complaint",
        /// Someone on the team added it.
        Manual => "manual",
        /// A shared mailbox such as info@ or abuse@, not a person.
        RoleAddress => "role_address",
    }
}

words! {
    /// Where a broadcast is in its life.
    BroadcastStatus {
        Draft => "draft",
        Scheduled => "scheduled",
        Sending => "sending",
        Paused => "paused",
        Cancelled => "cancelled",
        Sent => "sent",
    }
}

impl BroadcastStatus {
    /// Whether the broadcast can still be edited.
    pub fn editable(self) -> bool {
        self == BroadcastStatus::Draft
    }

    /// Whether sending has ended for good.
    pub fn finished(self) -> bool {
        matches!(self, BroadcastStatus::Cancelled | BroadcastStatus::Sent)
    }
}

words! {
    /// One recipient's place in the send ledger.
    RecipientState {
        /// Waiting for its turn.
        Queued => "queued",
        /// Waiting for quiet hours to end (`not_before`).
        Deferred => "deferred",
        /// Handed to the sender; an outcome will be recorded.
        Sending => "sending",
        /// The SMTP server accepted it.
        Sent => "sent",
        /// The SMTP server refused it for good.
        Failed => "failed",
        /// Not sent, with a reason.
        Skipped => "skipped",
        /// Was being handed over when the sender stopped: it may or may not
        /// have gone out, so it is never re-sent on its own.
        Uncertain => "uncertain",
    }
}

words! {
    /// Why a person in a broadcast's audience is not sent the email.
    SkipReason {
        /// No email address on the contact.
        NoEmail => "no_email",
        /// The address is not a deliverable email address.
        InvalidEmail => "invalid_email",
        /// Another person in the audience has the same address.
        DuplicateAddress => "duplicate_address",
        /// The address hard-bounced or soft-bounced too often.
        Bounced => "bounced",
        /// The address complained or is suppressed by hand or as a role address.
        Suppressed => "suppressed",
        /// No opt-in for the topic under a legal basis the country allows.
        NoConsent => "no_consent",
        /// The person already got the capped number of marketing emails.
        FrequencyCap => "frequency_cap",
        /// The template could not be rendered for this person.
        RenderFailed => "render_failed",
        /// The broadcast was cancelled before this person's turn.
        Cancelled => "cancelled",
    }
}

impl SkipReason {
    /// The reason a suppressed address is skipped: bounces are told apart
    /// from the other lists.
    pub fn for_suppression(reason: SuppressionReason) -> SkipReason {
        match reason {
            SuppressionReason::HardBounce | SuppressionReason::SoftBounce => SkipReason::Bounced,
            _ => SkipReason::Suppressed,
        }
    }

    /// A sentence for the decision log.
    pub fn explain(self) -> &'static str {
        match self {
            SkipReason::NoEmail => "the contact has no email address",
            SkipReason::InvalidEmail => "the email address is not valid",
            SkipReason::DuplicateAddress => {
                "another contact in the audience has the same address and gets the email instead"
            }
            SkipReason::Bounced => "the address bounced before and is suppressed",
            SkipReason::Suppressed => "the address is on a suppression list",
            SkipReason::NoConsent => {
                "no opt-in for the topic under a legal basis allowed in the contact's country"
            }
            SkipReason::FrequencyCap => "the contact reached the workspace's frequency cap",
            SkipReason::RenderFailed => "the template could not be rendered for this contact",
            SkipReason::Cancelled => "the broadcast was cancelled before this contact's turn",
        }
    }
}

words! {
    /// What happened to a message after it was sent.
    MessageEventKind {
        Delivered => "delivered",
        Bounced => "bounced",
        SoftBounced => "soft_bounced",
        Opened => "opened",
        Clicked => "clicked",
        Unsubscribed => "unsubscribed",
        Complained => "complained",
    }
}

words! {
    /// How a template's body is written.
    TemplateFormat {
        Html => "html",
        Mjml => "mjml",
    }
}

words! {
    /// How pitcrew talks to an SMTP server.
    Security {
        /// Plain connection upgraded with STARTTLS, which must succeed.
        Starttls => "starttls",
        /// TLS from the first byte (usually port 465).
        Tls => "tls",
        /// No encryption: for a relay on the same host or network only.
        None => "none",
    }
}

/// The check pitcrew applies to an address before sending: one `@`, a
/// non-empty local part, a dotted domain, no spaces or control characters.
/// Stricter checking (MX lookups) needs the network and is left to the
/// receiving server, whose bounce is handled.
pub fn is_sendable_address(email: &str) -> bool {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return false;
    };
    let clean = |s: &str| {
        !s.is_empty()
            && s.chars().all(|c| {
                !c.is_whitespace()
                    && !c.is_control()
                    && !matches!(
                        c,
                        '<' | '>' | ',' | ';' | '"' | '@' | '(' | ')' | '[' | ']' | '\\'
                    )
            })
    };
    clean(local)
        && clean(domain)
        && local.len() <= 64
        && email.len() <= 254
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
}

/// Local parts of shared mailboxes that are not a person, which marketing
/// email should not reach (and which complain the most).
const ROLE_LOCAL_PARTS: &[&str] = &[
    "abuse",
    "admin",
    "administrator",
    "billing",
    "hostmaster",
    "info",
    "mailer-daemon",
    "marketing",
    "no-reply",
    "noc",
    "noreply",
    "postmaster",
    "root",
    "sales",
    "security",
    "support",
    "webmaster",
];

/// Whether an address is a role address such as `info@` or `postmaster@`.
pub fn is_role_address(email: &str) -> bool {
    let Some((local, _)) = email.rsplit_once('@') else {
        return false;
    };
    let local = local.to_ascii_lowercase();
    ROLE_LOCAL_PARTS.contains(&local.as_str())
}

/// An address as stored on suppression lists and compared for duplicates:
/// trimmed and lowercased.
pub fn normalise_address(email: &str) -> String {
    email.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip() {
        for r in SkipReason::ALL {
            assert_eq!(SkipReason::parse(r.as_str()), Some(*r));
        }
        assert_eq!(
            BroadcastStatus::parse(" Sending "),
            Some(BroadcastStatus::Sending)
        );
        assert_eq!(RecipientState::parse("gone"), None);
    }

    #[test]
    fn sendable_addresses() {
        assert!(is_sendable_address("ana@example.com"));
        assert!(is_sendable_address("ana.m+news@mail.example.co.uk"));
        for bad in [
            "",
            "ana",
            "ana@",
            "@example.com",
            "ana@example",
            "ana @example.com",
            "a@b@c.com",
            "ana@example..com",
            ".ana@example.com",
            "ana@example.com.",
        ] {
            assert!(!is_sendable_address(bad), "{bad}");
        }
    }

    #[test]
    fn role_addresses_are_recognised_by_local_part() {
        assert!(is_role_address("Info@acme.com"));
        assert!(is_role_address("postmaster@acme.com"));
        assert!(!is_role_address("information.desk@acme.com"));
        assert!(!is_role_address("ana@info.com"));
    }
}
