//! `/docs`, `/redoc`, `/ui` and `/openapi.json` work offline: every page and asset the server serves
//! for them is its own, and the document describes the API.

use e2e::spawn_app;
use serde_json::Value;

/// `src`/`href` values in an HTML page.
fn references(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attr in ["src=\"", "href=\""] {
        let mut rest = html;
        while let Some(i) = rest.find(attr) {
            rest = &rest[i + attr.len()..];
            if let Some(j) = rest.find('"') {
                out.push(rest[..j].to_owned());
                rest = &rest[j..];
            }
        }
    }
    out
}

fn external(url: &str) -> bool {
    url.starts_with("http://") || url.starts_with("https://") || url.starts_with("//")
}

#[tokio::test]
async fn documentation_is_served_locally_and_complete() {
    let app = spawn_app().await.unwrap();
    let text = |path: String| {
        let http = app.http.clone();
        async move {
            let r = http.get(path).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    for (page, base) in [("/docs/", "/docs/"), ("/redoc", "/"), ("/ui", "/ui/")] {
        let (s, html) = text(app.url(page)).await;
        assert_eq!(s, 200, "{page}");
        let refs = references(&html);
        assert!(!refs.is_empty(), "{page} loads its assets");
        for r in refs {
            assert!(!external(&r), "{page} references an external URL: {r}");
            let path = if r.starts_with('/') {
                r.clone()
            } else {
                format!("{base}{}", r.trim_start_matches("./"))
            };
            let (s, body) = text(app.url(&path)).await;
            assert_eq!(s, 200, "{page} asset {path}");
            for cdn in [
                "fonts.googleapis.com",
                "cdn.jsdelivr.net",
                "unpkg.com",
                "cdn.redoc.ly",
            ] {
                assert!(!body.contains(cdn), "{path} loads from {cdn}");
            }
        }
    }
    let (s, init) = text(app.url("/docs/swagger-initializer.js")).await;
    assert_eq!(s, 200);
    assert!(
        init.contains("\"/openapi.json\""),
        "Swagger UI reads our document"
    );
    let r = app.http.get(app.url("/docs")).send().await.unwrap();
    assert!(r.status().is_success() || r.status().is_redirection());

    let (s, doc) = text(app.url("/openapi.json")).await;
    assert_eq!(s, 200);
    let doc: Value = serde_json::from_str(&doc).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for p in [
        "/",
        "/health",
        "/exchanges",
        "/exchanges/{exchange}/pairs",
        "/klines/{exchange}/{symbol}",
        "/orderbook/{exchange}/{symbol}",
        "/token",
        "/orders/twap",
        "/orders",
        "/orders/{token_id}",
        "/orders/{token_id}/whatif",
        "/backtests",
        "/backtests/{id}",
    ] {
        assert!(doc["paths"].get(p).is_some(), "{p} is documented");
    }
    // Every operation has its own id (tools link operations by it).
    let mut ids = std::collections::BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap_or_default().to_owned();
            assert!(
                ids.insert(id.clone()),
                "{method} {path}: operationId `{id}` is taken"
            );
        }
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let order = &doc["components"]["schemas"]["Order"]["properties"];
    assert_eq!(order["quantity"]["type"], "string", "decimals are strings");
    let twap = &doc["paths"]["/orders/twap"]["post"];
    for code in ["200", "201", "400", "401", "409", "415", "429"] {
        assert!(
            twap["responses"].get(code).is_some(),
            "POST /orders/twap documents {code}"
        );
    }
    assert!(
        twap["responses"]["400"]["content"]
            .get("application/problem+json")
            .is_some()
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_dashboard_is_embedded_with_a_strict_policy_and_revalidates() {
    let app = spawn_app().await.unwrap();
    let r = app.http.get(app.url("/ui")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("default-src 'self'") && csp.contains("connect-src 'self'"),
        "{csp}"
    );
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    let html = r.text().await.unwrap();
    assert!(html.contains("/ui/app.js") && html.contains("uPlot.iife.min.js"));

    let js = app.http.get(app.url("/ui/app.js")).send().await.unwrap();
    assert_eq!(js.status(), 200);
    assert!(
        js.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    let etag = js.headers()["etag"].clone();
    let again = app
        .http
        .get(app.url("/ui/app.js"))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304, "an unchanged asset is not sent again");
    assert!(again.bytes().await.unwrap().is_empty());

    let license = app
        .http
        .get(app.url("/ui/vendor/uplot/LICENSE"))
        .send()
        .await
        .unwrap();
    assert!(
        license.text().await.unwrap().contains("MIT"),
        "uPlot's license ships with it"
    );

    let missing = app
        .http
        .get(app.url("/ui/../Cargo.toml"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let missing = app.http.get(app.url("/ui/nope.js")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.headers()["content-type"],
        "application/problem+json"
    );
    let post = app.http.post(app.url("/ui")).send().await.unwrap();
    assert_eq!(post.status(), 405);
    app.stop().await.unwrap();
}
