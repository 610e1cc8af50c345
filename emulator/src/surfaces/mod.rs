//! One module per Graph surface, each owning its handlers, its validation and the shape
//! of its objects in a tenant:
//!
//! - [`policies`]: Intune settings-catalog `configurationPolicies` and their templates.
//! - [`rules`]: Defender custom detection rules.
//! - [`roles`]: Intune, Defender XDR and Entra directory role definitions/assignments.
//! - [`directory`]: groups and the organization.
//! - [`scope_tags`]: Intune role scope tags.
//! - [`filters`]: Intune assignment filters.
//! - [`security`]: Defender XDR incidents and alerts v2; [`hunting`]: `runHuntingQuery`
//!   over seeded tables, evaluated by the [`kql`] subset.
//!
//! Surfaces sit between the shared request/reply types ([`crate::wire`]) and the store
//! ([`crate::state`]) below them and the router ([`crate::router`]) above them; they never
//! call the router or each other's handlers.

pub mod directory;
pub mod filters;
pub mod hunting;
pub mod kql;
pub mod policies;
pub mod roles;
pub mod rules;
pub mod scope_tags;
pub mod security;
