//! The web dashboard at `/ui`: static files compiled into the binary.
//!
//! The page (`assets/ui/`) is plain HTML, CSS and JavaScript — no build step — plus uPlot
//! 1.6.32 vendored from npm with its MIT license (`assets/ui/vendor/uplot/`). Every asset is
//! served from this binary with a strong `ETag` computed at compile time, so a browser
//! revalidates cheaply and never sees a stale script after an upgrade. The page's
//! Content-Security-Policy allows nothing but this origin: the dashboard cannot load
//! anything from the internet even by mistake.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::error::ApiError;

/// One embedded file.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
    etag: &'static str,
}

/// FNV-1a 64 over `bytes`, evaluated at compile time.
const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        h ^= bytes[i] as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    h
}

/// `"` + 16 hex digits + `"`, at compile time.
const fn etag_bytes(bytes: &[u8]) -> [u8; 18] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let h = fnv1a(bytes);
    let mut out = [b'"'; 18];
    let mut i = 0;
    while i < 16 {
        out[1 + i] = HEX[((h >> (60 - 4 * i)) & 0xf) as usize];
        i += 1;
    }
    out
}

macro_rules! asset {
    ($path:literal, $file:literal, $ct:literal) => {{
        const BODY: &[u8] = include_bytes!(concat!("../assets/ui/", $file));
        const TAG: [u8; 18] = etag_bytes(BODY);
        const ETAG: &str = match std::str::from_utf8(&TAG) {
            Ok(s) => s,
            Err(_) => panic!("an ETag is ASCII"),
        };
        Asset {
            path: $path,
            content_type: $ct,
            body: BODY,
            etag: ETAG,
        }
    }};
}

static ASSETS: &[Asset] = &[
    asset!("index.html", "index.html", "text/html; charset=utf-8"),
    asset!("app.js", "app.js", "text/javascript; charset=utf-8"),
    asset!("lab.js", "lab.js", "text/javascript; charset=utf-8"),
    asset!("fmt.js", "fmt.js", "text/javascript; charset=utf-8"),
    asset!("app.css", "app.css", "text/css; charset=utf-8"),
    asset!("favicon.svg", "favicon.svg", "image/svg+xml"),
    asset!(
        "vendor/uplot/uPlot.iife.min.js",
        "vendor/uplot/uPlot.iife.min.js",
        "text/javascript; charset=utf-8"
    ),
    asset!(
        "vendor/uplot/uPlot.min.css",
        "vendor/uplot/uPlot.min.css",
        "text/css; charset=utf-8"
    ),
    asset!(
        "vendor/uplot/LICENSE",
        "vendor/uplot/LICENSE",
        "text/plain; charset=utf-8"
    ),
];

/// Only this origin; WebSocket to this origin; inline `style` properties set by scripts
/// (uPlot sizes its canvases that way).
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                   img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; \
                   base-uri 'none'; form-action 'self'";

fn serve(req: &HttpRequest, asset: &Asset) -> HttpResponse {
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim() == asset.etag || t.trim() == "*")
        });
    let mut res = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header((header::ETAG, asset.etag))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"));
    if asset.path == "index.html" {
        res.insert_header((header::CONTENT_SECURITY_POLICY, CSP))
            .insert_header((header::X_FRAME_OPTIONS, "DENY"));
    }
    if fresh {
        res.finish()
    } else {
        res.content_type(asset.content_type).body(asset.body)
    }
}

fn find(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}

/// `GET /ui` and `GET /ui/`: the dashboard page.
async fn index(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let asset = find("index.html").ok_or_else(|| ApiError::not_found("not_found", "no page"))?;
    Ok(serve(&req, asset))
}

/// `GET /ui/{file}`: a script, stylesheet or image of the dashboard.
async fn file(req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let name = path.into_inner();
    let asset = find(&name).ok_or_else(|| {
        ApiError::not_found("not_found", format!("the dashboard has no file `{name}`"))
    })?;
    Ok(serve(&req, asset))
}

/// Register `/ui`, `/ui/` and `/ui/{file}` (GET and HEAD; other methods get 405).
pub fn configure(cfg: &mut web::ServiceConfig) {
    for path in ["/ui", "/ui/"] {
        cfg.service(
            web::resource(path)
                .route(web::get().to(index))
                .route(web::head().to(index))
                .default_service(web::to(not_allowed)),
        );
    }
    cfg.service(
        web::resource("/ui/{file:.+}")
            .route(web::get().to(file))
            .route(web::head().to(file))
            .default_service(web::to(not_allowed)),
    );
}

async fn not_allowed() -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed { allow: "GET, HEAD" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_has_its_own_etag_and_no_external_reference() {
        for (i, a) in ASSETS.iter().enumerate() {
            assert!(!a.body.is_empty(), "{} is empty", a.path);
            assert_eq!(a.etag.len(), 18);
            for b in &ASSETS[i + 1..] {
                assert_ne!(a.etag, b.etag, "{} and {}", a.path, b.path);
            }
            if a.path.ends_with(".html") || a.path.starts_with("app.") {
                let text = String::from_utf8_lossy(a.body);
                for needle in ["http://", "https://", "//cdn", "googleapis"] {
                    assert!(!text.contains(needle), "{} references {needle}", a.path);
                }
            }
        }
    }

    #[test]
    fn the_etag_is_fnv1a_of_the_body() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(&etag_bytes(b"a"), b"\"af63dc4c8601ec8c\"");
    }
}
