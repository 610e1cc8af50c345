//! The Microsoft Graph client layer: authentication per tenant, URL policy, a polite and
//! typed HTTP client, and a fleet runner that works on many tenants at once.
//!
//! - [`auth`]: one `azure_identity` credential per tenant (client secret, client assertion
//!   from a file or GitHub Actions OIDC, managed identity, Azure CLI); every token's `tid`
//!   is checked against the target tenant before anything is sent to it.
//! - [`transport`]: the azure_core HTTP transport that lets the real credential code reach a
//!   loopback (emulator) token endpoint.
//! - [`urls`]: base URLs, and the rule that plain `http://` is loopback-only.
//! - [`client`]: [`client::GraphClient`] (paging, `$batch`, retries, write pacing, stats,
//!   group-name resolution) and [`client::GraphContext`], the run-wide state it shares.
//! - [`retry`], [`pacing`], [`stats`], [`error`]: the pieces the client is made of.
//! - [`fleet`]: bounded concurrency across tenants, one task per tenant at a time.
//! - [`setup`]: the one door: flags + environment + cloud defaults -> a ready context and
//!   authenticator, and the endpoint identity a saved plan records.
//! - [`cloud`]: the public and national clouds' Graph, login, scope and ARM endpoints.
//! - [`certificate`]: certificate client assertions without OpenSSL.
//!
//! Limits: this layer knows Graph's transport conventions, not the resources; what a
//! policy looks like is the business of the callers. It never prints; progress goes out as
//! `tracing` events under the `rampart::graph` target.

pub mod auth;
pub mod certificate;
pub mod client;
pub mod cloud;
pub mod error;
pub mod fleet;
pub mod pacing;
pub mod retry;
pub mod setup;
pub mod stats;
pub mod transport;
pub mod urls;
