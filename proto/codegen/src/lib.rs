//! Code derived from the wire contract at build time, so that `proto/` is
//! the one source of the command edge.
//!
//! - [`Contract::graphql_command_edge`]: for the gateway, a GraphQL enum
//!   per proto enum (with its conversions to the wire and, where the domain
//!   has a twin of the same name, to the domain), a GraphQL input type per
//!   command message, and a mutation per command rpc that sends it on.
//! - [`Contract::domain_enum_mappings`]: for the plans service, the
//!   wire → domain conversion of every proto enum with a domain twin.
//!
//! What the generator cannot know from the wire types is said in the
//! `.proto` itself (`[(trellis.api.v1.required) = true]`, comments, which
//! become GraphQL descriptions) or in the two small tables below.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

use prost_reflect::{
    DescriptorPool, EnumDescriptor, ExtensionDescriptor, FieldDescriptor, Kind, MessageDescriptor,
    MethodDescriptor, Value,
};

/// The package whose commands the gateway offers.
const PACKAGE: &str = "trellis.plans.v1";
/// The answer of a command rpc; rpcs answering anything else are not
/// plan commands (settings, templates) and stay hand-written.
const COMMAND_RESPONSE: &str = "trellis.plans.v1.CommandResponse";
/// The field option that marks a field as required.
const REQUIRED: &str = "trellis.api.v1.required";

/// Ids of the clinic's own records (people, clinics): opaque strings to
/// Trellis, so GraphQL shows them as `String`, not as `ID` like the ids
/// Trellis gives out (plans, goals, templates, …).
const RECORD_REFERENCES: &[&str] = &["client_id", "primary_clinician_id", "clinic_id"];

/// Proto enums whose domain counterpart is not a plain enum of the same
/// name and variants: `Modality` carries the name of an "other" modality,
/// `EntryKind` becomes a correction target with its id. Their mapping
/// carries a decision and is written by hand.
const NO_DOMAIN_TWIN: &[&str] = &["Modality", "EntryKind"];

/// Where the generated code names the wire types.
const WIRE: &str = "trellis_proto::plans::v1";
/// Where the generated code names the domain types.
const DOMAIN: &str = "trellis_plans_domain";

/// What the generator could not turn into code.
#[derive(Debug)]
pub enum CodegenError {
    Compile(Box<protox::Error>),
    MissingOption(&'static str),
    UnsupportedField { message: String, field: String },
}

impl std::fmt::Display for CodegenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Compile(e) => write!(f, "the contract does not compile: {e}"),
            Self::MissingOption(name) => write!(f, "the field option {name} is not declared"),
            Self::UnsupportedField { message, field } => write!(
                f,
                "{message}.{field}: no GraphQL mapping for this field type (extend trellis-codegen)"
            ),
        }
    }
}

impl std::error::Error for CodegenError {}

/// The compiled contract, comments included.
#[derive(Debug)]
pub struct Contract {
    pool: DescriptorPool,
    required: ExtensionDescriptor,
}

impl Contract {
    /// Compiles `trellis/plans/v1/plans.proto` under `proto_root`.
    pub fn load(proto_root: &Path) -> Result<Self, CodegenError> {
        let mut compiler =
            protox::Compiler::new([proto_root]).map_err(|e| CodegenError::Compile(Box::new(e)))?;
        compiler.include_source_info(true);
        compiler
            .open_file("trellis/plans/v1/plans.proto")
            .map_err(|e| CodegenError::Compile(Box::new(e)))?;
        Self::from_pool(compiler.descriptor_pool())
    }

    fn from_pool(pool: DescriptorPool) -> Result<Self, CodegenError> {
        let required = pool
            .get_extension_by_name(REQUIRED)
            .ok_or(CodegenError::MissingOption(REQUIRED))?;
        Ok(Self { pool, required })
    }

    /// The plan commands: rpcs of the package answering `CommandResponse`.
    fn command_rpcs(&self) -> Vec<MethodDescriptor> {
        self.pool
            .services()
            .filter(|s| s.package_name() == PACKAGE)
            .flat_map(|s| s.methods().collect::<Vec<_>>())
            .filter(|m| m.output().full_name() == COMMAND_RESPONSE)
            .collect()
    }

    fn enums(&self) -> Vec<EnumDescriptor> {
        self.pool
            .all_enums()
            .filter(|e| e.package_name() == PACKAGE)
            .collect()
    }

    /// Every message a command takes, directly or nested, in a stable order.
    fn input_messages(&self) -> Vec<MessageDescriptor> {
        let mut seen = BTreeSet::new();
        let mut order = Vec::new();
        let mut todo: Vec<MessageDescriptor> =
            self.command_rpcs().iter().map(|m| m.input()).collect();
        while let Some(message) = todo.pop() {
            if !seen.insert(message.full_name().to_owned()) {
                continue;
            }
            for field in message.fields() {
                if let Kind::Message(nested) = field.kind() {
                    todo.push(nested);
                }
            }
            order.push(message);
        }
        order.sort_by(|a, b| a.name().cmp(b.name()));
        order
    }

    fn is_required(&self, field: &FieldDescriptor) -> bool {
        matches!(
            field.options().get_extension(&self.required).as_ref(),
            Value::Bool(true)
        )
    }

    /// The gateway's GraphQL enums, command inputs and command mutations.
    pub fn graphql_command_edge(&self) -> Result<String, CodegenError> {
        let mut out = String::from(GENERATED_HEADER);
        for e in self.enums() {
            graphql_enum(&mut out, &e);
        }
        for message in self.input_messages() {
            self.graphql_input(&mut out, &message)?;
        }
        self.graphql_mutations(&mut out);
        Ok(out)
    }

    /// The plans service's `PlanService` impl: each command rpc runs the
    /// mapping of the same name through `PlanGrpc::run`; every other rpc
    /// calls its handler of the same name with the command handler. The
    /// names are found in the service's `rpc` module (hand-written,
    /// section by section).
    pub fn grpc_service_impl(&self) -> String {
        let mut out = String::from(GENERATED_HEADER);
        let _ = writeln!(
            out,
            "#[tonic::async_trait]\nimpl {WIRE}::plan_service_server::PlanService for PlanGrpc {{"
        );
        for service in self.pool.services().filter(|s| s.package_name() == PACKAGE) {
            for rpc in service.methods() {
                let method = snake(rpc.name());
                let input = format!("{WIRE}::{}", rpc.input().name());
                if rpc.output().full_name() == COMMAND_RESPONSE {
                    let _ = writeln!(
                        out,
                        "    async fn {method}(&self, request: tonic::Request<{input}>) -> Reply {{\n        \
                         self.run(request, rpc::{method}).await\n    }}\n"
                    );
                } else {
                    let output = format!("{WIRE}::{}", rpc.output().name());
                    let _ = writeln!(
                        out,
                        "    async fn {method}(\n        &self,\n        request: tonic::Request<{input}>,\n    \
                         ) -> Result<tonic::Response<{output}>, tonic::Status> {{\n        \
                         rpc::{method}(&self.commands, request).await\n    }}\n"
                    );
                }
            }
        }
        out.push_str("}\n");
        out
    }

    /// The plans service's wire → domain conversion of every enum with a
    /// domain twin.
    pub fn domain_enum_mappings(&self) -> String {
        let mut out = String::from(GENERATED_HEADER);
        for e in self.enums() {
            if NO_DOMAIN_TWIN.contains(&e.name()) {
                continue;
            }
            let name = e.name();
            let _ = writeln!(
                out,
                "/// `{full}` as the domain's `{name}`; `None` for UNSPECIFIED or a\n\
                 /// number the contract does not define.\n\
                 pub(crate) fn {fun}(raw: i32) -> Option<{DOMAIN}::{name}> {{\n    \
                 Some(match {WIRE}::{name}::try_from(raw).ok()? {{\n        \
                 {WIRE}::{name}::Unspecified => return None,",
                full = e.full_name(),
                fun = snake(name),
            );
            for value in variants(&e) {
                let _ = writeln!(
                    out,
                    "        {WIRE}::{name}::{value} => {DOMAIN}::{name}::{value},"
                );
            }
            out.push_str("    })\n}\n\n");
        }
        out
    }

    fn graphql_input(
        &self,
        out: &mut String,
        message: &MessageDescriptor,
    ) -> Result<(), CodegenError> {
        let input = input_name(message);
        let wire = format!("{WIRE}::{}", message.name());
        doc(out, "", comments_of(message.parent_file(), message.path()));
        let _ = writeln!(
            out,
            "#[derive(Debug, async_graphql::InputObject)]\npub struct {input} {{"
        );
        let mut conversions = String::new();
        for field in message.fields() {
            let mapped = self.graphql_field(message, &field)?;
            doc(out, "    ", comments_of(field.parent_file(), field.path()));
            if let Some(attribute) = mapped.attribute {
                let _ = writeln!(out, "    #[graphql({attribute})]");
            }
            let name = rust_field(field.name());
            let _ = writeln!(out, "    pub {name}: {},", mapped.rust_type);
            let _ = writeln!(
                conversions,
                "            {name}: {},",
                mapped.to_wire.replace("$", &format!("input.{name}"))
            );
        }
        let _ = writeln!(
            out,
            "}}\n\nimpl From<{input}> for {wire} {{\n    \
             fn from(input: {input}) -> Self {{\n        Self {{\n{conversions}        }}\n    }}\n}}\n"
        );
        Ok(())
    }

    /// A field's GraphQL type and its conversion to the wire (`$` stands
    /// for the input's value).
    fn graphql_field(
        &self,
        message: &MessageDescriptor,
        field: &FieldDescriptor,
    ) -> Result<MappedField, CodegenError> {
        let required = self.is_required(field);
        let unsupported = || CodegenError::UnsupportedField {
            message: message.name().to_owned(),
            field: field.name().to_owned(),
        };
        let id = is_trellis_id(field.name());
        let element = match field.kind() {
            Kind::String if id => Element::new("async_graphql::ID", "|v| v.0", "$.0"),
            Kind::String => Element::new("String", "", "$"),
            Kind::Bool => Element::new("bool", "", "$"),
            Kind::Double => Element::new("f64", "", "$"),
            Kind::Uint32 => Element::new("u32", "", "$"),
            Kind::Int32 => Element::new("i32", "", "$"),
            Kind::Enum(e) => {
                let wire = format!("{WIRE}::{}", e.name());
                Element {
                    rust_type: e.name().to_owned(),
                    each: format!("|v| {wire}::from(v) as i32"),
                    one: format!("{wire}::from($) as i32"),
                }
            }
            Kind::Message(m) => Element::new(&input_name(&m), "Into::into", "Some($.into())"),
            _ => return Err(unsupported()),
        };
        if field.is_list() {
            let each = if element.each.is_empty() {
                "$".to_owned()
            } else {
                format!("$.into_iter().map({}).collect()", element.each)
            };
            return Ok(MappedField {
                rust_type: format!("Vec<{}>", element.rust_type),
                attribute: (!required).then(|| "default".to_owned()),
                to_wire: each,
            });
        }
        if let Kind::Message(m) = field.kind() {
            // A command that embeds another command's request offers its
            // fields flat, as one input (CreatePlanFromTemplate).
            if m.name().ends_with("Request") {
                return Ok(MappedField {
                    rust_type: element.rust_type,
                    attribute: Some("flatten".to_owned()),
                    to_wire: element.one,
                });
            }
            if !required {
                return Ok(MappedField {
                    rust_type: format!("Option<{}>", element.rust_type),
                    attribute: None,
                    to_wire: "$.map(Into::into)".to_owned(),
                });
            }
        }
        // A proto3 `optional` scalar keeps its absence on the wire too.
        let explicit_presence = field.supports_presence() && field.kind().as_message().is_none();
        if explicit_presence {
            let to_wire = if element.each.is_empty() {
                "$".to_owned()
            } else {
                format!("$.map({})", element.each)
            };
            return Ok(MappedField {
                rust_type: format!("Option<{}>", element.rust_type),
                attribute: None,
                to_wire,
            });
        }
        if required {
            return Ok(MappedField {
                rust_type: element.rust_type,
                attribute: None,
                to_wire: element.one,
            });
        }
        let to_wire = if element.each.is_empty() {
            "$.unwrap_or_default()".to_owned()
        } else {
            format!("$.map({}).unwrap_or_default()", element.each)
        };
        Ok(MappedField {
            rust_type: format!("Option<{}>", element.rust_type),
            attribute: None,
            to_wire,
        })
    }

    fn graphql_mutations(&self, out: &mut String) {
        out.push_str(
            "/// A mutation per plan command rpc, sent on to the plans service.\n\
             #[derive(Debug, Default)]\npub struct CommandMutation;\n\n\
             #[async_graphql::Object]\nimpl CommandMutation {\n",
        );
        for rpc in self.command_rpcs() {
            doc(out, "    ", comments_of(rpc.parent_file(), rpc.path()));
            let method = snake(rpc.name());
            let _ = writeln!(
                out,
                "    async fn {method}(\n        &self,\n        ctx: &async_graphql::Context<'_>,\n        \
                 input: {input},\n    ) -> async_graphql::Result<crate::plans_client::CommandResult> {{\n        \
                 let message = {WIRE}::{wire}::from(input);\n        \
                 crate::plans_client::send(ctx, \"{rpc}\", message, |mut c, r| async move {{\n            \
                 c.{method}(r).await\n        }})\n        .await\n    }}\n",
                input = input_name(&rpc.input()),
                wire = rpc.input().name(),
                rpc = rpc.name(),
            );
        }
        out.push_str("}\n");
    }
}

const GENERATED_HEADER: &str =
    "// @generated by trellis-codegen from proto/; edit the .proto, not this.\n\n";

struct Element {
    rust_type: String,
    /// Converts one element inside an iterator `map` ("" for none).
    each: String,
    /// Converts a single required value (`$` is the value).
    one: String,
}

impl Element {
    fn new(rust_type: &str, each: &str, one: &str) -> Self {
        Self {
            rust_type: rust_type.to_owned(),
            each: each.to_owned(),
            one: one.to_owned(),
        }
    }
}

struct MappedField {
    rust_type: String,
    attribute: Option<String>,
    to_wire: String,
}

fn graphql_enum(out: &mut String, e: &EnumDescriptor) {
    let name = e.name();
    doc(out, "", comments_of(e.parent_file(), e.path()));
    let remote = if NO_DOMAIN_TWIN.contains(&name) {
        String::new()
    } else {
        format!(", remote = \"{DOMAIN}::{name}\"")
    };
    let _ = writeln!(
        out,
        "#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]\n\
         #[graphql(name = \"{name}\"{remote})]\npub enum {name} {{"
    );
    let prefix = format!("{}_", snake(name).to_ascii_uppercase());
    for value in e.values().filter(|v| v.number() != 0) {
        doc(out, "    ", comments_of(value.parent_file(), value.path()));
        // GraphQL shows the proto's value name without the enum's prefix.
        let shown = value.name().strip_prefix(&prefix).unwrap_or(value.name());
        let _ = writeln!(
            out,
            "    #[graphql(name = \"{shown}\")]\n    {},",
            variant_name(name, value.name())
        );
    }
    out.push_str("}\n\n");
    let wire = format!("{WIRE}::{name}");
    let _ = writeln!(
        out,
        "impl From<{name}> for {wire} {{\n    fn from(value: {name}) -> Self {{\n        match value {{"
    );
    for value in variants(e) {
        let _ = writeln!(out, "            {name}::{value} => Self::{value},");
    }
    let _ = writeln!(
        out,
        "        }}\n    }}\n}}\n\nimpl {name} {{\n    \
         /// The wire value as GraphQL shows it; `None` for UNSPECIFIED or a\n    \
         /// number the contract does not define.\n    \
         pub fn from_wire(raw: i32) -> Option<Self> {{\n        \
         Some(match {wire}::try_from(raw).ok()? {{\n            \
         {wire}::Unspecified => return None,"
    );
    for value in variants(e) {
        let _ = writeln!(out, "            {wire}::{value} => Self::{value},");
    }
    out.push_str("        })\n    }\n}\n\n");
}

/// The Rust names of an enum's values other than UNSPECIFIED.
fn variants(e: &EnumDescriptor) -> Vec<String> {
    e.values()
        .filter(|v| v.number() != 0)
        .map(|v| variant_name(e.name(), v.name()))
        .collect()
}

/// `GOAL_TERM_SHORT_TERM` of `GoalTerm` → `ShortTerm`, as prost names it.
fn variant_name(enum_name: &str, value: &str) -> String {
    let prefix = format!("{}_", snake(enum_name).to_ascii_uppercase());
    upper_camel(value.strip_prefix(&prefix).unwrap_or(value))
}

fn input_name(message: &MessageDescriptor) -> String {
    let base = message.name();
    format!("{}Input", base.strip_suffix("Request").unwrap_or(base))
}

fn is_trellis_id(field: &str) -> bool {
    (field.ends_with("_id") || field.ends_with("_ids")) && !RECORD_REFERENCES.contains(&field)
}

/// Proto field names that are Rust keywords get prost's raw form.
fn rust_field(name: &str) -> String {
    match name {
        "type" | "ref" | "match" | "move" | "fn" | "mod" | "use" => format!("r#{name}"),
        _ => name.to_owned(),
    }
}

fn snake(camel: &str) -> String {
    let mut out = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn upper_camel(screaming: &str) -> String {
    screaming
        .split('_')
        .filter(|p| !p.is_empty())
        .map(|part| {
            let lower = part.to_ascii_lowercase();
            let mut chars = lower.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// The leading comment of the element at `path` in `file`.
fn comments_of(file: prost_reflect::FileDescriptor, path: &[i32]) -> Option<String> {
    let info = file.file_descriptor_proto().source_code_info.as_ref()?;
    let location = info.location.iter().find(|l| l.path == path)?;
    let text = location.leading_comments.as_deref()?.trim_end();
    (!text.trim().is_empty()).then(|| text.to_owned())
}

fn doc(out: &mut String, indent: &str, comment: Option<String>) {
    let Some(comment) = comment else { return };
    for line in comment.lines() {
        let line = line.strip_prefix(' ').unwrap_or(line).trim_end();
        if line.is_empty() {
            let _ = writeln!(out, "{indent}///");
        } else {
            let _ = writeln!(out, "{indent}/// {line}");
        }
    }
}

#[cfg(test)]
mod tests;
