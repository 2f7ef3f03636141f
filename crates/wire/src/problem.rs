use serde::{Deserialize, Serialize};

/// An RFC 9457 problem body (`application/problem+json`), returned for every 4xx and 5xx.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Problem {
    /// A URI naming the problem type (`https://papertwap.dev/problems/<code>`).
    #[serde(rename = "type")]
    pub type_: String,
    /// A short human summary of the problem type.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// A human sentence about this occurrence.
    pub detail: String,
    /// A stable snake_case identifier programs can match on.
    pub code: String,
}

impl Problem {
    /// The media type of problem bodies.
    pub const CONTENT_TYPE: &'static str = "application/problem+json";

    /// A problem with `type` derived from `code`.
    pub fn new(status: u16, code: &str, title: &str, detail: impl Into<String>) -> Self {
        Problem {
            type_: format!("https://papertwap.dev/problems/{}", code.replace('_', "-")),
            title: title.to_owned(),
            status,
            detail: detail.into(),
            code: code.to_owned(),
        }
    }
}
