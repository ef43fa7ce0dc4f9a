//! The admin commands on a tenant's settings streams — review rules
//! (`<tenant>:reviewrules-tenant`) and templates
//! (`<tenant>:templates-tenant`) — and reading them back.

use std::time::Instant;

use super::{
    Caller, CommandContext, CommandError, ExpectedRevision, ListedTemplate, MAX_ATTEMPTS,
    PlanCommands, PlanTemplate, REVIEW_RULES_CATEGORY, REVIEW_RULES_STREAM_ID, RecordedEvent,
    ReviewRuleEvent, ReviewRules, StoreError, StreamName, TEMPLATES_CATEGORY, TEMPLATES_STREAM_ID,
    TemplateEvent, TemplateLibrary, TenantId, authorize_settings_change, authorize_settings_read,
    corrupt, derive_id, observe, outcome_of,
};

impl PlanCommands {
    pub(super) fn rules_stream(tenant: &TenantId) -> StreamName {
        StreamName::new(
            tenant.clone(),
            REVIEW_RULES_CATEGORY,
            REVIEW_RULES_STREAM_ID,
        )
        .expect("a valid stream name")
    }

    pub(super) async fn review_rules(
        &self,
        tenant: &TenantId,
    ) -> Result<ReviewRules, CommandError> {
        fold_rules(&self.load(&Self::rules_stream(tenant)).await?)
    }

    /// The tenant's review rules, for anyone but clients.
    pub async fn read_review_rules(
        &self,
        caller: &Caller,
    ) -> Result<Vec<(String, u32)>, CommandError> {
        authorize_settings_read(caller)?;
        Ok(self.review_rules(&caller.tenant).await?.rules())
    }

    /// Admin: sets the review interval for `payer` ("" for the default).
    pub async fn set_review_rule(
        &self,
        ctx: &CommandContext,
        payer: &str,
        interval_days: u32,
    ) -> Result<Vec<(String, u32)>, CommandError> {
        let stream = Self::rules_stream(&ctx.caller.tenant);
        self.append_setting(
            ctx,
            "SetReviewRule",
            &stream,
            |history| {
                let mut rules = fold_rules(history)?;
                let rule = rules.set(payer, interval_days)?;
                rules.evolve(&rule);
                Ok(SettingChange {
                    event_type: rule.event_type(),
                    schema_version: rule.schema_version(),
                    payload: rule.encode(),
                    after: rules.rules(),
                })
            },
            |through| Ok(fold_rules(through)?.rules()),
        )
        .await
    }

    pub(super) fn templates_stream(tenant: &TenantId) -> StreamName {
        StreamName::new(tenant.clone(), TEMPLATES_CATEGORY, TEMPLATES_STREAM_ID)
            .expect("a valid stream name")
    }

    pub(super) async fn templates(
        &self,
        tenant: &TenantId,
    ) -> Result<TemplateLibrary, CommandError> {
        fold_templates(&self.load(&Self::templates_stream(tenant)).await?)
    }

    /// Built-in and tenant templates, for anyone but clients.
    pub async fn list_templates(
        &self,
        caller: &Caller,
    ) -> Result<Vec<ListedTemplate>, CommandError> {
        authorize_settings_read(caller)?;
        Ok(self.templates(&caller.tenant).await?.list())
    }

    /// Admin: saves a template, or a new version of one; plans already
    /// made from it keep what they copied. Without an id, one is derived
    /// from the command id.
    pub async fn save_template(
        &self,
        ctx: &CommandContext,
        template_id: &str,
        template: PlanTemplate,
    ) -> Result<ListedTemplate, CommandError> {
        let template_id = if template_id.trim().is_empty() {
            derive_id(ctx.caller.tenant.as_str(), ctx.command_id, "template").to_string()
        } else {
            template_id.trim().to_owned()
        };
        let stream = Self::templates_stream(&ctx.caller.tenant);
        self.append_setting(
            ctx,
            "SaveTemplate",
            &stream,
            |history| {
                let mut library = fold_templates(history)?;
                let saved = library.save(&template_id, template.clone())?;
                library.evolve(&saved);
                Ok(SettingChange {
                    event_type: saved.event_type(),
                    schema_version: saved.schema_version(),
                    payload: saved.encode(),
                    after: own_template(&library, &template_id)?,
                })
            },
            |through| {
                // The first save named the template (a derived id included);
                // answer that template as the save left it.
                let first = through.last().map(decode_template).transpose()?;
                let saved_id = match &first {
                    Some(TemplateEvent::Saved(saved)) => saved.template_id.as_str(),
                    _ => template_id.as_str(),
                };
                own_template(&fold_templates(through)?, saved_id)
            },
        )
        .await
    }

    /// Admin: takes a template out of use.
    pub async fn retire_template(
        &self,
        ctx: &CommandContext,
        template_id: &str,
    ) -> Result<(), CommandError> {
        let stream = Self::templates_stream(&ctx.caller.tenant);
        self.append_setting(
            ctx,
            "RetireTemplate",
            &stream,
            |history| {
                let retired = fold_templates(history)?.retire(template_id)?;
                Ok(SettingChange {
                    event_type: retired.event_type(),
                    schema_version: retired.schema_version(),
                    payload: retired.encode(),
                    after: (),
                })
            },
            // Deciding again would find the template already retired.
            |_| Ok(()),
        )
        .await
    }

    /// Appends one admin event to a tenant-settings stream, deciding it
    /// again if another admin changed the stream meanwhile; returns the
    /// settings as the event leaves them (`decide`). A resent command
    /// appends nothing and is answered by `answer_again` from the stream up
    /// to and including its event, so it gets the first answer even when
    /// later changes would decide it differently.
    /// Appends an admin command's event to a settings stream, traced and
    /// measured as plan commands are (`handle_command`, the command
    /// histogram).
    #[tracing::instrument(
        name = "handle_command",
        skip_all,
        fields(
            tenant = %ctx.caller.tenant,
            command = command,
            outcome = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        )
    )]
    pub(super) async fn append_setting<T>(
        &self,
        ctx: &CommandContext,
        command: &'static str,
        stream: &StreamName,
        decide: impl Fn(&[RecordedEvent]) -> Result<SettingChange<T>, CommandError>,
        answer_again: impl Fn(&[RecordedEvent]) -> Result<T, CommandError>,
    ) -> Result<T, CommandError> {
        let started = Instant::now();
        let ctx = &ctx.within_current_span();
        let result = self.decide_setting(ctx, stream, decide, answer_again).await;
        let duplicate = result.as_ref().is_ok_and(|(_, retry)| *retry);
        let outcome = outcome_of(&result, duplicate);
        observe(command, started, outcome);
        result.map(|(answer, _)| answer)
    }

    /// The setting change and whether it was a retry (answered again).
    async fn decide_setting<T>(
        &self,
        ctx: &CommandContext,
        stream: &StreamName,
        decide: impl Fn(&[RecordedEvent]) -> Result<SettingChange<T>, CommandError>,
        answer_again: impl Fn(&[RecordedEvent]) -> Result<T, CommandError>,
    ) -> Result<(T, bool), CommandError> {
        let role = authorize_settings_change(&ctx.caller)?;
        for _ in 0..MAX_ATTEMPTS {
            let history = self.load(stream).await?;
            if let Some(at) = history
                .iter()
                .position(|e| e.metadata.causation_id == ctx.command_id)
            {
                return answer_again(&history[..=at]).map(|answer| (answer, true));
            }
            let change = decide(&history)?;
            let stored = (change.event_type, change.schema_version, change.payload);
            let event = self.event(ctx, role, None, 0, stored);
            match self
                .store
                .append(
                    stream,
                    ExpectedRevision::after(history.len() as u64),
                    vec![event],
                )
                .await
            {
                // A concurrent send of this command landed first: the next
                // pass finds its event and answers as it did.
                Ok(outcome) if outcome.deduplicated => {}
                Ok(_) => return Ok((change.after, false)),
                Err(StoreError::WrongExpectedRevision { .. }) => {}
                Err(StoreError::DuplicateEventId(_)) => return Err(CommandError::CommandIdReused),
                Err(e) => return Err(e.into()),
            }
        }
        Err(CommandError::Contended)
    }
}

/// One decided admin event on a settings stream, and the settings after it.
pub(super) struct SettingChange<T> {
    pub(super) event_type: &'static str,
    pub(super) schema_version: u32,
    pub(super) payload: Vec<u8>,
    pub(super) after: T,
}

/// One of the tenant's templates, as the library lists it.
fn own_template(
    library: &TemplateLibrary,
    template_id: &str,
) -> Result<ListedTemplate, CommandError> {
    let (reference, template) = library.get(template_id)?;
    Ok(ListedTemplate {
        reference,
        builtin: false,
        template,
    })
}

fn decode_template(recorded: &RecordedEvent) -> Result<TemplateEvent, CommandError> {
    TemplateEvent::decode(
        &recorded.event_type,
        recorded.schema_version,
        &recorded.payload,
    )
    .map_err(|_| corrupt(recorded))
}

/// A settings stream's state from its history: each event decoded by
/// `decode` (one that does not decode is a corrupt record) and folded in
/// by `evolve`.
pub(super) fn fold_setting<S: Default, E, D>(
    history: &[RecordedEvent],
    decode: fn(&str, u32, &[u8]) -> Result<E, D>,
    evolve: fn(&mut S, &E),
) -> Result<S, CommandError> {
    let mut state = S::default();
    for recorded in history {
        let event = decode(
            &recorded.event_type,
            recorded.schema_version,
            &recorded.payload,
        )
        .map_err(|_| corrupt(recorded))?;
        evolve(&mut state, &event);
    }
    Ok(state)
}

fn fold_templates(history: &[RecordedEvent]) -> Result<TemplateLibrary, CommandError> {
    fold_setting(history, TemplateEvent::decode, TemplateLibrary::evolve)
}

fn fold_rules(history: &[RecordedEvent]) -> Result<ReviewRules, CommandError> {
    fold_setting(history, ReviewRuleEvent::decode, ReviewRules::evolve)
}
