//! The tenant's staff directory (`<tenant>:staff-tenant`): admins name the
//! people who sign plans; everyone but clients reads it.

use trellis_plans_domain::staff::{
    STAFF_CATEGORY, STAFF_STREAM_ID, StaffDirectory, StaffEvent, StaffMember,
};

use super::settings::{SettingChange, fold_setting};
use super::{
    Caller, CommandContext, CommandError, PlanCommands, RecordedEvent, StreamName, TenantId,
    authorize_settings_read,
};

impl PlanCommands {
    fn staff_stream(tenant: &TenantId) -> StreamName {
        StreamName::new(tenant.clone(), STAFF_CATEGORY, STAFF_STREAM_ID)
            .expect("a valid stream name")
    }

    /// The tenant's staff directory, for anyone but clients.
    pub async fn read_staff_directory(
        &self,
        caller: &Caller,
    ) -> Result<Vec<StaffMember>, CommandError> {
        authorize_settings_read(caller)?;
        let history = self.load(&Self::staff_stream(&caller.tenant)).await?;
        Ok(fold_staff(&history)?.members())
    }

    /// Admin: names `subject` with `name` and `credentials`; answers the
    /// directory as the entry leaves it.
    pub async fn set_staff_member(
        &self,
        ctx: &CommandContext,
        subject: &str,
        name: &str,
        credentials: &str,
    ) -> Result<Vec<StaffMember>, CommandError> {
        let stream = Self::staff_stream(&ctx.caller.tenant);
        self.append_setting(
            ctx,
            "SetStaffMember",
            &stream,
            |history| {
                let mut directory = fold_staff(history)?;
                let set = directory.set(subject, name, credentials)?;
                directory.evolve(&set);
                Ok(SettingChange {
                    event_type: set.event_type(),
                    schema_version: set.schema_version(),
                    payload: set.encode(),
                    after: directory.members(),
                })
            },
            |through| Ok(fold_staff(through)?.members()),
        )
        .await
    }
}

fn fold_staff(history: &[RecordedEvent]) -> Result<StaffDirectory, CommandError> {
    fold_setting(history, StaffEvent::decode, StaffDirectory::evolve)
}
