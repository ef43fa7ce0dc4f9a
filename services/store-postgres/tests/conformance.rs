//! The shared event-store conformance suite against a real PostgreSQL.
//! Every check uses its own tenant, so the tests share one database.

mod support;

use support::fresh_store;

trellis_store_conformance::conformance_tests!(fresh_store);
