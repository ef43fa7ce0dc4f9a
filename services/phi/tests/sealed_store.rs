//! The sealed stores over a real (SQLite) store: what reaches the disk is
//! sealed, what readers get is the plaintext, the chain covers the sealed
//! bytes, and a key or keyring that does not match refuses.

use std::sync::Arc;

use futures::StreamExt as _;
use trellis_kernel::{
    Actor, ChainInput, ClientErasure, ERASED_PAYLOAD, EventHash, EventMetadata, EventStore,
    ExpectedRevision, KeyDirectory, MemoryKeyDirectory, NewEvent, ReadDirection, Snapshot,
    SnapshotStore, StreamName, SubscriptionMessage, TenantId, chain_hash,
};
use trellis_phi::{
    KeyProvider, LocalKeyring, SealedEvents, SealedSnapshots, SubjectOfCare, Vault, WHOLE_DOCUMENT,
    key_id_of,
};
use trellis_store_sqlite::SqliteEventStore;
use uuid::Uuid;

/// Plans are about one client, named in their `Opened` event.
struct Plans;

impl SubjectOfCare for Plans {
    fn is_about_a_client(&self, stream: &StreamName) -> bool {
        stream.category() == "plan"
    }

    fn stays_in_clear(&self, event_type: &str) -> bool {
        event_type == "Erased"
    }

    fn client_named(&self, event_type: &str, _: u32, payload: &[u8]) -> Option<String> {
        (event_type == "Opened").then(|| {
            let value: serde_json::Value = serde_json::from_slice(payload).ok()?;
            Some(value.get("client")?.as_str()?.to_owned())
        })?
    }
}

fn event(event_type: &str, payload: serde_json::Value) -> NewEvent {
    NewEvent {
        event_id: Uuid::new_v4(),
        event_type: event_type.into(),
        schema_version: 1,
        payload: serde_json::to_vec(&payload).unwrap(),
        metadata: EventMetadata {
            actor: Actor {
                subject: "dr-rivera".into(),
                role: "clinician".into(),
            },
            correlation_id: Uuid::new_v4(),
            causation_id: Uuid::new_v4(),
            request_id: "r".into(),
            trace_id: String::new(),
            span_id: String::new(),
            reason: None,
        },
    }
}

struct Setup {
    _dir: tempfile::TempDir,
    raw: Arc<SqliteEventStore>,
    sealed: SealedEvents,
    snapshots: SealedSnapshots,
    keyring_path: std::path::PathBuf,
    directory: MemoryKeyDirectory,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let raw = Arc::new(SqliteEventStore::open(dir.path().join("events.db")).unwrap());
    let keyring_path = dir.path().join("keyring.json");
    let keyring = Arc::new(LocalKeyring::create(&keyring_path).unwrap());
    let directory = MemoryKeyDirectory::new();
    let vault = Arc::new(Vault::new(
        keyring,
        Arc::new(directory.clone()),
        Arc::new(Plans),
    ));
    let inner: Arc<dyn EventStore> = raw.clone();
    Setup {
        sealed: SealedEvents::new(Arc::clone(&inner), Arc::clone(&vault)),
        snapshots: SealedSnapshots::new(raw.clone(), inner, vault),
        raw,
        keyring_path,
        directory,
        _dir: dir,
    }
}

impl Setup {
    /// Opens a plan stream for `client`, through the sealing.
    async fn open_plan(&self, stream: &StreamName, client: &str) {
        self.sealed
            .append(
                stream,
                ExpectedRevision::NoStream,
                vec![event("Opened", serde_json::json!({ "client": client }))],
            )
            .await
            .unwrap();
    }
}

fn plan(tenant: &str, id: &str) -> StreamName {
    StreamName::new(TenantId::parse(tenant).unwrap(), "plan", id).unwrap()
}

#[tokio::test]
async fn plan_payloads_are_sealed_at_rest_and_open_for_readers() {
    let s = setup();
    let stream = plan("sealed-a", "p1");
    s.sealed
        .append(
            &stream,
            ExpectedRevision::NoStream,
            vec![
                event("Opened", serde_json::json!({"client": "client-doug"})),
                event("Noted", serde_json::json!({"text": "retired machinist"})),
            ],
        )
        .await
        .unwrap();
    s.sealed
        .append(
            &stream,
            ExpectedRevision::Exact(1),
            vec![event("Noted", serde_json::json!({"text": "woodworking"}))],
        )
        .await
        .unwrap();

    // Beneath: every payload sealed under one key, no word in clear.
    let stored = s
        .raw
        .read_stream(&stream, ReadDirection::Forward, None, 10)
        .await
        .unwrap();
    let key_ids: Vec<_> = stored.iter().map(|e| key_id_of(&e.payload)).collect();
    assert_eq!(key_ids.len(), 3);
    assert!(key_ids.iter().all(|id| id.is_some() && *id == key_ids[0]));
    for e in &stored {
        let text = String::from_utf8_lossy(&e.payload);
        assert!(
            !text.contains("machinist") && !text.contains("client-doug"),
            "{text}"
        );
    }
    // The chain is over the sealed bytes: it checks with no key at all.
    let mut previous = EventHash::GENESIS;
    for e in &stored {
        assert_eq!(chain_hash(&previous, &ChainInput::recorded(e)), e.hash);
        previous = e.hash;
    }

    // Above: the plaintext, by stream, in global order and on the feed.
    let read = s
        .sealed
        .read_stream(&stream, ReadDirection::Forward, None, 10)
        .await
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&read[1].payload).unwrap()["text"],
        "retired machinist"
    );
    let all = s.sealed.read_all(None, 10).await.unwrap();
    assert!(String::from_utf8_lossy(&all[2].payload).contains("woodworking"));
    let mut feed = s.sealed.subscribe_all(None).await.unwrap();
    match feed.next().await.unwrap().unwrap() {
        SubscriptionMessage::Event(e) => {
            assert!(String::from_utf8_lossy(&e.payload).contains("client-doug"));
        }
        other => panic!("expected an event, got {other:?}"),
    }
    // The directory names the client only by its keyed tag.
    let tenant = TenantId::parse("sealed-a").unwrap();
    let keys = s.directory.keys(&tenant).await.unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(Some(keys[0].key_id), key_ids[0]);
}

#[tokio::test]
async fn one_key_per_client_across_plans_and_none_for_other_streams() {
    let s = setup();
    let tenant = TenantId::parse("sealed-b").unwrap();
    for (id, client) in [("p1", "client-1"), ("p2", "client-1"), ("p3", "client-2")] {
        s.open_plan(&plan("sealed-b", id), client).await;
    }
    let key = |id: &str| {
        let raw = Arc::clone(&s.raw);
        let stream = plan("sealed-b", id);
        async move {
            key_id_of(
                &raw.read_stream(&stream, ReadDirection::Forward, None, 1)
                    .await
                    .unwrap()[0]
                    .payload,
            )
        }
    };
    assert_eq!(key("p1").await, key("p2").await);
    assert_ne!(key("p1").await, key("p3").await);
    assert_eq!(s.directory.keys(&tenant).await.unwrap().len(), 2);

    // A settings stream is about no client: stored as it came.
    let settings = StreamName::new(tenant, "staff", "tenant").unwrap();
    s.sealed
        .append(
            &settings,
            ExpectedRevision::NoStream,
            vec![event(
                "StaffMemberSet",
                serde_json::json!({"name": "Ana Rivera"}),
            )],
        )
        .await
        .unwrap();
    let stored = s
        .raw
        .read_stream(&settings, ReadDirection::Forward, None, 1)
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&stored[0].payload).contains("Ana Rivera"));
}

#[tokio::test]
async fn a_plan_without_its_opening_event_is_refused_and_nothing_is_written() {
    let s = setup();
    let stream = plan("sealed-c", "p1");
    let err = s
        .sealed
        .append(
            &stream,
            ExpectedRevision::NoStream,
            vec![event("Noted", serde_json::json!({"text": "x"}))],
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("names no client"), "{err}");
    assert!(
        s.raw
            .read_stream(&stream, ReadDirection::Forward, None, 1)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn snapshots_are_sealed_with_their_stream_and_bound_to_it() {
    let s = setup();
    let stream = plan("sealed-d", "p1");
    s.open_plan(&stream, "client-1").await;
    let snapshot = Snapshot {
        revision: 0,
        schema_version: 7,
        payload: b"state: beers on weekends".to_vec(),
    };
    s.snapshots
        .save_snapshot(&stream, snapshot.clone())
        .await
        .unwrap();

    let raw = SnapshotStore::load_snapshot(s.raw.as_ref(), &stream)
        .await
        .unwrap()
        .unwrap();
    assert!(!String::from_utf8_lossy(&raw.payload).contains("beers"));
    assert_eq!(
        s.snapshots.load_snapshot(&stream).await.unwrap(),
        Some(snapshot)
    );

    // Sealed bytes put under another plan do not open there: no snapshot.
    let other = plan("sealed-d", "p2");
    s.open_plan(&other, "client-1").await;
    SnapshotStore::save_snapshot(s.raw.as_ref(), &other, raw)
        .await
        .unwrap();
    assert_eq!(s.snapshots.load_snapshot(&other).await.unwrap(), None);
}

#[tokio::test]
async fn another_keyring_opens_nothing_and_the_vault_says_so_at_start() {
    let s = setup();
    let stream = plan("sealed-e", "p1");
    s.open_plan(&stream, "client-1").await;

    let own = Vault::new(
        Arc::new(LocalKeyring::open(&s.keyring_path).unwrap()),
        Arc::new(s.directory.clone()),
        Arc::new(Plans),
    );
    assert!(own.check_opens_directory().await.unwrap() >= 1);

    let dir = tempfile::tempdir().unwrap();
    let foreign: Arc<dyn KeyProvider> =
        Arc::new(LocalKeyring::create(dir.path().join("keyring.json")).unwrap());
    let vault = Arc::new(Vault::new(
        foreign,
        Arc::new(s.directory.clone()),
        Arc::new(Plans),
    ));
    let err = vault.check_opens_directory().await.unwrap_err();
    assert!(err.to_string().contains("sealed-e"), "{err}");
    let inner: Arc<dyn EventStore> = s.raw.clone();
    let wrong = SealedEvents::new(inner, vault);
    let err = wrong
        .read_stream(&stream, ReadDirection::Forward, None, 1)
        .await
        .unwrap_err();
    // Refused, never served as content; the message names no payload.
    assert!(!err.to_string().contains("client-1"), "{err}");
}

#[tokio::test]
async fn the_memory_directory_keeps_the_directory_contract() {
    trellis_store_conformance::key_directory::checks(&MemoryKeyDirectory::new()).await;
}

#[tokio::test]
async fn rotating_a_tenant_key_rewraps_data_keys_and_changes_no_event() {
    let s = setup();
    let tenant = TenantId::parse("sealed-f").unwrap();
    for (id, client) in [("p1", "client-1"), ("p2", "client-2")] {
        s.sealed
            .append(
                &plan("sealed-f", id),
                ExpectedRevision::NoStream,
                vec![event(
                    "Opened",
                    serde_json::json!({"client": client, "note": "machinist"}),
                )],
            )
            .await
            .unwrap();
    }
    let before = s.raw.read_all(None, 10).await.unwrap();
    let keyring = LocalKeyring::open(&s.keyring_path).unwrap();

    let rotation =
        trellis_phi::rotate_tenant_key(&keyring, &s.directory, &tenant, std::time::Duration::ZERO)
            .await
            .unwrap();
    assert_eq!(
        rotation,
        trellis_phi::Rotation {
            version: 2,
            rewrapped: 2,
            destroyed_below: 1,
        }
    );
    let versions = || {
        let file: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&s.keyring_path).unwrap()).unwrap();
        file["tenants"]["sealed-f"]["keys"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect::<Vec<_>>()
    };
    // Every data key is wrapped by version 2; version 1 is kept until the
    // next rotation, which destroys it.
    let keys = s.directory.keys(&tenant).await.unwrap();
    assert!(keys.iter().all(|k| k.wrapped.kek_version == 2));
    assert_eq!(versions(), ["1", "2"]);
    let again =
        trellis_phi::rotate_tenant_key(&keyring, &s.directory, &tenant, std::time::Duration::ZERO)
            .await
            .unwrap();
    assert_eq!((again.version, again.destroyed_below), (3, 2));
    assert_eq!(versions(), ["2", "3"]);
    // The events are byte for byte what they were, and a process started
    // afresh with the rotated keyring opens them.
    assert_eq!(s.raw.read_all(None, 10).await.unwrap(), before);
    let fresh = SealedEvents::new(
        s.raw.clone(),
        Arc::new(Vault::new(
            Arc::new(LocalKeyring::open(&s.keyring_path).unwrap()),
            Arc::new(s.directory.clone()),
            Arc::new(Plans),
        )),
    );
    let opened = fresh.read_all(None, 10).await.unwrap();
    assert!(
        opened
            .iter()
            .all(|e| String::from_utf8_lossy(&e.payload).contains("machinist"))
    );
}

#[tokio::test]
async fn a_reason_given_in_free_text_is_sealed_with_its_event() {
    let s = setup();
    let stream = plan("sealed-g", "p1");
    let mut correction = event("Corrected", serde_json::json!({"target": "goal-1"}));
    correction.metadata.reason = Some("entered for Doug by mistake".into());
    s.sealed
        .append(
            &stream,
            ExpectedRevision::NoStream,
            vec![
                event("Opened", serde_json::json!({"client": "client-1"})),
                correction,
            ],
        )
        .await
        .unwrap();
    let stored = s
        .raw
        .read_stream(&stream, ReadDirection::Forward, None, 10)
        .await
        .unwrap();
    let reason = stored[1].metadata.reason.as_deref().unwrap();
    assert!(
        reason.starts_with("sealed:") && !reason.contains("Doug"),
        "{reason}"
    );
    assert_eq!(stored[0].metadata.reason, None);
    let read = s
        .sealed
        .read_stream(&stream, ReadDirection::Forward, None, 10)
        .await
        .unwrap();
    assert_eq!(
        read[1].metadata.reason.as_deref(),
        Some("entered for Doug by mistake")
    );
}

#[tokio::test]
async fn an_erased_client_reads_as_erased_and_others_are_intact() {
    let dir = tempfile::tempdir().unwrap();
    let raw = Arc::new(SqliteEventStore::open(dir.path().join("events.db")).unwrap());
    let directory = MemoryKeyDirectory::new();
    let vault = Arc::new(Vault::new(
        Arc::new(LocalKeyring::create(dir.path().join("keyring.json")).unwrap()),
        Arc::new(directory.clone()),
        Arc::new(Plans),
    ));
    let inner: Arc<dyn EventStore> = raw.clone();
    let sealed = SealedEvents::new(Arc::clone(&inner), Arc::clone(&vault));
    let snapshots = SealedSnapshots::new(raw.clone(), Arc::clone(&inner), Arc::clone(&vault));
    let tenant = TenantId::parse("sealed-h").unwrap();
    let (doug, doug_two, emma) = (
        plan("sealed-h", "p1"),
        plan("sealed-h", "p2"),
        plan("sealed-h", "p3"),
    );
    for (stream, client) in [
        (&doug, "client-doug"),
        (&doug_two, "client-doug"),
        (&emma, "client-emma"),
    ] {
        let mut note = event("Noted", serde_json::json!({"text": "machinist"}));
        note.metadata.reason = Some("why, in words".into());
        sealed
            .append(
                stream,
                ExpectedRevision::NoStream,
                vec![
                    event("Opened", serde_json::json!({ "client": client })),
                    note,
                ],
            )
            .await
            .unwrap();
    }
    snapshots
        .save_snapshot(
            &doug,
            Snapshot {
                revision: 1,
                schema_version: 1,
                payload: b"state".to_vec(),
            },
        )
        .await
        .unwrap();
    let document = vault
        .seal_document(inner.as_ref(), &doug, WHOLE_DOCUMENT, "{\"title\":\"x\"}")
        .await
        .unwrap();
    // Each part of a read model opens only as the part it was sealed as.
    let scores = vault
        .seal_document(inner.as_ref(), &doug, "scores", "[9]")
        .await
        .unwrap();
    assert_eq!(
        vault
            .open_document(&doug, "scores", scores.clone())
            .await
            .unwrap()
            .as_deref(),
        Some("[9]")
    );
    assert!(
        vault
            .open_document(&doug, WHOLE_DOCUMENT, scores)
            .await
            .is_err()
    );
    assert!(
        vault
            .open_document(&doug, "scores", document.clone())
            .await
            .is_err()
    );

    // Both of Doug's plans are found by his key; then the key goes.
    let streams = vault.client_streams(&tenant, "client-doug").await.unwrap();
    assert_eq!(streams, [doug.clone(), doug_two.clone()]);
    // Destroyed: the streams it sealed, as they stand afterwards.
    assert_eq!(
        vault
            .destroy_client_key(&tenant, "client-doug")
            .await
            .unwrap(),
        Some(vec![doug.clone(), doug_two.clone()])
    );
    assert_eq!(
        vault
            .destroy_client_key(&tenant, "client-doug")
            .await
            .unwrap(),
        None
    );
    // A tenant the keyring does not know has no client keys (and asking
    // makes it none).
    let unknown = TenantId::parse("sealed-unknown").unwrap();
    assert!(
        vault
            .client_streams(&unknown, "client-x")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(!vault.provider().knows(&unknown).await.unwrap());
    assert!(
        vault
            .client_streams(&tenant, "client-doug")
            .await
            .unwrap()
            .is_empty()
    );

    // The erasure itself is kept in clear, though the key is gone...
    sealed
        .append(
            &doug,
            ExpectedRevision::Exact(1),
            vec![event("Erased", serde_json::json!({"on": "today"}))],
        )
        .await
        .unwrap();
    // ...and nothing more is sealed under it.
    assert!(
        sealed
            .append(
                &doug,
                ExpectedRevision::Exact(2),
                vec![event("Noted", serde_json::json!({}))]
            )
            .await
            .is_err()
    );

    // Readers get the envelopes, the erasure, and no content.
    let read = sealed
        .read_stream(&doug, ReadDirection::Forward, None, 10)
        .await
        .unwrap();
    assert_eq!(read.len(), 3);
    assert!(
        read[..2]
            .iter()
            .all(|e| e.payload == ERASED_PAYLOAD && e.metadata.reason.is_none())
    );
    assert_eq!(read[2].event_type, "Erased");
    assert_eq!(snapshots.load_snapshot(&doug).await.unwrap(), None);
    assert_eq!(
        vault
            .open_document(&doug, WHOLE_DOCUMENT, document)
            .await
            .unwrap(),
        None
    );
    // A process started afresh (nothing cached) reads the same.
    let fresh = Arc::new(Vault::new(
        Arc::new(LocalKeyring::open(dir.path().join("keyring.json")).unwrap()),
        Arc::new(directory.clone()),
        Arc::new(Plans),
    ));
    let again = SealedEvents::new(Arc::clone(&inner), Arc::clone(&fresh));
    let read = again
        .read_stream(&doug_two, ReadDirection::Forward, None, 10)
        .await
        .unwrap();
    assert!(read.iter().all(|e| e.payload == ERASED_PAYLOAD));
    // Emma is untouched.
    let emma_read = again
        .read_stream(&emma, ReadDirection::Forward, None, 10)
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&emma_read[1].payload).contains("machinist"));
    assert_eq!(
        emma_read[1].metadata.reason.as_deref(),
        Some("why, in words")
    );
    // The chain still holds over every stored byte.
    let mut previous = EventHash::GENESIS;
    for e in raw
        .read_stream(&doug, ReadDirection::Forward, None, 10)
        .await
        .unwrap()
    {
        assert_eq!(chain_hash(&previous, &ChainInput::recorded(&e)), e.hash);
        previous = e.hash;
    }
    // The client, should they come back, gets a key of their own.
    let back = plan("sealed-h", "p4");
    sealed
        .append(
            &back,
            ExpectedRevision::NoStream,
            vec![event(
                "Opened",
                serde_json::json!({"client": "client-doug"}),
            )],
        )
        .await
        .unwrap();
    assert_eq!(
        vault.client_streams(&tenant, "client-doug").await.unwrap(),
        [back]
    );
}
