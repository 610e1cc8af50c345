//! A Microsoft Graph emulator for Defender, Intune and Entra, shipped with rampart (crate
//! `rampart-emulator`: a product of its own, usable by any Graph client).
//!
//! It serves, on loopback, the Graph endpoints rampart (and real third-party Graph clients)
//! use: Entra's client-credentials token endpoint, Intune settings-catalog configuration
//! policies and their templates, Defender custom detection rules (2026 schema), Defender,
//! Intune and Entra role definitions/assignments, groups, organization and `$batch`, with
//! Graph's JSON shapes, paging, errors and validation (`shared/reference/graph-api.md`).
//! Each request is routed to the tenant named by its token's `tid`.
//!
//! # Using it from Rust
//!
//! ```no_run
//! # async fn demo() -> Result<(), rampart_emulator::EmulatorError> {
//! use rampart_emulator::{start, EmulatorConfig, AppSeed, TenantSeed, ALL_ROLES};
//! let emu = start(EmulatorConfig::default()).await?;          // binds 127.0.0.1:0
//! let admin = emu.admin();                                   // in-process, no HTTP
//! admin.add_app(&AppSeed { app_id: "11111111-1111-4111-8111-111111111111".into(),
//!     secrets: vec!["s3cret".into()], ..Default::default() })?;
//! admin.add_tenant(&TenantSeed { id: "6f1c2b9e-0d4a-4e55-9a61-3c2f8e7d1a01".into(),
//!     display_name: "Contoso".into(),
//!     consents: [("11111111-1111-4111-8111-111111111111".to_string(),
//!                 ALL_ROLES.iter().map(|r| r.to_string()).collect())].into(),
//!     groups: vec!["Pilot Devices".into()], ..Default::default() })?;
//! // token: POST {emu.login_url()}/{tenant}/oauth2/v2.0/token
//! // Graph: {emu.graph_url()}/beta/deviceManagement/configurationPolicies
//! let _requests = admin.requests();
//! emu.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Without HTTP at all, [`Emulator::new`] builds the state and [`Emulator::call`] answers a
//! Graph request in-process (routing, permissions, validation, 429/503 and the write limit
//! apply; latency and drops do not).
//!
//! Admin endpoints outside Graph's URL space (unauthenticated; the emulator is a loopback
//! development tool): `GET /_emulator/requests`, `GET /_emulator/counters`,
//! `DELETE /_emulator/requests` (clear log and counters), `GET|POST /_emulator/tenants`
//! (POST takes a [`Seed`]), `GET|PUT /_emulator/faults` ([`FaultConfig`]),
//! `POST /_emulator/tenants/{tid}/configurationPolicies/{id}/edit` and
//! `.../detectionRules/{id}/edit` (out-of-band edit; body = fields to merge).
//!
//! # Faults
//! See [`FaultConfig`]: latency + jitter, 429 (with `Retry-After` seconds or HTTP date),
//! 503, dropped connections, slow answers, Intune's per-tenant write limit, out-of-band
//! edits. Random faults apply to Graph requests only (not to the token endpoint or admin
//! endpoints), are drawn from the run seed and the request's arrival number, and 429/503
//! are drawn separately for each `$batch` sub-request.
//!
//! # Limits
//! Validation of settings is only as complete as the template catalog
//! ([`templates`]); client assertions are matched against federated credentials but their
//! signatures are not verified; `$filter` supports `eq`, `ne`, `startswith` and `and`/`or`
//! on property paths, which covers what Graph clients send to these collections.

pub mod faults;
pub mod graph;
pub mod http;
pub mod policies;
pub mod roles;
pub mod rules;
pub mod seed;
pub mod state;
pub mod template_rules;
pub mod templates;
pub mod token;

pub use faults::{FaultConfig, WriteLimit};
pub use graph::Reply;
pub use http::{BenchReport, bench_requests};
pub use state::{
    ALL_ROLES, App, AppSeed, Counters, Emulator, FederatedCredential, RequestRecord, Seed, Tenant,
    TenantSeed, stable_guid,
};

use std::net::SocketAddr;
use std::path::PathBuf;

/// Errors of the emulator's library API.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// Binding or serving failed.
    #[error("cannot listen on {addr}")]
    Bind {
        /// Address asked for.
        addr: SocketAddr,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// File I/O on the state directory or a seed.
    #[error("I/O error on {path}")]
    Io {
        /// File or directory.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// A state or seed file could not be parsed.
    #[error("invalid state or seed file {path}: {message}")]
    State {
        /// File.
        path: PathBuf,
        /// Parser message.
        message: String,
    },
    /// No such tenant.
    #[error("unknown tenant {0}")]
    UnknownTenant(String),
    /// The app is not consented in the tenant.
    #[error("app {app} is not consented in tenant {tenant}")]
    NotConsented {
        /// App id.
        app: String,
        /// Tenant id.
        tenant: String,
    },
    /// No such object.
    #[error("not found: {0}")]
    NotFound(String),
    /// Invalid seed data.
    #[error("invalid seed: {0}")]
    Invalid(String),
}

/// Default page sizes per collection (Graph's own defaults differ per API).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageSizes {
    /// `configurationPolicies` list.
    pub policies: usize,
    /// `/{id}/settings` (Intune returns 25 by default, `graph-api.md` §1.3).
    pub settings: usize,
    /// Groups and other directory collections (Graph: 100).
    pub directory: usize,
    /// Detection rules, role definitions/assignments and templates.
    pub other: usize,
    /// Largest page `$top` can ask for.
    pub max: usize,
}

impl Default for PageSizes {
    fn default() -> Self {
        Self {
            policies: 25,
            settings: 25,
            directory: 100,
            other: 100,
            max: 1000,
        }
    }
}

/// How to run an emulator.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Seed for all random faults.
    pub seed: u64,
    /// Faults and write limits (changeable at run time through the handle).
    pub faults: FaultConfig,
    /// Directory to persist state to and reload from; `None` keeps state in memory.
    pub state_dir: Option<PathBuf>,
    /// Address to bind; default `127.0.0.1:0` (a free port).
    pub listen: SocketAddr,
    /// Access token lifetime in seconds (Entra: 3599).
    pub token_lifetime_secs: i64,
    /// Page sizes.
    pub page_sizes: PageSizes,
    /// Request log capacity (oldest entries are dropped; counters are kept).
    pub log_capacity: usize,
    /// Base URL used in `@odata.nextLink`/`@odata.context`; default: from the `Host` header.
    pub public_base_url: Option<String>,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            faults: FaultConfig::default(),
            state_dir: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            token_lifetime_secs: 3599,
            page_sizes: PageSizes::default(),
            log_capacity: 100_000,
            public_base_url: None,
        }
    }
}

/// A served emulator. Dropping it does not stop the server; call [`RunningEmulator::shutdown`].
#[derive(Debug)]
pub struct RunningEmulator {
    emulator: Emulator,
    addr: SocketAddr,
    shutdown: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningEmulator {
    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
    /// Graph root: requests go to `{graph_url}/beta/...` and `{graph_url}/v1.0/...`.
    pub fn graph_url(&self) -> String {
        self.base_url()
    }
    /// Authority host: the token endpoint is `{login_url}/{tenant}/oauth2/v2.0/token`.
    pub fn login_url(&self) -> String {
        self.base_url()
    }
    /// Token endpoint for `tenant`.
    pub fn token_url(&self, tenant: &str) -> String {
        format!("{}/{tenant}/oauth2/v2.0/token", self.login_url())
    }
    /// Bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    /// In-process admin handle (same state the server uses).
    pub fn admin(&self) -> &Emulator {
        &self.emulator
    }
    /// Stops accepting connections and closes open ones.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
    }
}

/// Starts an emulator on `config.listen` (default `127.0.0.1:0`).
pub async fn start(config: EmulatorConfig) -> Result<RunningEmulator, EmulatorError> {
    let emulator = Emulator::new(&config)?;
    start_with(emulator, config.listen, config.public_base_url).await
}

/// Serves an existing [`Emulator`] state.
pub async fn start_with(
    emulator: Emulator,
    listen: SocketAddr,
    public_base_url: Option<String>,
) -> Result<RunningEmulator, EmulatorError> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| EmulatorError::Bind {
            addr: listen,
            source,
        })?;
    let addr = listener
        .local_addr()
        .map_err(|source| EmulatorError::Bind {
            addr: listen,
            source,
        })?;
    let (tx, rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(http::serve(emulator.clone(), listener, rx, public_base_url));
    Ok(RunningEmulator {
        emulator,
        addr,
        shutdown: tx,
        task,
    })
}
