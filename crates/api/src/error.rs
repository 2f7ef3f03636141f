use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use market::MarketError;
use wire::Problem;

/// An error as the API reports it. Each variant maps to one HTTP status and a problem body.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed or out of range.
    #[error("{detail}")]
    BadRequest {
        /// Stable identifier.
        code: &'static str,
        /// Human sentence.
        detail: String,
    },
    /// 404: the thing asked for does not exist (or is not yours).
    #[error("{detail}")]
    NotFound {
        /// Stable identifier.
        code: &'static str,
        /// Human sentence.
        detail: String,
    },
    /// 401: no valid bearer token (or bad credentials at `/token`).
    #[error("{detail}")]
    Unauthorized {
        /// Stable identifier.
        code: &'static str,
        /// Human sentence.
        detail: String,
    },
    /// 409: conflicts with the current state of the resource.
    #[error("{detail}")]
    Conflict {
        /// Stable identifier.
        code: &'static str,
        /// Human sentence.
        detail: String,
    },
    /// 415: the body's content type is not accepted here.
    #[error("{detail}")]
    UnsupportedMediaType {
        /// Human sentence.
        detail: String,
    },
    /// 429: over the rate limit.
    #[error("{detail}")]
    TooManyRequests {
        /// Human sentence.
        detail: String,
        /// When to retry (sent as `Retry-After`).
        retry_after: Duration,
    },
    /// 405: the path exists but not with this method.
    #[error("method not allowed; allowed: {allow}")]
    MethodNotAllowed {
        /// Value of the `Allow` header.
        allow: &'static str,
    },
    /// 502: the exchange answered with something unusable.
    #[error("{detail}")]
    BadGateway {
        /// Stable identifier.
        code: &'static str,
        /// Human sentence.
        detail: String,
    },
    /// 503: cannot serve this now; try again later.
    #[error("{detail}")]
    Unavailable {
        /// Stable identifier.
        code: &'static str,
        /// Human sentence.
        detail: String,
        /// Suggested wait, sent as `Retry-After`.
        retry_after: Option<Duration>,
    },
    /// 413: the body is larger than this endpoint accepts.
    #[error("{detail}")]
    PayloadTooLarge {
        /// Human sentence.
        detail: String,
    },
    /// 408: the request (its body) did not arrive in time.
    #[error("{detail}")]
    RequestTimeout {
        /// Human sentence.
        detail: String,
    },
    /// 500: our fault. The cause is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// A 400 with a code and sentence.
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code,
            detail: detail.into(),
        }
    }

    /// A 401 with a code and sentence.
    pub fn unauthorized(code: &'static str, detail: impl Into<String>) -> Self {
        ApiError::Unauthorized {
            code,
            detail: detail.into(),
        }
    }

    /// A 409 with a code and sentence.
    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        ApiError::Conflict {
            code,
            detail: detail.into(),
        }
    }

    /// A 413 for a request body over [`crate::MAX_BODY_BYTES`].
    pub fn body_too_large() -> Self {
        ApiError::PayloadTooLarge {
            detail: format!(
                "request bodies are limited to {} KiB",
                crate::MAX_BODY_BYTES / 1024
            ),
        }
    }

    /// A 404 with a code and sentence.
    pub fn not_found(code: &'static str, detail: impl Into<String>) -> Self {
        ApiError::NotFound {
            code,
            detail: detail.into(),
        }
    }

    fn problem(&self) -> Problem {
        let status = self.status_code().as_u16();
        match self {
            ApiError::BadRequest { code, detail } => {
                Problem::new(status, code, "Bad request", detail.clone())
            }
            ApiError::NotFound { code, detail } => {
                Problem::new(status, code, "Not found", detail.clone())
            }
            ApiError::Unauthorized { code, detail } => {
                Problem::new(status, code, "Unauthorized", detail.clone())
            }
            ApiError::Conflict { code, detail } => {
                Problem::new(status, code, "Conflict", detail.clone())
            }
            ApiError::UnsupportedMediaType { detail } => Problem::new(
                status,
                "unsupported_media_type",
                "Unsupported media type",
                detail.clone(),
            ),
            ApiError::TooManyRequests { detail, .. } => {
                Problem::new(status, "rate_limited", "Too many requests", detail.clone())
            }
            ApiError::MethodNotAllowed { allow } => Problem::new(
                status,
                "method_not_allowed",
                "Method not allowed",
                format!("this path accepts {allow} only"),
            ),
            ApiError::BadGateway { code, detail } => {
                Problem::new(status, code, "Bad gateway", detail.clone())
            }
            ApiError::Unavailable { code, detail, .. } => {
                Problem::new(status, code, "Service unavailable", detail.clone())
            }
            ApiError::PayloadTooLarge { detail } => Problem::new(
                status,
                "payload_too_large",
                "Payload too large",
                detail.clone(),
            ),
            ApiError::RequestTimeout { detail } => {
                Problem::new(status, "request_timeout", "Request timeout", detail.clone())
            }
            ApiError::Internal(_) => Problem::new(
                status,
                "internal_error",
                "Internal server error",
                "the server failed to handle this request; it has been logged",
            ),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::BadGateway { .. } => StatusCode::BAD_GATEWAY,
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RequestTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status_code());
        res.insert_header((header::CONTENT_TYPE, Problem::CONTENT_TYPE));
        match self {
            ApiError::MethodNotAllowed { allow } => {
                res.insert_header((header::ALLOW, HeaderValue::from_static(allow)));
            }
            ApiError::Unauthorized { code, .. } => {
                let value = if *code == "invalid_credentials" {
                    "Bearer".to_owned()
                } else {
                    format!("Bearer error=\"invalid_token\", error_description=\"{code}\"")
                };
                res.insert_header((header::WWW_AUTHENTICATE, value));
            }
            ApiError::TooManyRequests { retry_after, .. } => {
                let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
                res.insert_header((header::RETRY_AFTER, secs.max(1).to_string()));
            }
            ApiError::Unavailable {
                retry_after: Some(d),
                ..
            } => {
                res.insert_header((header::RETRY_AFTER, d.as_secs().max(1).to_string()));
            }
            // The rest of a refused body is not read: the connection cannot be reused.
            ApiError::PayloadTooLarge { .. } | ApiError::RequestTimeout { .. } => {
                res.force_close();
            }
            _ => {}
        }
        res.json(self.problem())
    }
}

impl From<MarketError> for ApiError {
    fn from(e: MarketError) -> Self {
        let detail = e.to_string();
        match e {
            MarketError::ExchangeDisabled(_) => ApiError::not_found("exchange_disabled", detail),
            MarketError::UnknownSymbol { .. } | MarketError::NoVenueLists(_) => {
                ApiError::not_found("unknown_symbol", detail)
            }
            MarketError::UnsupportedInterval { .. } => {
                ApiError::bad_request("unsupported_interval", detail)
            }
            MarketError::PairsUnavailable { .. } => ApiError::Unavailable {
                code: "exchange_unavailable",
                detail,
                retry_after: Some(Duration::from_secs(5)),
            },
            MarketError::Unavailable { retry_after, .. } => ApiError::Unavailable {
                code: "exchange_unavailable",
                detail,
                retry_after: retry_after.or(Some(Duration::from_secs(5))),
            },
            MarketError::Refused { .. } => ApiError::Unavailable {
                code: "exchange_refused",
                detail,
                retry_after: None,
            },
            MarketError::Upstream { .. } => ApiError::BadGateway {
                code: "exchange_error",
                detail,
            },
            MarketError::BookNotLive { .. } => ApiError::Unavailable {
                code: "book_not_live",
                detail,
                retry_after: Some(Duration::from_secs(1)),
            },
            MarketError::RateLimited { retry_after, .. } => ApiError::Unavailable {
                code: "exchange_rate_limited",
                detail,
                retry_after: Some(retry_after),
            },
            MarketError::Config(_) => ApiError::Internal(detail),
            MarketError::ShuttingDown => ApiError::Unavailable {
                code: "shutting_down",
                detail,
                retry_after: Some(Duration::from_secs(5)),
            },
        }
    }
}
