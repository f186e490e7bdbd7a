//! Guardrails: the workspace's sending rules and the pre-launch checks a
//! broadcast must pass. A check is passed, a warning, or blocking; a
//! broadcast with any blocking item cannot start.

use serde::{Deserialize, Serialize};

use super::consent::ConsentPolicy;
use super::quiet::{FrequencyCap, QuietHours};

/// How a pre-launch check came out.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Passed,
    Warning,
    Blocking,
}

/// One item of the pre-launch list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Check {
    /// Stable identifier, e.g. `unsubscribe_link`, `excluded_no_consent`.
    pub code: String,
    pub status: CheckStatus,
    /// What was checked and what was found, in plain words; for a warning
    /// or a blocking item, also what to do.
    pub message: String,
    /// How many people the item concerns, where it counts people.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<i64>,
}

impl Check {
    pub fn new(code: &str, status: CheckStatus, message: impl Into<String>) -> Check {
        Check {
            code: code.to_string(),
            status,
            message: message.into(),
            count: None,
        }
    }

    pub fn with_count(mut self, count: i64) -> Check {
        self.count = Some(count);
        self
    }
}

/// Whether a list of checks lets a broadcast start.
pub fn can_start(checks: &[Check]) -> bool {
    checks.iter().all(|c| c.status != CheckStatus::Blocking)
}

/// A workspace's sending rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct SendingRules {
    /// The sender's physical postal address, required in every commercial
    /// email (CAN-SPAM). Templates show it with `{{ postal_address }}`.
    pub postal_address: String,
    /// The public address of this pitcrew, used in tracking, unsubscribe
    /// and preference-center links (e.g. `https://mail.acme.com`).
    pub public_url: String,
    /// Mailbox for `mailto:` unsubscribe requests (e.g. `unsubscribe@acme.com`).
    pub unsubscribe_mailbox: String,
    /// Audiences larger than this need an admin's approval.
    pub approval_threshold: i64,
    /// At most this many marketing emails per person per window; `None` = no cap.
    pub frequency_cap: Option<FrequencyCap>,
    /// Quiet hours in the person's time zone; `None` = none.
    pub quiet_hours: Option<QuietHours>,
    /// Soft bounces in a row that suppress an address.
    pub soft_bounce_limit: u32,
    /// Which legal bases allow marketing email per country.
    pub consent_policy: ConsentPolicy,
}

impl Default for SendingRules {
    fn default() -> SendingRules {
        SendingRules {
            postal_address: String::new(),
            public_url: String::new(),
            unsubscribe_mailbox: String::new(),
            approval_threshold: 10_000,
            frequency_cap: Some(FrequencyCap { max: 3, days: 7 }),
            quiet_hours: None,
            soft_bounce_limit: 3,
            consent_policy: ConsentPolicy::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_blocking_item_stops_the_start() {
        let ok = Check::new("subject", CheckStatus::Passed, "Subject is set");
        let warn = Check::new(
            "links_tagged",
            CheckStatus::Warning,
            "2 links have no UTM tags",
        );
        let block = Check::new(
            "unsubscribe_link",
            CheckStatus::Blocking,
            "no unsubscribe link",
        );
        assert!(can_start(&[ok.clone(), warn.clone()]));
        assert!(!can_start(&[ok, warn, block]));
    }
}
