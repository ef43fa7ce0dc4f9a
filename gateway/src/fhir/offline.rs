//! The bulk export without HTTP: every plan a caller may read, as FHIR
//! NDJSON per resource type, run in-process on a schema with no request
//! budget. `trellis admin offboard-tenant` writes it beside the tenant's
//! events before its keys are destroyed. Every plan read is in the access
//! log, as the API's reads are.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::json;
use trellis_auth::Caller;

use super::bulk::{EXPORTABLE, add_resources};
use super::export_jobs::File;
use super::plan_doc::{PLAN_FIELDS, PlanDoc, Plans};
use crate::context::Via;
use crate::inprocess::{AsCaller, Operations};
use crate::mobile::MemoryMobile;
use crate::{IntrospectionPolicy, RequestMeta, TrellisSchema};

/// Plans read per page.
const PAGE: usize = 50;

/// One resource type's file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportFile {
    /// `CarePlan`, `Goal`, …: the file is `<resource_type>.ndjson`.
    pub resource_type: &'static str,
    /// One resource per line.
    pub ndjson: Vec<u8>,
    pub count: usize,
}

#[derive(Deserialize)]
struct PageOfPlans {
    #[serde(flatten)]
    plans: Plans<PlanDoc>,
}

/// Every plan `caller` may read, as the `$export` files (types in
/// [`EXPORTABLE`] order, only those with a resource). A refusal or failure
/// of the schema answers its message (a rule, never a value).
pub async fn export_plans(
    schema: TrellisSchema,
    caller: Caller,
) -> Result<Vec<ExportFile>, String> {
    let operations = Operations {
        schema,
        // A limit of 0 is none: one export, run by an administrator on
        // the host, is not a client to budget.
        limiter: Arc::new(MemoryMobile::new(0)),
        introspection: IntrospectionPolicy::Nobody,
    };
    let who = AsCaller {
        caller,
        meta: RequestMeta {
            address: String::new(),
            request_id: "offboard-export".into(),
        },
        token: String::new(),
    };
    let query = format!(
        "query FhirExport($first: Int!, $after: String) {{
           plans(first: $first, after: $after) {{ pageInfo {{ hasNextPage endCursor }} nodes {{ {PLAN_FIELDS} }} }} }}"
    );
    let mut files: BTreeMap<&'static str, File> = BTreeMap::new();
    let mut after: Option<String> = None;
    loop {
        let page: PageOfPlans = operations
            .run(
                &who,
                Via::Fhir,
                "bulk export",
                &query,
                json!({ "first": PAGE, "after": after }),
            )
            .await
            .map_err(|failure| failure.message)?;
        let page = page.plans.plans;
        for plan in &page.nodes {
            add_resources(&mut files, plan, &EXPORTABLE);
        }
        match (page.page_info.has_next_page, page.page_info.end_cursor) {
            (true, Some(cursor)) => after = Some(cursor),
            _ => break,
        }
    }
    Ok(EXPORTABLE
        .iter()
        .filter_map(|kind| {
            let file = files.remove(kind)?;
            Some(ExportFile {
                resource_type: kind,
                ndjson: file.ndjson,
                count: file.count,
            })
        })
        .collect())
}
