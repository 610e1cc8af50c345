//! The in-process admin API that needs the Graph surfaces' rules: creating and seeding
//! tenants (with Intune's built-in role definitions), importing pre-existing policies and
//! detection rules, reading policies back as Graph would expand them, and out-of-band edits.
//!
//! It sits above [`crate::state`] (the store) and [`crate::surfaces`] (the rules), so the
//! store never calls back into a surface. It writes through the same tenant locks as Graph
//! requests and persists each changed tenant. Limits: seeded objects are not validated
//! against their templates (they model objects that already exist in the tenant).

use crate::EmulatorError;
use crate::state::{Emulator, Seed, Tenant, TenantSeed, lock, short_name, stable_guid, write};
use crate::surfaces::directory::group_entity;
use crate::surfaces::{policies, roles, rules};
use serde_json::Value;
use std::sync::{Arc, Mutex};

impl Emulator {
    /// Adds a security group and returns its id (existing id if the name exists).
    pub fn add_group(&self, tenant: &str, display_name: &str) -> Result<String, EmulatorError> {
        self.with_tenant(tenant, |t| {
            if let Some((id, _)) = t
                .groups
                .iter()
                .find(|(_, g)| g["displayName"] == display_name)
            {
                return (id.clone(), false);
            }
            let id = stable_guid(&format!("group:{}:{display_name}", t.id));
            t.groups
                .insert(id.clone(), group_entity(&id, display_name, None));
            (id, true)
        })
    }

    /// Creates a tenant, or extends it when it exists (groups/policies/consents are added).
    pub fn add_tenant(&self, seed: &TenantSeed) -> Result<(), EmulatorError> {
        let id = seed.id.trim().to_ascii_lowercase();
        if id.is_empty() {
            return Err(EmulatorError::Invalid("tenant id is empty".into()));
        }
        let existing = self.tenant(&id);
        let handle = match existing {
            Some(h) => h,
            None => {
                let t = Tenant {
                    id: id.clone(),
                    display_name: if seed.display_name.is_empty() {
                        id.clone()
                    } else {
                        seed.display_name.clone()
                    },
                    domain: seed.domain.clone().unwrap_or_else(|| {
                        format!("{}.onmicrosoft.com", short_name(&seed.display_name, &id))
                    }),
                    intune_role_definitions: roles::intune_builtin_definitions(),
                    ..Tenant::default()
                };
                let h = Arc::new(Mutex::new(t));
                write(&self.inner.tenants).insert(id.clone(), h.clone());
                h
            }
        };
        let mut t = lock(&handle);
        if !seed.display_name.is_empty() {
            t.display_name = seed.display_name.clone();
        }
        for (app, roles) in &seed.consents {
            t.consents
                .entry(app.to_ascii_lowercase())
                .or_default()
                .extend(roles.iter().cloned());
        }
        for g in &seed.groups {
            let (name, gid, desc) = match g {
                Value::String(s) => (s.clone(), None, None),
                Value::Object(o) => (
                    o.get("displayName")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    o.get("id").and_then(Value::as_str).map(str::to_string),
                    o.get("description")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                ),
                _ => continue,
            };
            // Graph allows duplicate display names: a group given with its own id is always
            // added (unless that id exists); a bare name is added once, so that seeding the
            // same tenant twice does not duplicate it.
            let exists = match &gid {
                Some(g) => t.groups.contains_key(g),
                None => t.groups.values().any(|v| v["displayName"] == name.as_str()),
            };
            if name.is_empty() || exists {
                continue;
            }
            let gid = gid.unwrap_or_else(|| stable_guid(&format!("group:{id}:{name}")));
            t.groups
                .insert(gid.clone(), group_entity(&gid, &name, desc.as_deref()));
        }
        for p in &seed.policies {
            let p = self.with_object_id(&mut t, p);
            let now = self.now(&mut t);
            policies::import_policy(&mut t, &p, now).map_err(EmulatorError::Invalid)?;
        }
        for r in &seed.detection_rules {
            let now = self.now(&mut t);
            rules::import_rule(&mut t, r, now).map_err(EmulatorError::Invalid)?;
        }
        self.persist_tenant(&t)
    }

    /// Applies a whole seed (apps first, then tenants).
    pub fn apply_seed(&self, seed: &Seed) -> Result<(), EmulatorError> {
        for a in &seed.apps {
            self.add_app(a)?;
        }
        for t in &seed.tenants {
            self.add_tenant(t)?;
        }
        Ok(())
    }

    /// Imports a configuration policy in Graph's exported shape (server fields kept when
    /// present, `@odata.*` annotations dropped) and returns its id. Not validated: it models
    /// a policy that already exists in the tenant.
    pub fn add_policy(&self, tenant: &str, policy: &Value) -> Result<String, EmulatorError> {
        self.with_tenant(tenant, |t| {
            let policy = self.with_object_id(t, policy);
            let now = self.now(t);
            match policies::import_policy(t, &policy, now) {
                Ok(id) => (Ok(id), true),
                Err(e) => (Err(EmulatorError::Invalid(e)), false),
            }
        })?
    }

    /// `policy` with an `id`: its own, or a new server-assigned one (deterministic when
    /// configured), so seeded objects follow the same id rule as created ones.
    fn with_object_id(&self, t: &mut Tenant, policy: &Value) -> Value {
        let mut p = policy.clone();
        if p.get("id")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
            && let Some(o) = p.as_object_mut()
        {
            o.insert("id".into(), Value::String(self.new_object_id(t)));
        }
        p
    }

    /// A configuration policy with its settings and assignments, as Graph's
    /// `$expand=settings,assignments` would show it (without `@odata` annotations).
    pub fn policy(&self, tenant: &str, id: &str) -> Option<Value> {
        let t = self.tenant(tenant)?;
        let t = lock(&t);
        t.policies.get(id).map(policies::expanded_plain)
    }

    /// All configuration policies of a tenant (expanded, by id).
    pub fn policies(&self, tenant: &str) -> Vec<Value> {
        self.tenant(tenant)
            .map(|t| {
                lock(&t)
                    .policies
                    .values()
                    .map(policies::expanded_plain)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// An out-of-band edit, as an administrator in the portal would make it: merges the
    /// top-level fields of `patch` into the policy (a `settings` array replaces the
    /// settings) and bumps `lastModifiedDateTime`.
    pub fn oob_edit_policy(
        &self,
        tenant: &str,
        id: &str,
        patch: &Value,
    ) -> Result<(), EmulatorError> {
        self.oob_edit(tenant, |t, now| {
            let Some(p) = t.policies.get_mut(id) else {
                return Err(EmulatorError::NotFound(format!(
                    "configuration policy {id}"
                )));
            };
            policies::apply_oob_edit(p, patch, now);
            Ok(())
        })
    }
}
