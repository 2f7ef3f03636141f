//! Order and token handlers: statuses, problem bodies, headers, and that reads of open
//! orders need no store.

use std::sync::Arc;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::{App, test, web};
use api::accounts::{Account, AccountState, AccountStates, Accounts};
use api::auth::{Jwt, Passwords};
use engine::{BookAccess, BookRef, Books, Clock, EngineConfig, EngineHandle, MemoryStore};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use market::{Exchange, Hub, HubConfig};
use model::{ExchangeId, Symbol};
use serde_json::{Value, json};
use sim::{SimConfig, SimExchange};
use tokio_util::sync::CancellationToken;

/// Two users, alice (id 1) and bob (id 2), password `pw`.
struct Users {
    hash: String,
}

impl Accounts for Users {
    fn by_name<'a>(&'a self, username: &'a str) -> BoxFuture<'a, Result<Option<Account>, String>> {
        let id = match username {
            "alice" => 1,
            "bob" => 2,
            _ => 0,
        };
        let hash = self.hash.clone();
        async move {
            Ok((id > 0).then(|| Account {
                id,
                username: username.to_owned(),
                password_hash: hash,
                tier: "premium".to_owned(),
                token_version: 0,
            }))
        }
        .boxed()
    }
    fn states(&self) -> BoxFuture<'_, Result<Vec<AccountState>, String>> {
        async { Ok(users()) }.boxed()
    }
    fn ping(&self) -> BoxFuture<'_, bool> {
        async { true }.boxed()
    }
}

fn users() -> Vec<AccountState> {
    ["alice", "bob"]
        .iter()
        .enumerate()
        .map(|(i, n)| AccountState {
            id: i as i64 + 1,
            username: (*n).to_owned(),
            token_version: 0,
        })
        .collect()
}

/// No books: slices are recorded `no_book`; these tests are about HTTP, not fills.
struct NoBooks;

impl Books for NoBooks {
    fn with_book(&self, _e: ExchangeId, _s: &Symbol, f: &mut dyn FnMut(BookRef<'_>)) {
        f(None)
    }
}

impl BookAccess for NoBooks {
    fn hold(&self, _e: ExchangeId, _s: &Symbol) -> Option<Box<dyn Send + Sync>> {
        None
    }
}

struct Fixture {
    store: Arc<MemoryStore>,
    states: AccountStates,
    jwt: Jwt,
    engine: EngineHandle,
    stop: CancellationToken,
}

async fn fixture() -> (Fixture, api::AppState) {
    let stop = CancellationToken::new();
    let sim: Arc<dyn Exchange> = Arc::new(SimExchange::new(SimConfig::default()).unwrap());
    let hub = Hub::start(HubConfig::default(), vec![sim], stop.child_token());
    hub.pairs_within(ExchangeId::Sim, Duration::from_secs(10))
        .await
        .unwrap();
    let store = Arc::new(MemoryStore::default());
    let (engine, _task) = engine::runner::start(
        store.clone(),
        Arc::new(NoBooks),
        EngineConfig::default(),
        Clock::system(),
        stop.child_token(),
    )
    .await
    .unwrap();
    let states = AccountStates::default();
    states.replace(users());
    let jwt = Jwt::new(&[9u8; 32], 1_800)
        .unwrap()
        .with_accounts(states.clone());
    let passwords = Passwords::new(4).unwrap();
    let hash = passwords.hash("pw").await.unwrap();
    let state = api::AppState::new(
        hub,
        Arc::new(Users { hash }),
        api::Trading {
            engine: engine.clone(),
            jwt: jwt.clone(),
            passwords,
        },
        api::RateLimits::new(api::LimitConfig::default()),
        api::WsConfig::default(),
    );
    (
        Fixture {
            store,
            states,
            jwt,
            engine,
            stop,
        },
        state,
    )
}

fn bearer(f: &Fixture, user: &str, uid: i64) -> (&'static str, String) {
    let now = chrono::Utc::now().timestamp();
    let t = f.jwt.issue(user, uid, "premium", 0, now).unwrap();
    ("authorization", format!("Bearer {t}"))
}

fn order_body(token_id: &str) -> Value {
    json!({"token_id": token_id, "exchange": "sim", "symbol": "BTC-USDT", "side": "buy",
           "quantity": "0.01", "duration_secs": 600, "interval_secs": 60})
}

async fn body_json<B: MessageBody>(res: ServiceResponse<B>) -> (StatusCode, Value) {
    let status = res.status();
    let bytes = test::read_body(res).await;
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

macro_rules! app {
    ($state:expr) => {
        test::init_service(
            App::new()
                .configure(api::configure($state))
                .default_service(web::to(api::not_found)),
        )
        .await
    };
}

#[actix_web::test]
async fn submit_replay_conflict_and_problem_bodies() {
    let (f, state) = fixture().await;
    let app = app!(state);
    let auth = bearer(&f, "alice", 1);
    let post = |body: Value| {
        test::TestRequest::post()
            .uri("/orders/twap")
            .insert_header(auth.clone())
            .set_json(body)
            .to_request()
    };
    let res = app.call(post(order_body("a-1"))).await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.headers().get("location").unwrap(), "/orders/a-1");
    let (_, o) = body_json(res).await;
    assert_eq!(o["status"], "working");
    assert_eq!(o["slices"], json!([]));
    // The same request again replays; a different one conflicts.
    let (s, o2) = body_json(app.call(post(order_body("a-1"))).await.unwrap()).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(o2["created_at"], o["created_at"]);
    let mut other = order_body("a-1");
    other["quantity"] = json!("0.02");
    let res = app.call(post(other)).await.unwrap();
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(
        res.headers().get("content-type").unwrap(),
        "application/problem+json"
    );
    let (_, p) = body_json(res).await;
    assert_eq!(p["code"], "token_id_conflict");
    // Invalid input: 4xx with the field's code; nothing stored.
    let mut bad = order_body("a-2");
    bad["quantity"] = json!("0.0000001");
    let (s, p) = body_json(app.call(post(bad)).await.unwrap()).await;
    assert_eq!(
        (s, p["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_quantity"))
    );
    let mut bad = order_body("a 3");
    bad["token_id"] = json!("a 3");
    let (s, p) = body_json(app.call(post(bad)).await.unwrap()).await;
    assert_eq!(
        (s, p["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_token_id"))
    );
    // A batch with one bad item creates nothing.
    let mut bad = order_body("b-2");
    bad["side"] = json!("hold");
    let (s, p) = body_json(
        app.call(post(json!([order_body("b-1"), bad])))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        p["detail"].as_str().unwrap().starts_with("order #1:"),
        "{p}"
    );
    assert_eq!(f.store.order_count(), 1);
    f.stop.cancel();
}

#[actix_web::test]
async fn open_orders_are_read_without_the_store_and_are_private() {
    let (f, state) = fixture().await;
    let app = app!(state);
    let alice = bearer(&f, "alice", 1);
    let req = test::TestRequest::post()
        .uri("/orders/twap")
        .insert_header(alice.clone())
        .set_json(order_body("mine"))
        .to_request();
    assert_eq!(app.call(req).await.unwrap().status(), StatusCode::CREATED);
    f.store.fail_reads(true);
    let get = |auth: (&'static str, String), uri: &str| {
        test::TestRequest::get()
            .uri(uri)
            .insert_header(auth)
            .to_request()
    };
    let (s, o) = body_json(app.call(get(alice.clone(), "/orders/mine")).await.unwrap()).await;
    assert_eq!(
        s,
        StatusCode::OK,
        "an open order is answered from memory: {o}"
    );
    assert_eq!(o["token_id"], "mine");
    let res = app
        .call(get(alice.clone(), "/orders?status=open"))
        .await
        .unwrap();
    assert_eq!(res.headers().get("x-total-count").unwrap(), "1");
    f.store.fail_reads(false);
    // Another user's order answers exactly like a missing one.
    let (s, p) = body_json(
        app.call(get(bearer(&f, "bob", 2), "/orders/mine"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (s, p["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("order_not_found"))
    );
    // Cancel, and again: both 200 with the cancelled order.
    for _ in 0..2 {
        let req = test::TestRequest::delete()
            .uri("/orders/mine")
            .insert_header(alice.clone())
            .to_request();
        let (s, o) = body_json(app.call(req).await.unwrap()).await;
        assert_eq!(
            (s, o["status"].as_str()),
            (StatusCode::OK, Some("cancelled"))
        );
    }
    assert_eq!(
        f.engine
            .orders(1, &engine::OrderQuery::default())
            .await
            .unwrap()
            .1,
        1
    );
    f.stop.cancel();
}

#[actix_web::test]
async fn tokens_of_removed_users_and_bad_tokens_are_refused() {
    let (f, state) = fixture().await;
    let app = app!(state);
    let req = test::TestRequest::get()
        .uri("/orders")
        .insert_header(("authorization", "Bearer not-a-token"))
        .to_request();
    let res = app.call(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let challenge = res
        .headers()
        .get("www-authenticate")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(challenge.starts_with("Bearer"), "{challenge}");
    let bob = bearer(&f, "bob", 2);
    f.states
        .replace(users().into_iter().filter(|u| u.id != 2).collect());
    let req = test::TestRequest::get()
        .uri("/orders")
        .insert_header(bob)
        .to_request();
    let (s, p) = body_json(app.call(req).await.unwrap()).await;
    assert_eq!(
        (s, p["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_token"))
    );
    assert!(p["detail"].as_str().unwrap().contains("no longer exists"));
    // Login issues a token that works.
    let req = test::TestRequest::post()
        .uri("/token")
        .set_form([("username", "alice"), ("password", "pw")])
        .to_request();
    let (s, t) = body_json(app.call(req).await.unwrap()).await;
    assert_eq!(s, StatusCode::OK);
    let req = test::TestRequest::get()
        .uri("/orders")
        .insert_header((
            "authorization",
            format!("Bearer {}", t["access_token"].as_str().unwrap()),
        ))
        .to_request();
    assert_eq!(app.call(req).await.unwrap().status(), StatusCode::OK);
    f.stop.cancel();
}
