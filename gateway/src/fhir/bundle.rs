//! Bundles: a plan with everything it holds (`collection`), and search
//! results a page at a time (`searchset`, with a `next` link).

use serde_json::{Value, json};

/// Where resources live, as clients reach this server.
#[derive(Debug, Clone)]
pub(crate) struct Base(pub(crate) String);

impl Base {
    pub(crate) fn url(&self, resource: &Value) -> String {
        format!(
            "{}/{}/{}",
            self.0,
            resource["resourceType"].as_str().unwrap_or_default(),
            resource["id"].as_str().unwrap_or_default()
        )
    }
}

fn entries(base: &Base, resources: Vec<Value>, search: Option<&str>) -> Vec<Value> {
    resources
        .into_iter()
        .map(|resource| {
            let mut entry = json!({ "fullUrl": base.url(&resource) });
            if let Some(mode) = search {
                entry["search"] = json!({ "mode": mode });
            }
            entry["resource"] = resource;
            entry
        })
        .collect()
}

/// Resources that belong together (a plan and what it holds).
pub(crate) fn collection(base: &Base, resources: Vec<Value>, timestamp: &str) -> Value {
    json!({
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": timestamp,
        "entry": entries(base, resources, None),
    })
}

/// One page of search results; `next` is the query of the next page.
pub(crate) fn searchset(
    base: &Base,
    resource_type: &str,
    this: &str,
    next: Option<String>,
    matches: Vec<Value>,
    included: Vec<Value>,
) -> Value {
    let mut links = vec![json!({
        "relation": "self",
        "url": format!("{}/{resource_type}?{this}", base.0),
    })];
    if let Some(next) = next {
        links.push(json!({
            "relation": "next",
            "url": format!("{}/{resource_type}?{next}", base.0),
        }));
    }
    let mut all = entries(base, matches, Some("match"));
    all.extend(entries(base, included, Some("include")));
    json!({
        "resourceType": "Bundle",
        "type": "searchset",
        "link": links,
        "entry": all,
    })
}
