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
