//! GraphiQL is served whole from the gateway's own origin: the page, its
//! scripts and styles, with a CSP that allows nothing else.

mod common;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use tower::ServiceExt;

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
     img-src 'self' data:; font-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; \
     form-action 'none'";

async fn get(router: &Router, path: &str, etag: Option<&str>) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut request = Request::get(path);
    if let Some(etag) = etag {
        request = request.header(header::IF_NONE_MATCH, etag);
    }
    let response = router
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    (parts.status, parts.headers, bytes.to_vec())
}

/// Every `src="…"` and `href="…"` of the page.
fn references(page: &str) -> Vec<String> {
    let mut found = Vec::new();
    for attribute in ["src=\"", "href=\""] {
        let mut rest = page;
        while let Some(at) = rest.find(attribute) {
            rest = &rest[at + attribute.len()..];
            let end = rest.find('"').unwrap();
            found.push(rest[..end].to_owned());
            rest = &rest[end..];
        }
    }
    found
}

fn header(headers: &HeaderMap, name: header::HeaderName) -> &str {
    headers.get(name).map_or("", |v| v.to_str().unwrap())
}

fn mentions_a_cdn(text: &str) -> bool {
    let text = text.to_ascii_lowercase();
    ["unpkg", "jsdelivr", "cdn", "http:", "https:"]
        .iter()
        .any(|host| text.contains(host))
}

#[tokio::test]
async fn the_page_and_every_file_it_names_come_from_the_gateway() {
    let gateway = common::gateway(|config| config.graphiql = true).await;
    let (status, headers, body) = get(&gateway.router, "/graphql", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        header(&headers, header::CONTENT_TYPE),
        "text/html; charset=utf-8"
    );
    assert_eq!(header(&headers, header::CONTENT_SECURITY_POLICY), CSP);
    assert_eq!(header(&headers, header::X_FRAME_OPTIONS), "DENY");
    let page = String::from_utf8(body).unwrap();
    assert!(!page.contains("<script>"), "no inline script: {page}");
    assert!(!page.contains("<style"), "no inline style: {page}");
    assert!(!page.contains("style="), "no inline style: {page}");
    assert!(!mentions_a_cdn(&page), "{page}");

    let referenced = references(&page);
    assert_eq!(referenced.len(), 6, "{referenced:?}");
    for path in &referenced {
        assert!(
            path.starts_with("/graphql/assets/") && !mentions_a_cdn(path),
            "same origin only: {path}"
        );
        let (status, headers, body) = get(&gateway.router, path, None).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        let expected = if path.ends_with(".js") {
            "text/javascript; charset=utf-8"
        } else {
            assert!(path.ends_with(".css"), "{path}");
            "text/css; charset=utf-8"
        };
        assert_eq!(header(&headers, header::CONTENT_TYPE), expected, "{path}");
        assert_eq!(header(&headers, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
        assert_eq!(
            header(&headers, header::CACHE_CONTROL),
            "public, max-age=31536000, immutable"
        );
        assert!(!body.is_empty());
        // The ETag is the file's hash: a revalidation costs no body.
        let etag = header(&headers, header::ETAG).to_owned();
        assert_eq!(etag.len(), 66, "{etag}");
        let (status, _, body) = get(&gateway.router, path, Some(&etag)).await;
        assert_eq!(status, StatusCode::NOT_MODIFIED, "{path}");
        assert!(body.is_empty());
        // Our own files name no other host either.
        if path.contains("/trellis-graphiql.") {
            let text = String::from_utf8(body_of(&gateway.router, path).await).unwrap();
            assert!(!mentions_a_cdn(&text), "{path}: {text}");
        }
    }
    // A file of another build, or no file at all, is not found.
    let stale = referenced[0].replacen("/graphql/assets/", "/graphql/assets/0000", 1);
    assert_eq!(
        get(&gateway.router, &stale, None).await.0,
        StatusCode::NOT_FOUND
    );
    let unknown = "/graphql/assets/0123456789abcdef/graphiql.min.js.map";
    assert_eq!(
        get(&gateway.router, unknown, None).await.0,
        StatusCode::NOT_FOUND
    );

    // The page revalidates by ETag.
    let etag = header(&headers, header::ETAG).to_owned();
    let (status, headers, _) = get(&gateway.router, "/graphql", Some(&etag)).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert_eq!(header(&headers, header::CONTENT_SECURITY_POLICY), CSP);
}

async fn body_of(router: &Router, path: &str) -> Vec<u8> {
    get(router, path, None).await.2
}

#[tokio::test]
async fn disabled_graphiql_serves_neither_page_nor_files() {
    let enabled = common::gateway(|config| config.graphiql = true).await;
    let page = String::from_utf8(body_of(&enabled.router, "/graphql").await).unwrap();
    let asset = references(&page).remove(0);

    let gateway = common::gateway(|config| config.graphiql = false).await;
    let (status, headers, _) = get(&gateway.router, "/graphql", None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        header(&headers, header::CONTENT_SECURITY_POLICY),
        "default-src 'none'; frame-ancestors 'none'"
    );
    assert_eq!(
        get(&gateway.router, &asset, None).await.0,
        StatusCode::NOT_FOUND
    );
}
