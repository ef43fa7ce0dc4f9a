//! Plan read models as the access policy (`trellis-access`) sees them, so
//! the gateway decides reads by the same rule the plans service decides
//! commands by.

use trellis_access::PlanScope;

use crate::PlanView;
use crate::compliance::PlanSummary;

impl PlanScope for PlanView {
    fn tenant(&self) -> Option<&str> {
        Some(&self.tenant)
    }
    fn clinic_id(&self) -> &str {
        &self.clinic_id
    }
    fn client_id(&self) -> &str {
        &self.client_id
    }
    fn treated_by(&self, clinician: &str) -> bool {
        PlanView::treated_by(self, clinician)
    }
}

impl PlanScope for PlanSummary {
    fn tenant(&self) -> Option<&str> {
        Some(&self.tenant)
    }
    fn clinic_id(&self) -> &str {
        &self.clinic_id
    }
    fn client_id(&self) -> &str {
        &self.client_id
    }
    fn treated_by(&self, clinician: &str) -> bool {
        PlanSummary::treated_by(self, clinician)
    }
}
