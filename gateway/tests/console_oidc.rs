//! Console sign-in with an identity provider (OpenID Connect, code flow
//! with PKCE), against a small provider of the test's own.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Request, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use sha2::{Digest, Sha256};
use tower::ServiceExt;
use trellis_auth::{Caller, DEV_SECRET, Role, TokenIssuer};
use trellis_gateway::console::{ConsoleConfig, OidcClient, OidcSettings};
use trellis_kernel::TenantId;

const CLIENT_ID: &str = "trellis-console";
const CODE: &str = "the-one-code";

#[derive(Default)]
struct Provider {
    base: String,
    /// (code_challenge, nonce) of the authorization asked for.
    asked: Mutex<Option<(String, String)>>,
}

fn b64url(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().fold(0u32, |n, b| (n << 8) | u32::from(*b)) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            out.push(char::from(A[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

async fn discovery(State(idp): State<Arc<Provider>>) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "issuer": idp.base,
        "authorization_endpoint": format!("{}/authorize", idp.base),
        "token_endpoint": format!("{}/token", idp.base),
    }))
}

async fn authorize(
    State(idp): State<Arc<Provider>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], CLIENT_ID);
    assert_eq!(q["code_challenge_method"], "S256");
    assert!(q["scope"].split(' ').any(|s| s == "openid"));
    *idp.asked.lock().unwrap() = Some((q["code_challenge"].clone(), q["nonce"].clone()));
    Redirect::to(&format!(
        "{}?code={CODE}&state={}",
        q["redirect_uri"], q["state"]
    ))
    .into_response()
}

async fn token(
    State(idp): State<Arc<Provider>>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let Some((challenge, nonce)) = idp.asked.lock().unwrap().clone() else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let verifier = f.get("code_verifier").cloned().unwrap_or_default();
    if f.get("code").map(String::as_str) != Some(CODE)
        || b64url(&Sha256::digest(verifier.as_bytes())) != challenge
    {
        return (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({"error": "invalid_grant"})),
        )
            .into_response();
    }
    let caller = Caller {
        tenant: TenantId::parse(common::TENANT).unwrap(),
        subject: "clin-1".into(),
        roles: vec![Role::Clinician],
        clinics: vec![],
    };
    let access_token = TokenIssuer::hs256(DEV_SECRET.as_bytes())
        .unwrap()
        .issue(&caller, chrono::Duration::minutes(10))
        .unwrap();
    let claims =
        serde_json::json!({ "iss": idp.base, "aud": CLIENT_ID, "nonce": nonce, "sub": "clin-1" });
    let id_token = format!("e30.{}.sig", b64url(claims.to_string().as_bytes()));
    Json(serde_json::json!({
        "access_token": access_token, "id_token": id_token, "token_type": "Bearer", "expires_in": 600,
    }))
    .into_response()
}

async fn provider() -> Arc<Provider> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let idp = Arc::new(Provider {
        base: format!("http://{}", listener.local_addr().unwrap()),
        ..Provider::default()
    });
    let app = Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/authorize", get(authorize))
        .route("/token", post(token))
        .with_state(Arc::clone(&idp));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    idp
}

async fn console(idp: &Provider) -> (Router, common::Gateway) {
    let oidc = OidcClient::new(OidcSettings {
        issuer: idp.base.clone(),
        client_id: CLIENT_ID.into(),
        client_secret: None,
        redirect_uri: "https://trellis.example/console/sign-in/callback".into(),
        scopes: "profile".into(),
    })
    .unwrap();
    let gateway = common::gateway(|c| {
        c.console = ConsoleConfig {
            oidc: Some(Arc::new(oidc)),
            ..ConsoleConfig::default()
        };
    })
    .await;
    let router = gateway
        .router
        .clone()
        .layer(MockConnectInfo(SocketAddr::from(([127, 0, 0, 1], 9))));
    (router, gateway)
}

async fn send(router: &Router, path: &str, cookie: &str) -> (StatusCode, HeaderMap, String) {
    let request = Request::get(path)
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    (
        parts.status,
        parts.headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")) && !v.contains("Max-Age=0"))
        .map(|v| v.split(';').next().unwrap().to_owned())
}

/// Starts a sign-in and lets the provider answer: the flow cookie and the
/// callback's path and query.
async fn through_the_provider(router: &Router) -> (String, String) {
    let (status, headers, _) = send(router, "/console/sign-in/oidc", "").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let flow = cookie(&headers, "trellis_console_oidc").expect("the flow cookie");
    let authorize = headers[header::LOCATION].to_str().unwrap().to_owned();
    assert!(
        authorize.contains("code_challenge_method=S256"),
        "{authorize}"
    );
    let no_follow = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let back = no_follow.get(&authorize).send().await.unwrap();
    let callback = back.headers()[header::LOCATION].to_str().unwrap();
    let path = callback
        .trim_start_matches("https://trellis.example")
        .to_owned();
    (flow, path)
}

#[tokio::test]
async fn a_user_signs_in_with_the_identity_provider() {
    let idp = provider().await;
    let (router, _gateway) = console(&idp).await;
    let (_, _, page) = send(&router, "/console/sign-in", "").await;
    assert!(page.contains("/console/sign-in/oidc"), "{page}");

    let (flow, callback) = through_the_provider(&router).await;
    let (status, headers, body) = send(&router, &callback, &flow).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let session = cookie(&headers, "trellis_console").expect("a session");
    assert!(
        body.contains("url=/console"),
        "a page moves on to the console"
    );
    let (status, _, home) = send(&router, "/console", &session).await;
    assert_eq!(status, StatusCode::OK);
    assert!(home.contains("clin-1"), "signed in as the provider's user");
}

#[tokio::test]
async fn a_callback_from_another_sign_in_is_refused() {
    let idp = provider().await;
    let (router, _gateway) = console(&idp).await;
    let (_, callback) = through_the_provider(&router).await;
    // Another browser's flow cookie: its state is not this callback's.
    let (other_flow, _) = through_the_provider(&router).await;
    let (status, headers, body) = send(&router, &callback, &other_flow).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(cookie(&headers, "trellis_console").is_none());
    assert!(body.contains("was not started here"));
    let (status, _, _) = send(&router, &callback, "").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no flow cookie at all");
}

#[tokio::test]
async fn a_wrong_code_verifier_gets_no_session() {
    let idp = provider().await;
    let (router, _gateway) = console(&idp).await;
    let (flow, callback) = through_the_provider(&router).await;
    // Same state and nonce, another verifier: the provider refuses.
    let mut parts: Vec<&str> = flow.split('.').collect();
    let forged = "A".repeat(43);
    parts[2] = &forged;
    let (status, headers, body) = send(&router, &callback, &parts.join(".")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(cookie(&headers, "trellis_console").is_none());
    assert!(body.contains("refused the sign-in"));
}
