//! Who is calling: bearer JWTs carrying tenant, subject, roles and clinics.
//!
//! Development signs tokens with a shared secret (HS256); `trellis token`
//! mints them. Transport crates call [`TokenVerifier::verify_header`] at
//! their edge and map [`AuthError`] to their own status codes.
//!
//! Architecture invariant: knows nothing of gRPC, HTTP or the plan domain.

use std::fmt;
use std::str::FromStr;

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
}

/// Why a request was not authenticated. Messages never echo the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("missing bearer token")]
    Missing,
    #[error("authorization is not of the form 'Bearer <token>'")]
    NotBearer,
    #[error("token is expired")]
    Expired,
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

/// Checks bearer tokens.
#[derive(Clone)]
pub struct TokenVerifier {
    key: DecodingKey,
    validation: Validation,
}

impl fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenVerifier").finish_non_exhaustive()
    }
}

impl TokenVerifier {
    pub fn hs256(secret: &[u8]) -> Result<Self, AuthError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.leeway = 30;
        Ok(Self {
            key: DecodingKey::from_secret(secret).map_err(|_| AuthError::Key)?,
            validation,
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
        let data = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation).map_err(
            |e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => AuthError::Expired,
                _ => AuthError::Invalid,
            },
        )?;
        let claims = data.claims;
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
        Ok(Caller {
            tenant,
            subject: claims.sub,
            roles,
            clinics: claims.clinics,
        })
    }
}

/// Mints tokens (development and tests).
#[derive(Clone)]
pub struct TokenIssuer {
    key: EncodingKey,
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
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.key)
            .map_err(|_| AuthError::Key)
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

    #[test]
    fn roles_parse_from_their_names() {
        assert_eq!("auditor".parse::<Role>(), Ok(Role::Auditor));
        assert_eq!("root".parse::<Role>(), Err(AuthError::UnknownRole));
    }
}
