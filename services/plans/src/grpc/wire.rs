//! Proto enums as domain values: generated from the proto where the
//! domain has a twin of the same name, by hand where a value carries more.

use trellis_plans_domain::Modality;
use trellis_proto::plans::v1 as pb;

pub(super) fn modality(v: i32, other: &str) -> Option<Modality> {
    Some(match pb::Modality::try_from(v).ok()? {
        pb::Modality::Cbt => Modality::Cbt,
        pb::Modality::Dbt => Modality::Dbt,
        pb::Modality::Act => Modality::Act,
        pb::Modality::Mbsr => Modality::Mbsr,
        pb::Modality::Exposure => Modality::Exposure,
        pb::Modality::FamilyTherapy => Modality::FamilyTherapy,
        pb::Modality::Psychoeducation => Modality::Psychoeducation,
        pb::Modality::RelaxationTraining => Modality::RelaxationTraining,
        pb::Modality::BehaviouralActivation => Modality::BehaviouralActivation,
        pb::Modality::SleepHygiene => Modality::SleepHygiene,
        pb::Modality::MotivationalInterviewing => Modality::MotivationalInterviewing,
        pb::Modality::Other => Modality::Other(other.to_owned()),
        pb::Modality::Unspecified => return None,
    })
}

// The wire → domain conversion of every enum with a domain twin
// (`goal_term`, `instrument`, …), generated from the proto by build.rs.
include!(concat!(env!("OUT_DIR"), "/wire_enums.rs"));
