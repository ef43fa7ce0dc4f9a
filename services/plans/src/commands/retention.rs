//! The tenant's retention rule (`<tenant>:retention-tenant`): admins set
//! how many years after a plan closes its client may be erased without an
//! override reason; anyone but clients reads it.

use trellis_plans_domain::retention::{
    RETENTION_CATEGORY, RETENTION_STREAM_ID, RetentionEvent, RetentionRule,
};

use super::erasure_keys::DEFAULT_RETENTION_YEARS;
use super::settings::{SettingChange, fold_setting};
use super::{
    Caller, CommandContext, CommandError, PlanCommands, RecordedEvent, StreamName, TenantId,
    authorize_settings_read,
};

/// The retention period in force for a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionPeriod {
    pub years: u32,
    /// Whether the tenant set it; otherwise the deployment's default.
    pub tenant_rule: bool,
}

impl PlanCommands {
    fn retention_stream(tenant: &TenantId) -> StreamName {
        StreamName::new(tenant.clone(), RETENTION_CATEGORY, RETENTION_STREAM_ID)
            .expect("a valid stream name")
    }

    /// The deployment's period, for tenants that set none.
    fn default_retention_years(&self) -> u32 {
        self.erasure
            .as_ref()
            .map_or(DEFAULT_RETENTION_YEARS, |e| e.retention_years)
    }

    fn period(&self, rule: RetentionRule) -> RetentionPeriod {
        RetentionPeriod {
            years: rule.years_or(self.default_retention_years()),
            tenant_rule: rule.tenant_years().is_some(),
        }
    }

    /// The period an erasure in `tenant` is checked against.
    pub(super) async fn retention_period(
        &self,
        tenant: &TenantId,
    ) -> Result<RetentionPeriod, CommandError> {
        let history = self.load(&Self::retention_stream(tenant)).await?;
        Ok(self.period(fold_retention(&history)?))
    }

    /// The tenant's retention period, for anyone but clients.
    pub async fn read_retention_period(
        &self,
        caller: &Caller,
    ) -> Result<RetentionPeriod, CommandError> {
        authorize_settings_read(caller)?;
        self.retention_period(&caller.tenant).await
    }

    /// Admin: sets the tenant's retention period; answers it.
    pub async fn set_retention_period(
        &self,
        ctx: &CommandContext,
        years: u32,
    ) -> Result<RetentionPeriod, CommandError> {
        let stream = Self::retention_stream(&ctx.caller.tenant);
        self.append_setting(
            ctx,
            "SetRetentionPeriod",
            &stream,
            |history| {
                let mut rule = fold_retention(history)?;
                let set = rule.set(years)?;
                rule.evolve(&set);
                Ok(SettingChange {
                    event_type: set.event_type(),
                    schema_version: set.schema_version(),
                    payload: set.encode(),
                    after: self.period(rule),
                })
            },
            |through| Ok(self.period(fold_retention(through)?)),
        )
        .await
    }
}

fn fold_retention(history: &[RecordedEvent]) -> Result<RetentionRule, CommandError> {
    fold_setting(history, RetentionEvent::decode, RetentionRule::evolve)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use chrono::NaiveDate;
    use trellis_auth::Role;
    use trellis_kernel::{ClientErasure, StoreError};
    use trellis_plans_domain::{
        ClosePlan, CreatePlan, PlanClosure, PlanCommand, PlanError, PlanEvent, PlanId,
    };
    use trellis_store_sqlite::SqliteEventStore;
    use uuid::Uuid;

    use super::*;

    /// Every plan created here is the one client's; its key is destroyed
    /// once.
    #[derive(Default)]
    struct OneClient {
        streams: Mutex<Vec<StreamName>>,
        destroyed: Mutex<bool>,
    }

    #[async_trait::async_trait]
    impl ClientErasure for OneClient {
        async fn client_streams(
            &self,
            tenant: &TenantId,
            _: &str,
        ) -> Result<Vec<StreamName>, StoreError> {
            let streams = self.streams.lock().unwrap();
            Ok(streams
                .iter()
                .filter(|s| s.tenant() == tenant)
                .cloned()
                .collect())
        }

        async fn destroy_client_key(
            &self,
            tenant: &TenantId,
            client: &str,
        ) -> Result<Option<Vec<StreamName>>, StoreError> {
            let first = !std::mem::replace(&mut *self.destroyed.lock().unwrap(), true);
            Ok(first.then(|| {
                self.streams
                    .lock()
                    .unwrap()
                    .iter()
                    .filter(|s| s.tenant() == tenant && !client.is_empty())
                    .cloned()
                    .collect()
            }))
        }
    }

    fn ctx(tenant: &TenantId, role: Role) -> CommandContext {
        let mut ctx = super::super::tests::ctx(tenant);
        ctx.caller.roles = vec![role];
        ctx
    }

    fn closing_day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2023, 1, 16).unwrap()
    }

    /// Two years after the plans closed.
    fn two_years_on() -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 2, 3).unwrap()
    }

    /// A plan of `tenant`'s one client, closed on [`closing_day`].
    async fn closed_plan(commands: &PlanCommands, keys: &OneClient, tenant: &TenantId) {
        let plan_id = PlanId(Uuid::new_v4());
        let clinician = ctx(tenant, Role::Clinician);
        let create = PlanCommand::CreatePlan(CreatePlan {
            plan_id,
            client_id: "client-1".into(),
            primary_clinician_id: "clin-1".into(),
            clinic_id: "clinic-a".into(),
            title: "Plan".into(),
            payer: String::new(),
        });
        commands.handle(&clinician, plan_id, &create).await.unwrap();
        let close = PlanCommand::ClosePlan(ClosePlan {
            closure: PlanClosure::Discharged,
            reason: "moved away".into(),
        });
        let mut closing = ctx(tenant, Role::Clinician);
        closing.command_id = Uuid::new_v4();
        commands.handle(&closing, plan_id, &close).await.unwrap();
        keys.streams
            .lock()
            .unwrap()
            .push(StreamName::new(tenant.clone(), "plan", &plan_id.to_string()).unwrap());
    }

    #[tokio::test]
    async fn each_tenant_s_retention_rule_decides_when_its_clients_may_be_erased() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteEventStore::open(dir.path().join("events.db")).unwrap());
        let keys = Arc::new(OneClient::default());
        let mut commands = PlanCommands::new(store.clone()).with_erasure(
            keys.clone(),
            store.clone(),
            DEFAULT_RETENTION_YEARS,
        );
        commands.today = closing_day;
        let (short, default) = (
            TenantId::parse("short-retention").unwrap(),
            TenantId::parse("default-retention").unwrap(),
        );
        closed_plan(&commands, &keys, &short).await;
        closed_plan(&commands, &keys, &default).await;
        commands.today = two_years_on;

        // Only an admin sets the rule; it is read back as the tenant's own.
        let refused = commands
            .set_retention_period(&ctx(&short, Role::Clinician), 1)
            .await;
        assert!(
            matches!(refused, Err(CommandError::Denied(_))),
            "{refused:?}"
        );
        let set = commands
            .set_retention_period(&ctx(&short, Role::Admin), 1)
            .await
            .unwrap();
        assert_eq!(
            set,
            RetentionPeriod {
                years: 1,
                tenant_rule: true
            }
        );
        let other = commands
            .read_retention_period(&ctx(&default, Role::Auditor).caller)
            .await
            .unwrap();
        assert_eq!(
            other,
            RetentionPeriod {
                years: 6,
                tenant_rule: false
            }
        );

        // Two years after closing: past the one-year rule, not past six.
        let refused = commands
            .erase_client(&ctx(&default, Role::Admin), "client-1", None)
            .await;
        assert!(
            matches!(
                refused,
                Err(CommandError::Rejected(PlanError::RetentionNotElapsed(ends)))
                    if ends == NaiveDate::from_ymd_opt(2029, 1, 16).unwrap()
            ),
            "{refused:?}"
        );
        let erased = commands
            .erase_client(&ctx(&short, Role::Admin), "client-1", None)
            .await
            .unwrap();
        assert_eq!(erased.plans.len(), 1);
        assert!(erased.key_destroyed);
        // The record names the period the plan was checked against.
        let stream = keys.streams.lock().unwrap()[0].clone();
        let last = commands.load(&stream).await.unwrap().pop().unwrap();
        let decoded = PlanEvent::decode(&last.event_type, last.schema_version, &last.payload);
        let Ok(PlanEvent::ClientErased(event)) = decoded else {
            panic!("{decoded:?}");
        };
        assert_eq!(event.retention_years, Some(1));
    }

    #[tokio::test]
    async fn a_period_outside_one_to_a_hundred_years_is_refused_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteEventStore::open(dir.path().join("events.db")).unwrap());
        let commands = PlanCommands::new(store.clone());
        let tenant = TenantId::parse("bad-retention").unwrap();
        for years in [0, 101] {
            let refused = commands
                .set_retention_period(&ctx(&tenant, Role::Admin), years)
                .await;
            let Err(CommandError::Rejected(PlanError::Invalid(violations))) = refused else {
                panic!("{refused:?}");
            };
            assert_eq!(violations[0].field, "years");
        }
        let stream = PlanCommands::retention_stream(&tenant);
        assert!(commands.load(&stream).await.unwrap().is_empty());
        let read = commands
            .read_retention_period(&ctx(&tenant, Role::Admin).caller)
            .await
            .unwrap();
        assert_eq!(
            read,
            RetentionPeriod {
                years: 6,
                tenant_rule: false
            }
        );
    }
}
