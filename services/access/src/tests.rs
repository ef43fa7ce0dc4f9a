use chrono::NaiveDate;
use trellis_kernel::TenantId;
use trellis_plans_domain::{
    AddGoal, AssignCareTeam, CreatePlan, GoalId, GoalTerm, MarkObjectiveMet, ObjectiveId, PlanId,
    RecordObjectiveProgress, SignPlan,
};
use uuid::Uuid;

use super::AccessDenied::{NotVisible, RoleMayNot};
use super::*;

fn caller(subject: &str, roles: &[Role], clinics: &[&str]) -> Caller {
    caller_of("northside", subject, roles, clinics)
}

fn caller_of(tenant: &str, subject: &str, roles: &[Role], clinics: &[&str]) -> Caller {
    Caller {
        tenant: TenantId::parse(tenant).unwrap(),
        subject: subject.into(),
        roles: roles.to_vec(),
        clinics: clinics.iter().map(|c| (*c).to_owned()).collect(),
    }
}

/// Client 17's plan in eastside: primary clinician 3, clinician 8 on the
/// care team.
fn care() -> CareAssignment {
    CareAssignment {
        client_id: "client-17".into(),
        primary_clinician_id: "clin-3".into(),
        clinic_id: "eastside".into(),
        care_team: vec!["clin-8".into()],
    }
}

/// A plan as the gateway sees it: its care assignment and its tenant.
struct TenantPlan {
    tenant: &'static str,
    care: CareAssignment,
}

impl PlanScope for TenantPlan {
    fn tenant(&self) -> Option<&str> {
        Some(self.tenant)
    }
    fn clinic_id(&self) -> &str {
        self.care.clinic_id()
    }
    fn client_id(&self) -> &str {
        self.care.client_id()
    }
    fn treated_by(&self, clinician: &str) -> bool {
        self.care.treated_by(clinician)
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

fn sign(role: SignerRole) -> PlanCommand {
    PlanCommand::SignPlan(SignPlan {
        role,
        signer_id: "x".into(),
    })
}

fn assign_care_team() -> PlanCommand {
    PlanCommand::AssignCareTeam(AssignCareTeam {
        primary_clinician_id: "clin-3".into(),
        members: vec![],
    })
}

fn create(primary: &str, clinic: &str) -> PlanCommand {
    PlanCommand::CreatePlan(CreatePlan {
        plan_id: PlanId(Uuid::nil()),
        client_id: "client-17".into(),
        primary_clinician_id: primary.into(),
        clinic_id: clinic.into(),
        title: String::new(),
        payer: String::new(),
    })
}

/// A command naming no existing plan.
fn creating(caller: &Caller, command: &PlanCommand) -> Result<Role, AccessDenied> {
    authorize_command(caller, command, None::<&CareAssignment>)
}

/// What one caller gets for each action on client 17's plan.
#[derive(Debug, PartialEq)]
struct Outcomes {
    /// The role its clinical content is read in.
    read: Option<Role>,
    /// A clinical command (adding a goal).
    clinical: Result<Role, AccessDenied>,
    /// Progress the client reports themselves.
    self_report: Result<Role, AccessDenied>,
    sign_as_clinician: Result<Role, AccessDenied>,
    sign_as_client: Result<Role, AccessDenied>,
    sign_as_supervisor: Result<Role, AccessDenied>,
    assign_care_team: Result<Role, AccessDenied>,
    /// A new plan in eastside (the plan's clinic) with the caller as
    /// primary clinician; no plan exists yet, so no tenant is crossed.
    create_in_eastside: Result<Role, AccessDenied>,
    /// The same in westside.
    create_in_westside: Result<Role, AccessDenied>,
    change_settings: Result<Role, AccessDenied>,
    read_settings: Result<(), AccessDenied>,
    /// Listing plans without asking for anyone's in particular.
    list: Option<ListScope>,
}

fn outcomes(caller: &Caller) -> Outcomes {
    let plan = TenantPlan {
        tenant: "northside",
        care: care(),
    };
    let on_plan = |command: PlanCommand| authorize_command(caller, &command, Some(&plan));
    Outcomes {
        read: reading_role(caller, &plan),
        clinical: on_plan(add_goal()),
        self_report: on_plan(progress(ProgressSource::ClientSelfReport)),
        sign_as_clinician: on_plan(sign(SignerRole::Clinician)),
        sign_as_client: on_plan(sign(SignerRole::Client)),
        sign_as_supervisor: on_plan(sign(SignerRole::Supervisor)),
        assign_care_team: on_plan(assign_care_team()),
        create_in_eastside: creating(caller, &create(&caller.subject, "eastside")),
        create_in_westside: creating(caller, &create(&caller.subject, "westside")),
        change_settings: authorize_settings_change(caller),
        read_settings: authorize_settings_read(caller),
        list: list_scope(caller, ListRequest::default()),
    }
}

#[test]
fn each_role_reaches_exactly_its_part_of_the_tenant() {
    use Role::{Admin, Auditor, Client, Clinician, Supervisor};
    let clinician_of = |me: &str| Some(ListScope::Clinician(me.into()));
    let table = [
        (
            "the primary clinician",
            caller("clin-3", &[Clinician], &["eastside"]),
            Outcomes {
                read: Some(Clinician),
                clinical: Ok(Clinician),
                self_report: Ok(Clinician),
                sign_as_clinician: Ok(Clinician),
                sign_as_client: Err(RoleMayNot),
                sign_as_supervisor: Err(RoleMayNot),
                assign_care_team: Err(RoleMayNot),
                create_in_eastside: Ok(Clinician),
                create_in_westside: Err(RoleMayNot),
                change_settings: Err(RoleMayNot),
                read_settings: Ok(()),
                list: clinician_of("clin-3"),
            },
        ),
        (
            "a clinician on the care team",
            caller("clin-8", &[Clinician], &["eastside"]),
            Outcomes {
                read: Some(Clinician),
                clinical: Ok(Clinician),
                self_report: Ok(Clinician),
                sign_as_clinician: Ok(Clinician),
                sign_as_client: Err(RoleMayNot),
                sign_as_supervisor: Err(RoleMayNot),
                assign_care_team: Err(RoleMayNot),
                create_in_eastside: Ok(Clinician),
                create_in_westside: Err(RoleMayNot),
                change_settings: Err(RoleMayNot),
                read_settings: Ok(()),
                list: clinician_of("clin-8"),
            },
        ),
        (
            "another clinician of the clinic",
            caller("clin-9", &[Clinician], &["eastside"]),
            Outcomes {
                read: None,
                clinical: Err(NotVisible),
                self_report: Err(NotVisible),
                sign_as_clinician: Err(NotVisible),
                sign_as_client: Err(RoleMayNot),
                sign_as_supervisor: Err(RoleMayNot),
                assign_care_team: Err(RoleMayNot),
                create_in_eastside: Ok(Clinician),
                create_in_westside: Err(RoleMayNot),
                change_settings: Err(RoleMayNot),
                read_settings: Ok(()),
                list: clinician_of("clin-9"),
            },
        ),
        (
            "the clinic's supervisor",
            caller("sup-1", &[Supervisor], &["eastside"]),
            Outcomes {
                read: Some(Supervisor),
                clinical: Ok(Supervisor),
                self_report: Ok(Supervisor),
                sign_as_clinician: Err(RoleMayNot),
                sign_as_client: Err(RoleMayNot),
                sign_as_supervisor: Ok(Supervisor),
                assign_care_team: Ok(Supervisor),
                create_in_eastside: Ok(Supervisor),
                create_in_westside: Err(RoleMayNot),
                change_settings: Err(RoleMayNot),
                read_settings: Ok(()),
                list: Some(ListScope::Clinics(vec!["eastside".into()])),
            },
        ),
        (
            "another clinic's supervisor",
            caller("sup-2", &[Supervisor], &["westside"]),
            Outcomes {
                read: None,
                clinical: Err(NotVisible),
                self_report: Err(NotVisible),
                sign_as_clinician: Err(RoleMayNot),
                sign_as_client: Err(RoleMayNot),
                sign_as_supervisor: Err(NotVisible),
                assign_care_team: Err(NotVisible),
                create_in_eastside: Err(RoleMayNot),
                create_in_westside: Ok(Supervisor),
                change_settings: Err(RoleMayNot),
                read_settings: Ok(()),
                list: Some(ListScope::Clinics(vec!["westside".into()])),
            },
        ),
        (
            "the plan's client",
            caller("client-17", &[Client], &[]),
            Outcomes {
                read: Some(Client),
                clinical: Err(RoleMayNot),
                self_report: Ok(Client),
                sign_as_clinician: Err(RoleMayNot),
                sign_as_client: Ok(Client),
                sign_as_supervisor: Err(RoleMayNot),
                assign_care_team: Err(RoleMayNot),
                create_in_eastside: Err(RoleMayNot),
                create_in_westside: Err(RoleMayNot),
                change_settings: Err(RoleMayNot),
                read_settings: Err(RoleMayNot),
                list: Some(ListScope::Client("client-17".into())),
            },
        ),
        (
            "another client",
            caller("client-99", &[Client], &[]),
            Outcomes {
                read: None,
                clinical: Err(RoleMayNot),
                self_report: Err(NotVisible),
                sign_as_clinician: Err(RoleMayNot),
                sign_as_client: Err(NotVisible),
                sign_as_supervisor: Err(RoleMayNot),
                assign_care_team: Err(RoleMayNot),
                create_in_eastside: Err(RoleMayNot),
                create_in_westside: Err(RoleMayNot),
                change_settings: Err(RoleMayNot),
                read_settings: Err(RoleMayNot),
                list: Some(ListScope::Client("client-99".into())),
            },
        ),
        (
            "an admin",
            caller("it-1", &[Admin], &[]),
            Outcomes {
                read: None,
                clinical: Err(RoleMayNot),
                self_report: Err(RoleMayNot),
                sign_as_clinician: Err(RoleMayNot),
                sign_as_client: Err(RoleMayNot),
                sign_as_supervisor: Err(RoleMayNot),
                assign_care_team: Ok(Admin),
                create_in_eastside: Err(RoleMayNot),
                create_in_westside: Err(RoleMayNot),
                change_settings: Ok(Admin),
                read_settings: Ok(()),
                list: None,
            },
        ),
        (
            "an auditor",
            caller("aud-1", &[Auditor], &[]),
            Outcomes {
                read: Some(Auditor),
                clinical: Err(RoleMayNot),
                self_report: Err(RoleMayNot),
                sign_as_clinician: Err(RoleMayNot),
                sign_as_client: Err(RoleMayNot),
                sign_as_supervisor: Err(RoleMayNot),
                assign_care_team: Err(RoleMayNot),
                create_in_eastside: Err(RoleMayNot),
                create_in_westside: Err(RoleMayNot),
                change_settings: Err(RoleMayNot),
                read_settings: Ok(()),
                list: Some(ListScope::All),
            },
        ),
        (
            // The primary clinician's namesake elsewhere: only the tenant
            // differs. What they create and list is in their own tenant.
            "a clinician of another tenant",
            caller_of("southside", "clin-3", &[Clinician], &["eastside"]),
            Outcomes {
                read: None,
                clinical: Err(NotVisible),
                self_report: Err(NotVisible),
                sign_as_clinician: Err(NotVisible),
                sign_as_client: Err(RoleMayNot),
                sign_as_supervisor: Err(RoleMayNot),
                assign_care_team: Err(RoleMayNot),
                create_in_eastside: Ok(Clinician),
                create_in_westside: Err(RoleMayNot),
                change_settings: Err(RoleMayNot),
                read_settings: Ok(()),
                list: clinician_of("clin-3"),
            },
        ),
        (
            // Not on the care team, but supervising the clinic: acts as
            // supervisor, except where only a clinician may act.
            "a clinician who also supervises the clinic",
            caller("clin-9", &[Clinician, Supervisor], &["eastside"]),
            Outcomes {
                read: Some(Supervisor),
                clinical: Ok(Supervisor),
                self_report: Ok(Supervisor),
                sign_as_clinician: Err(NotVisible),
                sign_as_client: Err(RoleMayNot),
                sign_as_supervisor: Ok(Supervisor),
                assign_care_team: Ok(Supervisor),
                create_in_eastside: Ok(Clinician),
                create_in_westside: Err(RoleMayNot),
                change_settings: Err(RoleMayNot),
                read_settings: Ok(()),
                list: Some(ListScope::Clinics(vec!["eastside".into()])),
            },
        ),
        (
            "an admin who also audits",
            caller("aud-2", &[Admin, Auditor], &[]),
            Outcomes {
                read: Some(Auditor),
                clinical: Err(RoleMayNot),
                self_report: Err(RoleMayNot),
                sign_as_clinician: Err(RoleMayNot),
                sign_as_client: Err(RoleMayNot),
                sign_as_supervisor: Err(RoleMayNot),
                assign_care_team: Ok(Admin),
                create_in_eastside: Err(RoleMayNot),
                create_in_westside: Err(RoleMayNot),
                change_settings: Ok(Admin),
                read_settings: Ok(()),
                list: Some(ListScope::All),
            },
        ),
    ];
    for (who, caller, expected) in table {
        assert_eq!(outcomes(&caller), expected, "{who}");
    }
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
    let assign = assign_care_team();
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

#[test]
fn plans_are_created_only_in_ones_own_clinic_and_caseload() {
    let clinician = caller("clin-3", &[Role::Clinician], &["eastside"]);
    assert_eq!(
        creating(&clinician, &create("clin-3", "eastside")),
        Ok(Role::Clinician)
    );
    assert_eq!(
        creating(&clinician, &create("clin-9", "eastside")),
        Err(AccessDenied::RoleMayNot)
    );
    assert_eq!(
        creating(&clinician, &create("clin-3", "westside")),
        Err(AccessDenied::RoleMayNot)
    );
    let supervisor = caller("sup-1", &[Role::Supervisor], &["eastside"]);
    assert_eq!(
        creating(&supervisor, &create("clin-9", "eastside")),
        Ok(Role::Supervisor)
    );
    assert_eq!(
        creating(&supervisor, &create("clin-9", "westside")),
        Err(AccessDenied::RoleMayNot)
    );
}

#[test]
fn a_clinician_lists_only_their_own_plans() {
    let c = caller("clin-3", &[Role::Clinician], &[]);
    assert_eq!(
        list_scope(&c, ListRequest::default()),
        Some(ListScope::Clinician("clin-3".into()))
    );
    let other = ListRequest {
        clinician_id: Some("clin-9"),
        ..ListRequest::default()
    };
    assert_eq!(list_scope(&c, other), None);
}

#[test]
fn a_supervisor_lists_their_clinics_only() {
    let c = caller("sup-1", &[Role::Supervisor], &["eastside"]);
    let clinics = ["eastside".to_owned(), "westside".to_owned()];
    let asked = ListRequest {
        clinic_ids: Some(&clinics),
        ..ListRequest::default()
    };
    assert_eq!(
        list_scope(&c, asked),
        Some(ListScope::Clinics(vec!["eastside".to_owned()]))
    );
}

#[test]
fn a_client_lists_only_their_own_plans_and_an_admin_none() {
    let c = caller("client-17", &[Role::Client], &[]);
    assert_eq!(
        list_scope(&c, ListRequest::default()),
        Some(ListScope::Client("client-17".into()))
    );
    assert_eq!(
        list_scope(&caller("adm", &[Role::Admin], &[]), ListRequest::default()),
        None
    );
}

#[test]
fn a_supervisor_of_no_clinic_lists_by_their_other_role() {
    let c = caller("clin-3", &[Role::Supervisor, Role::Clinician], &[]);
    assert_eq!(
        list_scope(&c, ListRequest::default()),
        Some(ListScope::Clinician("clin-3".into()))
    );
    let only = caller("sup-3", &[Role::Supervisor], &[]);
    assert_eq!(list_scope(&only, ListRequest::default()), None);
}

#[test]
fn the_care_team_is_who_treats_or_supervises_whatever_else_they_hold() {
    let plan = TenantPlan {
        tenant: "northside",
        care: care(),
    };
    // An auditor who also treats the plan: read as auditor (the first
    // role that reaches it), yet on its care team.
    let both = caller("clin-8", &[Role::Auditor, Role::Clinician], &[]);
    assert_eq!(reading_role(&both, &plan), Some(Role::Auditor));
    assert!(cares_for(&both, &plan));
    assert!(cares_for(
        &caller("sup-1", &[Role::Supervisor], &["eastside"]),
        &plan
    ));
    // Reaching the plan is not treating it.
    assert!(!cares_for(&caller("aud-1", &[Role::Auditor], &[]), &plan));
    assert!(!cares_for(
        &caller("clin-9", &[Role::Auditor, Role::Clinician], &[]),
        &plan
    ));
    assert!(!cares_for(
        &caller("client-17", &[Role::Client], &[]),
        &plan
    ));
    // Another tenant's plan of the same ids is nobody's here.
    let elsewhere = TenantPlan {
        tenant: "southside",
        care: care(),
    };
    assert!(!cares_for(
        &caller("clin-3", &[Role::Clinician], &[]),
        &elsewhere
    ));
}
