//! Fleet security operations, as the multitenant Defender portal offers them, from a
//! terminal: advanced hunting across tenants ([`hunt`]), incidents and alerts
//! ([`incidents`]), device and vulnerability roll-ups ([`views`]).
//!
//! Layers: [`grid`] is the one table model and its renderers (no I/O); [`fleet`] selects
//! nothing itself but runs one job per tenant through the shared retrying Graph client and
//! turns errors into per-tenant failures; the command modules build requests, read
//! answers and produce grids. Tenant selection, credentials and the connection come from
//! the CLI (the same flags and `connect` door as `plan`).

pub mod fleet;
pub mod grid;
pub mod hunt;
pub mod incidents;
pub mod views;
