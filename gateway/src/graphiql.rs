//! GraphiQL (development): a page of our own and the vendored GraphiQL,
//! React and ReactDOM builds (`gateway/assets/graphiql/`, versions and
//! hashes in its README), embedded in the binary and served from this
//! origin under `/graphql/assets/<hash>/<file>` — nothing is loaded from
//! elsewhere, so it works on a network without the internet, and the page's
//! CSP allows scripts from this origin only.

use std::sync::LazyLock;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::embedded::{Asset, Bundle, header_value, not_modified, sha256_hex};

/// The page's Content-Security-Policy: scripts and styles from this
/// origin only (no inline script or style: GraphiQL 3 needs neither for
/// its work; the only style element it would add is a scroll lock while a
/// dialog is open), fonts and images also as `data:` URLs (the stylesheet
/// embeds its fonts), requests to this origin only.
pub(crate) const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self' data:; font-src 'self' data:; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// Where the assets are served; each file's path also names its hash.
pub(crate) const ASSETS: &str = "/graphql/assets";

static FILES: &[Asset] = &[
    Asset {
        name: "graphiql.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../assets/graphiql/graphiql.min.js"),
    },
    Asset {
        name: "graphiql.min.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../assets/graphiql/graphiql.min.css"),
    },
    Asset {
        name: "react.production.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../assets/graphiql/react.production.min.js"),
    },
    Asset {
        name: "react-dom.production.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../assets/graphiql/react-dom.production.min.js"),
    },
    Asset {
        name: "trellis-graphiql.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../assets/graphiql/trellis-graphiql.js"),
    },
    Asset {
        name: "trellis-graphiql.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../assets/graphiql/trellis-graphiql.css"),
    },
];

const PAGE_TEMPLATE: &str = include_str!("../assets/graphiql/index.html");

struct Built {
    bundle: Bundle,
    page: String,
    page_etag: String,
}

static BUILT: LazyLock<Built> = LazyLock::new(|| {
    let bundle = Bundle::new(ASSETS, FILES);
    let mut page = PAGE_TEMPLATE.to_owned();
    for name in bundle.names() {
        page = page
            .replace(&format!("{{{{{name}:integrity}}}}"), bundle.integrity(name))
            .replace(&format!("{{{{{name}}}}}"), &bundle.path(name));
    }
    let page_etag = format!("\"{}\"", &sha256_hex(page.as_bytes())[..32]);
    Built {
        bundle,
        page,
        page_etag,
    }
});

/// The GraphiQL page: revalidated on every load (it names the assets of
/// this build), with its own CSP.
pub(crate) fn page(request: &HeaderMap) -> Response {
    let built = &*BUILT;
    let etag = header_value(&built.page_etag);
    let headers = [
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(PAGE_CSP),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (header::ETAG, etag),
    ];
    if not_modified(request, &built.page_etag) {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    let content_type = (
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    (headers, [content_type], built.page.clone()).into_response()
}

/// One asset by the hash and name in its path.
pub(crate) fn asset(hash: &str, name: &str, request: &HeaderMap) -> Response {
    BUILT.bundle.serve(hash, name, request)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_every_asset_and_no_placeholder_is_left() {
        let page = &BUILT.page;
        assert!(!page.contains("{{"), "{page}");
        for name in BUILT.bundle.names() {
            assert!(page.contains(&BUILT.bundle.path(name)), "{name}");
            assert!(page.contains(BUILT.bundle.integrity(name)), "{name}");
        }
    }

    #[test]
    fn the_vendored_files_stay_small() {
        // The minified builds only: a source map or a development build
        // slipping in would add megabytes to every binary.
        let bytes = BUILT.bundle.size() + PAGE_TEMPLATE.len();
        assert!(bytes < 1_700_000, "{bytes}");
    }
}
