//! Seeded property-based fuzzing with a fixed budget: random and mutated
//! requests to every rpc, and mangled documents to the GraphQL parser.
//! A failing seed is printed; `TRELLIS_FUZZ_SEED` replays it and
//! `TRELLIS_FUZZ_CASES` changes the budget.

use std::collections::BTreeMap;

use bytes::Bytes;
use prost_reflect::{FieldDescriptor, Kind, Value};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

use super::wire;
use super::{LoggedServer, MARKER, staff_token};
use crate::harness;

fn seed() -> u64 {
    std::env::var("TRELLIS_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x007E_1115)
}

fn budget(default: usize) -> usize {
    std::env::var("TRELLIS_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Strings an attacker tries: empty, huge, control bytes, other scripts,
/// paths, injections, dates that do not exist, the marker.
fn hostile_string(rng: &mut StdRng) -> String {
    let choices: [&dyn Fn(&mut StdRng) -> String; 10] = [
        &|_| String::new(),
        &|_| format!("{MARKER}-value"),
        &|r| "x".repeat(r.random_range(1..20_000)),
        &|_| "\u{0}\u{1}\u{7f}\r\n\t".to_owned(),
        &|_| "ü∂ƒ😀\u{202e}مرحبا".to_owned(),
        &|_| "../../etc/passwd".to_owned(),
        &|_| "'; DROP TABLE events; --".to_owned(),
        &|_| "2026-02-30".to_owned(),
        &|r| r.random::<u64>().to_string(),
        &|_| harness::command_id(),
    ];
    choices[rng.random_range(0..choices.len())](rng)
}

fn random_value(field: &FieldDescriptor, rng: &mut StdRng) -> Option<Value> {
    if rng.random_bool(0.2) {
        return None;
    }
    Some(match field.kind() {
        Kind::String => Value::String(hostile_string(rng)),
        // Unknown enum numbers included.
        Kind::Enum(_) => Value::EnumNumber(rng.random_range(-2..40)),
        Kind::Bool => Value::Bool(rng.random()),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(rng.random()),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(rng.random()),
        Kind::Uint32 | Kind::Fixed32 => Value::U32(rng.random()),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(rng.random()),
        Kind::Float => Value::F32(f32::from_bits(rng.random())),
        Kind::Double => Value::F64(f64::from_bits(rng.random())),
        Kind::Bytes => Value::Bytes(Bytes::from(hostile_string(rng).into_bytes())),
        Kind::Message(_) => return None,
    })
}

/// A request body: random bytes, a well-typed message of random values,
/// or such a message with bytes flipped, cut or repeated.
fn random_body(method: &prost_reflect::MethodDescriptor, rng: &mut StdRng) -> Bytes {
    let typed = |rng: &mut StdRng| {
        let mut fields_rng = StdRng::seed_from_u64(rng.random());
        wire::encode(&wire::filled(&method.input(), 2, &mut |f| {
            random_value(f, &mut fields_rng)
        }))
    };
    match rng.random_range(0..4) {
        0 => {
            let len = rng.random_range(0..256);
            Bytes::from((0..len).map(|_| rng.random::<u8>()).collect::<Vec<_>>())
        }
        1 => typed(rng),
        _ => {
            let mut bytes = typed(rng).to_vec();
            for _ in 0..rng.random_range(1..4) {
                if bytes.is_empty() {
                    break;
                }
                let at = rng.random_range(0..bytes.len());
                match rng.random_range(0..3) {
                    0 => bytes[at] ^= 1 << rng.random_range(0..8),
                    1 => bytes.truncate(at),
                    _ => {
                        let tail = bytes[at..].to_vec();
                        bytes.extend(tail);
                    }
                }
            }
            Bytes::from(bytes)
        }
    }
}

#[tokio::test]
async fn every_rpc_answers_hostile_bytes_with_a_rule() {
    let seed = seed();
    let server = LoggedServer::start(&[]).await;
    let tenant = harness::fresh_tenant();
    let token = staff_token(&tenant);
    // One real plan, so some mutated requests reach the domain.
    let mut client = server.server.plans(&token).await;
    harness::create_plan(&mut client).await;
    let channel = server.channel().await;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let methods = wire::methods();
    let per_method = budget(40);
    for method in &methods {
        let path = wire::path(method);
        for case in 0..per_method {
            let body = random_body(method, &mut rng);
            let status = wire::call(&channel, &path, &token, body).await;
            *seen.entry(format!("{:?}", status.code())).or_default() += 1;
            assert!(
                !matches!(
                    status.code(),
                    tonic::Code::Internal
                        | tonic::Code::Unknown
                        | tonic::Code::DataLoss
                        | tonic::Code::Unimplemented
                ),
                "{path} case {case} (seed {seed}): {status:?}"
            );
            assert!(
                !wire::shown(&status).contains(MARKER),
                "{path} case {case} (seed {seed}) echoed a value: {status:?}"
            );
        }
    }
    // The figures the closing note of issue 11 quotes.
    println!(
        "fuzzed {} requests over {} rpcs (seed {seed}): {seen:?}",
        methods.len() * per_method,
        methods.len()
    );
    assert!(seen.contains_key("InvalidArgument"), "{seen:?}");
    server.assert_log_free_of(MARKER).await;
}

/// Pieces of GraphQL a mangled document is made from.
const TOKENS: [&str; 16] = [
    "{", "}", "(", ")", "[", "]", ":", "$", "@", "!", "...", "\"", "\\u", "#", "fragment", "on",
];

fn mangled(rng: &mut StdRng, corpus: &[String]) -> String {
    let mut text: Vec<char> = corpus[rng.random_range(0..corpus.len())].chars().collect();
    for _ in 0..rng.random_range(1..6) {
        let at = rng.random_range(0..=text.len());
        match rng.random_range(0..5) {
            0 if at < text.len() => {
                let end = rng.random_range(at..=text.len());
                text.drain(at..end);
            }
            1 => insert(&mut text, at, TOKENS[rng.random_range(0..TOKENS.len())]),
            2 => insert(&mut text, at, &format!(" \"{MARKER}-literal\" ")),
            3 => {
                let depth = rng.random_range(1..200);
                insert(&mut text, at, &("{a".repeat(depth) + &"}".repeat(depth)));
            }
            // Names are the document's own words (GraphQL echoes aliases in
            // every answer); values are what must never come back.
            _ => insert(&mut text, at, " unknownName "),
        }
    }
    text.into_iter().collect()
}

fn insert(text: &mut Vec<char>, at: usize, piece: &str) {
    text.splice(at..at, piece.chars());
}

#[tokio::test]
async fn the_graphql_parser_answers_mangled_documents_with_a_rule() {
    let seed = seed();
    // Every document must reach the parser, not the rate limit.
    let server = LoggedServer::start(&[
        ("TRELLIS_RATE_LIMIT_PER_MINUTE", "0"),
        ("TRELLIS_RATE_LIMIT_PER_SUBJECT", "0"),
    ])
    .await;
    let tenant = harness::fresh_tenant();
    let token = staff_token(&tenant);
    let corpus: Vec<String> = [
        harness::PLAN_QUERY,
        "{ plans(first: 3) { nodes { id title } } }",
        "mutation($i: AddGoalInput!) { addGoal(input: $i) { planId revision } }",
        "query Q { ...F } fragment F on QueryRoot { plans { edges { node { id } } } }",
        "subscription { planChanged(planId: \"x\") { planId } }",
    ]
    .map(str::to_owned)
    .to_vec();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    let cases = budget(40) * 25;
    for case in 0..cases {
        let query = mangled(&mut rng, &corpus);
        let (status, body) = server
            .server
            .graphql_raw(Some(&token), &query, json!({ "id": MARKER }))
            .await;
        *statuses.entry(status).or_default() += 1;
        assert_ne!(status, 429, "the fuzz must not be rate limited");
        assert!(status < 500, "case {case} (seed {seed}): {status} {body}");
        assert!(
            !body.to_string().contains(MARKER),
            "case {case} (seed {seed}) quoted the request: {body}"
        );
    }
    println!("fuzzed {cases} GraphQL documents (seed {seed}): {statuses:?}");
    server.assert_log_free_of(MARKER).await;
}
