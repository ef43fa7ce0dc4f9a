//! The console inside the gateway: sessions, CSRF, the CSP, and page views
//! in the access log. (The browser walks through it in
//! `tests/browser/console.test.mjs`.)

mod common;

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode, header};
use tower::ServiceExt;
use trellis_auth::{DEV_SECRET, Role, TokenIssuer};
use trellis_gateway::console::{ConsoleConfig, DevPerson, DevSignIn};
use trellis_kernel::TenantId;

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

async fn send(router: &Router, request: Request<Body>) -> Answer {
    let response = router.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

fn get(path: &str, cookie: &str) -> Request<Body> {
    Request::get(path)
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .unwrap()
}

fn post(path: &str, cookie: &str, form: &str) -> Request<Body> {
    Request::post(path)
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form.to_owned()))
        .unwrap()
}

/// `name=value` of the `Set-Cookie` named `name`.
fn set_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap().to_owned())
}

fn dev_sign_in() -> ConsoleConfig {
    ConsoleConfig {
        dev_sign_in: Some(DevSignIn {
            issuer: TokenIssuer::hs256(DEV_SECRET.as_bytes()).unwrap(),
            tenant: TenantId::parse(common::TENANT).unwrap(),
            people: vec![DevPerson {
                subject: "clin-1".into(),
                role: Role::Clinician,
                clinics: vec![],
                label: "Clinician One".into(),
            }],
        }),
        ..ConsoleConfig::default()
    }
}

async fn console(config: ConsoleConfig) -> (Router, common::Gateway) {
    let gateway = common::gateway(|c| c.console = config).await;
    let router = gateway
        .router
        .clone()
        .layer(MockConnectInfo(SocketAddr::from(([10, 0, 0, 7], 4000))));
    (router, gateway)
}

/// Signs in as the only person offered; the session cookie.
async fn signed_in(router: &Router) -> String {
    let page = send(router, get("/console/sign-in", "")).await;
    let nonce_cookie = set_cookie(&page.headers, "trellis_console_sign_in").unwrap();
    let nonce = nonce_cookie.split_once('=').unwrap().1;
    let answer = send(
        router,
        post(
            "/console/sign-in",
            &nonce_cookie,
            &format!("nonce={nonce}&person=0"),
        ),
    )
    .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    set_cookie(&answer.headers, "trellis_console").unwrap()
}

#[tokio::test]
async fn signed_out_visitors_are_sent_to_sign_in_and_pages_carry_a_strict_csp() {
    let (router, _gateway) = console(dev_sign_in()).await;
    let home = send(&router, get("/console", "")).await;
    assert_eq!(home.status, StatusCode::SEE_OTHER);
    assert_eq!(home.headers[header::LOCATION], "/console/sign-in");
    let expired = send(&router, get("/console", "trellis_console=not-a-token")).await;
    assert_eq!(
        expired.headers[header::LOCATION],
        "/console/sign-in?expired=1"
    );

    let page = send(&router, get("/console/sign-in", "")).await;
    let csp = page.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("form-action 'self'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(page.headers[header::CACHE_CONTROL], "no-store");
    // Every asset the page names is served from this origin, immutable.
    for asset in page
        .body
        .split("src=\"")
        .skip(1)
        .chain(page.body.split("href=\"").skip(1))
    {
        let path = &asset[..asset.find('"').unwrap()];
        if !path.starts_with("/console/assets/") {
            assert!(
                path.starts_with('/') || path.starts_with("#") || path == "data:,",
                "{path}"
            );
            continue;
        }
        let served = send(&router, get(path, "")).await;
        assert_eq!(served.status, StatusCode::OK, "{path}");
        assert!(
            served.headers[header::CACHE_CONTROL]
                .to_str()
                .unwrap()
                .contains("immutable")
        );
    }
}

#[tokio::test]
async fn a_page_view_is_an_access_log_entry_naming_the_sections_shown() {
    let (router, gateway) = console(dev_sign_in()).await;
    let session = signed_in(&router).await;
    let page = send(
        &router,
        get(&format!("/console/plans/{}", common::PLAN_ID), &session),
    )
    .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("<h1>Plan</h1>"), "{}", page.body);
    let log = gateway.log.0.lock().unwrap().clone();
    let read = log
        .iter()
        .find(|r| r.plan_id.as_deref() == Some(common::PLAN_ID))
        .expect("the page view is logged");
    assert_eq!(read.subject, "clin-1");
    assert_eq!(read.api, "console");
    assert_eq!(read.address, "10.0.0.7:4000");
    for section in [
        "goals",
        "measures",
        "presentingProblem",
        "safetyPlan",
        "signatures",
    ] {
        assert!(
            read.fields.iter().any(|f| f == section),
            "{section}: {:?}",
            read.fields
        );
    }
}

#[tokio::test]
async fn sign_in_needs_the_forms_own_nonce() {
    let (router, _gateway) = console(dev_sign_in()).await;
    // Another site posting the sign-in form has no nonce cookie to match.
    let forged = send(&router, post("/console/sign-in", "", "nonce=abc&person=0")).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(set_cookie(&forged.headers, "trellis_console").is_none());
}

#[tokio::test]
async fn without_development_mode_there_is_no_sign_in_form() {
    let (router, _gateway) = console(ConsoleConfig::default()).await;
    let page = send(&router, get("/console/sign-in", "")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("offers no sign-in form"),
        "{}",
        page.body
    );
    assert!(
        !page
            .body
            .contains("<form method=\"post\" action=\"/console/sign-in\"")
    );
    let answer = send(
        &router,
        post(
            "/console/sign-in",
            "trellis_console_sign_in=n",
            "nonce=n&person=0",
        ),
    )
    .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert!(set_cookie(&answer.headers, "trellis_console").is_none());
}

#[tokio::test]
async fn a_form_without_the_sessions_token_is_refused_before_anything_is_sent() {
    let (router, gateway) = console(dev_sign_in()).await;
    let session = signed_in(&router).await;
    let path = format!("/console/plans/{}/measures", common::PLAN_ID);
    let form = "csrf=forged&command_id=c-1&instrument=PSWQ&administered_on=2026-01-01&total=40";
    let answer = send(&router, post(&path, &session, form)).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert!(answer.body.contains("not from this session"));
    assert!(!answer.body.contains("forged"), "never echoes the value");
    assert!(
        gateway.log.0.lock().unwrap().is_empty(),
        "nothing was read or sent"
    );
}

#[tokio::test]
async fn signing_out_clears_the_session_cookie() {
    let (router, _gateway) = console(dev_sign_in()).await;
    let session = signed_in(&router).await;
    let home = send(&router, get("/console", &session)).await;
    let csrf = home.body.split("name=\"csrf\" value=\"").nth(1).unwrap();
    let csrf = &csrf[..csrf.find('"').unwrap()];
    let out = send(
        &router,
        post("/console/sign-out", &session, &format!("csrf={csrf}")),
    )
    .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    let cleared = out.headers.get_all(header::SET_COOKIE).iter().any(|v| {
        v.to_str().unwrap().starts_with("trellis_console=;")
            && v.to_str().unwrap().contains("Max-Age=0")
    });
    assert!(cleared);
}

#[tokio::test]
async fn the_auditors_pages_follow_the_apis_role_rules() {
    let (router, gateway) = console(dev_sign_in()).await;
    let clinician = signed_in(&router).await;
    for path in [
        "/console/audit".to_owned(),
        format!("/console/audit/plans/{}", common::PLAN_ID),
        format!("/console/audit/plans/{}/history.jsonl", common::PLAN_ID),
        format!("/console/audit/access?plan={}", common::PLAN_ID),
    ] {
        let page = send(&router, get(&path, &clinician)).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}: {}", page.body);
        assert!(page.body.contains("role=\"alert\""), "{path}");
    }
    assert!(
        gateway.log.0.lock().unwrap().is_empty(),
        "nothing was read for a refused page"
    );
}
