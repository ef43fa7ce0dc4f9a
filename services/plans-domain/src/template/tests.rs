//! Saving, retiring and validating templates; the built-in ones.
use super::builtin::{goal, intervention, objective};
use super::*;
use crate::event::{GoalTerm, Modality};

fn tenant_template(name: &str) -> PlanTemplate {
    PlanTemplate {
        name: name.to_owned(),
        goals: vec![goal(
            "Reduce panic attacks",
            GoalTerm::ShortTerm,
            vec![objective("Fewer panic attacks", "panic attacks", "week")],
        )],
        interventions: vec![],
        measure_schedule: vec![],
        service_plan: None,
    }
}

#[test]
fn the_built_in_templates_are_valid_and_offered_first() {
    for (_, template) in builtin_templates() {
        assert_eq!(validate(&template), Ok(template.clone()));
    }
    let listed = TemplateLibrary::default().list();
    let ids: Vec<&str> = listed
        .iter()
        .map(|t| t.reference.template_id.as_str())
        .collect();
    assert_eq!(ids, ["builtin-gad", "builtin-mdd"]);
}

#[test]
fn each_save_is_a_new_version_and_retired_templates_are_not_offered() {
    let mut library = TemplateLibrary::default();
    library.evolve(&library.save("panic", tenant_template("Panic v1")).unwrap());
    library.evolve(&library.save("panic", tenant_template("Panic v2")).unwrap());
    let (reference, template) = library.get("panic").unwrap();
    assert_eq!(reference.version, 2);
    assert_eq!(template.name, "Panic v2");
    library.evolve(&library.retire("panic").unwrap());
    assert_eq!(library.get("panic"), Err(PlanError::UnknownTemplate));
    assert_eq!(library.retire("panic"), Err(PlanError::UnknownTemplate));
}

#[test]
fn built_in_templates_cannot_be_changed() {
    let library = TemplateLibrary::default();
    assert_eq!(
        library.save("builtin-gad", tenant_template("Mine")),
        Err(PlanError::TemplateReadOnly)
    );
    assert_eq!(
        library.retire("builtin-mdd"),
        Err(PlanError::TemplateReadOnly)
    );
}

#[test]
fn a_template_names_every_problem() {
    let mut t = tenant_template(" ");
    t.goals[0].objectives[0].unit = String::new();
    t.interventions
        .push(intervention(Modality::Cbt, "x", "", &[3], ""));
    let Err(PlanError::Invalid(v)) = TemplateLibrary::default().save("t", t) else {
        panic!("expected field violations");
    };
    let fields: Vec<&str> = v.iter().map(|v| v.field).collect();
    assert_eq!(
        fields,
        ["name", "goals.objectives.unit", "interventions.goals"]
    );
}
