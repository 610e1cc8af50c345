//! The plan core: observed state, normalisation, the diff, the plan as data, and saved
//! plans. Pure: no network, files, environment or clock (saving and loading take and
//! return bytes; the CLI does the file I/O). `crate::fetch` fills [`ObservedTenant`]s from
//! Graph; `crate::render` shows a [`Plan`].
//!
//! Flow: `fetch` -> [`ObservedTenant`] -> [`diff_tenant`] (with the tenant's
//! [`TenantDesired`](crate::desired::TenantDesired)) -> [`TenantPlan`] -> [`Plan::new`].

pub mod diff;
pub mod labels;
pub mod marker;
pub mod model;
pub mod normalise;
pub mod observed;
pub mod saved;
pub mod shard;

pub use diff::diff_tenant;
pub use model::*;
pub use observed::{
    FilterDirectory, GroupDirectory, ObservedAssignment, ObservedConfigurationPolicy,
    ObservedDetectionRule, ObservedRbac, ObservedRoleAssignment, ObservedRoleDefinition,
    ObservedTarget, ObservedTenant, Unreadable,
};
pub use saved::{SavedPlanError, inputs_digest, load, save};
