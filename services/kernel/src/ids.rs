use std::fmt;

use serde::{Deserialize, Serialize};

/// Why an identifier was refused. Carries no user input back, only the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("{kind} must not be empty")]
    Empty { kind: &'static str },
    #[error("{kind} may hold at most {max} characters")]
    TooLong { kind: &'static str, max: usize },
    #[error("{kind} may only hold lowercase letters, digits, '-' and '_'")]
    InvalidCharacter { kind: &'static str },
    #[error("stream name is not of the form '<tenant>:<category>-<id>'")]
    MalformedStreamName,
}

/// A clinic network. Every stream name, read-model key and span carries it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TenantId(String);

impl TenantId {
    pub const MAX_LEN: usize = 63;

    /// Tenant ids are restricted to a small alphabet so they can appear in
    /// stream names, Redis keys and metric labels without escaping.
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        const KIND: &str = "tenant id";
        if raw.is_empty() {
            return Err(IdError::Empty { kind: KIND });
        }
        if raw.len() > Self::MAX_LEN {
            return Err(IdError::TooLong {
                kind: KIND,
                max: Self::MAX_LEN,
            });
        }
        let allowed =
            |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
        if !raw.chars().all(allowed) {
            return Err(IdError::InvalidCharacter { kind: KIND });
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TenantId {
    type Error = IdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<TenantId> for String {
    fn from(value: TenantId) -> Self {
        value.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `<tenant>:<category>-<id>`, e.g. `northside:plan-5f0c…`.
///
/// The tenant comes first so that a stream can never be addressed without
/// it, and every backend can filter a tenant's streams by prefix.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamName {
    tenant: TenantId,
    category: String,
    id: String,
}

impl StreamName {
    pub fn new(tenant: TenantId, category: &str, id: &str) -> Result<Self, IdError> {
        let ok = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        };
        if !ok(category) || category.contains('-') || !ok(id) {
            return Err(IdError::MalformedStreamName);
        }
        Ok(Self {
            tenant,
            category: category.to_owned(),
            id: id.to_owned(),
        })
    }

    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let (tenant, rest) = raw.split_once(':').ok_or(IdError::MalformedStreamName)?;
        let (category, id) = rest.split_once('-').ok_or(IdError::MalformedStreamName)?;
        let tenant = TenantId::parse(tenant).map_err(|_| IdError::MalformedStreamName)?;
        Self::new(tenant, category, id)
    }

    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    pub fn category(&self) -> &str {
        &self.category
    }

    pub fn id(&self) -> &str {
        &self.id
    }
}

impl fmt::Display for StreamName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}-{}", self.tenant, self.category, self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids_are_restricted() {
        assert!(TenantId::parse("northside-clinics_2").is_ok());
        assert_eq!(
            TenantId::parse(""),
            Err(IdError::Empty { kind: "tenant id" })
        );
        assert_eq!(
            TenantId::parse("North"),
            Err(IdError::InvalidCharacter { kind: "tenant id" })
        );
        assert!(matches!(
            TenantId::parse(&"a".repeat(64)),
            Err(IdError::TooLong { .. })
        ));
    }

    #[test]
    fn stream_names_round_trip_through_text() {
        let tenant = TenantId::parse("northside").unwrap();
        let name = StreamName::new(tenant, "plan", "5f0c-11aa").unwrap();
        assert_eq!(name.to_string(), "northside:plan-5f0c-11aa");
        assert_eq!(StreamName::parse("northside:plan-5f0c-11aa").unwrap(), name);
    }

    #[test]
    fn malformed_stream_names_are_refused() {
        for raw in [
            "plan-1",
            "northside:plan",
            "Bad:plan-1",
            "northside:-1",
            "t:plan-a b",
        ] {
            assert_eq!(
                StreamName::parse(raw),
                Err(IdError::MalformedStreamName),
                "{raw}"
            );
        }
    }
}
