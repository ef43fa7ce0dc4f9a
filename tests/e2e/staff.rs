//! The staff directory: admins name the people who sign plans; everyone
//! but clients reads it; bad entries are refused with every field named
//! and write nothing.

use serde_json::json;
use tonic::Code;
use trellis_auth::Role;
use trellis_proto::plans::v1 as pb;

use crate::harness::{Server, command_id, fresh_tenant, token};

fn naming(subject: &str, name: &str, credentials: &str, id: &str) -> pb::SetStaffMemberRequest {
    pb::SetStaffMemberRequest {
        subject: subject.into(),
        name: name.into(),
        credentials: credentials.into(),
        command_id: id.into(),
    }
}

#[tokio::test]
async fn admins_name_staff_and_everyone_but_clients_reads_the_directory() {
    let server = Server::start().await;
    let tenant = fresh_tenant();
    let admin = token(&tenant, "clinic-it", &[Role::Admin]);
    let clinician = token(&tenant, "dr-rivera", &[Role::Clinician]);
    let client = token(&tenant, "client-1", &[Role::Client]);
    let mut as_admin = server.plans(&admin).await;

    // Refused with every bad field named, the value never echoed; nothing
    // written.
    let refused = as_admin
        .set_staff_member(naming(" ", "Ana\nRivera", "", ""))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    let details = tonic_types::StatusExt::get_error_details(&refused);
    let fields: Vec<&str> = details
        .bad_request()
        .unwrap()
        .field_violations
        .iter()
        .map(|v| v.field.as_str())
        .collect();
    assert_eq!(fields, ["subject", "name"]);
    assert!(!refused.message().contains("Rivera"));
    let empty = as_admin
        .get_staff_directory(pb::GetStaffDirectoryRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(empty.members.is_empty(), "nothing was written");

    // Only admins name people.
    let denied = server
        .plans(&clinician)
        .await
        .set_staff_member(naming("dr-rivera", "Ana Rivera", "PsyD", ""))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);

    // Set, resent with the same command id (answered the same, written
    // once), then replaced.
    let id = command_id();
    let first = as_admin
        .set_staff_member(naming("dr-rivera", "Ana Rivera", "PsyD", &id))
        .await
        .unwrap()
        .into_inner();
    let again = as_admin
        .set_staff_member(naming("dr-rivera", "Ana Rivera", "PsyD", &id))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first, again);
    as_admin
        .set_staff_member(naming("dr-rivera", "Dr. Ana Rivera", "PsyD, LP", ""))
        .await
        .unwrap();

    // GraphQL: the clinician reads the latest entry; a client may not.
    let data = server
        .graphql(
            &clinician,
            "{ staffDirectory { subject name credentials } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data["staffDirectory"],
        json!([{ "subject": "dr-rivera", "name": "Dr. Ana Rivera", "credentials": "PsyD, LP" }])
    );
    let (_, body) = server
        .graphql_raw(Some(&client), "{ staffDirectory { name } }", json!({}))
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );

    // The mutation, for a second person.
    let set = server
        .graphql(
            &admin,
            "mutation { setStaffMember(input: { subject: \"dr-okafor\", name: \"Chidi Okafor\" }) { subject credentials } }",
            json!({}),
        )
        .await;
    assert_eq!(
        set["setStaffMember"],
        json!([{ "subject": "dr-okafor", "credentials": "" }, { "subject": "dr-rivera", "credentials": "PsyD, LP" }])
    );
}
