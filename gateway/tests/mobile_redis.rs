//! The Redis-backed persisted queries and budget, shared by gateway
//! instances. Needs Redis on 127.0.0.1:6379 (`./scripts/services-up`).

use trellis_gateway::mobile::{QueryCache, RateLimiter, RedisMobile};

#[tokio::test]
async fn instances_share_persisted_queries_and_the_budget() {
    let url =
        std::env::var("TRELLIS_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let one = RedisMobile::connect(&url, 3)
        .await
        .expect("Redis reachable");
    let two = RedisMobile::connect(&url, 3)
        .await
        .expect("Redis reachable");
    let tenant = format!("mobile-{}", uuid::Uuid::new_v4().simple());

    one.put(&tenant, "abc", "{ plans { edges { cursor } } }")
        .await;
    assert_eq!(
        two.get(&tenant, "abc").await.as_deref(),
        Some("{ plans { edges { cursor } } }")
    );
    assert_eq!(two.get("someone-else", "abc").await, None);

    assert!(one.allow(&tenant, "clin-1").await);
    assert!(two.allow(&tenant, "clin-1").await);
    assert!(one.allow(&tenant, "clin-1").await);
    assert!(
        !two.allow(&tenant, "clin-1").await,
        "the fourth request, on any instance, is over budget"
    );
}
