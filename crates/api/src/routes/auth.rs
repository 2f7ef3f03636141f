//! `POST /token`, and the bearer extractor every authenticated route uses.

use std::future::{Ready, ready};

use actix_web::http::header;
use actix_web::{Either, FromRequest, HttpRequest, HttpResponse, web};
use chrono::Utc;

use crate::error::ApiError;
use crate::openapi::{BadRequest, RateLimited};
use crate::state::AppState;

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthUser {
    /// User id.
    pub id: i64,
    /// User name.
    pub name: String,
    /// `basic` or `premium`.
    pub tier: String,
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = Ready<Result<AuthUser, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        ready(authenticate(req))
    }
}

fn authenticate(req: &HttpRequest) -> Result<AuthUser, ApiError> {
    let Some(state) = req.app_data::<web::Data<AppState>>() else {
        return Err(ApiError::Internal("application state missing".to_owned()));
    };
    let claims = match state.trading.jwt.verify_request(req) {
        Some(res) => res.map_err(|e| ApiError::unauthorized("invalid_token", e.to_string()))?,
        None if req.headers().contains_key(header::AUTHORIZATION) => {
            return Err(ApiError::unauthorized(
                "invalid_token",
                "the Authorization header must be `Bearer <token>`",
            ));
        }
        None => {
            return Err(ApiError::unauthorized(
                "missing_token",
                "this endpoint needs `Authorization: Bearer <token>`; get one from POST /token",
            ));
        }
    };
    Ok(AuthUser {
        id: claims.uid,
        name: claims.sub,
        tier: claims.tier,
    })
}

/// `POST /token`: OAuth2 password form or JSON.
#[utoipa::path(post, path = "/token", tag = "auth",
    request_body(content((wire::TokenRequest = "application/x-www-form-urlencoded"), (wire::TokenRequest = "application/json")), description = "OAuth2 password grant (form) or the same fields as JSON"),
    responses((status = 200, description = "A bearer token", body = wire::Token), BadRequest, (status = 401, description = "Unknown user or wrong password", body = wire::Problem, content_type = "application/problem+json"), RateLimited))]
pub(crate) async fn token(
    state: web::Data<AppState>,
    body: Either<web::Form<wire::TokenRequest>, web::Json<wire::TokenRequest>>,
) -> Result<HttpResponse, ApiError> {
    let req = match body {
        Either::Left(f) => f.into_inner(),
        Either::Right(j) => j.into_inner(),
    };
    if let Err(wait) = state.limits.login_attempt(&req.username) {
        return Err(ApiError::TooManyRequests {
            detail: format!(
                "too many login attempts for this user; retry in {} s",
                wait.as_secs().max(1)
            ),
            retry_after: wait,
        });
    }
    let t = &state.trading;
    let user = state
        .accounts
        .by_name(&req.username)
        .await
        .map_err(ApiError::Internal)?;
    let ok = t
        .passwords
        .verify(
            &req.password,
            user.as_ref().map(|u| u.password_hash.as_str()),
        )
        .await;
    let Some(user) = user.filter(|_| ok) else {
        return Err(ApiError::unauthorized(
            "invalid_credentials",
            "unknown user or wrong password",
        ));
    };
    t.jwt
        .accounts()
        .upsert(user.id, &user.username, user.token_version);
    let access_token = t
        .jwt
        .issue(
            &user.username,
            user.id,
            &user.tier,
            user.token_version,
            Utc::now().timestamp(),
        )
        .map_err(|e| ApiError::Internal(format!("signing a token: {e}")))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(wire::Token {
            access_token,
            token_type: "bearer".to_owned(),
            expires_in: t.jwt.ttl_secs(),
        }))
}
