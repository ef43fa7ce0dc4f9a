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
}
