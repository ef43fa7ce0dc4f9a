//! How the console names staff: from the tenant's staff directory
//! (`staffDirectory`), by sign-in id where it names nobody. Clients may
//! not read the directory; for them everyone is shown by id.

use serde::Deserialize;

use super::graphql::Visit;
use super::state::Console;

/// The tenant's staff directory, as pages and documents name people.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Staff {
    #[serde(rename = "staffDirectory")]
    members: Vec<StaffEntry>,
}

#[derive(Debug, Deserialize)]
struct StaffEntry {
    subject: String,
    name: String,
    credentials: String,
}

impl Staff {
    /// "Name (subject)" and the credentials, or the subject alone.
    pub(crate) fn named(&self, subject: &str) -> (String, &str) {
        match self.members.iter().find(|m| m.subject == subject) {
            Some(m) => (format!("{} ({subject})", m.name), m.credentials.as_str()),
            None => (subject.to_owned(), ""),
        }
    }

    /// As [`Self::named`], on one line.
    pub(crate) fn line(&self, subject: &str) -> String {
        match self.named(subject) {
            (name, "") => name,
            (name, credentials) => format!("{name}, {credentials}"),
        }
    }
}

/// The directory as `visit`'s user may read it (empty for clients).
pub(crate) async fn directory(console: &Console, visit: &Visit, label: &'static str) -> Staff {
    if visit.session.caller.has_role(trellis_auth::Role::Client) {
        return Staff::default();
    }
    console
        .run::<Staff>(
            visit,
            label,
            "query ConsoleStaff { staffDirectory { subject name credentials } }",
            serde_json::json!({}),
        )
        .await
        .unwrap_or_default()
}
