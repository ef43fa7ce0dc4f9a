//! End-to-end tests: start the real `trellis` binary, talk to it over real
//! gRPC and GraphQL HTTP, stop it, kill it, start it again.
//!
//! Every test works on a tenant of its own and a data directory of its own.

mod harness;

mod at_rest;
mod audit;
mod care;
mod connections;
mod console;
mod crash;
mod defaults;
mod erasure;
mod faults;
mod fhir;
mod hostile;
mod jwks;
mod mobile;
mod payer_document;
mod plans;
mod readiness;
mod restart;
mod roles;
mod sealed;
mod split;
mod staff;
mod telemetry;
mod telemetry_http;
mod validation;
