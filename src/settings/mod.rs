//! The generic settings-catalog model: a policy's settings as a tree of setting instances,
//! exactly as Intune's settings catalog stores them (choice, choice collection, simple,
//! simple collection, group collection, each with children). Every settings-catalog policy
//! can be expressed in it without loss; readable names are a layer on top (`catalog`).
//!
//! - [`model`]: the domain types.
//! - [`wire`]: Graph JSON <-> model, and [`normalise`] for order-insensitive comparison.
//! - [`yaml`]: the YAML document sections (`settings`, ASR `rules`, firewall `profiles`,
//!   firewall-rules `rules`) <-> model.
//! - [`schema`]: JSON Schema fragments of those sections.
//! - [`coverage`]: warnings for what the catalog does not cover (unknown definitions,
//!   superseded templates).
//!
//! Wire shape: `#microsoft.graph.deviceManagementConfigurationSetting` /
//! `...SettingInstance` in Graph beta (see shared/reference/graph-api.md §1.3).

pub mod coverage;
pub mod model;
pub mod schema;
pub mod wire;
pub mod yaml;

pub use coverage::coverage_warnings;
pub use model::*;
pub use schema::{
    asr_rules_schema, firewall_profiles_schema, firewall_rules_schema, settings_schema,
    settings_schema_for,
};
pub use wire::{
    WireError, instance_to_graph, instances_from_graph, instances_to_graph, normalise, normalised,
};
pub use yaml::{ToYamlError, settings_from_yaml, settings_to_yaml};
