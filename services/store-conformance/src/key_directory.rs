//! What every key directory must do, as one check a backend's test calls
//! with its own directory. Each run uses tenants of its own.

use chrono::{DurationRound as _, TimeDelta, Utc};
use trellis_kernel::{DataKeyRecord, KeyDirectory, WrappedKey};
use uuid::Uuid;

use crate::fresh_tenant;

fn record(tenant: &trellis_kernel::TenantId, tag: u8) -> DataKeyRecord {
    DataKeyRecord {
        tenant: tenant.clone(),
        key_id: Uuid::new_v4(),
        subject_tag: [tag; 32],
        wrapped: WrappedKey {
            kek_version: 1,
            bytes: vec![tag, 1, 2, 3],
        },
        // Stores keep microseconds.
        created_at: Utc::now()
            .duration_trunc(TimeDelta::microseconds(1))
            .expect("in range"),
        erased_at: None,
    }
}

pub async fn checks(directory: &dyn KeyDirectory) {
    let (tenant, other) = (fresh_tenant(), fresh_tenant());
    let first = record(&tenant, 1);

    // Issued once per subject: a second issue answers the first key.
    assert_eq!(directory.issue(first.clone()).await.unwrap(), first);
    let racing = record(&tenant, 1);
    assert_eq!(directory.issue(racing).await.unwrap(), first);
    let second = record(&tenant, 2);
    directory.issue(second.clone()).await.unwrap();
    // The same tag in another tenant is another subject.
    let elsewhere = record(&other, 1);
    assert_eq!(directory.issue(elsewhere.clone()).await.unwrap(), elsewhere);

    assert_eq!(
        directory.subject_key(&tenant, &[1; 32]).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        directory.subject_key(&tenant, &[3; 32]).await.unwrap(),
        None
    );
    assert_eq!(
        directory.key(&tenant, second.key_id).await.unwrap(),
        Some(second.clone())
    );
    // A tenant never reaches another's key by its id.
    assert_eq!(directory.key(&other, second.key_id).await.unwrap(), None);
    let ids: Vec<Uuid> = directory
        .keys(&tenant)
        .await
        .unwrap()
        .iter()
        .map(|k| k.key_id)
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&first.key_id) && ids.contains(&second.key_id));
    let tenants = directory.tenants().await.unwrap();
    assert!(tenants.contains(&tenant) && tenants.contains(&other));

    // Rewrapping is compare-and-set on the version it replaces.
    let rewrapped = WrappedKey {
        kek_version: 2,
        bytes: vec![9, 9],
    };
    assert!(
        directory
            .rewrap(&tenant, first.key_id, 1, rewrapped.clone())
            .await
            .unwrap()
    );
    assert!(
        !directory
            .rewrap(&tenant, first.key_id, 1, rewrapped.clone())
            .await
            .unwrap()
    );
    let now = directory.key(&tenant, first.key_id).await.unwrap().unwrap();
    assert_eq!(now.wrapped, rewrapped);
    assert_eq!(now.subject_tag, first.subject_tag);

    // Streams are found by the key that seals them, within the tenant.
    for stream in ["plan-b", "plan-a", "plan-a"] {
        let name = format!("{tenant}:{stream}");
        directory
            .bind_stream(&tenant, first.key_id, &name)
            .await
            .unwrap();
    }
    assert_eq!(
        directory.streams(&tenant, first.key_id).await.unwrap(),
        [format!("{tenant}:plan-a"), format!("{tenant}:plan-b")]
    );
    assert!(
        directory
            .streams(&other, first.key_id)
            .await
            .unwrap()
            .is_empty()
    );

    // Erasure destroys the wrapped bytes and unlinks the client; the row
    // stays as a tombstone; a second erasure finds nothing to destroy.
    let at = Utc::now()
        .duration_trunc(TimeDelta::microseconds(1))
        .expect("in range");
    assert!(
        directory
            .erase(&tenant, first.key_id, [7; 32], at)
            .await
            .unwrap()
    );
    assert!(
        !directory
            .erase(&tenant, first.key_id, [8; 32], at)
            .await
            .unwrap()
    );
    let erased = directory.key(&tenant, first.key_id).await.unwrap().unwrap();
    assert!(erased.wrapped.bytes.is_empty());
    assert_eq!(erased.erased_at, Some(at));
    assert_eq!(
        directory.subject_key(&tenant, &[1; 32]).await.unwrap(),
        None
    );
    // A returning client gets a key of its own again.
    let again = record(&tenant, 1);
    assert_eq!(directory.issue(again.clone()).await.unwrap(), again);
    // A destroyed key is not wrapped again by a rotation.
    let wrapping = WrappedKey {
        kek_version: 3,
        bytes: vec![1],
    };
    assert!(
        !directory
            .rewrap(&tenant, first.key_id, 2, wrapping)
            .await
            .unwrap()
    );
}
