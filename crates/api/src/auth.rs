//! Authentication: bcrypt passwords and HS256 JWTs.
//!
//! Tokens are signed and verified by `jsonwebtoken` (a well-reviewed library beats our own
//! security code). Strictness on top of it: the header must say `HS256` (so `none` and every
//! other algorithm are refused before any signature work), and `exp`/`iat` are checked here
//! against an explicit `now` with at most 5 s of leeway (testable, and `iat` in the future is
//! refused, which the library does not check). Then the token's user must still exist and
//! its token version be current ([`AccountStates`]).

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Validation};
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use crate::accounts::AccountStates;

/// Clock-skew allowance on `exp` and `iat`.
pub const LEEWAY_SECS: i64 = 5;
/// bcrypt cost used for stored hashes.
pub const BCRYPT_COST: u32 = 11;
/// bcrypt only reads 72 bytes; longer passwords are refused rather than truncated.
pub const MAX_PASSWORD_BYTES: usize = 72;

/// What a valid token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// User name.
    pub sub: String,
    /// User id.
    pub uid: i64,
    /// `basic` or `premium`.
    pub tier: String,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Expires at (Unix seconds).
    pub exp: i64,
    /// The user's token version when it was issued (0 for tokens from before versions).
    #[serde(default)]
    pub ver: i64,
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not three base64url parts of JSON.
    #[error("the token is malformed")]
    Malformed,
    /// The header names another algorithm (including `none`).
    #[error("the token's algorithm is not HS256")]
    Algorithm,
    /// The signature does not match.
    #[error("the token's signature is invalid")]
    Signature,
    /// Past `exp` (beyond the leeway).
    #[error("the token has expired")]
    Expired,
    /// Issued in the future (beyond the leeway).
    #[error("the token is not valid yet")]
    NotYetValid,
    /// Well signed, but its user is gone or changed their password since.
    #[error(transparent)]
    Revoked(#[from] crate::accounts::Revoked),
}

#[derive(Deserialize)]
struct Header {
    alg: String,
}

/// Issues and verifies tokens with one HS256 secret.
#[derive(Clone)]
pub struct Jwt {
    encoding: Arc<EncodingKey>,
    decoding: Arc<DecodingKey>,
    validation: Arc<Validation>,
    ttl_secs: u64,
    accounts: AccountStates,
}

impl std::fmt::Debug for Jwt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jwt")
            .field("key", &"<redacted>")
            .field("ttl_secs", &self.ttl_secs)
            .finish()
    }
}

/// The JWT secret was empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the JWT secret must not be empty")]
pub struct EmptySecret;

impl Jwt {
    /// A signer with this secret and token lifetime.
    pub fn new(secret: &[u8], ttl_secs: u64) -> Result<Self, EmptySecret> {
        let mut validation = Validation::new(Algorithm::HS256);
        // Times are checked in `verify` against an explicit `now` (with our leeway, and
        // `iat` too); the library checks the algorithm and the signature.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.leeway = 0;
        validation.required_spec_claims.clear();
        Ok(Jwt {
            encoding: Arc::new(EncodingKey::from_secret(secret).map_err(|_| EmptySecret)?),
            decoding: Arc::new(DecodingKey::from_secret(secret).map_err(|_| EmptySecret)?),
            validation: Arc::new(validation),
            ttl_secs,
            accounts: AccountStates::default(),
        })
    }

    /// Check every token against these users' states too (removed users, password
    /// changes).
    pub fn with_accounts(mut self, accounts: AccountStates) -> Self {
        self.accounts = accounts;
        self
    }

    /// The users' states tokens are checked against.
    pub fn accounts(&self) -> &AccountStates {
        &self.accounts
    }

    /// Token lifetime, seconds.
    pub fn ttl_secs(&self) -> u64 {
        self.ttl_secs
    }

    /// A token for this user (at token version `ver`), valid from `now` (Unix seconds) for
    /// the configured lifetime.
    pub fn issue(
        &self,
        username: &str,
        uid: i64,
        tier: &str,
        ver: i64,
        now: i64,
    ) -> Result<String, TokenError> {
        let claims = Claims {
            ver,
            sub: username.to_owned(),
            uid,
            tier: tier.to_owned(),
            iat: now,
            exp: now + i64::try_from(self.ttl_secs).unwrap_or(i64::MAX / 2),
        };
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(Algorithm::HS256),
            &claims,
            &self.encoding,
        )
        .map_err(|_| TokenError::Malformed)
    }

    /// Verify a token at `now` (Unix seconds): algorithm, signature, times, then its user.
    pub fn verify(&self, token: &str, now: i64) -> Result<Claims, TokenError> {
        // The header first: anything but HS256 is refused before any signature work.
        let header = token.split('.').next().ok_or(TokenError::Malformed)?;
        let header: Header = B64
            .decode(header)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(TokenError::Malformed)?;
        if header.alg != "HS256" {
            return Err(TokenError::Algorithm);
        }
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature => TokenError::Signature,
                jsonwebtoken::errors::ErrorKind::InvalidAlgorithm => TokenError::Algorithm,
                _ => TokenError::Malformed,
            })?
            .claims;
        if now > claims.exp + LEEWAY_SECS {
            return Err(TokenError::Expired);
        }
        if claims.iat > now + LEEWAY_SECS {
            return Err(TokenError::NotYetValid);
        }
        self.accounts.check(claims.uid, &claims.sub, claims.ver)?;
        Ok(claims)
    }
}

/// The token of an `Authorization: Bearer <token>` header (`None` when absent, not Bearer,
/// or empty).
pub fn bearer_token(headers: &actix_web::http::header::HeaderMap) -> Option<&str> {
    let v = headers
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    v.strip_prefix("Bearer ")
        .or_else(|| v.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// A request's bearer token, verified once (by the first middleware or extractor that needs
/// it) and kept in the request's extensions for the others.
#[derive(Debug, Clone)]
pub struct VerifiedToken(pub Result<Claims, TokenError>);

impl Jwt {
    /// Verify the request's bearer token now, or reuse the result of an earlier check of the
    /// same request. `None` when the request carries no bearer token.
    pub fn verify_request(
        &self,
        req: &actix_web::HttpRequest,
    ) -> Option<Result<Claims, TokenError>> {
        use actix_web::HttpMessage;
        if let Some(v) = req.extensions().get::<VerifiedToken>() {
            return Some(v.0.clone());
        }
        let token = bearer_token(req.headers())?;
        let res = self.verify(token, chrono::Utc::now().timestamp());
        req.extensions_mut().insert(VerifiedToken(res.clone()));
        Some(res)
    }
}

/// Why a password operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// Longer than bcrypt can read.
    #[error("passwords are limited to 72 bytes")]
    TooLong,
    /// Empty.
    #[error("the password must not be empty")]
    Empty,
    /// The hashing task failed.
    #[error("password hashing failed: {0}")]
    Hash(String),
}

/// bcrypt on the blocking pool, at most half the machine's cores hashing at once (at least
/// one, at most four: a login flood can never take every core from the requests being
/// served), with a dummy hash so that an unknown user costs the same as a wrong password.
#[derive(Debug, Clone)]
pub struct Passwords {
    slots: Arc<Semaphore>,
    dummy: Arc<str>,
    cost: u32,
}

/// Concurrent bcrypt hashes allowed: half the cores, 1–4.
fn hash_slots() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get() / 2)
        .clamp(1, 4)
}

impl Passwords {
    /// bcrypt at `cost`; computes the dummy hash once (blocking: call at start).
    pub fn new(cost: u32) -> Result<Self, PasswordError> {
        let dummy = bcrypt::hash("papertwap-dummy-password", cost)
            .map_err(|e| PasswordError::Hash(e.to_string()))?;
        Ok(Passwords {
            slots: Arc::new(Semaphore::new(hash_slots())),
            dummy: Arc::from(dummy),
            cost,
        })
    }

    /// Check a password's length (1–72 bytes).
    pub fn check(password: &str) -> Result<(), PasswordError> {
        if password.is_empty() {
            return Err(PasswordError::Empty);
        }
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(PasswordError::TooLong);
        }
        Ok(())
    }

    /// Hash a password for storage.
    pub async fn hash(&self, password: &str) -> Result<String, PasswordError> {
        Passwords::check(password)?;
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|e| PasswordError::Hash(e.to_string()))?;
        let (pw, cost) = (password.to_owned(), self.cost);
        tokio::task::spawn_blocking(move || bcrypt::hash(pw, cost))
            .await
            .map_err(|e| PasswordError::Hash(e.to_string()))?
            .map_err(|e| PasswordError::Hash(e.to_string()))
    }

    /// True when `password` matches `hash`; with no hash (unknown user) the dummy is checked
    /// so the answer takes as long, and is false.
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> bool {
        if Passwords::check(password).is_err() {
            return false;
        }
        let Ok(_slot) = self.slots.acquire().await else {
            return false;
        };
        let known = hash.is_some();
        let h = hash.map_or_else(|| self.dummy.to_string(), str::to_owned);
        let pw = password.to_owned();
        let ok = tokio::task::spawn_blocking(move || bcrypt::verify(pw, &h).unwrap_or(false))
            .await
            .unwrap_or(false);
        ok && known
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_only_as_good_as_its_user() {
        use crate::accounts::{AccountState, Revoked};
        let states = AccountStates::default();
        let jwt = Jwt::new(&[7u8; 32], 1_800)
            .unwrap()
            .with_accounts(states.clone());
        let state = |v| AccountState {
            id: 3,
            username: "alice".into(),
            token_version: v,
        };
        states.replace(vec![state(0)]);
        let old = jwt.issue("alice", 3, "basic", 0, 1_000).unwrap();
        assert!(jwt.verify(&old, 1_100).is_ok());
        states.replace(vec![state(1)]);
        assert_eq!(
            jwt.verify(&old, 1_100),
            Err(TokenError::Revoked(Revoked::PasswordChanged))
        );
        let new = jwt.issue("alice", 3, "basic", 1, 1_000).unwrap();
        assert!(jwt.verify(&new, 1_100).is_ok());
        states.replace(Vec::new());
        assert_eq!(
            jwt.verify(&new, 1_100),
            Err(TokenError::Revoked(Revoked::UnknownUser))
        );
    }

    #[test]
    fn tokens_round_trip_and_tampering_is_refused() {
        let jwt = Jwt::new(&[7u8; 32], 1_800).unwrap();
        let t = jwt.issue("alice", 3, "basic", 0, 1_000).unwrap();
        let c = jwt.verify(&t, 1_100).unwrap();
        assert_eq!(
            (c.sub.as_str(), c.uid, c.tier.as_str(), c.exp),
            ("alice", 3, "basic", 2_800)
        );
        assert_eq!(jwt.verify(&t, 2_805), Ok(c.clone()), "within the leeway");
        assert_eq!(jwt.verify(&t, 2_806), Err(TokenError::Expired));
        assert_eq!(jwt.verify(&t, 990), Err(TokenError::NotYetValid));
        // Another secret.
        assert_eq!(
            Jwt::new(&[8u8; 32], 1_800).unwrap().verify(&t, 1_100),
            Err(TokenError::Signature)
        );
        // A changed payload (tier escalation) with the old signature.
        let parts: Vec<&str> = t.split('.').collect();
        let forged =
            B64.encode(br#"{"sub":"alice","uid":3,"tier":"premium","iat":1000,"exp":2800}"#);
        assert_eq!(
            jwt.verify(&format!("{}.{forged}.{}", parts[0], parts[2]), 1_100),
            Err(TokenError::Signature)
        );
        // alg: none, with or without a signature.
        let none = B64.encode(br#"{"alg":"none","typ":"JWT"}"#);
        assert_eq!(
            jwt.verify(&format!("{none}.{}.", parts[1]), 1_100),
            Err(TokenError::Algorithm)
        );
        assert_eq!(
            jwt.verify(&format!("{none}.{}.{}", parts[1], parts[2]), 1_100),
            Err(TokenError::Algorithm)
        );
        let hs512 = B64.encode(br#"{"alg":"HS512","typ":"JWT"}"#);
        assert_eq!(
            jwt.verify(&format!("{hs512}.{}.{}", parts[1], parts[2]), 1_100),
            Err(TokenError::Algorithm)
        );
        for bad in [
            "",
            "a.b",
            "a.b.c.d",
            "!!!.x.y",
            &format!("{}.{}", parts[0], parts[1]),
        ] {
            assert!(jwt.verify(bad, 1_100).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn passwords_hash_verify_and_limits() {
        let p = Passwords::new(4).unwrap();
        let h = p.hash("s3cret").await.unwrap();
        assert!(p.verify("s3cret", Some(&h)).await);
        assert!(!p.verify("wrong", Some(&h)).await);
        assert!(!p.verify("s3cret", None).await, "unknown user");
        assert_eq!(p.hash(&"x".repeat(73)).await, Err(PasswordError::TooLong));
        assert_eq!(p.hash("").await, Err(PasswordError::Empty));
        assert!(p.hash(&"x".repeat(72)).await.is_ok());
    }
}
