//! The embedded access log: durable records, queried per plan and per user.

use chrono::Utc;
use trellis_kernel::{AccessLog, AccessQuery, AccessRecord, TenantId};
use trellis_store_sqlite::SqliteEventStore;

fn record(tenant: &str, subject: &str, plan: &str) -> AccessRecord {
    AccessRecord {
        tenant: TenantId::parse(tenant).unwrap(),
        subject: subject.into(),
        role: "clinician".into(),
        plan_id: Some(plan.into()),
        operation: "graphql:plan".into(),
        fields: vec!["goals".into(), "reviews".into()],
        api: "graphql".into(),
        address: "127.0.0.1:5000".into(),
        request_id: "req-1".into(),
        at: Utc::now(),
    }
}

#[tokio::test]
async fn access_records_survive_reopening_and_answer_per_plan_and_per_user() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    {
        let store = SqliteEventStore::open(&path).unwrap();
        store
            .record(vec![
                record("t1", "clin-1", "p1"),
                record("t1", "clin-2", "p1"),
            ])
            .await
            .unwrap();
        store
            .record(vec![record("t1", "clin-1", "p2")])
            .await
            .unwrap();
        store
            .record(vec![record("t2", "clin-1", "p1")])
            .await
            .unwrap();
    }
    let store = SqliteEventStore::open(&path).unwrap();
    let t1 = TenantId::parse("t1").unwrap();
    let by_plan = store
        .query(&t1, &AccessQuery::Plan("p1".into()), None, 10)
        .await
        .unwrap();
    let subjects: Vec<&str> = by_plan.iter().map(|a| a.record.subject.as_str()).collect();
    assert_eq!(
        subjects,
        ["clin-1", "clin-2"],
        "only this tenant's reads of p1"
    );
    assert_eq!(
        by_plan[0].record,
        record("t1", "clin-1", "p1").with_at(by_plan[0].record.at)
    );

    let by_user = store
        .query(&t1, &AccessQuery::Subject("clin-1".into()), None, 10)
        .await
        .unwrap();
    let plans: Vec<_> = by_user
        .iter()
        .map(|a| a.record.plan_id.clone().unwrap())
        .collect();
    assert_eq!(plans, ["p1", "p2"]);

    let page = store
        .query(
            &t1,
            &AccessQuery::Subject("clin-1".into()),
            Some(by_user[0].id),
            10,
        )
        .await
        .unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].record.plan_id.as_deref(), Some("p2"));
}

trait WithAt {
    fn with_at(self, at: chrono::DateTime<Utc>) -> Self;
}

impl WithAt for AccessRecord {
    fn with_at(mut self, at: chrono::DateTime<Utc>) -> Self {
        self.at = at;
        self
    }
}
