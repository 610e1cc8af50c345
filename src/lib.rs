//! rampart: policy-as-code for Microsoft Defender across many tenants.
//!
//! The pipeline is `load -> resolve -> fetch -> normalise -> diff -> plan -> render -> apply`.
//! The core (resolve, normalise, diff, plan, render) is pure; I/O lives at the edges: the
//! loader, the Graph client, the emulator and the CLI. Only `cli` writes to stdout/stderr.

pub mod apply;
pub use rampart_catalog as catalog;
pub mod cli;
pub mod config;
pub mod demo;
pub mod desired;
pub mod diag;
pub mod fetch;
pub mod graph;
pub mod json_import;
pub mod load;
pub mod lock;
pub mod onboard;
pub mod plan;
pub mod redact;
pub mod render;
pub mod repo_files;
pub mod report;
pub mod resolve;
pub mod rollout;
pub mod settings;
pub mod soc;
pub mod yaml;
