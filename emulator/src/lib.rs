//! A Microsoft Graph emulator for Defender, Intune and Entra, shipped with rampart (crate
//! `rampart-emulator`: a product of its own, usable by any Graph client).
//!
//! It serves, on loopback, the Graph endpoints rampart (and real third-party Graph clients)
//! use: Entra's client-credentials token endpoint, Intune settings-catalog configuration
//! policies and their templates, Intune role scope tags and assignment filters, Defender
//! custom detection rules (2026 schema), Defender, Intune and Entra role
//! definitions/assignments, groups (read and create), organization and `$batch`, with
//! Graph's JSON shapes, statuses, paging, errors and validation
//! (`shared/reference/graph-api.md`). Each request is routed to the tenant named by its
//! token's `tid`. `README.md` lists every route with the Graph document it follows.
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
//! 503, dropped connections (before the write, or after it is committed), 500 after a
//! committed write, slow answers, Intune's per-tenant write limit, out-of-band edits. Random faults apply to Graph requests only (not to the token endpoint or admin
//! endpoints), are drawn from the run seed and the request's arrival number, and 429/503
//! are drawn separately for each `$batch` sub-request.
//!
//! # Limits
//! Validation of settings is only as complete as the template catalog ([`templates`]), or,
//! with [`SettingOracle::Exports`], as the setting ids real exports show; client assertions are matched against federated credentials but their
//! signatures are not verified; `$filter` supports `eq`, `ne`, `startswith` and `and`/`or`
//! on property paths, which covers what Graph clients send to these collections.

// Layers, bottom to top (each uses only the ones above it in this list):
// token, faults -> state (the store) -> templates, wire (shared request/reply types)
// -> surfaces (one module per Graph surface) -> router -> admin, seed -> http.
pub mod admin;
pub mod faults;
pub mod http;
pub mod router;
pub mod seed;
pub mod state;
pub mod surfaces;
pub mod template_rules;
pub mod templates;
pub mod text;
pub mod token;
pub mod wire;

pub use faults::{FaultConfig, WriteLimit};
pub use http::{BenchReport, bench_requests};
pub use state::{
    ALL_ROLES, App, AppSeed, Counters, Emulator, FederatedCredential, RequestRecord, Seed, Tenant,
    TenantSeed, stable_guid,
};
pub use wire::Reply;

use serde::{Deserialize, Serialize};
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
    /// Another emulator (another process, or another `Emulator` in this one) already
    /// serves this state directory; two would overwrite each other's tenant files.
    #[error(
        "the state directory {path} is in use by another emulator; stop it first, or give this one another --state-dir"
    )]
    StateDirInUse {
        /// The state directory.
        path: PathBuf,
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

/// Page sizes per query shape (Graph's own defaults differ per API and per query). The
/// defaults are what Graph documents or is reported to do; each field says which.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageSizes {
    /// `configurationPolicies` list without `$expand`: 25 (reported by many clients, e.g.
    /// `@odata.count: 25` with a nextLink in ugurkocde/IntuneAssignmentChecker#28).
    pub policies: usize,
    /// `configurationPolicies` list with `$expand` (settings, assignments): 10. Public
    /// reports say Graph returns "very few" policies per page in this shape; the exact count
    /// is UNVERIFIED, 10 keeps clients that ignore nextLink visibly wrong.
    pub policies_expanded: usize,
    /// `/{id}/settings`: 25 (`graph-api.md` §1.3; jseerden/IntuneBackupAndRestore#88
    /// "saved only 25 settings").
    pub settings: usize,
    /// Settings inside an expanded policy before `settings@odata.nextLink`: 25 (reported
    /// alongside the expanded list's paging; the exact count is UNVERIFIED).
    pub expanded_settings: usize,
    /// Groups and other directory collections (Graph: 100).
    pub directory: usize,
    /// Detection rules, role definitions/assignments, scope tags, filters and templates.
    pub other: usize,
    /// Largest page `$top` can ask for.
    pub max: usize,
}

impl Default for PageSizes {
    fn default() -> Self {
        Self {
            policies: 25,
            policies_expanded: 10,
            settings: 25,
            expanded_settings: 25,
            directory: 100,
            other: 100,
            max: 1000,
        }
    }
}

impl PageSizes {
    /// One page size for every shape (`$top` still applies): for tests of paging itself.
    pub fn uniform(n: usize) -> Self {
        Self {
            policies: n,
            policies_expanded: n,
            settings: n,
            expanded_settings: n,
            directory: n,
            other: n,
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
    /// Server-assigned object ids (policies, role definitions and assignments, filters,
    /// groups) derived from `seed` and a counter instead of drawn at random: still
    /// GUID-shaped (version-4 layout), the same in every run with the same seed and the same
    /// order of creates. Timestamps then come from a per-tenant logical clock (one second
    /// per stamp from 2026-01-01T00:00:00Z) instead of the wall clock. Off by default, as
    /// real Graph's ids are random and its clock real; demos that print ids and timestamps
    /// turn it on so their output is byte-identical run to run.
    pub deterministic_ids: bool,
    /// Which source decides whether a setting definition belongs to a template.
    pub setting_oracle: SettingOracle,
}

/// Which source decides whether a setting definition belongs to a template (issue 14,
/// gap 13). The catalog is shared with rampart, so a catalog mistake passes both the client
/// and the emulator; [`SettingOracle::Exports`] checks against real Graph exports instead.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SettingOracle {
    /// The shared template catalog (`rampart-catalog`): its definitions of the template are
    /// accepted, verified or not. The default: it is the widest list available.
    #[default]
    Catalog,
    /// The catalog's shapes, and additionally every definition must have been seen in a real
    /// export of a policy of the same template (`rampart_catalog::seen`, `catalog/data/seen_setting_ids.tsv`); narrower than
    /// Graph (exports do not show every definition), so a refusal means "unconfirmed", not
    /// "wrong".
    Exports,
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
            deterministic_ids: false,
            setting_oracle: SettingOracle::Catalog,
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
