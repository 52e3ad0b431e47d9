//! Login identifiers and passwords as validated values: a `Login` is a
//! mainland mobile number or an email address, a `Password` meets the policy.
//! Both are built only through fallible constructors, so unchecked input never
//! travels further in.

use std::fmt;

use serde::{Deserialize, Serialize};
use validator::ValidateEmail;

/// Password length bounds, in characters. The upper bound keeps one hash cheap
/// enough that a flood of huge passwords cannot tie up the hashing threads.
pub const PASSWORD_CHARS_MIN: usize = 8;
pub const PASSWORD_CHARS_MAX: usize = 128;
const EMAIL_BYTES_MAX: usize = 254;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    #[error("must be an 11-digit mainland China mobile number like 13800000001")]
    InvalidPhone,
    #[error("must be a valid email address")]
    InvalidEmail,
    #[error("give either a phone or an email, not both")]
    BothLogins,
    #[error("give a phone or an email")]
    NoLogin,
    #[error("must be between {PASSWORD_CHARS_MIN} and {PASSWORD_CHARS_MAX} characters")]
    PasswordLength,
    #[error("must not be only whitespace")]
    PasswordBlank,
}

impl CredentialError {
    /// The request field the error is about.
    pub fn field(&self) -> &'static str {
        match self {
            CredentialError::InvalidPhone => "phone",
            CredentialError::InvalidEmail => "email",
            CredentialError::BothLogins | CredentialError::NoLogin => "phone",
            CredentialError::PasswordLength | CredentialError::PasswordBlank => "password",
        }
    }
}

/// How an account logs in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum Login {
    Phone(String),
    Email(String),
}

impl Login {
    pub fn phone(text: &str) -> Result<Login, CredentialError> {
        let bytes = text.as_bytes();
        let valid = bytes.len() == 11
            && bytes[0] == b'1'
            && (b'3'..=b'9').contains(&bytes[1])
            && bytes.iter().all(u8::is_ascii_digit);
        if valid { Ok(Login::Phone(text.to_owned())) } else { Err(CredentialError::InvalidPhone) }
    }

    pub fn email(text: &str) -> Result<Login, CredentialError> {
        let normalized = text.trim().to_lowercase();
        if normalized.len() > EMAIL_BYTES_MAX || !normalized.validate_email() {
            return Err(CredentialError::InvalidEmail);
        }
        Ok(Login::Email(normalized))
    }

    /// Picks the one login a request gave.
    pub fn from_parts(phone: Option<&str>, email: Option<&str>) -> Result<Login, CredentialError> {
        match (phone, email) {
            (Some(phone), None) => Login::phone(phone),
            (None, Some(email)) => Login::email(email),
            (Some(_), Some(_)) => Err(CredentialError::BothLogins),
            (None, None) => Err(CredentialError::NoLogin),
        }
    }

    /// The unique index key of this login.
    pub fn index_key(&self) -> String {
        match self {
            Login::Phone(phone) => format!("phone:{phone}"),
            Login::Email(email) => format!("email:{email}"),
        }
    }

    pub fn phone_number(&self) -> Option<&str> {
        match self {
            Login::Phone(phone) => Some(phone),
            Login::Email(_) => None,
        }
    }

    /// Masked, as `(phone, email)`: the one this login is, the other `None`.
    pub fn masked_phone_or_email(&self) -> (Option<String>, Option<String>) {
        let masked = self.masked();
        match self {
            Login::Phone(_) => (Some(masked), None),
            Login::Email(_) => (None, Some(masked)),
        }
    }

    /// Shown back to clients and in logs: enough to recognise, not to harvest.
    pub fn masked(&self) -> String {
        match self {
            Login::Phone(phone) => format!("{}****{}", &phone[..3], &phone[7..]),
            Login::Email(email) => {
                let (local, domain) = email.split_once('@').unwrap_or((email, ""));
                let first: String = local.chars().take(1).collect();
                format!("{first}***@{domain}")
            }
        }
    }
}

/// A password that meets the policy. Its `Debug` never shows the text.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub fn parse(text: String) -> Result<Password, CredentialError> {
        let chars = text.chars().count();
        if !(PASSWORD_CHARS_MIN..=PASSWORD_CHARS_MAX).contains(&chars) {
            return Err(CredentialError::PasswordLength);
        }
        if text.trim().is_empty() {
            return Err(CredentialError::PasswordBlank);
        }
        Ok(Password(text))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn phones_are_mainland_mobile_numbers() {
        assert!(Login::phone("13800000001").is_ok());
        assert!(Login::phone("19912345678").is_ok());
        for bad in ["", "1380000000", "138000000011", "12800000001", "23800000001", "1380000000a", "+8613800000001"] {
            assert_eq!(Login::phone(bad), Err(CredentialError::InvalidPhone), "{bad}");
        }
    }

    #[test]
    fn emails_are_normalised_to_lower_case() {
        assert_eq!(Login::email(" Ops@WalletGate.test ").unwrap(), Login::Email("ops@walletgate.test".into()));
        assert_eq!(Login::email("not-an-email"), Err(CredentialError::InvalidEmail));
    }

    #[test]
    fn exactly_one_login_is_required() {
        assert_eq!(Login::from_parts(None, None), Err(CredentialError::NoLogin));
        assert_eq!(Login::from_parts(Some("13800000001"), Some("a@b.cn")), Err(CredentialError::BothLogins));
    }

    #[test]
    fn masking_hides_the_middle() {
        assert_eq!(Login::phone("13800000001").unwrap().masked(), "138****0001");
        assert_eq!(Login::email("ops@walletgate.test").unwrap().masked(), "o***@walletgate.test");
    }

    #[test]
    fn password_policy_and_redaction() {
        assert_eq!(Password::parse("short".into()).unwrap_err(), CredentialError::PasswordLength);
        assert_eq!(Password::parse(" ".repeat(9)).unwrap_err(), CredentialError::PasswordBlank);
        assert_eq!(Password::parse("x".repeat(129)).unwrap_err(), CredentialError::PasswordLength);
        let password = Password::parse("alice-demo".into()).unwrap();
        assert!(!format!("{password:?}").contains("alice"));
    }

    proptest! {
        #[test]
        fn login_parsing_never_panics(text in "\\PC{0,300}") {
            let _ = Login::phone(&text);
            if let Ok(login) = Login::email(&text) { let _ = login.masked(); }
            let _ = Password::parse(text);
        }
    }
}
