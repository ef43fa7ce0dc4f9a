//! `trellis audit …`: the auditor's and operator's command line.
//!
//! Everything but `verify --data-dir` and `keygen` talks to a running
//! server's `AuditService` with an auditor token, so every read is in the
//! access log like any other.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use tonic::metadata::MetadataValue;
use tonic::transport::Endpoint;
use trellis_audit::DigestKey;
use trellis_audit::integrity::{self, public_key_from_hex};
use trellis_proto::audit::v1 as pb;
use trellis_proto::audit::v1::audit_service_client::AuditServiceClient;
use trellis_store_sqlite::SqliteEventStore;

/// Exports of large plans exceed gRPC's 4 MiB default.
const MAX_RESPONSE_BYTES: usize = 256 * 1024 * 1024;

#[derive(Debug, Args)]
pub struct Connection {
    /// Address of a running `trellis serve` gRPC endpoint.
    #[arg(long, env = "TRELLIS_GRPC_ADDR", default_value = "127.0.0.1:50051")]
    grpc_addr: String,
    /// An auditor's bearer token (`trellis token --role auditor …`).
    #[arg(long, env = "TRELLIS_TOKEN", hide_env_values = true)]
    token: String,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// A plan's events: who changed what, when, why.
    History {
        #[command(flatten)]
        conn: Connection,
        #[arg(long)]
        plan: String,
        /// Only events by this subject.
        #[arg(long)]
        actor: Option<String>,
        /// RFC 3339 lower bound on the recorded time.
        #[arg(long)]
        from: Option<String>,
        /// RFC 3339 upper bound on the recorded time.
        #[arg(long)]
        to: Option<String>,
        /// Only these event types; repeat for several.
        #[arg(long = "type")]
        event_types: Vec<String>,
        /// Print JSON lines with every field instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// The plan as it stood at a time or a version (JSON).
    AsOf {
        #[command(flatten)]
        conn: Connection,
        #[arg(long)]
        plan: String,
        /// RFC 3339 time.
        #[arg(long, conflicts_with = "version", required_unless_present = "version")]
        at: Option<String>,
        #[arg(long)]
        version: Option<u64>,
    },
    /// Field-level changes between two versions.
    Diff {
        #[command(flatten)]
        conn: Connection,
        #[arg(long)]
        plan: String,
        #[arg(long)]
        from: u64,
        #[arg(long)]
        to: u64,
    },
    /// Who read a plan, or what a user read.
    Access {
        #[command(flatten)]
        conn: Connection,
        #[arg(long, conflicts_with = "subject", required_unless_present = "subject")]
        plan: Option<String>,
        #[arg(long)]
        subject: Option<String>,
    },
    /// Recompute every hash chain and signed digest: of the token's tenant
    /// on a running server, or of every tenant in a data directory.
    Verify {
        /// Verify the files in this data directory instead of asking a server.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Trusted public key (hex) for digests; default: the public key of
        /// the install key kept in the data directory (pass the key you
        /// kept elsewhere to prove the files were not replaced with it).
        #[arg(long, env = "TRELLIS_AUDIT_TRUSTED_KEY")]
        public_key: Option<String>,
        #[arg(long, env = "TRELLIS_GRPC_ADDR", default_value = "127.0.0.1:50051")]
        grpc_addr: String,
        #[arg(long, env = "TRELLIS_TOKEN", hide_env_values = true)]
        token: Option<String>,
    },
    /// Write a plan's audit record as JSON Lines and a printable HTML report.
    Export {
        #[command(flatten)]
        conn: Connection,
        #[arg(long)]
        plan: String,
        /// Directory for plan-<id>.jsonl and plan-<id>.html.
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
    /// Sign a digest over every stream head of the tenant now.
    Digest {
        #[command(flatten)]
        conn: Connection,
    },
    /// List the tenant's signed digests (JSON lines).
    Digests {
        #[command(flatten)]
        conn: Connection,
    },
    /// Check a payer document (`…/document.pdf`) against the record: the
    /// plan, version and hash-chain link its seal names must be in the
    /// history. Exits non-zero when they are not.
    CheckDocument {
        #[command(flatten)]
        conn: Connection,
        /// The PDF to check.
        file: PathBuf,
    },
    /// Make a new digest signing key.
    Keygen,
}

type Client = AuditServiceClient<
    tonic::service::interceptor::InterceptedService<tonic::transport::Channel, BearerToken>,
>;

#[derive(Clone)]
pub struct BearerToken(MetadataValue<tonic::metadata::Ascii>);

impl tonic::service::Interceptor for BearerToken {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        Ok(request)
    }
}

/// A connection to trellis's gRPC endpoint at `grpc_addr`, every call
/// carrying `token`.
pub(crate) async fn authenticated_channel(
    grpc_addr: &str,
    token: &str,
) -> anyhow::Result<(tonic::transport::Channel, BearerToken)> {
    let uri = if grpc_addr.starts_with("http") {
        grpc_addr.to_owned()
    } else {
        format!("http://{grpc_addr}")
    };
    let channel = Endpoint::from_shared(uri)?
        .connect()
        .await
        .with_context(|| format!("cannot reach trellis at {grpc_addr}"))?;
    let bearer = BearerToken(format!("Bearer {token}").parse().context("token")?);
    Ok((channel, bearer))
}

async fn connect(grpc_addr: &str, token: &str) -> anyhow::Result<Client> {
    let (channel, bearer) = authenticated_channel(grpc_addr, token).await?;
    Ok(AuditServiceClient::with_interceptor(channel, bearer)
        .max_decoding_message_size(MAX_RESPONSE_BYTES))
}

/// A gRPC error as a sentence for the terminal.
pub(crate) fn explain(status: tonic::Status) -> anyhow::Error {
    anyhow::anyhow!("{:?}: {}", status.code(), status.message())
}

pub async fn run(command: AuditCommand) -> anyhow::Result<()> {
    match command {
        AuditCommand::CheckDocument { conn, file } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let seal = crate::document_check::seal_of(&bytes)?;
            let mut client = connect(&conn.grpc_addr, &conn.token).await?;
            let page = client
                .get_plan_history(crate::document_check::request(&seal))
                .await
                .map_err(explain)?
                .into_inner();
            say!("{}", crate::document_check::verdict(&seal, &page.entries)?);
        }
        AuditCommand::History {
            conn,
            plan,
            actor,
            from,
            to,
            event_types,
            json,
        } => {
            let mut client = connect(&conn.grpc_addr, &conn.token).await?;
            let mut after = None;
            if !json {
                say!(
                    "{:>4}  {:<32}  {:<28}  {:<26}  reason",
                    "ver",
                    "recorded at",
                    "who",
                    "what"
                );
            }
            loop {
                let page = client
                    .get_plan_history(pb::PlanHistoryRequest {
                        plan_id: plan.clone(),
                        after_revision: after,
                        page_size: 500,
                        actor: actor.clone().unwrap_or_default(),
                        from_time: from.clone().unwrap_or_default(),
                        to_time: to.clone().unwrap_or_default(),
                        event_types: event_types.clone(),
                    })
                    .await
                    .map_err(explain)?
                    .into_inner();
                for e in page.entries {
                    if json {
                        say!("{}", history_json(&e));
                    } else {
                        say!(
                            "{:>4}  {:<32}  {:<28}  {:<26}  {}",
                            e.revision,
                            e.recorded_at,
                            format!("{} ({})", e.actor_subject, e.actor_role),
                            e.event_type,
                            e.reason
                        );
                    }
                }
                match page.next_after_revision {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
        }
        AuditCommand::AsOf {
            conn,
            plan,
            at,
            version,
        } => {
            let as_of = match (at, version) {
                (Some(t), _) => pb::plan_as_of_request::AsOf::Time(t),
                (None, Some(v)) => pb::plan_as_of_request::AsOf::Version(v),
                (None, None) => bail!("give --at or --version"),
            };
            let doc = connect(&conn.grpc_addr, &conn.token)
                .await?
                .get_plan_as_of(pb::PlanAsOfRequest {
                    plan_id: plan,
                    as_of: Some(as_of),
                })
                .await
                .map_err(explain)?
                .into_inner();
            let value: serde_json::Value = serde_json::from_str(&doc.plan_json)?;
            say!("{}", serde_json::to_string_pretty(&value)?);
        }
        AuditCommand::Diff {
            conn,
            plan,
            from,
            to,
        } => {
            let changes = connect(&conn.grpc_addr, &conn.token)
                .await?
                .diff_plan_versions(pb::DiffPlanVersionsRequest {
                    plan_id: plan,
                    from_version: from,
                    to_version: to,
                })
                .await
                .map_err(explain)?
                .into_inner()
                .changes;
            say!("{} changes from version {from} to {to}", changes.len());
            for c in changes {
                let show = |v: &str| {
                    if v.is_empty() {
                        "(none)".to_owned()
                    } else {
                        v.to_owned()
                    }
                };
                say!(
                    "{}: {} -> {}",
                    c.path,
                    show(&c.before_json),
                    show(&c.after_json)
                );
            }
        }
        AuditCommand::Access {
            conn,
            plan,
            subject,
        } => {
            let about = match (plan, subject) {
                (Some(p), _) => pb::access_log_request::About::PlanId(p),
                (None, Some(s)) => pb::access_log_request::About::Subject(s),
                (None, None) => bail!("give --plan or --subject"),
            };
            let mut client = connect(&conn.grpc_addr, &conn.token).await?;
            let mut after = None;
            say!(
                "{:<32}  {:<24}  {:<22}  {:<8}  {:<21}  plan",
                "at",
                "who",
                "operation",
                "api",
                "from"
            );
            loop {
                let page = client
                    .get_access_log(pb::AccessLogRequest {
                        about: Some(about.clone()),
                        after_id: after,
                        page_size: 500,
                    })
                    .await
                    .map_err(explain)?
                    .into_inner();
                for a in page.entries {
                    say!(
                        "{:<32}  {:<24}  {:<22}  {:<8}  {:<21}  {}",
                        a.at,
                        format!("{} ({})", a.subject, a.role),
                        a.operation,
                        a.api,
                        a.address,
                        a.plan_id
                    );
                }
                match page.next_after_id {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
        }
        AuditCommand::Verify {
            data_dir,
            public_key,
            grpc_addr,
            token,
        } => {
            let (ok, summary) = match data_dir {
                Some(dir) => {
                    let trusted = match public_key {
                        Some(hex) => public_key_from_hex(&hex).context("--public-key")?,
                        None => public_key_from_hex(&install_public_key_hex(&dir)?)
                            .context("install key")?,
                    };
                    let path = dir.join("events.db");
                    if !path.exists() {
                        bail!("no event store at {}", path.display());
                    }
                    let store = SqliteEventStore::open(&path)?;
                    let report = integrity::verify(&store, None, &trusted).await?;
                    (
                        report.ok,
                        describe(
                            report.ok,
                            report.streams,
                            report.events,
                            report.digests,
                            report.first_break.as_deref(),
                        ),
                    )
                }
                None => {
                    let token = token.context("give --token (an auditor's) or --data-dir")?;
                    let r = connect(&grpc_addr, &token)
                        .await?
                        .verify(pb::VerifyRequest {})
                        .await
                        .map_err(explain)?
                        .into_inner();
                    let problem = (!r.first_break.is_empty()).then_some(r.first_break.as_str());
                    (
                        r.ok,
                        describe(r.ok, r.streams, r.events, r.digests, problem),
                    )
                }
            };
            say!("{summary}");
            if !ok {
                std::process::exit(1);
            }
        }
        AuditCommand::Export { conn, plan, out } => {
            let export = connect(&conn.grpc_addr, &conn.token)
                .await?
                .export_plan(pb::ExportPlanRequest {
                    plan_id: plan.clone(),
                })
                .await
                .map_err(explain)?
                .into_inner();
            std::fs::create_dir_all(&out)?;
            let jsonl = out.join(format!("plan-{plan}.jsonl"));
            let html = out.join(format!("plan-{plan}.html"));
            std::fs::write(&jsonl, export.jsonl)?;
            std::fs::write(&html, export.html)?;
            say!("wrote {} and {}", jsonl.display(), html.display());
        }
        AuditCommand::Digest { conn } => {
            let d = connect(&conn.grpc_addr, &conn.token)
                .await?
                .create_digest(pb::CreateDigestRequest {})
                .await
                .map_err(explain)?
                .into_inner();
            say!(
                "signed digest of {} streams of {} at {}: root {} (key {})",
                d.streams,
                d.tenant,
                d.created_at,
                d.root,
                d.public_key
            );
        }
        AuditCommand::Digests { conn } => {
            let digests = connect(&conn.grpc_addr, &conn.token)
                .await?
                .list_digests(pb::ListDigestsRequest {})
                .await
                .map_err(explain)?
                .into_inner()
                .digests;
            for d in digests {
                say!("{}", d.digest_json);
            }
        }
        AuditCommand::Keygen => {
            let key = DigestKey::generate();
            say!("TRELLIS_AUDIT_SIGNING_KEY={}", key.seed_hex());
            say!("TRELLIS_AUDIT_TRUSTED_KEY={}", key.public_key_hex());
        }
    }
    Ok(())
}

fn describe(ok: bool, streams: u64, events: u64, digests: u64, problem: Option<&str>) -> String {
    if ok {
        format!("OK: {events} events in {streams} streams and {digests} signed digests verified")
    } else {
        format!(
            "BROKEN: {}\n(checked {events} events in {streams} streams, {digests} digests)",
            problem.unwrap_or("unknown")
        )
    }
}

fn history_json(e: &pb::HistoryEntry) -> serde_json::Value {
    serde_json::json!({
        "revision": e.revision,
        "global_position": e.global_position,
        "event_id": e.event_id,
        "event_type": e.event_type,
        "schema_version": e.schema_version,
        "recorded_at": e.recorded_at,
        "actor": { "subject": e.actor_subject, "role": e.actor_role },
        "reason": e.reason,
        "request_id": e.request_id,
        "trace_id": e.trace_id,
        "span_id": e.span_id,
        "command_id": e.command_id,
        "correlation_id": e.correlation_id,
        "payload": serde_json::from_str::<serde_json::Value>(&e.payload_json).unwrap_or_default(),
        "hash": e.hash,
    })
}

/// The public key of the install key `serve` keeps beside the data. Only
/// a convenience: whoever could edit the events could replace this file
/// too, so `--public-key` with a key kept elsewhere is the proof.
fn install_public_key_hex(dir: &std::path::Path) -> anyhow::Result<String> {
    let path = dir.join(crate::serve::INSTALL_KEY_FILE);
    let seed = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "no --public-key given and no install key at {}",
            path.display()
        )
    })?;
    eprintln!(
        "trusting the install key stored beside the data; pass --public-key with a copy kept elsewhere"
    );
    Ok(DigestKey::from_seed_hex(seed.trim())
        .context("unusable install key")?
        .public_key_hex())
}
