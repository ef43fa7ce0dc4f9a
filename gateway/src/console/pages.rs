//! What every console page shares: the embedded assets, the CSP, the
//! layout (who is signed in, the sign-out form) and the error page.

use std::sync::LazyLock;

use std::net::SocketAddr;

use askama::Template;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use super::graphql::{Failure, Visit};
use super::session::NoSession;
use super::state::Console;
use crate::embedded::{Asset, Bundle};

/// Where the console's files are served; each path also names its hash.
pub(crate) const CONSOLE_ASSETS: &str = "/console/assets";

/// Scripts, styles and requests from this origin only; no inline script
/// or style (the charts are SVG elements styled by the stylesheet); forms
/// post only here.
pub(crate) const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

static FILES: &[Asset] = &[
    Asset {
        name: "htmx.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/console/htmx.min.js"),
    },
    Asset {
        name: "htmx-ext-sse.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/console/htmx-ext-sse.min.js"),
    },
    Asset {
        name: "console.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../assets/console/console.css"),
    },
];

/// The bundle and the paths the layout names.
pub(crate) struct Assets {
    pub(crate) bundle: Bundle,
    pub(crate) css: String,
    pub(crate) css_integrity: String,
    pub(crate) htmx: String,
    pub(crate) htmx_integrity: String,
    pub(crate) sse: String,
    pub(crate) sse_integrity: String,
}

pub(crate) static ASSETS: LazyLock<Assets> = LazyLock::new(|| {
    let bundle = Bundle::new(CONSOLE_ASSETS, FILES);
    Assets {
        css: bundle.path("console.css"),
        css_integrity: bundle.integrity("console.css").to_owned(),
        htmx: bundle.path("htmx.min.js"),
        htmx_integrity: bundle.integrity("htmx.min.js").to_owned(),
        sse: bundle.path("htmx-ext-sse.min.js"),
        sse_integrity: bundle.integrity("htmx-ext-sse.min.js").to_owned(),
        bundle,
    }
});

/// The frame around every page.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub(crate) title: String,
    /// Signed-in user and the role they act in; empty on the sign-in page.
    pub(crate) user: String,
    pub(crate) role: String,
    pub(crate) csrf: String,
}

impl Layout {
    pub(crate) fn signed_in(title: impl Into<String>, visit: &Visit) -> Self {
        let caller = &visit.session.caller;
        let role = caller
            .roles
            .first()
            .map_or_else(String::new, |r| r.as_str().to_owned());
        Self {
            title: title.into(),
            user: caller.subject.clone(),
            role,
            csrf: visit.session.csrf(),
        }
    }

    pub(crate) fn signed_out(title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            user: String::new(),
            role: String::new(),
            csrf: String::new(),
        }
    }

    pub(crate) fn assets(&self) -> &'static Assets {
        &ASSETS
    }
}

/// A rendered page with the console's headers.
pub(crate) fn html(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(body) => (
            status,
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=utf-8"),
                ),
                (
                    header::CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static(CSP),
                ),
                // Pages hold PHI: never kept by the browser or a proxy.
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
            body,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "console: template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

/// A signed-in visitor, or (as the rejection) the way back to sign-in.
impl FromRequestParts<Console> for Visit {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, console: &Console) -> Result<Self, Response> {
        // Served with connect info; an address of zeros says it was not.
        let peer = ConnectInfo::<SocketAddr>::from_request_parts(parts, console)
            .await
            .map_or(SocketAddr::from(([0, 0, 0, 0], 0)), |c| c.0);
        console.visit(&parts.headers, peer).map_err(to_sign_in)
    }
}

/// Back to the sign-in page, saying why.
pub(crate) fn to_sign_in(why: NoSession) -> Response {
    match why {
        NoSession::Absent => Redirect::to("/console/sign-in").into_response(),
        NoSession::Expired => Redirect::to("/console/sign-in?expired=1").into_response(),
    }
}

#[derive(Template)]
#[template(path = "console/error.html")]
struct ErrorPage<'a> {
    layout: Layout,
    failure: &'a Failure,
}

/// The HTTP status a GraphQL error code stands for on a page.
pub(crate) fn status_of(code: &str) -> StatusCode {
    match code {
        "NOT_FOUND" => StatusCode::NOT_FOUND,
        "FORBIDDEN" | "PERMISSION_DENIED" => StatusCode::FORBIDDEN,
        "UNAUTHENTICATED" => StatusCode::UNAUTHORIZED,
        "RATE_LIMITED" => StatusCode::TOO_MANY_REQUESTS,
        "FAILED_PRECONDITION" => StatusCode::CONFLICT,
        "UNAVAILABLE" => StatusCode::SERVICE_UNAVAILABLE,
        "INTERNAL" => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// A page that could not be shown, with the API's reason.
pub(crate) fn failed(visit: &Visit, failure: &Failure) -> Response {
    let page = ErrorPage {
        layout: Layout::signed_in("Not shown", visit),
        failure,
    };
    html(status_of(&failure.code), &page)
}

/// A form posted without this session's CSRF token.
pub(crate) fn forged(visit: &Visit) -> Response {
    let failure = Failure::new(
        "FORBIDDEN",
        "the form is not from this session (it may be from another site, or from before you signed in again); open the page and send it again",
    );
    failed(visit, &failure)
}

/// A piece of a page that htmx swaps in.
pub(crate) fn fragment(body: String) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response()
}
