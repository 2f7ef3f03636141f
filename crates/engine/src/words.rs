//! The engine's small enums as text: one mapping per enum (`as_str`, `FromStr`, `Display`),
//! used by the store adapter and the HTTP layer alike.

/// The text named no variant of the enum.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{text}` (expected one of: {expected})")]
pub struct UnknownWord {
    /// Which enum was parsed.
    pub what: &'static str,
    /// The text given.
    pub text: String,
    /// The accepted words, comma-separated.
    pub expected: &'static str,
}

/// Implements `as_str`, `ALL`, `FromStr` (exact, lower case) and `Display` for a fieldless enum.
macro_rules! words {
    ($ty:ident, $what:literal, { $($variant:ident => $word:literal),+ $(,)? }) => {
        impl $ty {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            /// The variant's wire word.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $word),+
                }
            }
        }

        impl ::std::str::FromStr for $ty {
            type Err = $crate::words::UnknownWord;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($word => Ok($ty::$variant),)+
                    _ => Err($crate::words::UnknownWord {
                        what: $what,
                        text: s.chars().take(64).collect(),
                        expected: concat!($($word, " "),+).trim_ascii_end(),
                    }),
                }
            }
        }

        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use words;
