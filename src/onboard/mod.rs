//! Tenant onboarding: what a new customer tenant needs before rampart manages it.
//!
//! - [`permissions`]: the least-privilege Graph application permissions the configuration
//!   needs, per surface, and the admin-consent URL (`rampart permissions`).
//! - [`verify`]: token, `tid`, roles and one read per surface, per tenant, with a fix for
//!   each failure (`rampart tenants verify`).
//! - [`profile_edit`]: adding a tenant to a profile file by a targeted text edit that keeps
//!   comments and layout (`rampart tenants add`).
//! - [`import`]: reading what a tenant already has and writing rampart YAML for it
//!   (`rampart import --tenant`).
//!
//! The CLI glue lives in `cli/tenants.rs` and `cli/permissions.rs`; nothing here prints.

pub mod permissions;
pub mod profile_edit;
pub mod tenant_import;
pub mod verify;
