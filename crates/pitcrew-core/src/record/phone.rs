//! Phone number normalisation to E.164 ("+4930123456").
//!
//! Numbers are read the way people type them into a CRM: with spaces, dots, dashes, slashes,
//! parentheses, an optional "(0)" and an extension. National numbers are read in the
//! contact's country, using the calling code and trunk prefix from [`super::country`].

use std::fmt;

use super::country::{COUNTRIES, Country, normalize_country};

/// The fewest digits a number can have after the `+`, country code included.
const MIN_DIGITS: usize = 7;
/// The most digits E.164 allows after the `+`, country code included.
const MAX_DIGITS: usize = 15;
/// E.164 calling codes in use that belong to no ISO 3166-1 country: Ascension Island (247),
/// Kosovo (383) and the international non-geographic services (800 freephone, 870 Inmarsat,
/// 881 satellite, 882 and 883 international networks, ...).
const CODES_WITHOUT_COUNTRY: &[&str] = &[
    "247", "383", "800", "808", "870", "878", "881", "882", "883", "888", "979",
];

/// Why a phone number could not be written in E.164.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhoneError {
    /// No digits at all, or letters other than an extension marker.
    NotANumber,
    /// A national number and no country to read it in.
    NeedsCountry,
    /// Fewer than 7 or more than 15 digits once the country code is added.
    BadLength { digits: usize },
    /// Unknown country calling code after '+' or '00'.
    UnknownCountryCode,
}

impl fmt::Display for PhoneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotANumber => f.write_str(
                "this is not a phone number; write it with digits only, optionally starting with + \
                 and ending with an extension such as \"ext 12\"",
            ),
            Self::NeedsCountry => f.write_str(
                "a national number needs the contact's country to become +<country code> format; \
                 add the country or write the number with a leading +",
            ),
            Self::BadLength { digits } => write!(
                f,
                "a phone number has {MIN_DIGITS} to {MAX_DIGITS} digits including the country \
                 code, but this one has {digits}; check for missing or extra digits",
            ),
            Self::UnknownCountryCode => f.write_str(
                "the digits after + or 00 do not start with a known country calling code; \
                 check the country code, or drop the + and add the contact's country",
            ),
        }
    }
}

impl std::error::Error for PhoneError {}

/// Normalise a phone number to E.164 ("+4930123456"). `country` is the contact's ISO alpha-2
/// country, used for numbers written without a country code.
///
/// A leading `+` or `00` (or `011` for a contact in a NANP country) marks an international
/// number, which must start with a known calling code (a country's, Kosovo's, Ascension's or
/// a non-geographic service's); an optional "(0)" or a 0 trunk prefix written after the
/// calling code is dropped. Anything else is a national number: the country's trunk prefix
/// is dropped (Italy, San Marino and the Vatican keep their 0) and its calling code put in
/// front. An extension ("ext 12", "x12", "#12") is dropped. `country` may also be any value
/// [`normalize_country`] understands; one it does not is treated as missing.
///
/// # Errors
///
/// [`PhoneError`] says why the input cannot be written in E.164: it is not a number, it is a
/// national number without a usable country, its calling code is unknown, or it has fewer
/// than 7 or more than 15 digits.
pub fn normalize_phone(input: &str, country: Option<&str>) -> Result<String, PhoneError> {
    let number = strip_extension(input)?;
    let Scanned {
        plus,
        digits,
        optional_zero,
    } = scan(number)?;
    if digits.is_empty() {
        return Err(PhoneError::NotANumber);
    }
    let home = country.and_then(normalize_country);

    let international_prefix = if plus {
        Some(0)
    } else if digits.starts_with("00") {
        Some(2)
    } else if digits.starts_with("011") && home.is_some_and(|home| home.calling_code == "1") {
        Some(3)
    } else {
        None
    };

    let (calling_code, national) = match international_prefix {
        Some(prefix_len) => {
            let optional_zero = optional_zero.and_then(|at| at.checked_sub(prefix_len));
            read_international(&digits[prefix_len..], optional_zero)?
        }
        None => {
            let home = home.ok_or(PhoneError::NeedsCountry)?;
            (home.calling_code, read_national(&digits, home))
        }
    };

    let total = calling_code.len() + national.len();
    if !(MIN_DIGITS..=MAX_DIGITS).contains(&total) {
        return Err(PhoneError::BadLength { digits: total });
    }
    Ok(format!("+{calling_code}{national}"))
}

/// Splits `digits` (everything after the international prefix) into its calling code and
/// national number, dropping a trunk zero the writer left in.
fn read_international(
    digits: &str,
    optional_zero: Option<usize>,
) -> Result<(&'static str, &str), PhoneError> {
    if digits.is_empty() {
        return Err(PhoneError::BadLength { digits: 0 });
    }
    let calling_code = (1..=digits.len().min(3))
        .rev()
        .find_map(|len| known_calling_code(&digits[..len]))
        .ok_or(PhoneError::UnknownCountryCode)?;
    let national = &digits[calling_code.len()..];

    let sharing = || {
        COUNTRIES
            .iter()
            .filter(move |country| country.calling_code == calling_code)
    };
    if sharing().any(|country| country.keeps_trunk_zero) {
        return Ok((calling_code, national));
    }
    if optional_zero == Some(calling_code.len()) {
        // "+49 (0)30 ...": the zero in parentheses is only dialled from inside the country.
        return Ok((calling_code, &national[1..]));
    }
    // "+44 020 ...": national numbers never start with a 0 trunk prefix, so it was left in by
    // mistake. Other trunk prefixes ("1" in NANP, "8" in Russia) can begin a real number.
    let without_trunk = sharing()
        .filter_map(|country| country.trunk_prefix)
        .filter(|trunk| trunk.starts_with('0'))
        .find_map(|trunk| national.strip_prefix(trunk));
    Ok((calling_code, without_trunk.unwrap_or(national)))
}

/// The national significant number of `digits` dialled inside `home`.
fn read_national<'a>(digits: &'a str, home: &Country) -> &'a str {
    if home.keeps_trunk_zero {
        return digits;
    }
    home.trunk_prefix
        .and_then(|trunk| digits.strip_prefix(trunk))
        .unwrap_or(digits)
}

/// The known calling code equal to `digits`, if any.
fn known_calling_code(digits: &str) -> Option<&'static str> {
    COUNTRIES
        .iter()
        .map(|country| country.calling_code)
        .chain(CODES_WITHOUT_COUNTRY.iter().copied())
        .find(|code| *code == digits)
}

/// The number without its extension ("ext 12", "x12", "#12"); letters that are not an
/// extension make the input not a number.
fn strip_extension(input: &str) -> Result<&str, PhoneError> {
    let Some(start) = input.find(|c: char| c.is_alphabetic() || matches!(c, '#' | ',' | ';'))
    else {
        return Ok(input);
    };
    let (number, rest) = input.split_at(start);
    let rest = rest.trim_start_matches(|c: char| c == ',' || c == ';' || c.is_whitespace());
    if rest.is_empty() {
        // A stray separator at the end: "030 123456,".
        return Ok(number);
    }
    let after_marker = ["extension", "ext", "x", "#"].iter().find_map(|marker| {
        rest.get(..marker.len())
            .filter(|head| head.eq_ignore_ascii_case(marker))
            .map(|_| &rest[marker.len()..])
    });
    let extension = after_marker
        .map(|after| {
            after
                .trim_start_matches(|c: char| {
                    matches!(c, '.' | ':' | '=' | '#') || c.is_whitespace()
                })
                .trim_end()
        })
        .ok_or(PhoneError::NotANumber)?;
    if extension.is_empty() || !extension.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PhoneError::NotANumber);
    }
    Ok(number)
}

/// The digits of a number, without its extension, as typed.
struct Scanned {
    /// The number started with '+'.
    plus: bool,
    digits: String,
    /// Where a "(0)" written after other digits sits in `digits`.
    optional_zero: Option<usize>,
}

fn scan(number: &str) -> Result<Scanned, PhoneError> {
    let mut scanned = Scanned {
        plus: false,
        digits: String::with_capacity(number.len()),
        optional_zero: None,
    };
    let mut rest = number;
    while let Some(c) = rest.chars().next() {
        if let Some(after) = rest.strip_prefix("(0)") {
            if !scanned.digits.is_empty() && scanned.optional_zero.is_none() {
                scanned.optional_zero = Some(scanned.digits.len());
            }
            scanned.digits.push('0');
            rest = after;
            continue;
        }
        rest = &rest[c.len_utf8()..];
        match c {
            '0'..='9' => scanned.digits.push(c),
            '+' if !scanned.plus && scanned.digits.is_empty() => scanned.plus = true,
            '.' | '-' | '/' | '(' | ')' | '\u{2010}'..='\u{2015}' | '\u{2212}' => {}
            c if c.is_whitespace() => {}
            _ => return Err(PhoneError::NotANumber),
        }
    }
    Ok(scanned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e164(input: &str, country: Option<&str>) -> Result<String, PhoneError> {
        normalize_phone(input, country)
    }

    fn ok(number: &str) -> Result<String, PhoneError> {
        Ok(number.to_owned())
    }

    #[test]
    fn us_national_number_with_punctuation_gets_plus_one() {
        assert_eq!(e164("(415) 555-0132", Some("US")), ok("+14155550132"));
        assert_eq!(e164("415.555.0132", Some("us")), ok("+14155550132"));
    }

    #[test]
    fn us_national_number_with_leading_one_loses_the_trunk_one() {
        assert_eq!(e164("1 (415) 555-0132", Some("US")), ok("+14155550132"));
        assert_eq!(e164("1-415-555-0132", Some("CA")), ok("+14155550132"));
    }

    #[test]
    fn international_number_with_plus_needs_no_country() {
        assert_eq!(e164("+1 415 555 0132", None), ok("+14155550132"));
        assert_eq!(e164("+33 1 23 45 67 89", Some("DE")), ok("+33123456789"));
    }

    #[test]
    fn double_zero_prefix_means_international() {
        assert_eq!(e164("0044 20 7946 0958", None), ok("+442079460958"));
        assert_eq!(e164("0044 20 7946 0958", Some("DE")), ok("+442079460958"));
    }

    #[test]
    fn nanp_contact_dialling_011_means_international() {
        assert_eq!(e164("011 44 20 7946 0958", Some("US")), ok("+442079460958"));
    }

    #[test]
    fn uk_national_number_gets_country_code_and_loses_trunk_zero() {
        assert_eq!(e164("020 7946 0958", Some("GB")), ok("+442079460958"));
    }

    #[test]
    fn german_national_number_gets_country_code_and_loses_trunk_zero() {
        assert_eq!(e164("030 123456", Some("DE")), ok("+4930123456"));
        assert_eq!(e164("030/123.456", Some("DE")), ok("+4930123456"));
        assert_eq!(e164("030 123456", Some("Germany")), ok("+4930123456"));
    }

    #[test]
    fn italian_national_number_keeps_its_leading_zero() {
        assert_eq!(e164("06 1234 5678", Some("IT")), ok("+390612345678"));
        assert_eq!(e164("0549 123456", Some("SM")), ok("+3780549123456"));
    }

    #[test]
    fn other_trunk_prefixes_are_dropped_from_national_numbers() {
        assert_eq!(e164("8 (495) 123-45-67", Some("RU")), ok("+74951234567"));
        assert_eq!(e164("06 1 234 5678", Some("HU")), ok("+3612345678"));
        assert_eq!(e164("8 029 491-19-11", Some("BY")), ok("+375294911911"));
    }

    #[test]
    fn optional_zero_in_parentheses_is_dropped_after_the_country_code() {
        assert_eq!(e164("+49 (0)30 123456", None), ok("+4930123456"));
        assert_eq!(e164("+44 (0) 20 7946 0958", None), ok("+442079460958"));
        assert_eq!(e164("0049 (0)30 123456", None), ok("+4930123456"));
    }

    #[test]
    fn optional_zero_in_parentheses_is_kept_for_italy() {
        assert_eq!(e164("+39 (0)6 1234 5678", None), ok("+390612345678"));
    }

    #[test]
    fn trunk_zero_left_after_the_country_code_is_dropped() {
        assert_eq!(e164("+44 020 7946 0958", None), ok("+442079460958"));
        assert_eq!(e164("+36 06 1 234 5678", None), ok("+3612345678"));
        assert_eq!(e164("+39 06 1234 5678", None), ok("+390612345678"));
    }

    #[test]
    fn calling_codes_of_one_two_and_three_digits_are_recognised() {
        assert_eq!(e164("+7 495 123 45 67", None), ok("+74951234567"));
        assert_eq!(e164("+353 1 234 5678", None), ok("+35312345678"));
        assert_eq!(e164("+971 4 123 4567", None), ok("+97141234567"));
    }

    #[test]
    fn calling_codes_without_an_iso_country_are_known() {
        assert_eq!(e164("+383 44 123 456", None), ok("+38344123456"));
        assert_eq!(e164("+247 6 2889", None), ok("+24762889"));
        assert_eq!(e164("+800 1234 5678", None), ok("+80012345678"));
        assert_eq!(e164("+882 1234 5678", None), ok("+88212345678"));
    }

    #[test]
    fn extensions_are_dropped() {
        for input in [
            "+1 415 555 0132 ext 12",
            "+1 415 555 0132 ext. 12",
            "+1 415 555 0132 x12",
            "+1 415 555 0132 X 12",
            "+1 415 555 0132#12",
            "+1 415 555 0132, extension 12",
            "+1 415 555 0132;ext=12",
            "+1 415 555 0132, ",
        ] {
            assert_eq!(e164(input, None), ok("+14155550132"), "input {input:?}");
        }
    }

    #[test]
    fn extension_marker_without_digits_is_not_a_number() {
        assert_eq!(
            e164("+1 415 555 0132 ext", None),
            Err(PhoneError::NotANumber)
        );
        assert_eq!(
            e164("+1 415 555 0132 x ab", None),
            Err(PhoneError::NotANumber)
        );
    }

    #[test]
    fn too_short_numbers_are_rejected_with_their_digit_count() {
        assert_eq!(
            e164("+49 123", None),
            Err(PhoneError::BadLength { digits: 5 })
        );
        assert_eq!(
            e164("0123", Some("DE")),
            Err(PhoneError::BadLength { digits: 5 })
        );
        assert_eq!(e164("00", None), Err(PhoneError::BadLength { digits: 0 }));
    }

    #[test]
    fn too_long_numbers_are_rejected_with_their_digit_count() {
        assert_eq!(
            e164("+49 1234 5678 9012 345", None),
            Err(PhoneError::BadLength { digits: 17 })
        );
        assert_eq!(e164("+49 1234 5678 9012 3", None), ok("+491234567890123"));
    }

    #[test]
    fn letters_make_it_not_a_number() {
        for input in [
            "call me",
            "1-800-FLOWERS",
            "n/a",
            "415 555 0132 mobile",
            "tel:+14155550132",
        ] {
            assert_eq!(
                e164(input, Some("US")),
                Err(PhoneError::NotANumber),
                "input {input:?}"
            );
        }
    }

    #[test]
    fn input_without_digits_is_not_a_number() {
        for input in ["", "   ", "+", "-", "()", "x12"] {
            assert_eq!(
                e164(input, Some("US")),
                Err(PhoneError::NotANumber),
                "input {input:?}"
            );
        }
    }

    #[test]
    fn stray_plus_signs_make_it_not_a_number() {
        assert_eq!(e164("49+30 123456", None), Err(PhoneError::NotANumber));
        assert_eq!(e164("++49 30 123456", None), Err(PhoneError::NotANumber));
    }

    #[test]
    fn national_number_without_a_country_needs_one() {
        assert_eq!(e164("030 123456", None), Err(PhoneError::NeedsCountry));
        assert_eq!(
            e164("030 123456", Some("ZZ")),
            Err(PhoneError::NeedsCountry)
        );
        assert_eq!(e164("030 123456", Some("")), Err(PhoneError::NeedsCountry));
    }

    #[test]
    fn unknown_calling_code_is_rejected() {
        assert_eq!(
            e164("+999 1234 5678", None),
            Err(PhoneError::UnknownCountryCode)
        );
        assert_eq!(
            e164("+0 30 123456", None),
            Err(PhoneError::UnknownCountryCode)
        );
        assert_eq!(
            e164("00 28 1234 5678", None),
            Err(PhoneError::UnknownCountryCode)
        );
    }

    #[test]
    fn every_country_in_the_table_can_read_a_national_number() {
        for country in COUNTRIES {
            let result = e164("2345 6789", Some(country.alpha2));
            let expected = format!("+{}23456789", country.calling_code);
            assert_eq!(result, Ok(expected), "{}", country.alpha2);
        }
    }

    #[test]
    fn error_messages_say_what_to_do() {
        let needs_country = PhoneError::NeedsCountry.to_string();
        assert!(needs_country.contains("add the country"), "{needs_country}");
        assert!(needs_country.contains("leading +"), "{needs_country}");
        let bad_length = PhoneError::BadLength { digits: 5 }.to_string();
        assert!(
            bad_length.contains("7 to 15 digits") && bad_length.contains("has 5"),
            "{bad_length}"
        );
        let unknown = PhoneError::UnknownCountryCode.to_string();
        assert!(unknown.contains("check the country code"), "{unknown}");
        let not_a_number = PhoneError::NotANumber.to_string();
        assert!(not_a_number.contains("digits"), "{not_a_number}");
        let as_error: &dyn std::error::Error = &PhoneError::NotANumber;
        assert!(as_error.source().is_none());
    }
}
