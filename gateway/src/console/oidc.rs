//! Console sign-in with the clinic network's identity provider: OpenID
//! Connect authorization code flow with PKCE (S256), against the issuer
//! whose keys verify API tokens. The access token it returns becomes the
//! session, exactly as an API client's bearer token would be verified.
//!
//! The flow's state, nonce and code verifier wait in a short-lived
//! HttpOnly cookie (SameSite=Lax: it must come back on the identity
//! provider's redirect); the callback checks the state against it, sends
//! the verifier with the code, and checks the ID token's nonce, audience
//! and issuer. The ID token arrives straight from the token endpoint over
//! TLS, which OpenID Connect Core (3.1.3.7) lets stand in for its signature.

use std::time::Duration;

use axum::http::HeaderValue;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use crate::embedded::base64url;

/// How the console finds and talks to the identity provider.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    /// The issuer URL; `/.well-known/openid-configuration` below it.
    pub issuer: String,
    pub client_id: String,
    /// For confidential clients; PKCE alone for public ones.
    pub client_secret: Option<String>,
    /// Where the provider sends the browser back:
    /// `<public console URL>/console/sign-in/callback`.
    pub redirect_uri: String,
    /// Space-separated; `openid` is always asked for.
    pub scopes: String,
}

#[derive(Debug, Clone, Deserialize)]
struct Endpoints {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
}

/// The console's OpenID Connect client.
#[derive(Debug)]
pub struct OidcClient {
    settings: OidcSettings,
    http: reqwest::Client,
    endpoints: OnceCell<Endpoints>,
}

/// The cookie holding a sign-in in progress.
pub(crate) const FLOW_COOKIE: &str = "trellis_console_oidc";

/// Why a sign-in did not complete. Messages state the rule; nothing the
/// provider or the browser sent is echoed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum OidcError {
    #[error("the identity provider cannot be reached or did not answer as OpenID Connect says")]
    Provider,
    #[error("this sign-in was not started here, or took longer than 10 minutes; start again")]
    State,
    #[error("the identity provider refused the sign-in")]
    Refused,
    #[error("the identity provider's ID token is not for this console (nonce, audience or issuer)")]
    IdToken,
}

/// A sign-in in progress: what the callback must see again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Flow {
    pub(crate) state: String,
    pub(crate) nonce: String,
    pub(crate) verifier: String,
}

impl Flow {
    pub(crate) fn start() -> Self {
        Self {
            state: random(),
            nonce: random(),
            verifier: format!("{}{}", random(), random()),
        }
    }

    /// The S256 challenge of the verifier (RFC 7636).
    pub(crate) fn challenge(&self) -> String {
        base64url(&Sha256::digest(self.verifier.as_bytes()))
    }

    pub(crate) fn cookie(&self) -> HeaderValue {
        let value = format!(
            "{FLOW_COOKIE}={}.{}.{}; Path=/console/sign-in; Max-Age=600; HttpOnly; Secure; SameSite=Lax",
            self.state, self.nonce, self.verifier
        );
        HeaderValue::from_str(&value).expect("the flow is base64url")
    }

    pub(crate) fn from_cookie(value: &str) -> Option<Self> {
        let mut parts = value.split('.');
        let flow = Self {
            state: parts.next()?.to_owned(),
            nonce: parts.next()?.to_owned(),
            verifier: parts.next()?.to_owned(),
        };
        (parts.next().is_none() && !flow.state.is_empty()).then_some(flow)
    }
}

/// 16 random bytes, base64url.
fn random() -> String {
    base64url(uuid::Uuid::new_v4().as_bytes())
}

#[derive(Debug, Deserialize)]
struct TokenAnswer {
    access_token: String,
    id_token: Option<String>,
    #[serde(default)]
    expires_in: Option<i64>,
}

/// The ID token's claims the console checks.
#[derive(Debug, Deserialize)]
struct IdClaims {
    iss: String,
    aud: Audience,
    nonce: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn includes(&self, client_id: &str) -> bool {
        match self {
            Self::One(aud) => aud == client_id,
            Self::Many(auds) => auds.iter().any(|a| a == client_id),
        }
    }
}

/// The session a completed sign-in gives: the access token and how long
/// it lives.
#[derive(Debug)]
pub(crate) struct SignedIn {
    pub(crate) access_token: String,
    pub(crate) max_age_secs: i64,
}

fn same_issuer(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

impl OidcClient {
    pub fn new(settings: OidcSettings) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            // The provider's answers are read here, not followed.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            settings,
            http,
            endpoints: OnceCell::new(),
        })
    }

    /// The provider's endpoints, from its discovery document (fetched once).
    async fn endpoints(&self) -> Result<&Endpoints, OidcError> {
        self.endpoints
            .get_or_try_init(|| async {
                let url = format!(
                    "{}/.well-known/openid-configuration",
                    self.settings.issuer.trim_end_matches('/')
                );
                let endpoints: Endpoints = self
                    .http
                    .get(&url)
                    .send()
                    .await
                    .and_then(reqwest::Response::error_for_status)
                    .map_err(|e| {
                        tracing::warn!(error = %e, "console: OpenID discovery failed");
                        OidcError::Provider
                    })?
                    .json()
                    .await
                    .map_err(|_| OidcError::Provider)?;
                if !same_issuer(&endpoints.issuer, &self.settings.issuer) {
                    tracing::warn!("console: the discovery document names another issuer");
                    return Err(OidcError::Provider);
                }
                Ok(endpoints)
            })
            .await
    }

    /// Where to send the browser to sign in.
    pub(crate) async fn authorization_url(&self, flow: &Flow) -> Result<String, OidcError> {
        let endpoints = self.endpoints().await?;
        let scopes = if self.settings.scopes.split(' ').any(|s| s == "openid") {
            self.settings.scopes.clone()
        } else {
            format!("openid {}", self.settings.scopes).trim().to_owned()
        };
        let mut url = reqwest::Url::parse(&endpoints.authorization_endpoint)
            .map_err(|_| OidcError::Provider)?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.settings.client_id)
            .append_pair("redirect_uri", &self.settings.redirect_uri)
            .append_pair("scope", &scopes)
            .append_pair("state", &flow.state)
            .append_pair("nonce", &flow.nonce)
            .append_pair("code_challenge", &flow.challenge())
            .append_pair("code_challenge_method", "S256");
        Ok(url.into())
    }

    /// Trades the code for tokens and checks the ID token.
    pub(crate) async fn complete(&self, flow: &Flow, code: &str) -> Result<SignedIn, OidcError> {
        let endpoints = self.endpoints().await?;
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", self.settings.redirect_uri.as_str()),
            ("client_id", self.settings.client_id.as_str()),
            ("code_verifier", flow.verifier.as_str()),
        ];
        if let Some(secret) = &self.settings.client_secret {
            form.push(("client_secret", secret));
        }
        let answer = self
            .http
            .post(&endpoints.token_endpoint)
            .form(&form)
            .send()
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "console: the token endpoint cannot be reached");
                OidcError::Provider
            })?;
        if !answer.status().is_success() {
            return Err(OidcError::Refused);
        }
        let tokens: TokenAnswer = answer.json().await.map_err(|_| OidcError::Provider)?;
        let id_token = tokens.id_token.as_deref().ok_or(OidcError::IdToken)?;
        let claims = id_claims(id_token).ok_or(OidcError::IdToken)?;
        let fits = claims.nonce.as_deref() == Some(flow.nonce.as_str())
            && claims.aud.includes(&self.settings.client_id)
            && same_issuer(&claims.iss, &endpoints.issuer);
        if !fits {
            return Err(OidcError::IdToken);
        }
        Ok(SignedIn {
            access_token: tokens.access_token,
            max_age_secs: tokens.expires_in.unwrap_or(3600).clamp(60, 12 * 3600),
        })
    }
}

/// The claims of a JWT, read without its signature (see the module's note).
fn id_claims(token: &str) -> Option<IdClaims> {
    let payload = token.split('.').nth(1)?;
    let bytes = crate::embedded::base64url_decode(payload)?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_is_rfc_7636_s256() {
        // RFC 7636, appendix B.
        let flow = Flow {
            state: "s".into(),
            nonce: "n".into(),
            verifier: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into(),
        };
        assert_eq!(
            flow.challenge(),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn a_flow_round_trips_through_its_cookie() {
        let flow = Flow::start();
        let cookie = flow.cookie();
        let value = cookie.to_str().unwrap();
        assert!(
            value.contains("HttpOnly") && value.contains("SameSite=Lax"),
            "{value}"
        );
        let pair = value.split(';').next().unwrap();
        let read = Flow::from_cookie(pair.split_once('=').unwrap().1).unwrap();
        assert_eq!(read, flow);
        assert_eq!(Flow::from_cookie("a.b"), None);
        assert!(
            flow.verifier.len() >= 43,
            "RFC 7636: 43 characters at least"
        );
    }

    #[test]
    fn id_token_claims_are_read_from_the_payload() {
        let payload = base64url(br#"{"iss":"https://idp/","aud":["x","console"],"nonce":"n1"}"#);
        let claims = id_claims(&format!("e30.{payload}.sig")).unwrap();
        assert!(claims.aud.includes("console"));
        assert!(same_issuer(&claims.iss, "https://idp"));
        assert_eq!(claims.nonce.as_deref(), Some("n1"));
        assert!(id_claims("not a jwt").is_none());
    }
}
