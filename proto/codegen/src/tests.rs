//! What the generator writes, read back from the real contract.
use super::*;

fn contract() -> Contract {
    Contract::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("..")).unwrap()
}

#[test]
fn names_follow_prost_and_graphql() {
    assert_eq!(
        variant_name("GoalTerm", "GOAL_TERM_SHORT_TERM"),
        "ShortTerm"
    );
    assert_eq!(variant_name("Instrument", "INSTRUMENT_PHQ9"), "Phq9");
    assert_eq!(
        snake("RecordObjectiveProgress"),
        "record_objective_progress"
    );
    assert!(is_trellis_id("goal_ids") && is_trellis_id("template_id"));
    assert!(!is_trellis_id("client_id") && !is_trellis_id("description"));
}

#[test]
fn every_command_rpc_gets_an_input_and_a_mutation() {
    let contract = contract();
    let edge = contract.graphql_command_edge().unwrap();
    let rpcs = contract.command_rpcs();
    assert!(rpcs.len() > 25, "{}", rpcs.len());
    for rpc in rpcs {
        let method = format!("async fn {}(", snake(rpc.name()));
        assert!(edge.contains(&method), "no mutation for {}", rpc.name());
        let input = format!("pub struct {} {{", input_name(&rpc.input()));
        assert!(edge.contains(&input), "no input for {}", rpc.name());
    }
    // Settings and templates answer something else: not generated.
    assert!(!edge.contains("async fn set_review_rule("));
}

#[test]
fn required_fields_are_not_null_and_the_rest_may_be_left_out() {
    let edge = contract().graphql_command_edge().unwrap();
    let add_goal = section(&edge, "pub struct AddGoalInput {");
    assert!(add_goal.contains("pub command_id: async_graphql::ID,"));
    assert!(add_goal.contains("pub goal_id: Option<async_graphql::ID>,"));
    assert!(add_goal.contains("pub term: GoalTerm,"));
    let create = section(&edge, "pub struct CreatePlanInput {");
    assert!(create.contains("pub client_id: String,"));
    assert!(create.contains("pub title: Option<String>,"));
    let from_template = section(&edge, "pub struct CreatePlanFromTemplateInput {");
    assert!(from_template.contains("#[graphql(flatten)]\n    pub plan: CreatePlanInput,"));
}

#[test]
fn enums_convert_both_ways_and_leave_out_unspecified() {
    let contract = contract();
    let edge = contract.graphql_command_edge().unwrap();
    let term = section(&edge, "pub enum GoalTerm {");
    assert!(!term.contains("Unspecified"));
    assert!(edge.contains("remote = \"trellis_plans_domain::GoalTerm\""));
    assert!(!edge.contains("remote = \"trellis_plans_domain::Modality\""));
    let mappings = contract.domain_enum_mappings();
    assert!(mappings.contains("pub(crate) fn goal_term(raw: i32)"));
    assert!(!mappings.contains("fn modality("));
}

#[test]
fn every_rpc_is_served_by_the_handler_of_its_name() {
    let contract = contract();
    let service = contract.grpc_service_impl();
    assert!(service.contains("self.run(request, rpc::add_goal).await"));
    assert!(service.contains("rpc::list_templates(&self.commands, request).await"));
    let rpcs = contract
        .pool
        .services()
        .map(|s| s.methods().len())
        .sum::<usize>();
    assert_eq!(service.matches("    async fn ").count(), rpcs);
}

#[test]
fn proto_comments_become_descriptions() {
    let edge = contract().graphql_command_edge().unwrap();
    assert!(
        edge.contains("    /// 0-3 months.\n    #[graphql(name = \"SHORT_TERM\")]\n    ShortTerm,")
    );
    assert!(edge.contains("#[graphql(name = \"PHQ9\")]\n    Phq9,"));
}

/// The text from `start` to the end of its item.
fn section<'a>(code: &'a str, start: &str) -> &'a str {
    let at = code
        .find(start)
        .unwrap_or_else(|| panic!("{start} missing"));
    let end = code[at..].find("\n}\n").unwrap();
    &code[at..at + end]
}
