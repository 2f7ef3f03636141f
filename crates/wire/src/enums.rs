//! The API's closed word sets as enums. Each reads any word it does not know as `Unknown`
//! (`#[serde(other)]`), so an SDK built today keeps working against a newer server that
//! adds a value; the server itself never sends `unknown`.

use serde::{Deserialize, Serialize};

macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $word:literal),+ $(,)? }) => {
        $(#[$doc])*
        ///
        /// On the wire (and in the OpenAPI document) as the variant's snake_case name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
            /// A value this version does not know (sent by a newer server).
            #[serde(other)]
            Unknown,
        }

        impl $name {
            /// Every known variant.
            pub const KNOWN: &'static [$name] = &[$($name::$variant),+];

            /// The wire word.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $word,)+
                    $name::Unknown => "unknown",
                }
            }

            /// The known variant named by `word`, if any.
            pub fn parse(word: &str) -> Option<$name> {
                match word {
                    $($word => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum!(
    /// An order's lifecycle state.
    OrderStatus {
        /// Accepted; starts in the future.
        Pending => "pending",
        /// Executing slices.
        Working => "working",
        /// The whole quantity filled.
        Filled => "filled",
        /// The window ended short.
        Expired => "expired",
        /// Cancelled by its owner.
        Cancelled => "cancelled",
    }
);

impl OrderStatus {
    /// `pending` or `working`. An unknown state is not known to be open: a waiting client
    /// returns it rather than wait forever.
    pub fn is_open(self) -> bool {
        matches!(self, OrderStatus::Pending | OrderStatus::Working)
    }
}

wire_enum!(
    /// An order's side.
    Side {
        /// Takes asks.
        Buy => "buy",
        /// Takes bids.
        Sell => "sell",
    }
);

wire_enum!(
    /// How a slice makes up for earlier shortfall.
    CatchUp {
        /// Remaining quantity over the remaining slices.
        Spread => "spread",
        /// The whole shortfall on the next slice.
        Next => "next",
        /// Shortfall abandoned.
        None => "none",
    }
);

wire_enum!(
    /// Why a slice was not attempted.
    SkipReason {
        /// The book was not live.
        StaleBook => "stale_book",
        /// There was no book.
        NoBook => "no_book",
        /// The book was crossed.
        CrossedBook => "crossed_book",
        /// The server was down at the slice's time.
        ServerDown => "server_down",
        /// The order was cancelled first.
        Cancelled => "cancelled",
    }
);

wire_enum!(
    /// Why a slice filled less than its target.
    ShortReason {
        /// The next level was beyond the limit price.
        LimitPrice => "limit_price",
        /// The book ran out of depth.
        Depth => "depth",
    }
);

wire_enum!(
    /// How far a book can be trusted; only `live` books are traded on.
    BookState {
        /// Waiting for the first snapshot.
        Syncing => "syncing",
        /// In sync with the venue.
        Live => "live",
        /// The venue went quiet.
        Stale => "stale",
        /// Being re-synchronised.
        Resyncing => "resyncing",
        /// Its connection is down.
        Down => "down",
    }
);

wire_enum!(
    /// The server's (or its store's) health.
    HealthStatus {
        /// Everything works.
        Ok => "ok",
        /// Serving, but an enabled exchange is not connected.
        Degraded => "degraded",
        /// The store is unusable.
        Unavailable => "unavailable",
    }
);

wire_enum!(
    /// An exchange feed's connection state.
    ConnectionStatus {
        /// Streaming.
        Connected => "connected",
        /// Connecting or reconnecting.
        Connecting => "connecting",
        /// Lost; retrying with backoff.
        Down => "down",
        /// Refused for good (for example HTTP 451); not retried.
        Failed => "failed",
        /// Not enabled on this server.
        Disabled => "disabled",
    }
);

wire_enum!(
    /// A WebSocket channel.
    Channel {
        /// One venue's book.
        Book => "book",
        /// The caller's order updates.
        Orders => "orders",
        /// One symbol's book merged across venues.
        Consolidated => "consolidated",
        /// One venue's public trades.
        Trades => "trades",
    }
);

wire_enum!(
    /// An order's algorithm.
    Strategy {
        /// Time-weighted: even slices (optionally jittered).
        Twap => "twap",
        /// Volume-weighted: slices follow the venue's intraday volume profile.
        Vwap => "vwap",
        /// Percentage of volume: a share of what the market prints.
        Pov => "pov",
    }
);

wire_enum!(
    /// How a pre-trade estimate was made.
    EstimateMethod {
        /// Each slice walked against the current book.
        BookWalk => "book_walk",
        /// The square-root law: cost = σ_daily · √(quantity / daily volume).
        SquareRootLaw => "square_root_law",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip_and_new_words_read_as_unknown() {
        for s in [OrderStatus::Pending, OrderStatus::Cancelled] {
            let text = serde_json::to_string(&s).unwrap();
            assert_eq!(serde_json::from_str::<OrderStatus>(&text).unwrap(), s);
        }
        assert_eq!(
            serde_json::to_string(&SkipReason::StaleBook).unwrap(),
            r#""stale_book""#
        );
        assert_eq!(
            serde_json::from_str::<OrderStatus>(r#""suspended""#).unwrap(),
            OrderStatus::Unknown
        );
        assert_eq!(
            serde_json::from_str::<Channel>(r#""candles""#).unwrap(),
            Channel::Unknown
        );
        assert_eq!(CatchUp::parse("next"), Some(CatchUp::Next));
        assert_eq!(CatchUp::parse("unknown"), None);
        assert!(!OrderStatus::Unknown.is_open() && OrderStatus::Working.is_open());
    }

    fn serde_word<T: Serialize>(v: T) -> String {
        serde_json::to_value(v)
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn the_wire_word_is_the_serialized_word_for_every_variant() {
        macro_rules! check {
            ($($t:ident),+) => {$(
                for v in $t::KNOWN {
                    assert_eq!(serde_word(*v), v.as_str(), "{}::{v:?}", stringify!($t));
                    assert_eq!($t::parse(v.as_str()), Some(*v));
                }
                assert_eq!(serde_word($t::Unknown), "unknown");
            )+};
        }
        check!(
            OrderStatus,
            Side,
            CatchUp,
            SkipReason,
            ShortReason,
            BookState,
            HealthStatus,
            ConnectionStatus,
            Channel,
            Strategy,
            EstimateMethod
        );
    }
}
