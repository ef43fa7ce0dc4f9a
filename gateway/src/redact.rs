//! Errors state rules, never values: the few messages of async-graphql
//! that quote what the client sent are rewritten before they leave. A
//! value typed into the wrong field may be PHI, and answers are logged by
//! proxies and clients alike.

use async_graphql::{Response, ServerError};

/// Every error of `response` with the values taken out of its message.
/// Applied by [`crate::rules::RequestRules`] to every answer, of a
/// request or of a subscription.
pub(crate) fn without_values(mut response: Response) -> Response {
    for error in &mut response.errors {
        redact(error);
    }
    response
}

fn redact(error: &mut ServerError) {
    if let Some(message) = rule_of(&error.message) {
        error.message = message;
    }
}

/// The message with the quoted value replaced by what was wrong with it;
/// `None` when the message quotes nothing the client sent.
pub fn rule_of(message: &str) -> Option<String> {
    // `enumeration type "Term" does not contain the value "<value>"`
    const NOT_IN_ENUM: &str = "does not contain the value";
    // `Expected input type "Int", found <value>.`
    const WRONG_TYPE: &str = ", found ";
    // `Unknown operation named "<operationName>"`: free text from the
    // request's JSON, not a name the document holds.
    const UNKNOWN_OPERATION: &str = "Unknown operation named ";
    // `unknown field "<key>" of type "AddGoalInput"`: a key of the
    // variables' JSON may be any text.
    const UNKNOWN_FIELD: &str = "unknown field \"";
    const OF_TYPE: &str = "\" of type ";
    if message.starts_with(UNKNOWN_OPERATION) {
        return Some("no operation in the document has the operationName sent".to_owned());
    }
    if let Some(start) = message.find(UNKNOWN_FIELD)
        && let Some(end) = message.rfind(OF_TYPE)
        && end >= start + UNKNOWN_FIELD.len()
    {
        return Some(format!(
            "{}an unknown field of type {}",
            &message[..start],
            &message[end + OF_TYPE.len()..]
        ));
    }
    if let Some(at) = message.find(NOT_IN_ENUM) {
        return Some(format!("{}does not contain the value sent", &message[..at]));
    }
    if let Some(at) = message.find(WRONG_TYPE)
        && message[..at].contains("Expected input type")
    {
        return Some(format!(
            "{}, found a value of another type.",
            &message[..at]
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_in_messages_are_replaced_by_the_rule() {
        assert_eq!(
            rule_of(
                r#"Invalid value for argument "input.term", enumeration type "GoalTerm" does not contain the value "F41.1 panic""#
            )
            .as_deref(),
            Some(r#"Invalid value for argument "input.term", enumeration type "GoalTerm" does not contain the value sent"#)
        );
        assert_eq!(
            rule_of(r#"Failed to parse "Int": Expected input type "Int", found "Mr Smith"."#)
                .as_deref(),
            Some(
                r#"Failed to parse "Int": Expected input type "Int", found a value of another type."#
            )
        );
    }

    #[test]
    fn operation_names_and_variable_keys_are_not_quoted() {
        assert_eq!(
            rule_of(r#"Unknown operation named "Jane Roe, DOB 1980-01-01""#).as_deref(),
            Some("no operation in the document has the operationName sent")
        );
        let refused = rule_of(
            r#"Invalid value for argument "input", unknown field "Jane Roe" of type "AddGoalInput""#,
        )
        .unwrap();
        assert_eq!(
            refused,
            r#"Invalid value for argument "input", an unknown field of type "AddGoalInput""#
        );
        assert!(!refused.contains("Jane"));
    }

    #[test]
    fn messages_without_values_stay() {
        for message in [
            r#"Unknown field "titel" on type "Plan". Did you mean "title"?"#,
            r#"Invalid value for argument "id", expected type "ID""#,
            "the query is not valid GraphQL",
        ] {
            assert_eq!(rule_of(message), None, "{message}");
        }
    }
}
