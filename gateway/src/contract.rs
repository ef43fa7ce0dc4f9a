//! The GraphQL side of the wire contract, generated at build time from
//! `proto/` by trellis-codegen: a GraphQL enum per proto enum (converting
//! to the wire and, where the domain has a twin, to the domain), an input
//! type per command message, and `CommandMutation`, a mutation per plan
//! command rpc. Descriptions are the `.proto` comments.

include!(concat!(env!("OUT_DIR"), "/command_edge.rs"));
