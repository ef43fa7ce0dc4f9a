//! The sealed form of a payload: XChaCha20-Poly1305 under a data key, with
//! the key's id in clear so a reader knows which key opens it.
//!
//! Layout: `MAGIC` (4 bytes) · key id (16) · nonce (24) · ciphertext and
//! tag. No JSON payload starts with a NUL byte, so a sealed payload is
//! told from one stored in clear (written before encryption was on) by its
//! first bytes. The nonce is random: 192 bits make a repeat under one key
//! negligible however many events a client has.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore as _;
use uuid::Uuid;
use zeroize::{Zeroize, ZeroizeOnDrop};

pub(crate) const MAGIC: &[u8; 4] = b"\0TS1";
const KEY_ID: usize = 16;
const NONCE: usize = 24;
const HEADER: usize = MAGIC.len() + KEY_ID + NONCE;

/// A 256-bit secret key (data key or key-encryption key), wiped from memory
/// when dropped.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretKey([u8; 32]);

impl SecretKey {
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Self(bytes)
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        Some(Self(bytes.try_into().ok()?))
    }

    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new_from_slice(&self.0).expect("a 32-byte key")
    }

    /// Seals `plaintext` bound to `aad` (what the bytes belong to).
    pub(crate) fn seal(&self, key_id: Uuid, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = self
            .cipher()
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .expect("XChaCha20-Poly1305 seals any length a payload has");
        let mut out = Vec::with_capacity(HEADER + sealed.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(key_id.as_bytes());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Opens what [`SecretKey::seal`] made with the same key and `aad`;
    /// `None` when the key, the bound `aad` or a byte differs.
    pub(crate) fn open(&self, sealed: &[u8], aad: &[u8]) -> Option<Vec<u8>> {
        // Not sealed bytes (too short, no magic): nothing to open.
        key_id_of(sealed)?;
        let nonce: [u8; NONCE] = sealed[MAGIC.len() + KEY_ID..HEADER].try_into().ok()?;
        self.cipher()
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: &sealed[HEADER..],
                    aad,
                },
            )
            .ok()
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key's bytes, in a log or a panic.
        f.write_str("SecretKey(…)")
    }
}

/// The id of the key that sealed `bytes`, or `None` for bytes in clear.
pub fn key_id_of(bytes: &[u8]) -> Option<Uuid> {
    if bytes.len() < HEADER || !bytes.starts_with(MAGIC) {
        return None;
    }
    Uuid::from_slice(&bytes[MAGIC.len()..MAGIC.len() + KEY_ID]).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_bytes_open_with_their_key_and_binding_only() {
        let key = SecretKey::generate();
        let id = Uuid::new_v4();
        let sealed = key.seal(id, b"stream a, event 1", br#"{"description":"machinist"}"#);

        assert_eq!(key_id_of(&sealed), Some(id));
        assert!(!sealed.windows(9).any(|w| w == b"machinist"));
        assert_eq!(
            key.open(&sealed, b"stream a, event 1").as_deref(),
            Some(&br#"{"description":"machinist"}"#[..])
        );
        // Moved to another event, opened with another key, or changed: refused.
        assert!(key.open(&sealed, b"stream a, event 2").is_none());
        assert!(
            SecretKey::generate()
                .open(&sealed, b"stream a, event 1")
                .is_none()
        );
        let mut flipped = sealed;
        *flipped.last_mut().unwrap() ^= 1;
        assert!(key.open(&flipped, b"stream a, event 1").is_none());
    }

    #[test]
    fn payloads_in_clear_name_no_key_and_two_seals_differ() {
        assert_eq!(key_id_of(br#"{"goal":"x"}"#), None);
        assert_eq!(key_id_of(b"\0TS1short"), None);
        let key = SecretKey::generate();
        let id = Uuid::new_v4();
        assert_ne!(key.seal(id, b"", b"same"), key.seal(id, b"", b"same"));
    }

    #[test]
    fn a_key_never_shows_its_bytes() {
        assert_eq!(format!("{:?}", SecretKey::generate()), "SecretKey(…)");
    }
}
