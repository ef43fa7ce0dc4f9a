//! Tamper evidence: hash chains, signed Merkle digests, verification.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use chrono::{DateTime, Utc};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use trellis_kernel::{
    Actor, ChainInput, EventHash, EventMetadata, EventStore, ExpectedRevision, NewEvent,
    RecordedEvent, StoreError, StreamHead, StreamName, TenantId, chain_hash, from_hex, sha256,
    to_hex,
};
use uuid::Uuid;

/// Stream category of signed digests: `<tenant>:digest-<tenant>`.
pub const DIGEST_CATEGORY: &str = "digest";
pub const DIGEST_EVENT: &str = "DigestSigned";
const READ_PAGE: usize = 1000;

/// The Ed25519 key digests are signed with.
#[derive(Clone)]
pub struct DigestKey {
    signing: SigningKey,
}

impl fmt::Debug for DigestKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DigestKey")
            .field("public_key", &self.public_key_hex())
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("the key must be 64 hexadecimal characters (32 bytes)")]
    Malformed,
}

impl DigestKey {
    /// From a 32-byte seed in hex (what `trellis audit keygen` prints).
    pub fn from_seed_hex(hex: &str) -> Result<Self, KeyError> {
        let seed: [u8; 32] = from_hex(hex.trim())
            .and_then(|b| b.try_into().ok())
            .ok_or(KeyError::Malformed)?;
        Ok(Self {
            signing: SigningKey::from_bytes(&seed),
        })
    }

    /// A fixed key for development and tests. Its seed is public, so its
    /// signatures prove nothing; `trellis serve` warns when it is used.
    pub fn development() -> Self {
        Self {
            signing: SigningKey::from_bytes(&sha256(&[b"trellis development digest key"])),
        }
    }

    /// A fresh random key.
    pub fn generate() -> Self {
        let mut seed = [0u8; 32];
        seed[..16].copy_from_slice(Uuid::new_v4().as_bytes());
        seed[16..].copy_from_slice(Uuid::new_v4().as_bytes());
        Self {
            signing: SigningKey::from_bytes(&sha256(&[&seed])),
        }
    }

    pub fn seed_hex(&self) -> String {
        to_hex(&self.signing.to_bytes())
    }

    pub fn public_key(&self) -> VerifyingKey {
        self.signing.verifying_key()
    }

    pub fn public_key_hex(&self) -> String {
        to_hex(self.public_key().as_bytes())
    }
}

/// Parses a trusted public key (64 hex characters).
pub fn public_key_from_hex(hex: &str) -> Result<VerifyingKey, KeyError> {
    let bytes: [u8; 32] = from_hex(hex.trim())
        .and_then(|b| b.try_into().ok())
        .ok_or(KeyError::Malformed)?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| KeyError::Malformed)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestHead {
    pub stream: String,
    pub revision: u64,
    pub hash: String,
}

/// A signed commitment to every stream head of a tenant at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedDigest {
    pub tenant: String,
    pub created_at: DateTime<Utc>,
    pub heads: Vec<DigestHead>,
    pub root: String,
    pub public_key: String,
    pub signature: String,
}

fn leaf(head: &DigestHead) -> [u8; 32] {
    sha256(&[
        b"leaf",
        head.stream.as_bytes(),
        &head.revision.to_be_bytes(),
        head.hash.as_bytes(),
    ])
}

/// Merkle root over the heads, in the order given (stream-name order).
pub fn merkle_root(heads: &[DigestHead]) -> [u8; 32] {
    let mut level: Vec<[u8; 32]> = heads.iter().map(leaf).collect();
    if level.is_empty() {
        return sha256(&[b"empty"]);
    }
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [left, right] => sha256(&[b"node", left, right]),
                [single] => *single,
                _ => unreachable!("chunks of two"),
            })
            .collect();
    }
    level[0]
}

fn signed_message(tenant: &str, created_at: &DateTime<Utc>, root: &str) -> [u8; 32] {
    sha256(&[
        b"trellis-digest-v1",
        tenant.as_bytes(),
        created_at.to_rfc3339().as_bytes(),
        root.as_bytes(),
    ])
}

impl SignedDigest {
    pub fn sign(
        tenant: &TenantId,
        heads: &[StreamHead],
        key: &DigestKey,
        at: DateTime<Utc>,
    ) -> Self {
        let heads: Vec<DigestHead> = heads
            .iter()
            .map(|h| DigestHead {
                stream: h.stream.to_string(),
                revision: h.revision,
                hash: h.hash.to_hex(),
            })
            .collect();
        let root = to_hex(&merkle_root(&heads));
        let signature = key
            .signing
            .sign(&signed_message(tenant.as_str(), &at, &root));
        Self {
            tenant: tenant.to_string(),
            created_at: at,
            heads,
            root,
            public_key: key.public_key_hex(),
            signature: to_hex(&signature.to_bytes()),
        }
    }

    /// Checks the root against the heads and the signature against the
    /// trusted key (not the key the digest names).
    pub fn check(&self, trusted: &VerifyingKey) -> Result<(), &'static str> {
        if to_hex(&merkle_root(&self.heads)) != self.root {
            return Err("its Merkle root does not match its stream heads");
        }
        let signature: [u8; 64] = from_hex(&self.signature)
            .and_then(|b| b.try_into().ok())
            .ok_or("its signature is malformed")?;
        trusted
            .verify(
                &signed_message(&self.tenant, &self.created_at, &self.root),
                &Signature::from_bytes(&signature),
            )
            .map_err(|_| "its signature does not verify with the trusted key")
    }
}

pub fn digest_stream(tenant: &TenantId) -> StreamName {
    StreamName::new(tenant.clone(), DIGEST_CATEGORY, tenant.as_str())
        .expect("a tenant id is a valid stream id")
}

/// Signs a digest over every stream head of `tenant` and stores it.
pub async fn create_digest(
    store: &dyn EventStore,
    tenant: &TenantId,
    key: &DigestKey,
    actor: Actor,
) -> Result<SignedDigest, StoreError> {
    let heads = store.stream_heads(tenant).await?;
    let digest = SignedDigest::sign(tenant, &heads, key, Utc::now());
    let id = Uuid::new_v4();
    let event = NewEvent {
        event_id: id,
        event_type: DIGEST_EVENT.into(),
        schema_version: 1,
        payload: serde_json::to_vec(&digest).expect("digests serialize"),
        metadata: EventMetadata {
            actor,
            correlation_id: id,
            causation_id: id,
            request_id: String::new(),
            trace_id: String::new(),
            span_id: String::new(),
            reason: Some("periodic tamper-evidence digest".into()),
        },
    };
    store
        .append(&digest_stream(tenant), ExpectedRevision::Any, vec![event])
        .await?;
    Ok(digest)
}

/// What `verify` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    pub ok: bool,
    pub streams: u64,
    pub events: u64,
    pub digests: u64,
    /// The first broken link, in store order, when not ok.
    pub first_break: Option<String>,
    /// When the newest signed digest was recorded.
    pub last_digest_at: Option<DateTime<Utc>>,
}

#[derive(Default)]
struct StreamChain {
    /// Hash of every revision seen so far, in order.
    hashes: Vec<EventHash>,
}

/// Recomputes every hash chain (of one tenant, or of all) and checks every
/// signed digest against the trusted key and the chains.
pub async fn verify(
    store: &dyn EventStore,
    tenant: Option<&TenantId>,
    trusted: &VerifyingKey,
) -> Result<VerifyReport, StoreError> {
    let mut chains: HashMap<StreamName, StreamChain> = HashMap::new();
    let mut digests: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut last_digest_at = None;
    let mut events = 0u64;
    let mut first_break: Option<String> = None;
    let mut after = None;
    loop {
        let page = store.read_all(after, READ_PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.global_position);
        for event in page
            .iter()
            .filter(|e| tenant.is_none_or(|t| e.tenant() == t))
        {
            events += 1;
            if event.stream.category() == DIGEST_CATEGORY && event.event_type == DIGEST_EVENT {
                digests.push((event.global_position, event.payload.clone()));
                last_digest_at = Some(event.recorded_at);
            }
            let chain = chains.entry(event.stream.clone()).or_default();
            if first_break.is_none() {
                first_break = check_link(chain, event);
            }
            chain.hashes.push(event.hash);
        }
    }
    let digest_count = digests.len() as u64;
    if first_break.is_none() {
        first_break = digests
            .iter()
            .find_map(|(position, payload)| check_digest(*position, payload, &chains, trusted));
    }
    Ok(VerifyReport {
        ok: first_break.is_none(),
        streams: chains.len() as u64,
        events,
        digests: digest_count,
        first_break,
        last_digest_at,
    })
}

fn check_link(chain: &StreamChain, event: &RecordedEvent) -> Option<String> {
    let expected = chain.hashes.len() as u64;
    if event.revision != expected {
        return Some(format!(
            "stream {} at global position {}: revision {} found where {expected} was expected \
             (an event is missing or out of order)",
            event.stream, event.global_position, event.revision
        ));
    }
    let previous = chain.hashes.last().copied().unwrap_or(EventHash::GENESIS);
    if chain_hash(&previous, &ChainInput::recorded(event)) != event.hash {
        return Some(format!(
            "stream {} revision {} (global position {}): the stored event does not match its hash \
             (its content, metadata or predecessor changed)",
            event.stream, event.revision, event.global_position
        ));
    }
    None
}

fn check_digest(
    position: u64,
    payload: &[u8],
    chains: &HashMap<StreamName, StreamChain>,
    trusted: &VerifyingKey,
) -> Option<String> {
    let Ok(digest) = serde_json::from_slice::<SignedDigest>(payload) else {
        return Some(format!("digest at global position {position}: unreadable"));
    };
    if let Err(problem) = digest.check(trusted) {
        return Some(format!("digest at global position {position}: {problem}"));
    }
    let by_name: BTreeMap<String, &StreamChain> = chains
        .iter()
        .map(|(name, c)| (name.to_string(), c))
        .collect();
    for head in &digest.heads {
        let current = by_name
            .get(&head.stream)
            .and_then(|c| c.hashes.get(head.revision as usize));
        match current {
            None => {
                return Some(format!(
                    "digest at global position {position}: stream {} revision {} no longer exists \
                     (events were deleted after it was signed)",
                    head.stream, head.revision
                ));
            }
            Some(hash) if hash.to_hex() != head.hash => {
                return Some(format!(
                    "digest at global position {position}: stream {} revision {} differs from \
                     what was signed (history changed after it was signed)",
                    head.stream, head.revision
                ));
            }
            Some(_) => {}
        }
    }
    None
}

/// Every signed digest of a tenant, oldest first.
pub async fn list_digests(
    store: &dyn EventStore,
    tenant: &TenantId,
) -> Result<Vec<SignedDigest>, StoreError> {
    let events = crate::history::read_whole_stream(store, &digest_stream(tenant)).await?;
    Ok(events
        .iter()
        .filter_map(|e| serde_json::from_slice(&e.payload).ok())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(stream: &str, revision: u64) -> StreamHead {
        StreamHead {
            stream: StreamName::parse(stream).unwrap(),
            revision,
            hash: EventHash([revision as u8; 32]),
        }
    }

    #[test]
    fn a_digest_verifies_with_its_key_only() {
        let tenant = TenantId::parse("t").unwrap();
        let key = DigestKey::development();
        let digest = SignedDigest::sign(
            &tenant,
            &[head("t:plan-a", 3), head("t:plan-b", 1)],
            &key,
            Utc::now(),
        );
        assert_eq!(digest.check(&key.public_key()), Ok(()));
        let other = DigestKey::generate();
        assert_eq!(
            digest.check(&other.public_key()),
            Err("its signature does not verify with the trusted key")
        );
        let mut altered = digest;
        altered.heads[0].revision = 2;
        assert_eq!(
            altered.check(&key.public_key()),
            Err("its Merkle root does not match its stream heads")
        );
    }

    #[test]
    fn keys_round_trip_through_hex() {
        let key = DigestKey::generate();
        let again = DigestKey::from_seed_hex(&key.seed_hex()).unwrap();
        assert_eq!(again.public_key_hex(), key.public_key_hex());
        assert_eq!(
            public_key_from_hex(&key.public_key_hex()).unwrap(),
            key.public_key()
        );
        assert_eq!(
            DigestKey::from_seed_hex("abc").unwrap_err(),
            KeyError::Malformed
        );
    }

    #[test]
    fn the_merkle_root_depends_on_every_head() {
        let heads = |r: u64| {
            vec![
                DigestHead {
                    stream: "t:plan-a".into(),
                    revision: 1,
                    hash: "aa".into(),
                },
                DigestHead {
                    stream: "t:plan-b".into(),
                    revision: r,
                    hash: "bb".into(),
                },
                DigestHead {
                    stream: "t:plan-c".into(),
                    revision: 1,
                    hash: "cc".into(),
                },
            ]
        };
        assert_eq!(merkle_root(&heads(1)), merkle_root(&heads(1)));
        assert_ne!(merkle_root(&heads(1)), merkle_root(&heads(2)));
        assert_ne!(merkle_root(&heads(1)), merkle_root(&heads(1)[..2]));
    }
}
