//! Who is signed in to the console: the session cookie, its expiry and the
//! CSRF token every form carries.
//!
//! The cookie holds the caller's bearer token itself (HttpOnly, Secure,
//! SameSite=Strict, path `/console`), so any gateway of a deployment can
//! verify it with the keys that verify API tokens and a session ends when
//! its token expires. The CSRF token is derived from the session token:
//! another site can neither read the cookie nor compute the token, and no
//! server-side state is kept.

use axum::http::{HeaderMap, HeaderValue, header};
use trellis_auth::{Caller, TokenVerifier};

use crate::embedded::sha256_hex;

/// The session cookie's name.
pub(crate) const COOKIE: &str = "trellis_console";
/// The sign-in form's own cookie: a nonce the form repeats, so another
/// site cannot sign a browser in as someone else (login CSRF).
pub(crate) const SIGN_IN_COOKIE: &str = "trellis_console_sign_in";

/// A signed-in console user.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub(crate) caller: Caller,
    /// The bearer token the console acts with.
    pub(crate) token: String,
}

/// Why there is no session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NoSession {
    /// No cookie: never signed in, or signed out.
    Absent,
    /// A cookie whose token no longer verifies: expired or revoked keys.
    Expired,
}

impl Session {
    pub(crate) fn from_headers(
        headers: &HeaderMap,
        verifier: &TokenVerifier,
    ) -> Result<Self, NoSession> {
        let token = cookie(headers, COOKIE).ok_or(NoSession::Absent)?;
        let caller = verifier
            .verify_header(Some(&format!("Bearer {token}")))
            .map_err(|_| NoSession::Expired)?;
        Ok(Self {
            caller,
            token: token.to_owned(),
        })
    }

    /// The token every form of this session carries.
    pub(crate) fn csrf(&self) -> String {
        csrf_of(&self.token)
    }

    /// Whether a submitted form's token is this session's.
    pub(crate) fn accepts(&self, submitted: &str) -> bool {
        constant_time_eq(submitted.as_bytes(), self.csrf().as_bytes())
    }
}

fn csrf_of(token: &str) -> String {
    sha256_hex(format!("trellis console csrf v1\n{token}").as_bytes())[..32].to_owned()
}

/// Compares without stopping at the first difference, so the time taken
/// tells nothing about how much of a guess was right.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The value of one cookie of the request.
pub(crate) fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
        .filter(|value| !value.is_empty())
}

/// A `Set-Cookie` for a console cookie that lives `max_age_secs` (0 ends
/// it). Secure cookies are kept by browsers on HTTPS and on localhost.
pub(crate) fn set_cookie(name: &str, value: &str, max_age_secs: i64) -> HeaderValue {
    let value = format!(
        "{name}={value}; Path=/console; Max-Age={}; HttpOnly; Secure; SameSite=Strict",
        max_age_secs.max(0)
    );
    HeaderValue::from_str(&value).expect("cookie values are tokens, hex or empty")
}

#[cfg(test)]
mod tests {
    use super::*;
    use trellis_auth::{Role, TokenIssuer};
    use trellis_kernel::TenantId;

    fn token() -> String {
        let caller = Caller {
            tenant: TenantId::parse("session-test").unwrap(),
            subject: "dr-a".into(),
            roles: vec![Role::Clinician],
            clinics: vec![],
        };
        TokenIssuer::hs256(b"k")
            .unwrap()
            .issue(&caller, chrono::Duration::minutes(5))
            .unwrap()
    }

    fn with_cookie(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn the_session_is_the_token_in_its_cookie() {
        let token = token();
        let headers = with_cookie(&format!("other=1; {COOKIE}={token}"));
        let verifier = TokenVerifier::hs256(b"k").unwrap();
        let session = Session::from_headers(&headers, &verifier).unwrap();
        assert_eq!(session.caller.subject, "dr-a");
        let wrong_key = TokenVerifier::hs256(b"other").unwrap();
        assert_eq!(
            Session::from_headers(&headers, &wrong_key).unwrap_err(),
            NoSession::Expired
        );
        assert_eq!(
            Session::from_headers(&HeaderMap::new(), &verifier).unwrap_err(),
            NoSession::Absent
        );
    }

    #[test]
    fn a_form_is_accepted_only_with_its_sessions_token() {
        let verifier = TokenVerifier::hs256(b"k").unwrap();
        let session =
            Session::from_headers(&with_cookie(&format!("{COOKIE}={}", token())), &verifier)
                .unwrap();
        assert!(session.accepts(&session.csrf()));
        assert!(!session.accepts(""));
        assert!(!session.accepts(&csrf_of("another session")));
    }

    #[test]
    fn cookies_are_http_only_secure_and_strict() {
        let value = set_cookie(COOKIE, "abc", 60);
        let value = value.to_str().unwrap();
        for attribute in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/console"] {
            assert!(value.contains(attribute), "{value}");
        }
        assert!(
            set_cookie(COOKIE, "", -5)
                .to_str()
                .unwrap()
                .contains("Max-Age=0")
        );
    }
}
