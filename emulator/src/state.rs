//! The emulator's state: tenants (groups, policies, rules, roles), registered apps and their
//! consents, the request log and counters, and persistence to a state directory.
//!
//! [`Emulator`] is cheap to clone (an `Arc`) and usable without HTTP: tests and the admin
//! handle add tenants, apps, groups and policies directly, and read the log. Each tenant
//! sits behind its own mutex, so requests to different tenants never contend.
//!
//! Persistence: with a state directory, every change to a tenant rewrites that tenant's file
//! (`tenants/<tid>.json`) by writing a temporary file and renaming it over the old one, so a
//! crash leaves either the old or the new version. Apps are in `apps.json`. Client secrets
//! are stored only as salted SHA-256 hashes, never in clear. The token signing key is kept
//! in `signing-key` (mode 0600), so tokens survive a restart; without a state directory it
//! is random per process.
//!
//! This module is below the Graph surfaces and never calls them: operations that need a
//! surface's rules (seeding tenants with built-in roles, importing policies, out-of-band
//! edits) live in [`crate::admin`].

use super::EmulatorError;
use super::faults::{FaultConfig, WriteLimiter};
use super::token::{self, Claims};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use time::OffsetDateTime;

/// A federated identity credential on an app (issuer + subject + audiences).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FederatedCredential {
    /// Expected `iss` of the assertion, e.g. `https://token.actions.githubusercontent.com`.
    pub issuer: String,
    /// Expected `sub`, e.g. `repo:org/repo:environment:prod` (exact match).
    pub subject: String,
    /// Accepted audiences; default `["api://AzureADTokenExchange"]`.
    #[serde(default = "default_audiences")]
    pub audiences: Vec<String>,
}

fn default_audiences() -> Vec<String> {
    vec![token::FEDERATED_AUDIENCE.to_string()]
}

/// An app registration (multi-tenant). Secrets are kept as SHA-256 hashes only.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct App {
    /// Client id (GUID).
    pub app_id: String,
    /// Display name.
    pub display_name: String,
    /// Tenant where the app is registered, if any (affects the error for missing consent).
    #[serde(default)]
    pub home_tenant: Option<String>,
    /// SHA-256 (hex) of each valid client secret.
    #[serde(default)]
    pub secret_hashes: Vec<String>,
    /// Federated credentials accepted as client assertions.
    #[serde(default)]
    pub federated_credentials: Vec<FederatedCredential>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("app_id", &self.app_id)
            .field("display_name", &self.display_name)
            .field("home_tenant", &self.home_tenant)
            .field("secrets", &self.secret_hashes.len())
            .field("federated_credentials", &self.federated_credentials)
            .finish()
    }
}

/// A stored configuration policy: the entity without its navigation collections, plus them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredPolicy {
    /// The policy entity (no `settings`, no `assignments`, no `@odata.*`).
    pub policy: Value,
    /// `settings` collection, ids "0", "1", ...
    pub settings: Vec<Value>,
    /// `assignments` collection.
    pub assignments: Vec<Value>,
}

/// One tenant and everything it holds. Maps are ordered, so listings are deterministic.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Tenant {
    /// Tenant id (GUID).
    pub id: String,
    /// Organisation display name.
    pub display_name: String,
    /// Initial domain (`<name>.onmicrosoft.com`); also accepted as tenant in the token URL.
    pub domain: String,
    /// Consented application roles per app id.
    pub consents: BTreeMap<String, BTreeSet<String>>,
    /// Groups by id.
    pub groups: BTreeMap<String, Value>,
    /// Configuration policies by id.
    pub policies: BTreeMap<String, StoredPolicy>,
    /// Detection rules by (client-chosen) id.
    pub detection_rules: BTreeMap<String, Value>,
    /// Defender XDR role definitions.
    pub defender_role_definitions: BTreeMap<String, Value>,
    /// Defender XDR role assignments.
    pub defender_role_assignments: BTreeMap<String, Value>,
    /// Intune custom role definitions (built-ins are added on creation).
    pub intune_role_definitions: BTreeMap<String, Value>,
    /// Intune role assignments (with `roleDefinitionId` kept internally).
    pub intune_role_assignments: BTreeMap<String, Value>,
    /// Entra directory role assignments.
    pub directory_role_assignments: BTreeMap<String, Value>,
    /// Custom Intune role scope tags by id (the built-in `Default`, id `"0"`, is implicit).
    pub role_scope_tags: BTreeMap<String, Value>,
    /// Intune assignment filters by id.
    pub assignment_filters: BTreeMap<String, Value>,
    /// Objects created so far (for deterministic ids).
    pub object_counter: u64,
    /// Timestamps issued so far (for the deterministic clock).
    pub clock_ticks: u64,
    /// Defender XDR incidents and alerts, seeded from the tenant id on first use.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security: Option<SecurityStore>,
}

/// A seed: apps and tenants to create (the `--seed-file` format and `POST /_emulator/tenants`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Seed {
    /// Apps to register.
    pub apps: Vec<AppSeed>,
    /// Tenants to create (or extend, when the id exists).
    pub tenants: Vec<TenantSeed>,
}

/// An app in a seed; secrets are given in clear here and hashed on load.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AppSeed {
    /// Client id.
    pub app_id: String,
    /// Display name (defaults to the id).
    pub display_name: String,
    /// Home tenant id.
    pub home_tenant: Option<String>,
    /// Client secrets in clear (never persisted; only their hashes are).
    pub secrets: Vec<String>,
    /// Federated credentials.
    pub federated_credentials: Vec<FederatedCredential>,
}

impl std::fmt::Debug for AppSeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppSeed")
            .field("app_id", &self.app_id)
            .field("secrets", &"<redacted>")
            .finish()
    }
}

/// A tenant in a seed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TenantSeed {
    /// Tenant id (GUID).
    pub id: String,
    /// Display name.
    pub display_name: String,
    /// Initial domain; default `<id>.onmicrosoft.com`.
    pub domain: Option<String>,
    /// App id -> consented application roles.
    pub consents: BTreeMap<String, Vec<String>>,
    /// Groups: display names, or objects with `displayName` and optional `id`.
    pub groups: Vec<Value>,
    /// Pre-existing configuration policies in Graph's exported shape.
    pub policies: Vec<Value>,
    /// Pre-existing detection rules in Graph's shape.
    pub detection_rules: Vec<Value>,
}

/// Every application role the emulator knows; handy to consent an all-powerful test app.
pub const ALL_ROLES: &[&str] = &[
    "DeviceManagementConfiguration.ReadWrite.All",
    "DeviceManagementRBAC.ReadWrite.All",
    "Group.Read.All",
    "Group.ReadWrite.All",
    "CustomDetection.ReadWrite.All",
    "RoleManagement.ReadWrite.Defender",
    "RoleManagement.ReadWrite.Directory",
    "Organization.Read.All",
    "ThreatHunting.Read.All",
    "SecurityIncident.ReadWrite.All",
    "SecurityAlert.ReadWrite.All",
];

/// One entry of the request log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestRecord {
    /// Arrival number (also the fault sequence number of the request).
    pub seq: u64,
    /// Tenant of the token (or of the token URL), if known.
    pub tenant: Option<String>,
    /// Client id of the token, if any.
    pub app: Option<String>,
    /// HTTP method.
    pub method: String,
    /// Path and query as sent.
    pub path: String,
    /// Route template, e.g. `beta/deviceManagement/configurationPolicies/{id}`, or `token`.
    pub route: String,
    /// Status answered (0 when the connection was dropped).
    pub status: u16,
    /// Injected fault, if any: `drop`, `slow`, `429`, `503`, `writeLimit`.
    pub fault: Option<String>,
    /// Whether this was a `$batch` sub-request.
    pub in_batch: bool,
    /// `client-request-id` sent by the client.
    pub client_request_id: Option<String>,
}

/// Aggregated counters since start (or the last [`Emulator::clear_log`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Counters {
    /// Requests seen (batch sub-requests included).
    pub total: u64,
    /// Count per status code.
    pub by_status: BTreeMap<u16, u64>,
    /// Count per `"{tenant} {METHOD} {route}"` (tenant `-` when unknown).
    pub by_route: BTreeMap<String, u64>,
    /// Count per tenant.
    pub by_tenant: BTreeMap<String, u64>,
    /// Count per injected fault kind.
    pub faults: BTreeMap<String, u64>,
    /// Out-of-band edits performed (by the fault layer or the admin API).
    pub oob_edits: u64,
}

impl Counters {
    /// Requests for `tenant`, `method`, `route` (route as in [`RequestRecord::route`]).
    pub fn count(&self, tenant: &str, method: &str, route: &str) -> u64 {
        self.by_route
            .get(&format!("{tenant} {method} {route}"))
            .copied()
            .unwrap_or(0)
    }
}

#[derive(Debug, Default)]
pub(crate) struct Log {
    pub(crate) records: VecDeque<RequestRecord>,
    pub(crate) counters: Counters,
}

pub(crate) struct Inner {
    pub(crate) seed: u64,
    pub(crate) state_dir: Option<PathBuf>,
    pub(crate) token_lifetime_secs: i64,
    pub(crate) log_capacity: usize,
    pub(crate) page_sizes: RwLock<super::PageSizes>,
    pub(crate) faults: RwLock<FaultConfig>,
    pub(crate) tenants: RwLock<BTreeMap<String, Arc<Mutex<Tenant>>>>,
    pub(crate) apps: RwLock<BTreeMap<String, App>>,
    pub(crate) key: [u8; 32],
    pub(crate) seq: AtomicU64,
    pub(crate) deterministic_ids: bool,
    pub(crate) setting_oracle: super::SettingOracle,
    pub(crate) limiter: Mutex<WriteLimiter>,
    pub(crate) log: Mutex<Log>,
    /// `DIR/lock`, held with an exclusive lock for the emulator's life (released when the
    /// file is closed, also on a crash): one emulator per state directory.
    pub(crate) _state_lock: Option<std::fs::File>,
}

/// The emulator state, usable in-process without HTTP. Clone freely.
#[derive(Clone)]
pub struct Emulator {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("tenants", &self.tenant_ids().len())
            .finish_non_exhaustive()
    }
}

/// Locks a std mutex, recovering from poisoning (a panicked request must not wedge the
/// whole emulator).
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
fn read<T>(m: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(|e| e.into_inner())
}
pub(crate) fn write<T>(m: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(|e| e.into_inner())
}

/// Current time as Unix seconds.
pub(crate) fn unix_now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// Graph-style timestamp with 7 fractional digits, e.g. `2024-07-29T14:33:50.6781804Z`.
pub(crate) fn graph_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:07}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.nanosecond() / 100
    )
}

/// A timestamp for `now` (from [`Emulator::now`]) strictly later than `previous` (if
/// given), so an edit always moves `lastModifiedDateTime` even within one clock tick.
pub(crate) fn later_than(previous: Option<&str>, now: OffsetDateTime) -> String {
    let prev = previous.and_then(|p| {
        OffsetDateTime::parse(p, &time::format_description::well_known::Rfc3339).ok()
    });
    match prev {
        Some(p) if p >= now => graph_time(p + time::Duration::nanoseconds(100)),
        _ => graph_time(now),
    }
}

pub(crate) fn new_guid() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl Emulator {
    /// Creates an emulator, loading `state_dir` if it holds a saved state.
    ///
    /// Fails with [`EmulatorError::StateDirInUse`] when another emulator holds the state
    /// directory's lock.
    pub fn new(config: &super::EmulatorConfig) -> Result<Self, EmulatorError> {
        let state_lock = match &config.state_dir {
            Some(dir) => Some(lock_state_dir(dir)?),
            None => None,
        };
        let key = match &config.state_dir {
            Some(dir) => signing_key(dir)?,
            None => {
                let mut key = [0u8; 32];
                rand::fill(&mut key);
                key
            }
        };
        let inner = Inner {
            seed: config.seed,
            state_dir: config.state_dir.clone(),
            token_lifetime_secs: config.token_lifetime_secs,
            log_capacity: config.log_capacity,
            page_sizes: RwLock::new(config.page_sizes.clone()),
            faults: RwLock::new(config.faults.clone()),
            tenants: RwLock::new(BTreeMap::new()),
            apps: RwLock::new(BTreeMap::new()),
            key,
            seq: AtomicU64::new(0),
            deterministic_ids: config.deterministic_ids,
            setting_oracle: config.setting_oracle,
            limiter: Mutex::new(WriteLimiter::default()),
            log: Mutex::new(Log::default()),
            _state_lock: state_lock,
        };
        let emu = Emulator {
            inner: Arc::new(inner),
        };
        if let Some(dir) = &config.state_dir {
            emu.load_state(dir)?;
        }
        Ok(emu)
    }

    fn load_state(&self, dir: &Path) -> Result<(), EmulatorError> {
        let io = |path: &Path, source| EmulatorError::Io {
            path: path.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(dir.join("tenants")).map_err(|e| io(dir, e))?;
        let apps_path = dir.join("apps.json");
        if apps_path.exists() {
            let bytes = std::fs::read(&apps_path).map_err(|e| io(&apps_path, e))?;
            let apps: Vec<App> =
                serde_json::from_slice(&bytes).map_err(|e| EmulatorError::State {
                    path: apps_path.clone(),
                    message: e.to_string(),
                })?;
            let mut map = write(&self.inner.apps);
            for app in apps {
                map.insert(app.app_id.clone(), app);
            }
        }
        let tdir = dir.join("tenants");
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&tdir)
            .map_err(|e| io(&tdir, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        entries.sort();
        let mut tenants = write(&self.inner.tenants);
        for path in entries {
            let bytes = std::fs::read(&path).map_err(|e| io(&path, e))?;
            let t: Tenant = serde_json::from_slice(&bytes).map_err(|e| EmulatorError::State {
                path: path.clone(),
                message: e.to_string(),
            })?;
            tenants.insert(t.id.clone(), Arc::new(Mutex::new(t)));
        }
        Ok(())
    }

    /// Writes `bytes` to `path` atomically (temporary file in the same directory + rename).
    fn atomic_write(path: &Path, bytes: &[u8]) -> Result<(), EmulatorError> {
        let io = |source| EmulatorError::Io {
            path: path.to_path_buf(),
            source,
        };
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, bytes).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// Persists one tenant (no-op without a state directory).
    pub(crate) fn persist_tenant(&self, t: &Tenant) -> Result<(), EmulatorError> {
        let Some(dir) = &self.inner.state_dir else {
            return Ok(());
        };
        let tdir = dir.join("tenants");
        std::fs::create_dir_all(&tdir).map_err(|e| EmulatorError::Io {
            path: tdir.clone(),
            source: e,
        })?;
        let bytes = serde_json::to_vec_pretty(t).map_err(|e| EmulatorError::State {
            path: tdir.clone(),
            message: e.to_string(),
        })?;
        Self::atomic_write(
            &tdir.join(format!("{}.json", safe_file_name(&t.id))),
            &bytes,
        )
    }

    fn persist_apps(&self) -> Result<(), EmulatorError> {
        let Some(dir) = &self.inner.state_dir else {
            return Ok(());
        };
        std::fs::create_dir_all(dir).map_err(|e| EmulatorError::Io {
            path: dir.clone(),
            source: e,
        })?;
        let apps: Vec<App> = read(&self.inner.apps).values().cloned().collect();
        let bytes = serde_json::to_vec_pretty(&apps).map_err(|e| EmulatorError::State {
            path: dir.clone(),
            message: e.to_string(),
        })?;
        Self::atomic_write(&dir.join("apps.json"), &bytes)
    }

    /// The tenant handle for `id` (or initial domain), if it exists.
    pub(crate) fn tenant(&self, id_or_domain: &str) -> Option<Arc<Mutex<Tenant>>> {
        let tenants = read(&self.inner.tenants);
        if let Some(t) = tenants.get(id_or_domain) {
            return Some(t.clone());
        }
        let lower = id_or_domain.to_ascii_lowercase();
        tenants.get(&lower).cloned().or_else(|| {
            tenants
                .values()
                .find(|t| lock(t).domain.eq_ignore_ascii_case(&lower))
                .cloned()
        })
    }

    /// Runs `f` on a tenant and persists it afterwards if `f` returned `Ok(_, true)`.
    pub(crate) fn with_tenant<R>(
        &self,
        tid: &str,
        f: impl FnOnce(&mut Tenant) -> (R, bool),
    ) -> Result<R, EmulatorError> {
        let t = self
            .tenant(tid)
            .ok_or_else(|| EmulatorError::UnknownTenant(tid.to_string()))?;
        let mut guard = lock(&t);
        let (r, changed) = f(&mut guard);
        if changed {
            self.persist_tenant(&guard)?;
        }
        Ok(r)
    }

    /// Ids of all tenants, sorted.
    pub fn tenant_ids(&self) -> Vec<String> {
        read(&self.inner.tenants).keys().cloned().collect()
    }

    /// A snapshot of one tenant.
    pub fn tenant_snapshot(&self, tid: &str) -> Option<Tenant> {
        self.tenant(tid).map(|t| lock(&t).clone())
    }

    /// Registers (or replaces) an app. Secrets are hashed here.
    pub fn add_app(&self, seed: &AppSeed) -> Result<(), EmulatorError> {
        if seed.app_id.trim().is_empty() {
            return Err(EmulatorError::Invalid("app id is empty".into()));
        }
        let app = App {
            app_id: seed.app_id.to_ascii_lowercase(),
            display_name: if seed.display_name.is_empty() {
                seed.app_id.clone()
            } else {
                seed.display_name.clone()
            },
            home_tenant: seed.home_tenant.clone(),
            secret_hashes: seed.secrets.iter().map(|s| token::secret_hash(s)).collect(),
            federated_credentials: seed.federated_credentials.clone(),
        };
        write(&self.inner.apps).insert(app.app_id.clone(), app);
        self.persist_apps()
    }

    /// Replaces the client secrets of app `app_id` (registering it when it is not yet):
    /// what a restart with an explicit `--app-secret` does, so that a rotated secret is the
    /// only one accepted. Federated credentials and consents are kept.
    pub fn set_app_secrets(&self, app_id: &str, secrets: &[String]) -> Result<(), EmulatorError> {
        let existing = self.app(app_id);
        let Some(mut app) = existing else {
            return self.add_app(&AppSeed {
                app_id: app_id.to_string(),
                secrets: secrets.to_vec(),
                ..AppSeed::default()
            });
        };
        app.secret_hashes = secrets.iter().map(|s| token::secret_hash(s)).collect();
        write(&self.inner.apps).insert(app.app_id.clone(), app);
        self.persist_apps()
    }

    /// The registered app `app_id`, if any.
    pub fn app(&self, app_id: &str) -> Option<App> {
        read(&self.inner.apps)
            .get(&app_id.to_ascii_lowercase())
            .cloned()
    }

    /// Grants `roles` to `app_id` in `tenant` (admin consent).
    pub fn consent(&self, tenant: &str, app_id: &str, roles: &[&str]) -> Result<(), EmulatorError> {
        self.with_tenant(tenant, |t| {
            t.consents
                .entry(app_id.to_ascii_lowercase())
                .or_default()
                .extend(roles.iter().map(|r| r.to_string()));
            ((), true)
        })
    }

    /// Removes all consent of `app_id` in `tenant`.
    pub fn revoke(&self, tenant: &str, app_id: &str) -> Result<(), EmulatorError> {
        self.with_tenant(tenant, |t| {
            (
                t.consents.remove(&app_id.to_ascii_lowercase()).is_some(),
                true,
            )
        })
        .map(|_| ())
    }

    /// All detection rules of a tenant.
    pub fn detection_rules(&self, tenant: &str) -> Vec<Value> {
        self.tenant(tenant)
            .map(|t| lock(&t).detection_rules.values().cloned().collect())
            .unwrap_or_default()
    }

    /// An out-of-band edit of a detection rule (top-level merge; bumps `lastModifiedDateTime`).
    pub fn oob_edit_rule(
        &self,
        tenant: &str,
        id: &str,
        patch: &Value,
    ) -> Result<(), EmulatorError> {
        self.oob_edit(tenant, |t, now| {
            let Some(r) = t.detection_rules.get_mut(id) else {
                return Err(EmulatorError::NotFound(format!("detection rule {id}")));
            };
            merge_top(r, patch);
            let prev = r
                .get("lastModifiedDateTime")
                .and_then(Value::as_str)
                .map(str::to_string);
            r["lastModifiedDateTime"] = json!(later_than(prev.as_deref(), now));
            r["lastModifiedBy"] = json!("admin@portal");
            Ok(())
        })
    }

    /// Runs one out-of-band edit on `tenant` at the tenant's clock: `edit` changes an object
    /// or says it is not there. A made edit is persisted and counted in `oob_edits`.
    pub(crate) fn oob_edit(
        &self,
        tenant: &str,
        edit: impl FnOnce(&mut Tenant, OffsetDateTime) -> Result<(), EmulatorError>,
    ) -> Result<(), EmulatorError> {
        let r = self.with_tenant(tenant, |t| {
            let now = self.now(t);
            let r = edit(t, now);
            let changed = r.is_ok();
            (r, changed)
        })?;
        if r.is_ok() {
            lock(&self.inner.log).counters.oob_edits += 1;
        }
        r
    }

    /// Mints an access token for `app_id` in `tenant` directly (no HTTP), with the roles
    /// consented there. Fails if the tenant is unknown or the app is not consented.
    pub fn issue_token(&self, tenant: &str, app_id: &str) -> Result<String, EmulatorError> {
        let t = self
            .tenant(tenant)
            .ok_or_else(|| EmulatorError::UnknownTenant(tenant.to_string()))?;
        let (tid, roles) = {
            let t = lock(&t);
            let roles = t
                .consents
                .get(&app_id.to_ascii_lowercase())
                .ok_or_else(|| EmulatorError::NotConsented {
                    app: app_id.to_string(),
                    tenant: t.id.clone(),
                })?;
            (t.id.clone(), roles.iter().cloned().collect::<Vec<_>>())
        };
        Ok(self.mint(&tid, &app_id.to_ascii_lowercase(), roles))
    }

    pub(crate) fn mint(&self, tid: &str, app_id: &str, roles: Vec<String>) -> String {
        let now = unix_now();
        let claims = Claims {
            aud: token::GRAPH_AUDIENCE.to_string(),
            iss: format!("https://sts.windows.net/{tid}/"),
            iat: now,
            nbf: now,
            exp: now + self.inner.token_lifetime_secs,
            tid: tid.to_string(),
            appid: app_id.to_string(),
            roles,
            idtyp: "app".into(),
            uti: new_guid(),
        };
        token::sign(&self.inner.key, &claims)
    }

    /// Current page sizes.
    pub fn page_sizes(&self) -> super::PageSizes {
        read(&self.inner.page_sizes).clone()
    }

    /// Replaces the page sizes at run time (e.g. to page a policy's expanded settings after
    /// a client seeded it with the defaults).
    pub fn set_page_sizes(&self, sizes: super::PageSizes) {
        *write(&self.inner.page_sizes) = sizes;
    }

    /// Current fault configuration.
    pub fn faults(&self) -> FaultConfig {
        read(&self.inner.faults).clone()
    }

    /// Replaces the fault configuration at run time.
    pub fn set_faults(&self, faults: FaultConfig) {
        *write(&self.inner.faults) = faults;
    }

    /// The request log (oldest first; bounded by the configured capacity).
    pub fn requests(&self) -> Vec<RequestRecord> {
        lock(&self.inner.log).records.iter().cloned().collect()
    }

    /// Counters since start or the last [`Emulator::clear_log`].
    pub fn counters(&self) -> Counters {
        lock(&self.inner.log).counters.clone()
    }

    /// Clears the request log and counters.
    pub fn clear_log(&self) {
        let mut log = lock(&self.inner.log);
        log.records.clear();
        log.counters = Counters::default();
    }

    pub(crate) fn record(&self, rec: RequestRecord) {
        // Counter keys stay bounded whatever clients send: a tenant the emulator does not
        // hold counts as `-`, and once a map holds COUNTER_KEYS keys new keys count under
        // `(other)` (issue 14, gap 11: junk traffic grew them without limit).
        let tenant = rec
            .tenant
            .as_deref()
            .filter(|t| read(&self.inner.tenants).contains_key(*t))
            .unwrap_or("-")
            .to_string();
        let mut log = lock(&self.inner.log);
        let c = &mut log.counters;
        c.total += 1;
        *c.by_status.entry(rec.status).or_default() += 1;
        bump(
            &mut c.by_route,
            format!("{tenant} {} {}", rec.method, rec.route),
        );
        bump(&mut c.by_tenant, tenant);
        if let Some(f) = &rec.fault {
            *c.faults.entry(f.clone()).or_default() += 1;
        }
        if self.inner.log_capacity > 0 {
            if log.records.len() >= self.inner.log_capacity {
                log.records.pop_front();
            }
            log.records.push_back(rec);
        }
    }

    /// A new server-assigned object id for an object of tenant `t`: random, or, with
    /// [`crate::EmulatorConfig::deterministic_ids`], derived from the run seed, the tenant and
    /// the tenant's own create counter, so concurrent creates in other tenants do not change
    /// it (GUID-shaped, version-4 layout).
    pub fn new_object_id(&self, t: &mut Tenant) -> String {
        if self.inner.deterministic_ids {
            let n = t.object_counter;
            t.object_counter += 1;
            stable_guid(&format!("object:{}:{}:{n}", self.inner.seed, t.id))
        } else {
            new_guid()
        }
    }

    /// The time to stamp on an object of tenant `t`: the wall clock, or, with
    /// [`crate::EmulatorConfig::deterministic_ids`], a per-tenant logical clock (one second
    /// per stamp from 2026-01-01T00:00:00Z), so demo output holds no wall-clock time.
    pub fn now(&self, t: &mut Tenant) -> OffsetDateTime {
        if self.inner.deterministic_ids {
            let n = t.clock_ticks;
            t.clock_ticks += 1;
            time::macros::datetime!(2026-01-01 00:00:00 UTC)
                + time::Duration::seconds(i64::try_from(n).unwrap_or(i64::MAX))
        } else {
            OffsetDateTime::now_utc()
        }
    }

    /// Marks the logged request `seq` with an after-the-fact fault (and the status the
    /// client saw: 0 when the connection was dropped) and counts the fault.
    pub(crate) fn mark_fault(&self, seq: u64, fault: &str, status: u16) {
        let mut log = lock(&self.inner.log);
        *log.counters.faults.entry(fault.to_string()).or_default() += 1;
        if let Some(r) = log.records.iter_mut().rev().find(|r| r.seq == seq) {
            r.fault = Some(fault.to_string());
            r.status = status;
        }
    }

    pub(crate) fn next_seq(&self) -> u64 {
        self.inner.seq.fetch_add(1, Ordering::Relaxed)
    }
}

/// The token signing key kept in `dir/signing-key` (64 hex digits, created with mode 0600
/// on Unix), so tokens issued before a restart stay valid after it, as Entra's do.
/// Takes the exclusive lock of `DIR/lock` (created if missing), or says the directory is in
/// use. The lock is advisory (flock / LockFileEx): it keeps emulators off each other's state,
/// not other programs.
fn lock_state_dir(dir: &Path) -> Result<std::fs::File, EmulatorError> {
    let io = |path: &Path, source| EmulatorError::Io {
        path: path.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let path = dir.join("lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| io(&path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(EmulatorError::StateDirInUse {
            path: dir.to_path_buf(),
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(io(&path, e)),
    }
}

fn signing_key(dir: &Path) -> Result<[u8; 32], EmulatorError> {
    let path = dir.join("signing-key");
    let io = |source| EmulatorError::Io {
        path: path.clone(),
        source,
    };
    if path.exists() {
        let text = std::fs::read_to_string(&path).map_err(io)?;
        let text = text.trim();
        let mut key = [0u8; 32];
        let ok = text.len() == 64
            && key.iter_mut().enumerate().all(|(i, b)| {
                u8::from_str_radix(&text[2 * i..2 * i + 2], 16)
                    .map(|v| *b = v)
                    .is_ok()
            });
        if !ok {
            return Err(EmulatorError::State {
                path: path.clone(),
                message: "the signing key must be 64 hexadecimal digits".into(),
            });
        }
        return Ok(key);
    }
    std::fs::create_dir_all(dir).map_err(|source| EmulatorError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut key = [0u8; 32];
    rand::fill(&mut key);
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    use std::io::Write;
    let mut f = opts.open(&path).map_err(io)?;
    f.write_all(hex.as_bytes()).map_err(io)?;
    Ok(key)
}

/// Most keys a counter map holds; later new keys count under [`OTHER_KEY`].
pub const COUNTER_KEYS: usize = 1000;
/// The key that counts what does not fit in a full counter map.
pub const OTHER_KEY: &str = "(other)";

fn bump(map: &mut BTreeMap<String, u64>, key: String) {
    let key = if map.len() >= COUNTER_KEYS && !map.contains_key(&key) {
        OTHER_KEY.to_string()
    } else {
        key
    };
    *map.entry(key).or_default() += 1;
}

/// Merges top-level members of `patch` into `target` (both objects).
pub(crate) fn merge_top(target: &mut Value, patch: &Value) {
    if let (Some(t), Some(p)) = (target.as_object_mut(), patch.as_object()) {
        for (k, v) in p {
            t.insert(k.clone(), v.clone());
        }
    }
}

/// A GUID derived from `name` (SHA-256, version-4 layout), so seeded objects get the same
/// ids in every run.
pub fn stable_guid(name: &str) -> String {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(name.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    uuid::Uuid::from_bytes(b).to_string()
}

pub(crate) fn short_name(display: &str, id: &str) -> String {
    let s: String = display
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase();
    if s.is_empty() {
        id.split('-').next().unwrap_or("tenant").to_string()
    } else {
        s
    }
}

fn safe_file_name(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A tenant's Defender incidents and alerts (the `security` entry of its persisted state;
/// seeded and served by [`crate::surfaces::security`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SecurityStore {
    /// Incidents by id (without `alerts`).
    pub incidents: BTreeMap<String, Value>,
    /// Alerts by id (`incidentId` links them).
    pub alerts: BTreeMap<String, Value>,
}
