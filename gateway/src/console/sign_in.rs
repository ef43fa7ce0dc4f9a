//! Signing in and out. In development mode (`--dev`) a "sign in as" page
//! offers the demo tenant's people and the gateway mints their token;
//! otherwise the page says how this server expects people to sign in.

use askama::Template;
use axum::Form;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use std::net::SocketAddr;
use trellis_auth::Caller;

use super::oidc::{FLOW_COOKIE, Flow, OidcError};
use super::pages::{Layout, html};
use super::session::{COOKIE, SIGN_IN_COOKIE, constant_time_eq, cookie, set_cookie};
use super::state::Console;

/// How long a console session lasts: a clinic day.
pub(crate) const SESSION_HOURS: i64 = 8;

#[derive(Debug, serde::Deserialize)]
pub(crate) struct Why {
    #[serde(default)]
    expired: Option<String>,
    #[serde(default, rename = "signed-out")]
    signed_out: Option<String>,
}

struct Person {
    index: usize,
    label: String,
    subject: String,
    role: String,
}

#[derive(Template)]
#[template(path = "console/sign_in.html")]
struct SignInPage {
    layout: Layout,
    notice: &'static str,
    /// Sign-in with the identity provider is configured.
    oidc: bool,
    tenant: String,
    people: Vec<Person>,
    nonce: String,
}

pub(crate) async fn page(State(console): State<Console>, Query(why): Query<Why>) -> Response {
    let notice = if why.expired.is_some() {
        "Your session ended. Sign in again to go on."
    } else if why.signed_out.is_some() {
        "You are signed out."
    } else {
        ""
    };
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let (tenant, people) = match &console.config.dev_sign_in {
        Some(dev) => (
            dev.tenant.to_string(),
            dev.people
                .iter()
                .enumerate()
                .map(|(index, p)| Person {
                    index,
                    label: p.label.clone(),
                    subject: p.subject.clone(),
                    role: p.role.as_str().to_owned(),
                })
                .collect(),
        ),
        None => (String::new(), Vec::new()),
    };
    let page = SignInPage {
        layout: Layout::signed_out("Sign in"),
        notice,
        oidc: console.config.oidc.is_some(),
        tenant,
        people,
        nonce: nonce.clone(),
    };
    let mut response = html(StatusCode::OK, &page);
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SIGN_IN_COOKIE, &nonce, 15 * 60),
    );
    response
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct SignInForm {
    nonce: String,
    person: usize,
}

pub(crate) async fn submit(
    State(console): State<Console>,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    let Some(dev) = &console.config.dev_sign_in else {
        return (
            StatusCode::NOT_FOUND,
            "this server offers no sign-in form; see the sign-in page",
        )
            .into_response();
    };
    let expected = cookie(&headers, SIGN_IN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !constant_time_eq(expected.as_bytes(), form.nonce.as_bytes()) {
        return (
            StatusCode::FORBIDDEN,
            "the sign-in form is not from this browser's visit; open the sign-in page again",
        )
            .into_response();
    }
    let Some(person) = dev.people.get(form.person) else {
        return (StatusCode::BAD_REQUEST, "choose one of the people listed").into_response();
    };
    let caller = Caller {
        tenant: dev.tenant.clone(),
        subject: person.subject.clone(),
        roles: vec![person.role],
        clinics: person.clinics.clone(),
    };
    let token = match dev
        .issuer
        .issue(&caller, chrono::Duration::hours(SESSION_HOURS))
    {
        Ok(token) => token,
        Err(e) => {
            tracing::error!(error = %e, "console: cannot mint a development token");
            return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
        }
    };
    let mut response = Redirect::to("/console").into_response();
    let cookies = response.headers_mut();
    cookies.append(
        header::SET_COOKIE,
        set_cookie(COOKIE, &token, SESSION_HOURS * 3600),
    );
    cookies.append(header::SET_COOKIE, set_cookie(SIGN_IN_COOKIE, "", 0));
    response
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct SignOutForm {
    csrf: String,
}

/// Ends the session. A signed-in session must send its form's token, so
/// another site cannot sign the user out; an expired one just ends.
pub(crate) async fn sign_out(
    State(console): State<Console>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<SignOutForm>,
) -> Response {
    if let Ok(visit) = console.visit(&headers, peer)
        && !visit.session.accepts(&form.csrf)
    {
        return super::pages::forged(&visit);
    }
    let mut response = Redirect::to("/console/sign-in?signed-out=1").into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, set_cookie(COOKIE, "", 0));
    response
}

/// A sign-in page that could not complete, saying why.
#[derive(Template)]
#[template(path = "console/sign_in_failed.html")]
struct SignInFailed {
    layout: Layout,
    reason: String,
}

fn sign_in_failed(status: StatusCode, reason: &str) -> Response {
    let page = SignInFailed {
        layout: Layout::signed_out("Sign-in failed"),
        reason: reason.to_owned(),
    };
    html(status, &page)
}

fn status_of(error: &OidcError) -> StatusCode {
    match error {
        OidcError::Provider => StatusCode::BAD_GATEWAY,
        OidcError::State => StatusCode::FORBIDDEN,
        OidcError::Refused | OidcError::IdToken => StatusCode::UNAUTHORIZED,
    }
}

/// Starts a sign-in with the identity provider: a fresh state, nonce and
/// PKCE verifier kept in a cookie, then off to the provider.
pub(crate) async fn start_oidc(State(console): State<Console>) -> Response {
    let Some(oidc) = &console.config.oidc else {
        return (StatusCode::NOT_FOUND, "no identity provider is configured").into_response();
    };
    let flow = Flow::start();
    match oidc.authorization_url(&flow).await {
        Ok(url) => {
            let mut response = Redirect::to(&url).into_response();
            response
                .headers_mut()
                .append(header::SET_COOKIE, flow.cookie());
            response
        }
        Err(e) => sign_in_failed(status_of(&e), &e.to_string()),
    }
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct Callback {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "console/signed_in.html")]
struct SignedInPage {
    layout: Layout,
}

/// The provider's redirect back: check the state, trade the code, check
/// the token verifies as API tokens do, and start the session.
pub(crate) async fn callback(
    State(console): State<Console>,
    headers: HeaderMap,
    Query(callback): Query<Callback>,
) -> Response {
    let Some(oidc) = &console.config.oidc else {
        return (StatusCode::NOT_FOUND, "no identity provider is configured").into_response();
    };
    let flow = cookie(&headers, FLOW_COOKIE).and_then(Flow::from_cookie);
    let Some(flow) = flow.filter(|f| {
        callback
            .state
            .as_deref()
            .is_some_and(|s| constant_time_eq(s.as_bytes(), f.state.as_bytes()))
    }) else {
        return sign_in_failed(StatusCode::FORBIDDEN, &OidcError::State.to_string());
    };
    if callback.error.is_some() {
        return sign_in_failed(StatusCode::UNAUTHORIZED, &OidcError::Refused.to_string());
    }
    let Some(code) = callback.code.as_deref() else {
        return sign_in_failed(
            StatusCode::BAD_REQUEST,
            "the identity provider sent no code",
        );
    };
    let signed_in = match oidc.complete(&flow, code).await {
        Ok(signed_in) => signed_in,
        Err(e) => return sign_in_failed(status_of(&e), &e.to_string()),
    };
    if console
        .verifier
        .verify_header(Some(&format!("Bearer {}", signed_in.access_token)))
        .is_err()
    {
        return sign_in_failed(
            StatusCode::FORBIDDEN,
            "the identity provider's token is not one this server accepts for its API \
             (signed by the configured keys, with tenant and roles)",
        );
    }
    // A page, not a redirect: the session cookie is SameSite=Strict, and a
    // redirect chain that began at the provider would not carry it.
    let mut response = html(
        StatusCode::OK,
        &SignedInPage {
            layout: Layout::signed_out("Signed in"),
        },
    );
    let cookies = response.headers_mut();
    cookies.append(
        header::SET_COOKIE,
        set_cookie(COOKIE, &signed_in.access_token, signed_in.max_age_secs),
    );
    cookies.append(
        header::SET_COOKIE,
        axum::http::HeaderValue::from_static(
            "trellis_console_oidc=; Path=/console/sign-in; Max-Age=0; HttpOnly; Secure; SameSite=Lax",
        ),
    );
    response
}
