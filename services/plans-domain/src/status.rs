//! Where a plan stands in its life.

/// How a plan closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanClosure {
    Completed,
    Discharged,
    Transferred,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum PlanStatus {
    /// No `PlanCreated` yet: the stream is empty.
    New,
    /// Being written; not yet in force.
    Draft,
    Active,
    OnHold,
    Closed(PlanClosure),
}

impl std::fmt::Display for PlanStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::New => "not created",
            Self::Draft => "a draft",
            Self::Active => "active",
            Self::OnHold => "on hold",
            Self::Closed(PlanClosure::Completed) => "completed",
            Self::Closed(PlanClosure::Discharged) => "discharged",
            Self::Closed(PlanClosure::Transferred) => "transferred",
        })
    }
}
