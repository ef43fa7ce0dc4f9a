//! Change notifications: the projector announces which plans changed
//! (ids and versions only, never content); gateways turn them into GraphQL
//! subscription events.
//!
//! In one process a broadcast channel carries them ([`LocalChanges`]);
//! across processes Redis pub/sub does ([`RedisChanges`]), relayed into a
//! local channel in each gateway.

use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

/// Redis channel the projector publishes on.
pub const CHANGES_CHANNEL: &str = "trellis:plan-changed";
/// Notifications a slow subscriber may fall behind by before it skips.
const BACKLOG: usize = 1024;

/// A plan's read model reached a new version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanChanged {
    pub tenant: String,
    pub plan_id: String,
    pub version: u64,
    /// Safety flags this change raised (their ids).
    #[serde(default)]
    pub raised_flags: Vec<String>,
}

/// Where the projector announces changes. Best effort: a lost
/// announcement delays a live update, never a read model.
#[async_trait]
pub trait ChangePublisher: Send + Sync + 'static {
    async fn publish(&self, changes: &[PlanChanged]);
}

/// Changes within one process.
#[derive(Debug, Clone)]
pub struct LocalChanges {
    sender: broadcast::Sender<PlanChanged>,
}

impl Default for LocalChanges {
    fn default() -> Self {
        Self {
            sender: broadcast::Sender::new(BACKLOG),
        }
    }
}

impl LocalChanges {
    pub fn subscribe(&self) -> broadcast::Receiver<PlanChanged> {
        self.sender.subscribe()
    }

    fn send(&self, change: PlanChanged) {
        // No subscriber is not an error.
        let _ = self.sender.send(change);
    }
}

#[async_trait]
impl ChangePublisher for LocalChanges {
    async fn publish(&self, changes: &[PlanChanged]) {
        for change in changes {
            self.send(change.clone());
        }
    }
}

/// Changes across processes through Redis pub/sub.
#[derive(Clone)]
pub struct RedisChanges {
    client: redis::Client,
    connection: redis::aio::ConnectionManager,
}

impl std::fmt::Debug for RedisChanges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisChanges").finish_non_exhaustive()
    }
}

impl RedisChanges {
    pub async fn connect(url: &str) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let connection = redis::aio::ConnectionManager::new(client.clone()).await?;
        Ok(Self { client, connection })
    }

    /// Relays every change published on Redis into `local`, reconnecting
    /// when Redis goes away. Runs until the process ends.
    pub fn relay_into(&self, local: LocalChanges) -> tokio::task::JoinHandle<()> {
        let client = self.client.clone();
        tokio::spawn(async move {
            loop {
                match client.get_async_pubsub().await {
                    Ok(mut pubsub) => {
                        if let Err(e) = pubsub.subscribe(CHANGES_CHANNEL).await {
                            tracing::warn!(error = %e, "cannot subscribe to plan changes");
                        } else {
                            let mut messages = pubsub.on_message();
                            while let Some(message) = messages.next().await {
                                let payload: Vec<u8> = message.get_payload_bytes().to_vec();
                                match serde_json::from_slice::<PlanChanged>(&payload) {
                                    Ok(change) => local.send(change),
                                    Err(_) => tracing::warn!("unreadable plan change notification"),
                                }
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "plan change feed unavailable"),
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
    }
}

#[async_trait]
impl ChangePublisher for RedisChanges {
    async fn publish(&self, changes: &[PlanChanged]) {
        let mut connection = self.connection.clone();
        for change in changes {
            let message = serde_json::to_string(change).expect("changes serialize");
            let published: Result<i64, _> = redis::cmd("PUBLISH")
                .arg(CHANGES_CHANNEL)
                .arg(message)
                .query_async(&mut connection)
                .await;
            if let Err(e) = published {
                tracing::warn!(error = %e, "plan change not announced");
            }
        }
    }
}
