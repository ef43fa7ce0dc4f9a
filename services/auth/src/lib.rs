//! Who is calling: bearer JWTs carrying tenant, subject, roles and clinics.
//!
//! Development signs tokens with a shared secret (HS256); `trellis token`
//! mints them. Transport crates call [`TokenVerifier::verify_header`] at
//! their edge and map [`AuthError`] to their own status codes.
//!
//! Architecture invariant: knows nothing of gRPC, HTTP or the plan domain.

mod verified;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use trellis_kernel::TenantId;

/// Tokens are issued and accepted for this issuer only.
pub const ISSUER: &str = "trellis";

/// The secret `trellis serve` and `trellis token` use when none is
/// configured. Fine on a laptop; production configures its own.
pub const DEV_SECRET: &str = "trellis-dev-secret-not-for-production";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Clinician,
    Supervisor,
    Auditor,
    Client,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Admin,
        Role::Clinician,
        Role::Supervisor,
        Role::Auditor,
        Role::Client,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Clinician => "clinician",
            Self::Supervisor => "supervisor",
            Self::Auditor => "auditor",
            Self::Client => "client",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = AuthError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or(AuthError::UnknownRole)
    }
}

/// The authenticated caller of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub tenant: TenantId,
    pub subject: String,
    pub roles: Vec<Role>,
    /// Clinics a supervisor (or clinician) works in; empty means none.
    pub clinics: Vec<String>,
}

impl Caller {
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// The first of `allowed` the caller holds: the role they act in.
    pub fn acting_as(&self, allowed: &[Role]) -> Option<Role> {
        self.roles.iter().copied().find(|r| allowed.contains(r))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    tenant: String,
    roles: Vec<String>,
    #[serde(default)]
    clinics: Vec<String>,
    iat: i64,
    exp: i64,
    /// Not valid before; checked (with the leeway) when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nbf: Option<i64>,
}

/// How far clocks of the token's issuer and this server may disagree,
/// in seconds, for `exp`, `nbf` and `iat` alike.
pub const CLOCK_LEEWAY_SECS: u64 = 30;

/// Why a request was not authenticated. Messages never echo the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("missing bearer token")]
    Missing,
    #[error("authorization is not of the form 'Bearer <token>'")]
    NotBearer,
    #[error("token is expired")]
    Expired,
    #[error("token is not valid yet (nbf or iat in the future)")]
    NotYetValid,
    #[error("token is malformed or its signature does not verify")]
    Invalid,
    #[error("token names an unknown role")]
    UnknownRole,
    #[error("token names no role")]
    NoRole,
    #[error("token names an invalid tenant")]
    BadTenant,
    #[error("token has an empty subject")]
    NoSubject,
    #[error("signing key is unusable")]
    Key,
}

/// Checks bearer tokens: with a shared secret (development), or with the
/// public keys of a JWKS (production: tokens signed by the identity
/// provider with RS256, ES256 or EdDSA, chosen by the token's `kid`).
#[derive(Clone)]
pub struct TokenVerifier {
    keys: Keys,
    /// Tokens that passed, until they expire (`verified.rs`); clones
    /// share them, as they share the keys.
    verified: Arc<verified::VerifiedTokens<Caller>>,
}

#[derive(Clone)]
enum Keys {
    Shared(Box<(DecodingKey, Validation)>),
    /// (key id, key, validation for its algorithm)
    Published(Vec<(Option<String>, DecodingKey, Validation)>),
}

fn validation(algorithm: Algorithm, issuer: &str) -> Validation {
    let mut validation = Validation::new(algorithm);
    validation.set_issuer(&[issuer]);
    validation.set_required_spec_claims(&["exp", "iss", "sub"]);
    validation.leeway = CLOCK_LEEWAY_SECS;
    validation.validate_nbf = true;
    validation
}

/// The algorithm a published key is for: its `alg`, else its key type.
fn algorithm_of(jwk: &jsonwebtoken::jwk::Jwk) -> Option<Algorithm> {
    use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve};
    if let Some(alg) = &jwk.common.key_algorithm {
        return alg.to_string().parse().ok();
    }
    match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Some(Algorithm::RS256),
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => Some(Algorithm::ES256),
            EllipticCurve::P384 => Some(Algorithm::ES384),
            _ => None,
        },
        AlgorithmParameters::OctetKeyPair(_) => Some(Algorithm::EdDSA),
        _ => None,
    }
}

impl fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenVerifier").finish_non_exhaustive()
    }
}

impl TokenVerifier {
    pub fn hs256(secret: &[u8]) -> Result<Self, AuthError> {
        Ok(Self {
            keys: Keys::Shared(Box::new((
                DecodingKey::from_secret(secret).map_err(|_| AuthError::Key)?,
                validation(Algorithm::HS256, ISSUER),
            ))),
            verified: Arc::default(),
        })
    }

    /// From a JWKS document (`{"keys": [...]}`): asymmetric public keys
    /// only; shared-secret (`oct`) keys are refused. Tokens must name
    /// `issuer` (the identity provider's `iss`).
    pub fn jwks(document: &str, issuer: &str) -> Result<Self, AuthError> {
        let set: jsonwebtoken::jwk::JwkSet =
            serde_json::from_str(document).map_err(|_| AuthError::Key)?;
        let mut keys = Vec::new();
        for jwk in &set.keys {
            let algorithm = algorithm_of(jwk).ok_or(AuthError::Key)?;
            if matches!(
                algorithm,
                Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
            ) {
                return Err(AuthError::Key);
            }
            let key = DecodingKey::from_jwk(jwk).map_err(|_| AuthError::Key)?;
            keys.push((
                jwk.common.key_id.clone(),
                key,
                validation(algorithm, issuer),
            ));
        }
        if keys.is_empty() {
            return Err(AuthError::Key);
        }
        Ok(Self {
            keys: Keys::Published(keys),
            verified: Arc::default(),
        })
    }

    /// Verifies the value of an `authorization` header.
    pub fn verify_header(&self, header: Option<&str>) -> Result<Caller, AuthError> {
        let header = header.ok_or(AuthError::Missing)?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or(AuthError::NotBearer)?;
        self.verify(token.trim())
    }

    pub fn verify(&self, token: &str) -> Result<Caller, AuthError> {
        let now = Utc::now().timestamp();
        if let Some(caller) = self.verified.caller(token, now) {
            return Ok(caller);
        }
        let (caller, until) = self.check(token, now)?;
        self.verified.keep(token, &caller, now, until);
        Ok(caller)
    }

    /// Every check of `token` at `now`: its caller, and the last second
    /// it is accepted.
    fn check(&self, token: &str, now: i64) -> Result<(Caller, i64), AuthError> {
        let (key, validation) = match &self.keys {
            Keys::Shared(shared) => (&shared.0, &shared.1),
            Keys::Published(keys) => {
                let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::Invalid)?;
                keys.iter()
                    .find(|(kid, _, validation)| {
                        validation.algorithms.contains(&header.alg)
                            && (header.kid.is_none() && keys.len() == 1 || *kid == header.kid)
                    })
                    .map(|(_, key, validation)| (key, validation))
                    .ok_or(AuthError::Invalid)?
            }
        };
        let data =
            jsonwebtoken::decode::<Claims>(token, key, validation).map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => AuthError::Expired,
                jsonwebtoken::errors::ErrorKind::ImmatureSignature => AuthError::NotYetValid,
                _ => AuthError::Invalid,
            })?;
        let claims = data.claims;
        // A token issued in the future was minted on a wrong clock, or for
        // later use: refused like a token whose nbf has not come.
        let leeway = i64::try_from(CLOCK_LEEWAY_SECS).unwrap_or(i64::MAX);
        if claims.iat > now.saturating_add(leeway) {
            return Err(AuthError::NotYetValid);
        }
        let tenant = TenantId::parse(&claims.tenant).map_err(|_| AuthError::BadTenant)?;
        if claims.sub.trim().is_empty() {
            return Err(AuthError::NoSubject);
        }
        let roles = claims
            .roles
            .iter()
            .map(|r| r.parse())
            .collect::<Result<Vec<Role>, _>>()?;
        if roles.is_empty() {
            return Err(AuthError::NoRole);
        }
        let caller = Caller {
            tenant,
            subject: claims.sub,
            roles,
            clinics: claims.clinics,
        };
        Ok((caller, claims.exp.saturating_add(leeway)))
    }
}

/// Mints tokens (development and tests).
#[derive(Clone)]
pub struct TokenIssuer {
    key: EncodingKey,
    header: Header,
}

impl fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenIssuer").finish_non_exhaustive()
    }
}

impl TokenIssuer {
    pub fn hs256(secret: &[u8]) -> Result<Self, AuthError> {
        Ok(Self {
            key: EncodingKey::from_secret(secret).map_err(|_| AuthError::Key)?,
            header: Header::new(Algorithm::HS256),
        })
    }

    /// Signs with an Ed25519 private key (PKCS#8 PEM) under key id `kid`,
    /// as an identity provider publishing a JWKS would.
    pub fn ed25519_pem(pem: &[u8], kid: &str) -> Result<Self, AuthError> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(kid.to_owned());
        Ok(Self {
            key: EncodingKey::from_ed_pem(pem).map_err(|_| AuthError::Key)?,
            header,
        })
    }

    pub fn issue(&self, caller: &Caller, valid_for: chrono::Duration) -> Result<String, AuthError> {
        let now = Utc::now().timestamp();
        let claims = Claims {
            iss: ISSUER.into(),
            sub: caller.subject.clone(),
            tenant: caller.tenant.to_string(),
            roles: caller.roles.iter().map(|r| r.as_str().to_owned()).collect(),
            clinics: caller.clinics.clone(),
            iat: now,
            exp: now + valid_for.num_seconds(),
            nbf: None,
        };
        jsonwebtoken::encode(&self.header, &claims, &self.key).map_err(|_| AuthError::Key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller() -> Caller {
        Caller {
            tenant: TenantId::parse("northside").unwrap(),
            subject: "clin-3".into(),
            roles: vec![Role::Clinician],
            clinics: vec!["eastside".into()],
        }
    }

    #[test]
    fn an_issued_token_verifies_to_the_same_caller() {
        let token = TokenIssuer::hs256(b"s3cret")
            .unwrap()
            .issue(&caller(), chrono::Duration::hours(1))
            .unwrap();
        let verified = TokenVerifier::hs256(b"s3cret")
            .unwrap()
            .verify_header(Some(&format!("Bearer {token}")))
            .unwrap();
        assert_eq!(verified, caller());
    }

    fn signed(claims: &Claims) -> String {
        let key = EncodingKey::from_secret(b"s3cret").unwrap();
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &key).unwrap()
    }

    fn claims_at(iat: i64, nbf: Option<i64>) -> Claims {
        Claims {
            iss: ISSUER.into(),
            sub: "clin-3".into(),
            tenant: "northside".into(),
            roles: vec!["clinician".into()],
            clinics: vec![],
            iat,
            exp: iat + 3_600,
            nbf,
        }
    }

    #[test]
    fn a_token_for_later_is_refused_until_its_time_within_the_leeway() {
        let verifier = TokenVerifier::hs256(b"s3cret").unwrap();
        let now = Utc::now().timestamp();
        let in_a_month = now + 30 * 86_400;
        assert_eq!(
            verifier.verify(&signed(&claims_at(now, Some(in_a_month)))),
            Err(AuthError::NotYetValid)
        );
        assert_eq!(
            verifier.verify(&signed(&Claims {
                exp: in_a_month + 3_600,
                ..claims_at(in_a_month, None)
            })),
            Err(AuthError::NotYetValid)
        );
        // Clocks a few seconds apart are not a reason to refuse.
        assert!(
            verifier
                .verify(&signed(&claims_at(now + 10, Some(now + 10))))
                .is_ok()
        );
        assert!(
            verifier
                .verify(&signed(&claims_at(now, Some(now - 60))))
                .is_ok()
        );
    }

    #[test]
    fn a_token_that_passed_is_answered_until_it_expires_and_a_changed_one_is_not() {
        let verifier = TokenVerifier::hs256(b"s3cret").unwrap();
        let now = Utc::now().timestamp();
        let claims = claims_at(now, None);
        let token = signed(&claims);
        let clone = verifier.clone();
        let first = verifier.verify(&token).unwrap();
        assert_eq!(verifier.verify(&token), Ok(first.clone()));
        assert_eq!(
            clone.verified.caller(&token, now),
            Some(first),
            "clones share it"
        );
        // Kept until exp and the leeway, as the full check would accept it.
        let leeway = i64::try_from(CLOCK_LEEWAY_SECS).unwrap();
        let last = claims.exp + leeway;
        assert!(verifier.verified.caller(&token, last).is_some());
        assert!(verifier.verified.caller(&token, last + 1).is_none());
        // The same claims under another signature: checked, and refused.
        let signature = token.rfind('.').unwrap() + 1;
        let mut changed = token.clone();
        let first_char = if &token[signature..=signature] == "A" {
            "B"
        } else {
            "A"
        };
        changed.replace_range(signature..=signature, first_char);
        assert_eq!(verifier.verify(&changed), Err(AuthError::Invalid));
    }

    #[test]
    fn bad_tokens_are_refused_with_a_reason() {
        let verifier = TokenVerifier::hs256(b"s3cret").unwrap();
        assert_eq!(verifier.verify_header(None), Err(AuthError::Missing));
        assert_eq!(
            verifier.verify_header(Some("Basic abc")),
            Err(AuthError::NotBearer)
        );
        assert_eq!(
            verifier.verify_header(Some("Bearer not.a.jwt")),
            Err(AuthError::Invalid)
        );
        let other_key = TokenIssuer::hs256(b"other")
            .unwrap()
            .issue(&caller(), chrono::Duration::hours(1))
            .unwrap();
        assert_eq!(verifier.verify(&other_key), Err(AuthError::Invalid));
        let expired = TokenIssuer::hs256(b"s3cret")
            .unwrap()
            .issue(&caller(), chrono::Duration::hours(-2))
            .unwrap();
        assert_eq!(verifier.verify(&expired), Err(AuthError::Expired));
    }

    const TEST_KEY: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIB7HUm27YlfYIadSiyb/x7PkoLpQ/jvltMUBhZmspL4k
-----END PRIVATE KEY-----
";
    const TEST_JWKS: &str = r#"{"keys": [{"kty": "OKP", "crv": "Ed25519", "use": "sig",
        "alg": "EdDSA", "kid": "idp-2026", "x": "NCuDn8FCWeVZDlDq2BH5g_zZawKmOpC07bs2TRTyUMU"}]}"#;

    #[test]
    fn tokens_signed_by_a_published_key_verify() {
        let token = TokenIssuer::ed25519_pem(TEST_KEY.as_bytes(), "idp-2026")
            .unwrap()
            .issue(&caller(), chrono::Duration::hours(1))
            .unwrap();
        let verifier = TokenVerifier::jwks(TEST_JWKS, ISSUER).unwrap();
        let other_issuer = TokenVerifier::jwks(TEST_JWKS, "https://idp.example").unwrap();
        assert_eq!(other_issuer.verify(&token), Err(AuthError::Invalid));
        assert_eq!(verifier.verify(&token), Ok(caller()));

        // Unknown key id, or a shared-secret token, are refused.
        let other_kid = TokenIssuer::ed25519_pem(TEST_KEY.as_bytes(), "someone-else")
            .unwrap()
            .issue(&caller(), chrono::Duration::hours(1))
            .unwrap();
        assert_eq!(verifier.verify(&other_kid), Err(AuthError::Invalid));
        let shared = TokenIssuer::hs256(b"s3cret")
            .unwrap()
            .issue(&caller(), chrono::Duration::hours(1))
            .unwrap();
        assert_eq!(verifier.verify(&shared), Err(AuthError::Invalid));
    }

    #[test]
    fn a_jwks_with_a_shared_secret_is_refused() {
        let oct = r#"{"keys": [{"kty": "oct", "k": "c2VjcmV0", "alg": "HS256"}]}"#;
        assert!(TokenVerifier::jwks(oct, ISSUER).is_err());
        assert!(TokenVerifier::jwks(r#"{"keys": []}"#, ISSUER).is_err());
        assert!(TokenVerifier::jwks("not json", ISSUER).is_err());
    }

    #[test]
    fn roles_parse_from_their_names() {
        assert_eq!("auditor".parse::<Role>(), Ok(Role::Auditor));
        assert_eq!("root".parse::<Role>(), Err(AuthError::UnknownRole));
    }
}
