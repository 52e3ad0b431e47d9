//! Identity verification (KYC): the 18-digit mainland resident ID number,
//! the real name that goes with it, and the verification levels they unlock.
//!
//! A resident ID is six region digits, an eight-digit birth date, three
//! sequence digits and a check character computed with ISO 7064 MOD 11-2 over
//! the first seventeen (`X` stands for 10).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

const ID_LENGTH: usize = 18;
const CHECK_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK_CHARACTERS: &[u8; 11] = b"10X98765432";
const BIRTH_YEAR_MIN: i32 = 1900;
const REAL_NAME_CHARS_MAX: usize = 30;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("must be 18 characters: 17 digits and a final digit or X")]
    IdNumberMalformed,
    #[error("the check character does not match (ISO 7064 MOD 11-2)")]
    IdNumberChecksum,
    #[error("the birth date in the ID number is not a real past date")]
    IdNumberBirthDate,
    #[error("the region code in the ID number is not valid")]
    IdNumberRegion,
    #[error("must be 2 to 30 characters of a real name")]
    RealNameInvalid,
}

/// A checked resident ID number (upper-case `X`). Its `Debug` is masked.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ResidentId(String);

impl ResidentId {
    /// Checks shape, region, birth date (a real date, after 1900, not after `today`) and check character.
    pub fn parse(text: &str, today: NaiveDate) -> Result<ResidentId, IdentityError> {
        let normalized = text.trim().to_ascii_uppercase();
        let bytes = normalized.as_bytes();
        let shaped = bytes.len() == ID_LENGTH
            && bytes[..17].iter().all(u8::is_ascii_digit)
            && (bytes[17].is_ascii_digit() || bytes[17] == b'X');
        if !shaped {
            return Err(IdentityError::IdNumberMalformed);
        }
        if !(b'1'..=b'8').contains(&bytes[0]) {
            return Err(IdentityError::IdNumberRegion);
        }
        let birth_date =
            NaiveDate::parse_from_str(&normalized[6..14], "%Y%m%d").map_err(|_| IdentityError::IdNumberBirthDate)?;
        if birth_date > today || birth_date < NaiveDate::from_ymd_opt(BIRTH_YEAR_MIN, 1, 1).unwrap_or(NaiveDate::MIN) {
            return Err(IdentityError::IdNumberBirthDate);
        }
        if check_character(&bytes[..17]) != bytes[17] {
            return Err(IdentityError::IdNumberChecksum);
        }
        Ok(ResidentId(normalized))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `110101********123X`: region and last four, as wallets show it.
    pub fn masked(&self) -> String {
        format!("{}********{}", &self.0[..6], &self.0[14..])
    }

    /// Whether `answer` is this number's last six characters (`x` or `X`),
    /// compared in constant time: the identity question of a PIN reset, which
    /// asks for two digits more than `masked` shows.
    pub fn ends_with_last_six(&self, answer: &str) -> bool {
        use subtle::ConstantTimeEq;
        let answer = answer.trim().to_ascii_uppercase();
        answer.len() == LAST_DIGITS_ASKED
            && bool::from(answer.as_bytes().ct_eq(&self.0.as_bytes()[ID_LENGTH - LAST_DIGITS_ASKED..]))
    }
}

/// How many of its last characters prove a user knows their ID number.
pub const LAST_DIGITS_ASKED: usize = 6;

/// Whether `text` has the shape of an ID number's last `LAST_DIGITS_ASKED`
/// characters: digits, the last one a digit or `X` (either case). Checked
/// before an answer spends an SMS code, so a typo costs nothing.
pub fn is_id_number_ending(text: &str) -> bool {
    let bytes = text.as_bytes();
    let Some((last, digits)) = bytes.split_last() else { return false };
    bytes.len() == LAST_DIGITS_ASKED
        && digits.iter().all(u8::is_ascii_digit)
        && (last.is_ascii_digit() || last.eq_ignore_ascii_case(&b'X'))
}

impl std::fmt::Debug for ResidentId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ResidentId({})", self.masked())
    }
}

/// The ISO 7064 MOD 11-2 check character of the first seventeen digits.
pub fn check_character(digits: &[u8]) -> u8 {
    let sum: u32 = digits.iter().zip(CHECK_WEIGHTS).map(|(digit, weight)| u32::from(digit - b'0') * weight).sum();
    CHECK_CHARACTERS[(sum % 11) as usize]
}

/// A real name: 2–30 characters, letters (any script), spaces and `·`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RealName(String);

impl RealName {
    pub fn parse(text: &str) -> Result<RealName, IdentityError> {
        let trimmed = text.trim();
        let length = trimmed.chars().count();
        let allowed = trimmed.chars().all(|c| c.is_alphabetic() || c == ' ' || c == '·' || c == '.');
        if !(2..=REAL_NAME_CHARS_MAX).contains(&length) || !allowed {
            return Err(IdentityError::RealNameInvalid);
        }
        Ok(RealName(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `*三丰`: all but the last character hidden.
    pub fn masked(&self) -> String {
        let chars: Vec<char> = self.0.chars().collect();
        let last = chars.last().copied().unwrap_or('*');
        format!("{}{last}", "*".repeat(chars.len().saturating_sub(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, 1).unwrap()
    }

    /// Builds a valid ID from 17 digits by appending its check character.
    fn with_check(first17: &str) -> String {
        format!("{first17}{}", char::from(check_character(first17.as_bytes())))
    }

    #[test]
    fn the_standard_example_checks_out() {
        // The worked example of GB 11643-1999.
        assert!(ResidentId::parse("11010519491231002X", today()).is_ok());
        assert!(ResidentId::parse("11010519491231002x", today()).is_ok(), "lower-case x is accepted");
        assert_eq!(ResidentId::parse("110105194912310021", today()), Err(IdentityError::IdNumberChecksum));
    }

    #[test]
    fn an_ending_is_five_digits_and_a_digit_or_x() {
        for good in ["31002X", "31002x", "123456"] {
            assert!(is_id_number_ending(good), "{good}");
        }
        for bad in ["", "1002X", "231002X", "3100X2", "31-02X", " 1002X", "31002Y"] {
            assert!(!is_id_number_ending(bad), "{bad}");
        }
    }

    #[test]
    fn malformed_regions_and_dates_are_refused() {
        let cases = [
            ("", IdentityError::IdNumberMalformed),
            ("11010519491231002", IdentityError::IdNumberMalformed),
            ("1101051949123100X2", IdentityError::IdNumberMalformed),
            ("11010519491231002Y", IdentityError::IdNumberMalformed),
        ];
        for (text, expected) in cases {
            assert_eq!(ResidentId::parse(text, today()), Err(expected), "{text}");
        }
        assert_eq!(ResidentId::parse(&with_check("01010519491231002"), today()), Err(IdentityError::IdNumberRegion));
        assert_eq!(ResidentId::parse(&with_check("11010519490231002"), today()), Err(IdentityError::IdNumberBirthDate));
        assert_eq!(ResidentId::parse(&with_check("11010520300101002"), today()), Err(IdentityError::IdNumberBirthDate));
        assert_eq!(ResidentId::parse(&with_check("11010518991231002"), today()), Err(IdentityError::IdNumberBirthDate));
    }

    #[test]
    fn masks_hide_the_middle() {
        let id = ResidentId::parse("11010519491231002X", today()).unwrap();
        assert_eq!(id.masked(), "110105********002X");
        assert!(!format!("{id:?}").contains("19491231"));
        assert_eq!(RealName::parse("张三丰").unwrap().masked(), "**丰");
        assert_eq!(RealName::parse("X"), Err(IdentityError::RealNameInvalid));
        assert_eq!(RealName::parse("Robert'); DROP"), Err(IdentityError::RealNameInvalid));
    }

    proptest! {
        #[test]
        fn any_single_digit_change_breaks_the_check(first17 in "[1-8][0-9]{5}19[5-9][0-9]0[1-9]1[0-9][0-9]{3}", position in 0usize..17, delta in 1u8..10) {
            let valid = with_check(&first17);
            prop_assert!(ResidentId::parse(&valid, today()).is_ok());
            let mut bytes = valid.into_bytes();
            bytes[position] = b'0' + (bytes[position] - b'0' + delta) % 10;
            let changed = String::from_utf8(bytes).unwrap();
            prop_assert!(ResidentId::parse(&changed, today()).is_err());
        }

        #[test]
        fn parsing_never_panics(text in "\\PC{0,24}") {
            let _ = ResidentId::parse(&text, today());
            let _ = RealName::parse(&text);
        }
    }
}
