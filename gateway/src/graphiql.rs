//! GraphiQL (development): a page of our own and the vendored GraphiQL,
//! React and ReactDOM builds (`gateway/assets/graphiql/`, versions and
//! hashes in its README), embedded in the binary and served from this
//! origin under `/graphql/assets/<hash>/<file>` — nothing is loaded from
//! elsewhere, so it works on a network without the internet, and the page's
//! CSP allows scripts from this origin only.

use std::sync::LazyLock;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

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

struct File {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

const FILES: &[File] = &[
    File {
        name: "graphiql.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../assets/graphiql/graphiql.min.js"),
    },
    File {
        name: "graphiql.min.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../assets/graphiql/graphiql.min.css"),
    },
    File {
        name: "react.production.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../assets/graphiql/react.production.min.js"),
    },
    File {
        name: "react-dom.production.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../assets/graphiql/react-dom.production.min.js"),
    },
    File {
        name: "trellis-graphiql.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../assets/graphiql/trellis-graphiql.js"),
    },
    File {
        name: "trellis-graphiql.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../assets/graphiql/trellis-graphiql.css"),
    },
];

const PAGE_TEMPLATE: &str = include_str!("../assets/graphiql/index.html");

/// A file with what is computed from it once.
struct Served {
    file: &'static File,
    /// Lowercase hex SHA-256: the ETag, and (its first 16 digits) the path.
    sha256: String,
    /// `sha256-<base64>`, for the page's `integrity` attributes.
    integrity: String,
}

impl Served {
    fn path(&self) -> String {
        format!("{ASSETS}/{}/{}", &self.sha256[..16], self.file.name)
    }
}

struct Built {
    files: Vec<Served>,
    page: String,
    page_etag: String,
}

static BUILT: LazyLock<Built> = LazyLock::new(|| {
    let files: Vec<Served> = FILES
        .iter()
        .map(|file| {
            let digest = Sha256::digest(file.bytes);
            Served {
                file,
                sha256: digest.iter().map(|b| format!("{b:02x}")).collect(),
                integrity: format!("sha256-{}", base64(&digest)),
            }
        })
        .collect();
    let mut page = PAGE_TEMPLATE.to_owned();
    for served in &files {
        let name = served.file.name;
        page = page
            .replace(&format!("{{{{{name}:integrity}}}}"), &served.integrity)
            .replace(&format!("{{{{{name}}}}}"), &served.path());
    }
    let page_etag = format!("\"{}\"", &sha256_hex(page.as_bytes())[..32]);
    Built {
        files,
        page,
        page_etag,
    }
});

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Standard base64 with padding (RFC 4648), for SRI hashes.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Whether the client's `If-None-Match` names `etag`.
fn not_modified(request: &HeaderMap, etag: &str) -> bool {
    request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| {
            let tag = tag.trim();
            tag == "*" || tag.trim_start_matches("W/") == etag
        })
}

fn header_value(value: &str) -> HeaderValue {
    HeaderValue::from_str(value).expect("ETags are hex")
}

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

/// One asset by the hash and name in its path; the hash must be this
/// build's, so a cached copy never goes stale: a year, immutable.
pub(crate) fn asset(hash: &str, name: &str, request: &HeaderMap) -> Response {
    let Some(served) = BUILT
        .files
        .iter()
        .find(|s| s.file.name == name && s.sha256[..16] == *hash)
    else {
        return (StatusCode::NOT_FOUND, "no such GraphiQL asset").into_response();
    };
    let etag = format!("\"{}\"", served.sha256);
    let headers = [
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        ),
        (header::ETAG, header_value(&etag)),
    ];
    if not_modified(request, &etag) {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    let content_type = (
        header::CONTENT_TYPE,
        HeaderValue::from_static(served.file.content_type),
    );
    (headers, [content_type], served.file.bytes).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes the GraphiQL assets add to the binary.
    fn embedded_bytes() -> usize {
        FILES.iter().map(|f| f.bytes.len()).sum::<usize>() + PAGE_TEMPLATE.len()
    }

    #[test]
    fn base64_is_rfc_4648() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn the_page_names_every_asset_and_no_placeholder_is_left() {
        let page = &BUILT.page;
        assert!(!page.contains("{{"), "{page}");
        for served in &BUILT.files {
            assert!(page.contains(&served.path()), "{}", served.file.name);
            assert!(page.contains(&served.integrity), "{}", served.file.name);
        }
    }

    #[test]
    fn etags_are_matched_and_weak_ones_too() {
        let mut request = HeaderMap::new();
        request.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("\"a\", W/\"b\""),
        );
        assert!(not_modified(&request, "\"b\""));
        assert!(!not_modified(&request, "\"c\""));
        assert!(!not_modified(&HeaderMap::new(), "\"a\""));
    }

    #[test]
    fn the_vendored_files_stay_small() {
        // The minified builds only: a source map or a development build
        // slipping in would add megabytes to every binary.
        assert!(embedded_bytes() < 1_700_000, "{}", embedded_bytes());
    }
}
