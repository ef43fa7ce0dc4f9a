//! Who may send which command to which plan.

use trellis_auth::{Caller, Role};
use trellis_plans_domain::{CareAssignment, PlanCommand, ProgressSource, SignerRole};

/// Why a caller may not send a command. `NotVisible` must be answered
/// exactly like a plan that does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AccessDenied {
    #[error("the caller's role may not send this command")]
    RoleMayNot,
    #[error("plan not found")]
    NotVisible,
}

/// Who may change tenant settings (review rules, templates): admins only.
pub fn authorize_settings_change(caller: &Caller) -> Result<Role, AccessDenied> {
    if caller.roles.contains(&Role::Admin) {
        Ok(Role::Admin)
    } else {
        Err(AccessDenied::RoleMayNot)
    }
}

/// Who may read tenant settings: everyone but clients.
pub fn authorize_settings_read(caller: &Caller) -> Result<(), AccessDenied> {
    if caller.roles.iter().any(|r| *r != Role::Client) {
        Ok(())
    } else {
        Err(AccessDenied::RoleMayNot)
    }
}

/// Decides the role a caller acts in for `command` on a plan with `care`
/// (`None` for a plan that does not exist yet).
pub fn authorize_command(
    caller: &Caller,
    command: &PlanCommand,
    care: Option<&CareAssignment>,
) -> Result<Role, AccessDenied> {
    // Clients report on themselves: progress, and questionnaire answers.
    let self_report = match command {
        PlanCommand::RecordObjectiveProgress(c) => c.source == ProgressSource::ClientSelfReport,
        PlanCommand::RecordMeasure(c) => c.source == ProgressSource::ClientSelfReport,
        _ => false,
    };
    // A signature is given in the role it names, by someone holding it.
    let allowed: &[Role] = match command {
        PlanCommand::SignPlan(c) => match c.role {
            SignerRole::Clinician => &[Role::Clinician],
            SignerRole::Client => &[Role::Client],
            SignerRole::Supervisor => &[Role::Supervisor],
        },
        // Who treats is an administrative matter, not clinical content.
        PlanCommand::AssignCareTeam(_) => &[Role::Admin, Role::Supervisor],
        _ if self_report => &[Role::Client, Role::Clinician, Role::Supervisor],
        _ => &[Role::Clinician, Role::Supervisor],
    };
    // Try each role the caller holds that may send this command; the first
    // whose scope covers the plan is the role they act in.
    let mut any_role = false;
    // Tried to create a plan for someone else's clinic or caseload.
    let mut outside_own = false;
    for role in caller.roles.iter().copied().filter(|r| allowed.contains(r)) {
        any_role = true;
        let Some(care) = care else {
            // Creating a plan, or a command on a missing plan: the
            // aggregate answers (not found / created) — but one creates
            // plans only in one's own clinics, and a clinician only their
            // own. An empty field is left for the aggregate to name.
            let creating = match command {
                PlanCommand::CreatePlan(c) => Some(c),
                PlanCommand::CreatePlanFromTemplate(c) => Some(&c.create),
                _ => None,
            };
            if let Some(c) = creating {
                let primary = c.primary_clinician_id.trim();
                let clinic = c.clinic_id.trim();
                let own_clinic = clinic.is_empty() || caller.clinics.iter().any(|c| c == clinic);
                let allowed = match role {
                    Role::Clinician => {
                        own_clinic && (primary.is_empty() || primary == caller.subject)
                    }
                    Role::Supervisor => own_clinic,
                    _ => false,
                };
                if !allowed {
                    outside_own = true;
                    continue;
                }
            }
            return Ok(role);
        };
        let in_scope = match role {
            Role::Clinician => care.treats(&caller.subject),
            Role::Supervisor => caller.clinics.contains(&care.clinic_id),
            Role::Client => care.client_id == caller.subject,
            // Admins manage care teams tenant-wide; nothing else reaches here.
            Role::Admin => true,
            Role::Auditor => false,
        };
        if in_scope {
            return Ok(role);
        }
    }
    if any_role && !outside_own {
        Err(AccessDenied::NotVisible)
    } else {
        Err(AccessDenied::RoleMayNot)
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use trellis_kernel::TenantId;
    use trellis_plans_domain::{
        AddGoal, GoalId, GoalTerm, MarkObjectiveMet, ObjectiveId, RecordObjectiveProgress,
    };
    use uuid::Uuid;

    use super::*;

    fn caller(subject: &str, roles: &[Role], clinics: &[&str]) -> Caller {
        Caller {
            tenant: TenantId::parse("northside").unwrap(),
            subject: subject.into(),
            roles: roles.to_vec(),
            clinics: clinics.iter().map(|c| (*c).to_owned()).collect(),
        }
    }

    fn care() -> CareAssignment {
        CareAssignment {
            client_id: "client-17".into(),
            primary_clinician_id: "clin-3".into(),
            clinic_id: "eastside".into(),
            care_team: vec!["clin-8".into()],
        }
    }

    fn add_goal() -> PlanCommand {
        PlanCommand::AddGoal(AddGoal {
            goal_id: GoalId(Uuid::nil()),
            description: "x".into(),
            term: GoalTerm::ShortTerm,
        })
    }

    fn progress(source: ProgressSource) -> PlanCommand {
        PlanCommand::RecordObjectiveProgress(RecordObjectiveProgress {
            objective_id: ObjectiveId(Uuid::nil()),
            value: 1.0,
            observed_on: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            source,
            note: String::new(),
        })
    }

    #[test]
    fn the_primary_clinician_may_change_the_plan() {
        let c = caller("clin-3", &[Role::Clinician], &[]);
        assert_eq!(
            authorize_command(&c, &add_goal(), Some(&care())),
            Ok(Role::Clinician)
        );
    }

    #[test]
    fn another_clinician_does_not_see_the_plan() {
        let c = caller("clin-9", &[Role::Clinician], &[]);
        assert_eq!(
            authorize_command(&c, &add_goal(), Some(&care())),
            Err(AccessDenied::NotVisible)
        );
    }

    #[test]
    fn a_supervisor_of_the_clinic_may_change_the_plan() {
        let c = caller("sup-1", &[Role::Supervisor], &["eastside"]);
        assert_eq!(
            authorize_command(&c, &add_goal(), Some(&care())),
            Ok(Role::Supervisor)
        );
        let other = caller("sup-2", &[Role::Supervisor], &["westside"]);
        assert_eq!(
            authorize_command(&other, &add_goal(), Some(&care())),
            Err(AccessDenied::NotVisible)
        );
    }

    #[test]
    fn a_client_may_only_self_report_on_their_own_plan() {
        let me = caller("client-17", &[Role::Client], &[]);
        assert_eq!(
            authorize_command(
                &me,
                &progress(ProgressSource::ClientSelfReport),
                Some(&care())
            ),
            Ok(Role::Client)
        );
        assert_eq!(
            authorize_command(&me, &progress(ProgressSource::Clinician), Some(&care())),
            Err(AccessDenied::RoleMayNot)
        );
        assert_eq!(
            authorize_command(
                &me,
                &PlanCommand::MarkObjectiveMet(MarkObjectiveMet {
                    objective_id: ObjectiveId(Uuid::nil())
                }),
                Some(&care())
            ),
            Err(AccessDenied::RoleMayNot)
        );
        let someone_else = caller("client-99", &[Role::Client], &[]);
        assert_eq!(
            authorize_command(
                &someone_else,
                &progress(ProgressSource::ClientSelfReport),
                Some(&care())
            ),
            Err(AccessDenied::NotVisible)
        );
    }

    #[test]
    fn admins_and_auditors_send_no_clinical_commands() {
        for role in [Role::Admin, Role::Auditor] {
            let c = caller("someone", &[role], &["eastside"]);
            assert_eq!(
                authorize_command(&c, &add_goal(), Some(&care())),
                Err(AccessDenied::RoleMayNot)
            );
        }
    }

    fn sign(role: SignerRole) -> PlanCommand {
        PlanCommand::SignPlan(trellis_plans_domain::SignPlan {
            role,
            signer_id: "x".into(),
        })
    }

    #[test]
    fn each_signs_in_their_own_role_only() {
        let client = caller("client-17", &[Role::Client], &[]);
        assert_eq!(
            authorize_command(&client, &sign(SignerRole::Client), Some(&care())),
            Ok(Role::Client)
        );
        assert_eq!(
            authorize_command(&client, &sign(SignerRole::Clinician), Some(&care())),
            Err(AccessDenied::RoleMayNot)
        );
        let clinician = caller("clin-3", &[Role::Clinician], &[]);
        assert_eq!(
            authorize_command(&clinician, &sign(SignerRole::Supervisor), Some(&care())),
            Err(AccessDenied::RoleMayNot)
        );
        let supervisor = caller("sup-1", &[Role::Supervisor], &["eastside"]);
        assert_eq!(
            authorize_command(&supervisor, &sign(SignerRole::Supervisor), Some(&care())),
            Ok(Role::Supervisor)
        );
        let other_clinic = caller("sup-2", &[Role::Supervisor], &["westside"]);
        assert_eq!(
            authorize_command(&other_clinic, &sign(SignerRole::Supervisor), Some(&care())),
            Err(AccessDenied::NotVisible)
        );
    }

    #[test]
    fn only_admins_change_review_rules_and_clients_do_not_read_them() {
        let admin = caller("it-1", &[Role::Admin], &[]);
        assert_eq!(authorize_settings_change(&admin), Ok(Role::Admin));
        for role in [
            Role::Clinician,
            Role::Supervisor,
            Role::Client,
            Role::Auditor,
        ] {
            let c = caller("someone", &[role], &["eastside"]);
            assert_eq!(authorize_settings_change(&c), Err(AccessDenied::RoleMayNot));
        }
        let client = caller("client-17", &[Role::Client], &[]);
        assert_eq!(
            authorize_settings_read(&client),
            Err(AccessDenied::RoleMayNot)
        );
        let auditor = caller("aud-1", &[Role::Auditor], &[]);
        assert_eq!(authorize_settings_read(&auditor), Ok(()));
    }

    #[test]
    fn the_care_team_treats_and_admins_assign_it_without_clinical_access() {
        let member = caller("clin-8", &[Role::Clinician], &[]);
        assert_eq!(
            authorize_command(&member, &add_goal(), Some(&care())),
            Ok(Role::Clinician)
        );
        let assign = PlanCommand::AssignCareTeam(trellis_plans_domain::AssignCareTeam {
            primary_clinician_id: "clin-3".into(),
            members: vec![],
        });
        let admin = caller("it-1", &[Role::Admin], &[]);
        assert_eq!(
            authorize_command(&admin, &assign, Some(&care())),
            Ok(Role::Admin)
        );
        assert_eq!(
            authorize_command(&member, &assign, Some(&care())),
            Err(AccessDenied::RoleMayNot)
        );
    }

    fn create(primary: &str, clinic: &str) -> PlanCommand {
        PlanCommand::CreatePlan(trellis_plans_domain::CreatePlan {
            plan_id: trellis_plans_domain::PlanId(Uuid::nil()),
            client_id: "client-17".into(),
            primary_clinician_id: primary.into(),
            clinic_id: clinic.into(),
            title: String::new(),
            payer: String::new(),
        })
    }

    #[test]
    fn plans_are_created_only_in_ones_own_clinic_and_caseload() {
        let clinician = caller("clin-3", &[Role::Clinician], &["eastside"]);
        assert_eq!(
            authorize_command(&clinician, &create("clin-3", "eastside"), None),
            Ok(Role::Clinician)
        );
        assert_eq!(
            authorize_command(&clinician, &create("clin-9", "eastside"), None),
            Err(AccessDenied::RoleMayNot)
        );
        assert_eq!(
            authorize_command(&clinician, &create("clin-3", "westside"), None),
            Err(AccessDenied::RoleMayNot)
        );
        let supervisor = caller("sup-1", &[Role::Supervisor], &["eastside"]);
        assert_eq!(
            authorize_command(&supervisor, &create("clin-9", "eastside"), None),
            Ok(Role::Supervisor)
        );
        assert_eq!(
            authorize_command(&supervisor, &create("clin-9", "westside"), None),
            Err(AccessDenied::RoleMayNot)
        );
    }
}
