//! Files vendored into the binary and served from this origin under
//! `<prefix>/<hash>/<name>`: the path names the file's hash, so a cached
//! copy never goes stale (a year, immutable), and pages reference them
//! with Subresource Integrity. GraphiQL and the console each have a
//! bundle; nothing is loaded from elsewhere, so both work offline.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// One vendored or own file.
#[derive(Debug)]
pub(crate) struct Asset {
    pub(crate) name: &'static str,
    pub(crate) content_type: &'static str,
    pub(crate) bytes: &'static [u8],
}

/// A file with what is computed from it once.
#[derive(Debug)]
struct Served {
    asset: &'static Asset,
    /// Lowercase hex SHA-256: the ETag, and (its first 16 digits) the path.
    sha256: String,
    /// `sha256-<base64>`, for `integrity` attributes.
    integrity: String,
}

/// The files served under one prefix.
#[derive(Debug)]
pub(crate) struct Bundle {
    prefix: &'static str,
    files: Vec<Served>,
}

impl Bundle {
    pub(crate) fn new(prefix: &'static str, assets: &'static [Asset]) -> Self {
        let files = assets
            .iter()
            .map(|asset| {
                let digest = Sha256::digest(asset.bytes);
                Served {
                    asset,
                    sha256: hex(&digest),
                    integrity: format!("sha256-{}", base64(&digest)),
                }
            })
            .collect();
        Self { prefix, files }
    }

    fn find(&self, name: &str) -> &Served {
        self.files
            .iter()
            .find(|s| s.asset.name == name)
            .unwrap_or_else(|| panic!("{name} is not in the {} bundle", self.prefix))
    }

    /// Where `name` is served in this build.
    pub(crate) fn path(&self, name: &str) -> String {
        let served = self.find(name);
        format!("{}/{}/{}", self.prefix, &served.sha256[..16], name)
    }

    /// The `integrity` attribute's value for `name`.
    pub(crate) fn integrity(&self, name: &str) -> &str {
        &self.find(name).integrity
    }

    pub(crate) fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.files.iter().map(|s| s.asset.name)
    }

    /// Bytes the bundle adds to the binary.
    #[cfg(test)]
    pub(crate) fn size(&self) -> usize {
        self.files.iter().map(|s| s.asset.bytes.len()).sum()
    }

    /// One file by the hash and name in its path; the hash must be this
    /// build's.
    pub(crate) fn serve(&self, hash: &str, name: &str, request: &HeaderMap) -> Response {
        let Some(served) = self
            .files
            .iter()
            .find(|s| s.asset.name == name && s.sha256[..16] == *hash)
        else {
            return (StatusCode::NOT_FOUND, "no such asset").into_response();
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
            HeaderValue::from_static(served.asset.content_type),
        );
        (headers, [content_type], served.asset.bytes).into_response()
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Standard base64 with padding (RFC 4648), for SRI hashes.
fn base64(bytes: &[u8]) -> String {
    encode(bytes, STANDARD, true)
}

/// base64url without padding (RFC 4648 §5), as JWTs and PKCE write it.
pub(crate) fn base64url(bytes: &[u8]) -> String {
    encode(bytes, URL_SAFE, false)
}

/// Decodes base64url with or without padding; `None` for anything else.
pub(crate) fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    for c in text.trim_end_matches('=').bytes() {
        let value = URL_SAFE.iter().position(|&a| a == c)? as u32;
        bits = (bits << 6) | value;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    Some(out)
}

fn encode(bytes: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
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
                out.push(char::from(alphabet[((n >> (18 - 6 * i)) & 63) as usize]));
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}

/// Whether the client's `If-None-Match` names `etag`.
pub(crate) fn not_modified(request: &HeaderMap, etag: &str) -> bool {
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

pub(crate) fn header_value(value: &str) -> HeaderValue {
    HeaderValue::from_str(value).expect("ETags are hex")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_is_rfc_4648() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
        assert_eq!(base64url_decode("-_8").unwrap(), vec![0xfb, 0xff]);
        assert_eq!(base64url_decode("Zm9vYmE=").unwrap(), b"fooba");
        assert_eq!(base64url_decode("a b"), None);
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

    static FILES: &[Asset] = &[Asset {
        name: "a.js",
        content_type: "text/javascript",
        bytes: b"1",
    }];

    #[test]
    fn a_file_is_served_only_under_its_own_hash() {
        let bundle = Bundle::new("/x", FILES);
        let path = bundle.path("a.js");
        let hash = path.split('/').nth(2).unwrap();
        let ok = bundle.serve(hash, "a.js", &HeaderMap::new());
        assert_eq!(ok.status(), StatusCode::OK);
        let stale = bundle.serve("0000000000000000", "a.js", &HeaderMap::new());
        assert_eq!(stale.status(), StatusCode::NOT_FOUND);
    }
}
