//! Knowing when Redis lost what the projector wrote. A Redis restarted
//! without persistence, failed over to a blank replica, or emptied by an
//! eviction still answers, and the projector would carry on writing new
//! events into it while every older plan reads as missing. So the
//! projector keeps a generation marker beside its checkpoint
//! (`trellis:generation:<ns>`, a random id adopted by every projector of
//! the namespace): when it is gone or changed, the content is not the one
//! written, and the projection starts over from the first event, with
//! `trellis:rebuilding:<ns>` set until it has caught up so gateways answer
//! "unavailable" for a plan they cannot find rather than "no such plan".
//! The same module keeps one projector per namespace (a lease).

use redis::AsyncCommands;

use super::RedisReadModels;
use crate::ReadModelError;

impl RedisReadModels {
    fn adopted(&self) -> Option<String> {
        self.generation
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn adopt(&self, generation: String) {
        *self.generation.lock().unwrap_or_else(|e| e.into_inner()) = Some(generation);
    }

    /// Takes the namespace's generation, making one for a namespace that
    /// has none (a first start, a Redis that came back empty before any
    /// projector noticed, or models written before markers) — and then
    /// marking a rebuild in the same step, since this projector is about
    /// to write every plan from the first event while gateways would
    /// otherwise read the plans not yet written as missing.
    pub(super) async fn adopt_generation(&self) -> Result<(), ReadModelError> {
        let fresh = uuid::Uuid::new_v4().simple().to_string();
        let (key, rebuilding, checkpoint) = (
            &self.generation_key,
            &self.rebuilding_key,
            &self.checkpoint_key,
        );
        let generation: String = self
            .retrying(|mut redis| {
                let fresh = fresh.clone();
                async move {
                    redis::Script::new(ADOPT_GENERATION)
                        .key(key)
                        .key(rebuilding)
                        .key(checkpoint)
                        .arg(&fresh)
                        .invoke_async(&mut redis)
                        .await
                }
            })
            .await?;
        self.adopt(generation);
        Ok(())
    }

    /// Whether the marker is still the one adopted.
    pub(super) async fn generation_intact(&self) -> Result<bool, ReadModelError> {
        let Some(adopted) = self.adopted() else {
            return Ok(true);
        };
        let key = &self.generation_key;
        let current: Option<String> = self
            .retrying(|mut redis| async move { redis.get(key).await })
            .await?;
        Ok(current.as_deref() == Some(adopted.as_str()))
    }

    /// Forgets the checkpoint, marks the rebuild, and takes a new
    /// generation, in one transaction.
    pub(super) async fn begin_rebuild(&self) -> Result<(), ReadModelError> {
        let fresh = uuid::Uuid::new_v4().simple().to_string();
        let (checkpoint, rebuilding, generation) = (
            &self.checkpoint_key,
            &self.rebuilding_key,
            &self.generation_key,
        );
        self.retrying(|mut redis| {
            let fresh = fresh.clone();
            async move {
                redis::pipe()
                    .atomic()
                    .del(checkpoint)
                    .ignore()
                    .set(rebuilding, 1)
                    .ignore()
                    .set(generation, &fresh)
                    .ignore()
                    .query_async::<()>(&mut redis)
                    .await
            }
        })
        .await?;
        self.adopt(fresh);
        Ok(())
    }

    pub(super) async fn end_rebuild(&self) -> Result<(), ReadModelError> {
        let key = &self.rebuilding_key;
        self.retrying(|mut redis| async move { redis.del::<_, ()>(key).await })
            .await
    }

    /// The value at `key`, read in one round trip with the rebuild state:
    /// `Unavailable` while a rebuild runs or the marker is gone, when what
    /// is there may be older than what a reader saw before.
    pub(super) async fn unless_rebuilding(
        &self,
        key: String,
    ) -> Result<Option<String>, ReadModelError> {
        let (rebuilding, generation) = (&self.rebuilding_key, &self.generation_key);
        let (value, rebuilding, marked): (Option<String>, bool, bool) = self
            .retrying(|mut redis| {
                let key = key.clone();
                async move {
                    redis::pipe()
                        .get(key)
                        .exists(rebuilding)
                        .exists(generation)
                        .query_async(&mut redis)
                        .await
                }
            })
            .await?;
        if rebuilding || !marked {
            return Err(ReadModelError::Unavailable(
                "the read models are being rebuilt".into(),
            ));
        }
        Ok(value)
    }

    /// Whether a plan missing here may yet exist: a rebuild runs, or the
    /// marker is gone (Redis lost its content and no projector has
    /// noticed yet, or none has started).
    pub(super) async fn is_rebuilding(&self) -> Result<bool, ReadModelError> {
        let (rebuilding, generation) = (&self.rebuilding_key, &self.generation_key);
        let (rebuilding, marked): (bool, bool) = self
            .retrying(|mut redis| async move {
                redis::pipe()
                    .exists(rebuilding)
                    .exists(generation)
                    .query_async(&mut redis)
                    .await
            })
            .await?;
        Ok(rebuilding || !marked)
    }
}

/// Sets the generation when there is none, marking a rebuild with it and
/// forgetting any checkpoint there (a projector that had not noticed the
/// loss may have saved one into the emptied Redis: resuming from it would
/// skip every plan written before), and answers the generation (KEYS 1:
/// generation, 2: rebuilding, 3: checkpoint; ARGV 1: a fresh generation).
const ADOPT_GENERATION: &str = r"
if redis.call('SET', KEYS[1], ARGV[1], 'NX') then
  redis.call('SET', KEYS[2], '1')
  redis.call('DEL', KEYS[3])
end
return redis.call('GET', KEYS[1])
";

/// Takes the lease when it is free or already ours (KEYS 1: the lease;
/// ARGV 1: holder, 2: milliseconds).
const HOLD_LEASE: &str = r"
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
";

impl RedisReadModels {
    /// One projector per namespace: the lease `trellis:projector:<ns>`,
    /// renewed well within its time to live.
    pub(super) async fn lease(
        &self,
        holder: &str,
        ttl: std::time::Duration,
    ) -> Result<bool, ReadModelError> {
        let key = &self.lease_key;
        let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        let held: i64 = self
            .retrying(|mut redis| async move {
                redis::Script::new(HOLD_LEASE)
                    .key(key)
                    .arg(holder)
                    .arg(millis)
                    .invoke_async(&mut redis)
                    .await
            })
            .await?;
        Ok(held == 1)
    }
}
