//! Tokens this verifier has verified, by their exact text, until they
//! expire. A client sends the same bearer token with every request, and
//! checking its signature and claims again costs more than answering a
//! plan from memory (4 % of the request workers' time in W3,
//! docs/benchmarks.md).
//!
//! Only a token that passed every check is kept, with the caller it
//! named; its claims cannot change, and the only check that a later
//! moment can fail is expiry, which is checked again on every use. The
//! keys are fixed for the verifier's life, so a kept token stays as valid
//! as it was. Bounded: tokens longer than [`MAX_TOKEN_BYTES`] are never
//! kept, and at [`MAX_TOKENS`] the expired ones go, or else all.

use std::collections::HashMap;
use std::sync::Mutex;

/// Tokens kept at most.
const MAX_TOKENS: usize = 4_096;
/// Longest token kept.
const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Verified tokens, each with the caller `C` it names.
#[derive(Debug)]
pub(crate) struct VerifiedTokens<C> {
    kept: Mutex<HashMap<Box<str>, Verified<C>>>,
}

impl<C> Default for VerifiedTokens<C> {
    fn default() -> Self {
        Self {
            kept: Mutex::default(),
        }
    }
}

#[derive(Debug)]
struct Verified<C> {
    caller: C,
    /// The last second (Unix time) the token is accepted: its `exp` and
    /// the clock leeway.
    until: i64,
}

impl<C: Clone> VerifiedTokens<C> {
    fn kept(&self) -> std::sync::MutexGuard<'_, HashMap<Box<str>, Verified<C>>> {
        // A panic while held left at worst a stale entry, checked on use.
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The caller of `token` if it was verified and is not expired at
    /// `now` (Unix seconds).
    pub(crate) fn caller(&self, token: &str, now: i64) -> Option<C> {
        match self.kept().get(token) {
            Some(verified) if now <= verified.until => Some(verified.caller.clone()),
            _ => None,
        }
    }

    /// Keeps `token`, which passed every check at `now` and names
    /// `caller`, until `until`.
    pub(crate) fn keep(&self, token: &str, caller: &C, now: i64, until: i64) {
        if token.len() > MAX_TOKEN_BYTES {
            return;
        }
        let mut kept = self.kept();
        if kept.len() >= MAX_TOKENS {
            kept.retain(|_, verified| now <= verified.until);
            if kept.len() >= MAX_TOKENS {
                kept.clear();
            }
        }
        let verified = Verified {
            caller: caller.clone(),
            until,
        };
        kept.insert(token.into(), verified);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.kept().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A caller, as far as keeping one goes.
    fn caller(subject: &str) -> String {
        subject.to_owned()
    }

    #[test]
    fn a_kept_token_answers_until_it_expires_and_only_for_its_exact_text() {
        let verified = VerifiedTokens::<String>::default();
        assert!(verified.caller("a.b.c", 100).is_none(), "never verified");
        verified.keep("a.b.c", &caller("clin-1"), 100, 160);
        assert_eq!(verified.caller("a.b.c", 100).as_deref(), Some("clin-1"));
        assert!(verified.caller("a.b.c", 160).is_some(), "its last second");
        assert!(verified.caller("a.b.c", 161).is_none(), "expired");
        assert!(verified.caller("a.b.C", 100).is_none(), "another text");
        assert!(verified.caller("a.b.c ", 100).is_none());
    }

    #[test]
    fn the_kept_tokens_are_bounded() {
        let verified = VerifiedTokens::<String>::default();
        let long = "x".repeat(MAX_TOKEN_BYTES + 1);
        verified.keep(&long, &caller("clin-1"), 0, 60);
        assert!(verified.caller(&long, 0).is_none(), "too long to keep");
        // Full: the expired go first.
        for n in 0..MAX_TOKENS {
            let until = if n % 2 == 0 { 10 } else { 1_000 };
            verified.keep(&format!("t{n}"), &caller("clin-1"), 0, until);
        }
        assert_eq!(verified.len(), MAX_TOKENS);
        verified.keep("fresh", &caller("clin-2"), 500, 1_000);
        assert_eq!(verified.len(), MAX_TOKENS / 2 + 1);
        assert!(
            verified.caller("t1", 500).is_some(),
            "an unexpired one stays"
        );
        assert!(verified.caller("fresh", 500).is_some());
        // Full of unexpired tokens: it starts over.
        for n in 0..MAX_TOKENS {
            verified.keep(&format!("u{n}"), &caller("clin-1"), 0, 1_000);
        }
        assert!(verified.len() <= MAX_TOKENS);
    }
}
