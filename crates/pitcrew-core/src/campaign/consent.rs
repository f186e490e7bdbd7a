//! Consent: the legal bases and sources recorded in the ledger, and the
//! workspace policy saying which bases allow marketing email in which
//! country. The default is strict where the law is (EU/EEA, UK, Canada:
//! only explicit consent) and allows legitimate interest elsewhere.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::words;

words! {
    /// Why processing someone's data for a purpose is lawful (GDPR art. 6).
    LegalBasis {
        Consent => "consent",
        LegitimateInterest => "legitimate_interest",
        Contract => "contract",
        LegalObligation => "legal_obligation",
        VitalInterest => "vital_interest",
        PublicTask => "public_task",
    }
}

words! {
    /// Where an opt-in or opt-out came from.
    ConsentSource {
        Form => "form",
        Import => "import",
        Api => "api",
        UnsubscribeLink => "unsubscribe_link",
        PreferenceCenter => "preference_center",
        Complaint => "complaint",
        Admin => "admin",
    }
}

/// Countries where marketing email needs explicit consent by default:
/// the EU and EEA, the United Kingdom and Canada (CASL).
pub const STRICT_COUNTRIES: &[&str] = &[
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV",
    "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "IS", "LI", "NO", "GB", "CA",
];

/// Which legal bases allow marketing email, per country (ISO 3166 alpha-2)
/// with a default for every other country and for contacts with none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConsentPolicy {
    /// Bases allowed where no country rule applies.
    pub default: Vec<LegalBasis>,
    /// Bases allowed per country code.
    pub countries: BTreeMap<String, Vec<LegalBasis>>,
    /// Bases allowed for a contact whose country is unknown. The safe
    /// default is the strict one.
    pub unknown_country: Vec<LegalBasis>,
}

impl Default for ConsentPolicy {
    fn default() -> ConsentPolicy {
        let strict = vec![LegalBasis::Consent];
        ConsentPolicy {
            default: vec![LegalBasis::Consent, LegalBasis::LegitimateInterest],
            countries: STRICT_COUNTRIES
                .iter()
                .map(|c| (c.to_string(), strict.clone()))
                .collect(),
            unknown_country: strict,
        }
    }
}

impl ConsentPolicy {
    /// Whether an opt-in held under `basis` allows marketing email to a
    /// contact in `country`.
    pub fn allows(&self, country: Option<&str>, basis: LegalBasis) -> bool {
        let allowed = match country.map(str::trim).filter(|c| !c.is_empty()) {
            None => &self.unknown_country,
            Some(c) => self
                .countries
                .get(&c.to_ascii_uppercase())
                .unwrap_or(&self.default),
        };
        allowed.contains(&basis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_policy_is_strict_in_the_eu_uk_and_canada() {
        let p = ConsentPolicy::default();
        for c in ["DE", "fr", "GB", "CA"] {
            assert!(p.allows(Some(c), LegalBasis::Consent));
            assert!(!p.allows(Some(c), LegalBasis::LegitimateInterest), "{c}");
        }
        assert!(p.allows(Some("US"), LegalBasis::LegitimateInterest));
        assert!(!p.allows(Some("US"), LegalBasis::Contract));
        assert!(!p.allows(None, LegalBasis::LegitimateInterest));
        assert!(p.allows(None, LegalBasis::Consent));
    }
}
