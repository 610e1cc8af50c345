//! The fleet report: one self-contained HTML page of every tenant's state, for people who
//! would rather look than read a plan (security leads, account managers, a CI artifact).
//!
//! Data first, rendering after (as `crate::diag` and `crate::render` do): [`Report::build`]
//! turns a [`Plan`](crate::plan::Plan) and each tenant's [`TenantPlacement`] (ring and
//! profiles, from the repository) into the matrix, groups and counts; [`render_html`]
//! writes the page. Both are pure: the CLI (`rampart report`) reads the plan and the
//! repository, supplies the clock in [`RunInfo`] and writes the file.
//!
//! Limits: the report shows what the plan holds and nothing it does not (no drift or
//! pending state until the plan records them, no device or vulnerability counts until the
//! fleet operations exist; see [`model`]).

pub mod html;
pub mod model;

pub use html::render_html;
pub use model::{
    CellState, Column, Group, ObjectEntry, Placement, Report, RingCounts, RunInfo, STATES,
    SharedChanges, StateInfo, TenantDetails, TenantPlacement, TenantRow, fix_hint,
};
