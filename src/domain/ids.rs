//! Opaque ids made of a prefix and a time-ordered UUID (v7) in hex
//! (`bnd_0196…`, `tr_0196…`): they sort by creation, and a text from outside
//! names one only if it has exactly that shape, so anything else is simply
//! not found.

/// Declares such an id type: `$name`, written `$prefix` + 32 hex digits.
macro_rules! hex_id {
    ($(#[$meta:meta])* $name:ident, $prefix:literal) => {
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        $(#[$meta])*
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn generate() -> $name {
                $name(format!(concat!($prefix, "{}"), uuid::Uuid::now_v7().simple()))
            }

            /// Ids from URLs: anything not shaped like ours names nothing.
            pub fn parse(text: &str) -> Option<$name> {
                let valid = text
                    .strip_prefix($prefix)
                    .is_some_and(|rest| rest.len() == 32 && rest.bytes().all(|b| b.is_ascii_hexdigit()));
                valid.then(|| $name(text.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

pub(crate) use hex_id;
