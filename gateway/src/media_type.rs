//! A request's media type, as the JSON APIs check it.

use axum::http::{HeaderMap, header};

/// The `Content-Type` without its parameters, lower-cased.
pub(crate) fn of(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
}
