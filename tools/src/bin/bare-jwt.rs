//! The bare peer of `scripts/rest-compare.sh`: an actix-web server whose one route,
//! `GET /orders/{token_id}`, does only the bearer JWT check (HS256, `jsonwebtoken`, the
//! same library and settings as papertwap) and answers a small JSON body. What our
//! server's request path costs is measured against this floor.
//!
//! `BARE_JWT_SECRET=… cargo run --release -p papertwap-tools --bin bare-jwt -- 127.0.0.1:0`
#![allow(clippy::print_stdout)]

use std::io::Write;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

#[derive(Deserialize)]
struct Claims {
    sub: String,
    #[allow(dead_code)]
    exp: i64,
}

struct Keys {
    key: DecodingKey,
    validation: Validation,
}

async fn order(req: HttpRequest, path: web::Path<String>, keys: web::Data<Keys>) -> HttpResponse {
    let token = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let Some(token) = token else {
        return HttpResponse::Unauthorized().finish();
    };
    match jsonwebtoken::decode::<Claims>(token, &keys.key, &keys.validation) {
        Ok(t) => HttpResponse::Ok().json(serde_json::json!({
            "token_id": path.into_inner(),
            "user": t.claims.sub,
        })),
        Err(_) => HttpResponse::Unauthorized().finish(),
    }
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let bind = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".to_owned());
    let secret = std::env::var("BARE_JWT_SECRET")?;
    let keys = web::Data::new(Keys {
        key: DecodingKey::from_secret(secret.as_bytes())?,
        validation: Validation::new(Algorithm::HS256),
    });
    let server = HttpServer::new(move || {
        App::new()
            .app_data(keys.clone())
            .route("/orders/{token_id}", web::get().to(order))
    })
    .bind(&bind)?;
    for a in server.addrs() {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {a}")?;
        out.flush()?;
    }
    server.run().await?;
    Ok(())
}
