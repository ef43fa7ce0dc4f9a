//! The event-store conformance suite.
//!
//! Every backend runs the same checks through [`conformance_tests!`]:
//!
//! ```text
//! async fn fresh_store() -> std::sync::Arc<dyn trellis_kernel::EventStore> { … }
//! trellis_store_conformance::conformance_tests!(fresh_store);
//! ```
//!
//! Each check works on its own tenant and only looks at that tenant's
//! events, so backends that share one database between tests (PostgreSQL,
//! KurrentDB) run it as well as a fresh file per test.
//!
//! A backend that also keeps snapshots runs their checks through
//! [`snapshot_conformance_tests!`], with a factory that hands out both
//! views of one store:
//!
//! ```text
//! async fn fresh_stores() -> (Arc<dyn EventStore>, Arc<dyn SnapshotStore>) { … }
//! trellis_store_conformance::snapshot_conformance_tests!(fresh_stores);
//! ```
//!
//! and [`checks::a_saved_snapshot_survives_reopen`] with a function that
//! opens the same store again.

pub mod checks;
mod fixtures;
pub mod key_directory;

pub use fixtures::{fresh_tenant, plan_stream, sample_event, sample_snapshot};

/// Generates one `#[tokio::test]` per conformance check. `$make` is an
/// async fn returning `Arc<dyn EventStore>`.
#[macro_export]
macro_rules! conformance_tests {
    ($make:path) => {
        // A no-op attribute, so every arm shares one expansion.
        $crate::conformance_tests!(@core $make; allow(unused_attributes));
        $crate::conformance_tests!(@store_wide_ids $make; allow(unused_attributes));
    };
    // Every check ignored unless asked for (`-- --include-ignored`): for a
    // backend whose server is not always there.
    ($make:path, ignore = $why:literal) => {
        $crate::conformance_tests!(@core $make; ignore = $why);
        $crate::conformance_tests!(@store_wide_ids $make; ignore = $why);
    };
    // A backend whose event ids are unique per stream only (KurrentDB):
    // the checks that need store-wide ids are left out.
    ($make:path, ignore = $why:literal, event_ids = per_stream) => {
        $crate::conformance_tests!(@core $make; ignore = $why);
    };
    (@core $make:path; $attr:meta) => {
        $crate::conformance_tests!(@each $make; $attr;
            appends_and_reads_a_stream_forward_and_backward,
            reading_a_missing_stream_is_empty,
            an_empty_append_is_refused,
            expected_revision_is_enforced,
            a_refused_batch_writes_nothing,
            a_retried_append_is_acknowledged_once,
            the_envelope_round_trips,
            read_all_follows_global_order,
            the_same_id_in_two_tenants_is_two_streams,
            concurrent_writers_to_one_stream_conflict,
            concurrent_writers_to_many_streams_all_land,
            a_subscription_catches_up_then_goes_live,
            a_subscription_resumes_after_a_checkpoint,
            streams_are_hash_chained,
            stream_heads_name_every_stream_of_a_tenant,
            a_write_probe_appends_nothing
        );
    };
    (@store_wide_ids $make:path; $attr:meta) => {
        $crate::conformance_tests!(@each $make; $attr;
            a_failed_append_writes_nothing,
            an_event_id_reused_elsewhere_is_refused
        );
    };
    (@each $make:path; $attr:meta; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[$attr]
            async fn $check() {
                let store = $make().await;
                $crate::checks::$check(store).await;
            }
        )*
    };
}

/// Generates one `#[tokio::test]` per snapshot check. `$make` is an async
/// fn returning `(Arc<dyn EventStore>, Arc<dyn SnapshotStore>)`, both
/// views of one store.
#[macro_export]
macro_rules! snapshot_conformance_tests {
    ($make:path) => {
        $crate::snapshot_conformance_tests!(@each $make;
            a_stream_has_no_snapshot_at_first,
            a_saved_snapshot_loads_back,
            an_older_snapshot_does_not_replace_a_newer,
            the_same_revision_does_not_replace,
            snapshots_are_kept_per_stream_and_per_tenant,
            concurrent_saves_keep_the_latest,
            snapshots_stay_out_of_the_record
        );
    };
    (@each $make:path; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let (events, snapshots) = $make().await;
                $crate::checks::$check(events, snapshots).await;
            }
        )*
    };
}
