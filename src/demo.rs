//! The built-in demo behind `rampart plan --emulator`: an in-process Graph emulator holding
//! the repository's tenants in four states, so the first README command shows a real plan
//! with no credentials and no network. Tenants, sorted by name, take the states in turn:
//! in step (rampart's objects present and unchanged), drifted (edited "in the portal"),
//! new (empty), and unmanaged (a look-alike policy rampart did not create).
//!
//! Lives apart from `fetch` (which only reads tenants) so the plan path and the demo do not
//! import each other's world.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};

use crate::desired::TenantDesired;
use crate::graph::auth::{AuthConfig, AuthMethod, Authenticator, TenantAuth};
use crate::graph::client::{GraphClient, GraphContext, GraphOptions};
use crate::plan::{
    Action, CREATED_ID, CREATED_ROLE_DEFINITION_ID, HttpMethod, TenantPlan, diff_tenant,
};
use rampart_emulator::{self as emulator, AppSeed, EmulatorConfig, RunningEmulator};

/// The demo app's client id (the emulator's default app).
pub const APP_ID: &str = "7e57a990-0000-4000-8000-000000000001";
/// A development secret known to the in-process emulator only.
const APP_SECRET: &str = "rampart-demo";

/// What a tenant holds at the start of the demo.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DemoState {
    InStep,
    Drifted,
    New,
    Unmanaged,
}

/// The state of the `i`-th tenant (sorted by name).
pub fn state_of(i: usize) -> DemoState {
    [
        DemoState::InStep,
        DemoState::Drifted,
        DemoState::New,
        DemoState::Unmanaged,
    ][i % 4]
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("emulator: {0}")]
    Emulator(Box<emulator::EmulatorError>),
    #[error(transparent)]
    Graph(Box<crate::graph::error::GraphError>),
    #[error(transparent)]
    Auth(Box<crate::graph::auth::AuthError>),
    #[error(transparent)]
    Url(Box<crate::graph::urls::UrlPolicyError>),
    #[error(transparent)]
    Fetch(Box<crate::fetch::FetchError>),
}

macro_rules! boxed_from {
    ($($t:ty => $v:ident),*) => {$(
        impl From<$t> for DemoError {
            fn from(e: $t) -> Self {
                DemoError::$v(Box::new(e))
            }
        }
    )*};
}
boxed_from!(
    emulator::EmulatorError => Emulator,
    crate::graph::error::GraphError => Graph,
    crate::graph::auth::AuthError => Auth,
    crate::graph::urls::UrlPolicyError => Url,
    crate::fetch::FetchError => Fetch
);

/// A running demo: the emulator and credentials for its tenants.
pub struct Demo {
    pub emulator: RunningEmulator,
    pub options: GraphOptions,
    pub authenticator: Authenticator,
}

impl Demo {
    /// A fresh Graph context (own counters) for the emulator.
    pub fn context(&self) -> Result<GraphContext, DemoError> {
        Ok(GraphContext::builder(self.options.clone())
            .http(self.authenticator.http().clone())
            .build()?)
    }

    /// The credential for one tenant.
    pub fn auth(&self, tenant_id: &str) -> Result<TenantAuth, DemoError> {
        Ok(self.authenticator.tenant_auth(tenant_id)?)
    }
}

/// Starts the emulator and seeds it: tenants and groups from the profiles under
/// `profiles_dir`, objects per [`state_of`].
pub async fn start(desired: &[TenantDesired], profiles_dir: &Path) -> Result<Demo, DemoError> {
    let running = emulator::start(EmulatorConfig {
        deterministic_ids: true,
        ..EmulatorConfig::default()
    })
    .await?;
    let admin = running.admin();
    admin.add_app(&AppSeed {
        app_id: APP_ID.into(),
        display_name: "rampart demo".into(),
        secrets: vec![APP_SECRET.into()],
        ..AppSeed::default()
    })?;
    for t in emulator::seed::seed_from_profiles(profiles_dir, Some(APP_ID), emulator::ALL_ROLES)? {
        admin.add_tenant(&t)?;
    }
    // Every group the desired state names exists in its tenant (the profiles' seeding
    // cannot see every variable), so the demo plans without missing-group errors.
    for d in desired {
        if admin.tenant_snapshot(&d.tenant.id).is_some() {
            for g in crate::fetch::desired_group_names(d) {
                admin.add_group(&d.tenant.id, &g)?;
            }
        }
    }
    let options = GraphOptions::with_graph_url(&running.graph_url())?;
    let mut config = AuthConfig::new(AuthMethod::Secret);
    config.client_id = Some(APP_ID.into());
    config.client_secret = Some(APP_SECRET.to_string().into());
    config.login_url = crate::graph::urls::checked_base_url("login URL", &running.login_url())?;
    let http = crate::graph::client::build_http_client(&options).map_err(|e| {
        crate::graph::error::GraphError::InvalidRequest {
            tenant: "-".into(),
            reason: format!("cannot build the HTTP client: {e}"),
        }
    })?;
    let authenticator = Authenticator::new(config, http)?;
    let demo = Demo {
        emulator: running,
        options,
        authenticator,
    };
    let ctx = demo.context()?;
    let mut sorted: Vec<&TenantDesired> = desired.iter().collect();
    sorted.sort_by(|a, b| a.tenant.name.cmp(&b.tenant.name));
    for (i, d) in sorted.into_iter().enumerate() {
        let client = ctx.client(demo.auth(&d.tenant.id)?);
        seed_tenant(&demo, &client, d, state_of(i)).await?;
    }
    demo.emulator.admin().clear_log();
    Ok(demo)
}

async fn seed_tenant(
    demo: &Demo,
    client: &GraphClient,
    desired: &TenantDesired,
    state: DemoState,
) -> Result<(), DemoError> {
    let admin = demo.emulator.admin();
    let tenant = &desired.tenant.id;
    match state {
        DemoState::New => {}
        DemoState::InStep | DemoState::Drifted => {
            let observed = crate::fetch::fetch_tenant(client, desired).await?;
            let plan = diff_tenant(desired, &observed);
            let created = apply_creates(client, &plan).await?;
            if state == DemoState::Drifted {
                drift(admin, tenant, &created)?;
            }
        }
        DemoState::Unmanaged => {
            // Someone built the first policy by hand, with the same display name.
            if let Some(p) = desired.objects.values().find_map(|o| match o {
                crate::desired::DesiredObject::ConfigurationPolicy(p) => Some(p),
                _ => None,
            }) {
                let mut body = crate::plan::diff::policy_body(p);
                body["description"] = json!("Created by hand in the Intune portal");
                // An import keeps what it is given: give the family Graph would set.
                let family = p.kind.template_family().unwrap_or("none");
                body["templateReference"]["templateFamily"] = json!(family);
                admin.add_policy(tenant, &body)?;
            }
        }
    }
    Ok(())
}

/// Out-of-band edits: a policy loses a setting and is renamed, a rule is disabled.
fn drift(
    admin: &emulator::Emulator,
    tenant: &str,
    created: &BTreeMap<String, String>,
) -> Result<(), DemoError> {
    if let Some(id) = created.get("policy")
        && let Some(p) = admin.policy(tenant, id)
    {
        let mut settings = p.get("settings").cloned().unwrap_or(Value::Null);
        if let Some(a) = settings.as_array_mut()
            && a.len() > 1
        {
            a.pop();
        }
        let name = p
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        admin.oob_edit_policy(
            tenant,
            id,
            &json!({"settings": settings, "name": format!("{name} (edited)")}),
        )?;
    }
    if let Some(id) = created.get("rule") {
        admin.oob_edit_rule(tenant, id, &json!({"status": "disabled"}))?;
    }
    Ok(())
}

/// Sends the create requests of a tenant plan (seeding only: no stale checks, no
/// retries beyond the client's). Returns the ids of the first policy and first rule.
pub async fn apply_creates(
    client: &GraphClient,
    plan: &TenantPlan,
) -> Result<BTreeMap<String, String>, DemoError> {
    let mut first = BTreeMap::new();
    for o in plan.objects.iter().filter(|o| o.action == Action::Create) {
        let mut id = String::new();
        let mut role_id = String::new();
        for r in &o.requests {
            let path = r.path.replace(CREATED_ID, &id);
            let mut body = r.body.clone().unwrap_or(Value::Null);
            if !role_id.is_empty() {
                let text = body
                    .to_string()
                    .replace(CREATED_ROLE_DEFINITION_ID, &role_id);
                body = serde_json::from_str(&text).unwrap_or(body);
            }
            let answer = match r.method {
                HttpMethod::Post => client.post(&path, &body).await?,
                HttpMethod::Put => client.put(&path, &body).await?,
                HttpMethod::Patch => client.patch(&path, &body).await?,
                HttpMethod::Delete => client.delete(&path).await?,
            };
            let new_id = answer
                .body
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            match r.purpose {
                crate::plan::RequestPurpose::Create => id = new_id,
                crate::plan::RequestPurpose::CreateRoleDefinition => role_id = new_id,
                _ => {}
            }
        }
        let key = if o.address.kind.is_configuration_policy() {
            "policy"
        } else if o.address.kind == crate::desired::Kind::DetectionRule {
            "rule"
        } else {
            "role"
        };
        first.entry(key.to_string()).or_insert(id);
    }
    Ok(first)
}
