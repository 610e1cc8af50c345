//! Seeding the emulator: a JSON seed file, rampart profiles, and exported policy JSON.
//!
//! - Seed file ([`Seed`] as JSON): apps (client ids, secrets, federated credentials) and
//!   tenants (consents per app, groups, pre-existing policies and detection rules).
//! - Profiles: every `kind: DistributionProfile` document under a directory gives tenants
//!   (`id`, `name`, `displayName`); the groups the repository refers to (assignment
//!   `group`/`excludeGroup`, role assignment `groups`, after `${tenant.*}`/`${vars.*}`
//!   substitution with the tenant's and profile's vars) are created in each of them, so a
//!   plan against a fresh emulator resolves its groups. YAML is read with serde-saphyr.
//! - Policies directory: `*.json` files at its top level go to every tenant; files under a
//!   sub-directory named after a tenant id, domain or profile short name go to that tenant.
//!   They are imported as pre-existing, unmanaged policies (server fields kept).

use super::EmulatorError;
use super::state::{Emulator, Seed, TenantSeed};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Reads a JSON seed file.
pub fn load_seed_file(path: &Path) -> Result<Seed, EmulatorError> {
    serde_json::from_str(&read_text(path)?).map_err(|e| EmulatorError::State {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), EmulatorError> {
    let rd = std::fs::read_dir(dir).map_err(|source| EmulatorError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            if !p
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            {
                yaml_files(&p, out)?;
            }
        } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            out.push(p);
        }
    }
    Ok(())
}

/// One tenant found in a profile, with the variables that apply to it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileTenant {
    /// Tenant id.
    pub id: String,
    /// Short name.
    pub name: String,
    /// Display name.
    pub display_name: String,
    /// Profile vars overridden by tenant vars.
    pub vars: BTreeMap<String, String>,
}

fn str_map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| match v {
                    Value::String(s) => Some((k.clone(), s.clone())),
                    Value::Number(n) => Some((k.clone(), n.to_string())),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Substitutes `${tenant.id|name|displayName}` and `${vars.X}`; `None` if a variable is
/// undefined (the group is then skipped for that tenant).
fn substitute(s: &str, t: &ProfileTenant) -> Option<String> {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("${") {
        if i > 0 && rest[..i].ends_with('$') {
            out.push_str(&rest[..i - 1]);
            out.push_str("${");
            rest = &rest[i + 2..];
            continue;
        }
        out.push_str(&rest[..i]);
        let end = rest[i..].find('}')? + i;
        let var = &rest[i + 2..end];
        let val = match var {
            "tenant.id" => t.id.clone(),
            "tenant.name" => t.name.clone(),
            "tenant.displayName" => t.display_name.clone(),
            v => t
                .vars
                .get(
                    v.strip_prefix("vars.")
                        .or_else(|| v.strip_prefix("tenant.vars."))?,
                )?
                .clone(),
        };
        out.push_str(&val);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// Reads profiles and group references under `dir` and returns one tenant seed per profile
/// tenant (tenants in several profiles are merged), with `consents` for `app_id`.
pub fn seed_from_profiles(
    dir: &Path,
    app_id: Option<&str>,
    roles: &[&str],
) -> Result<Vec<TenantSeed>, EmulatorError> {
    let mut files = Vec::new();
    yaml_files(dir, &mut files)?;
    files.sort();
    let mut tenants: BTreeMap<String, ProfileTenant> = BTreeMap::new();
    let mut group_refs: BTreeSet<String> = BTreeSet::new();
    for f in &files {
        let text = read_text(f)?;
        // serde-saphyr's default budget refuses alias bombs and oversized documents; the
        // emulator needs values, not spans (rampart's own loader reports those).
        let docs: Vec<Value> =
            serde_saphyr::from_multiple(&text).map_err(|e| EmulatorError::State {
                path: f.clone(),
                message: e.to_string(),
            })?;
        for v in docs {
            collect_groups(&v, &mut group_refs);
            if v.get("kind").and_then(Value::as_str) != Some("DistributionProfile") {
                continue;
            }
            let pvars = str_map(v.get("vars"));
            for t in v
                .get("tenants")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let id = t
                    .get("id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                if id.is_empty() {
                    continue;
                }
                let mut vars = pvars.clone();
                vars.extend(str_map(t.get("vars")));
                let name = t
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or(&id)
                    .to_string();
                let entry = tenants.entry(id.clone()).or_insert_with(|| ProfileTenant {
                    id: id.clone(),
                    name: name.clone(),
                    display_name: t
                        .get("displayName")
                        .and_then(Value::as_str)
                        .unwrap_or(&name)
                        .to_string(),
                    vars: BTreeMap::new(),
                });
                for (k, v) in vars {
                    entry.vars.entry(k).or_insert(v);
                }
            }
        }
    }
    Ok(tenants
        .values()
        .map(|t| {
            let groups: BTreeSet<String> = group_refs
                .iter()
                .filter_map(|g| substitute(g, t))
                .filter(|g| !g.is_empty())
                .collect();
            TenantSeed {
                id: t.id.clone(),
                display_name: t.display_name.clone(),
                domain: Some(format!(
                    "{}.onmicrosoft.com",
                    t.name.replace(|c: char| !c.is_ascii_alphanumeric(), "")
                )),
                consents: app_id
                    .map(|a| {
                        [(a.to_string(), roles.iter().map(|r| r.to_string()).collect())].into()
                    })
                    .unwrap_or_default(),
                groups: groups.into_iter().map(Value::String).collect(),
                ..TenantSeed::default()
            }
        })
        .collect())
}

fn collect_groups(v: &Value, out: &mut BTreeSet<String>) {
    for a in v
        .get("assignments")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        for k in ["group", "excludeGroup"] {
            if let Some(g) = a.get(k).and_then(Value::as_str) {
                out.insert(g.to_string());
            }
        }
    }
    if v.get("kind").and_then(Value::as_str) == Some("RoleAssignment") {
        for g in v
            .get("groups")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(g) = g.as_str() {
                out.insert(g.to_string());
            }
        }
    }
}

/// Imports exported policy JSON files from `dir` (see the module doc for the layout).
/// Returns the number of policies imported.
pub fn seed_policies(emu: &Emulator, dir: &Path) -> Result<usize, EmulatorError> {
    let mut count = 0;
    let rd = std::fs::read_dir(dir).map_err(|source| EmulatorError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut entries: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            let key = p
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            let tenant = emu
                .tenant_ids()
                .into_iter()
                .find(|t| {
                    t.eq_ignore_ascii_case(&key)
                        || emu.tenant_snapshot(t).is_some_and(|s| {
                            s.domain.eq_ignore_ascii_case(&key)
                                || s.domain
                                    .split('.')
                                    .next()
                                    .is_some_and(|d| d.eq_ignore_ascii_case(&key))
                        })
                })
                .ok_or_else(|| EmulatorError::UnknownTenant(key.clone()))?;
            for f in json_files(&p)? {
                emu.add_policy(&tenant, &read_json(&f)?)?;
                count += 1;
            }
        } else if p.extension().is_some_and(|x| x == "json") {
            let v = read_json(&p)?;
            for t in emu.tenant_ids() {
                // Each tenant gets its own copy with its own id, as an import would.
                let mut v = v.clone();
                if let Some(o) = v.as_object_mut() {
                    o.remove("id");
                }
                emu.add_policy(&t, &v)?;
                count += 1;
            }
        }
    }
    Ok(count)
}

fn json_files(dir: &Path) -> Result<Vec<PathBuf>, EmulatorError> {
    let rd = std::fs::read_dir(dir).map_err(|source| EmulatorError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut v: Vec<PathBuf> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    v.sort();
    Ok(v)
}

fn read_json(p: &Path) -> Result<Value, EmulatorError> {
    serde_json::from_str(&read_text(p)?).map_err(|e| EmulatorError::State {
        path: p.to_path_buf(),
        message: e.to_string(),
    })
}

/// A seed file's text in any encoding Windows tools write (see [`crate::text`]); errors
/// name the file.
fn read_text(p: &Path) -> Result<String, EmulatorError> {
    let bytes = std::fs::read(p).map_err(|source| EmulatorError::Io {
        path: p.to_path_buf(),
        source,
    })?;
    crate::text::decode(&bytes).map_err(|message| EmulatorError::State {
        path: p.to_path_buf(),
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitution() {
        let t = ProfileTenant {
            id: "x".into(),
            name: "contoso".into(),
            display_name: "Contoso".into(),
            vars: [("socGroup".to_string(), "Contoso SOC".to_string())].into(),
        };
        assert_eq!(
            substitute("${vars.socGroup} Tier 1", &t).as_deref(),
            Some("Contoso SOC Tier 1")
        );
        assert_eq!(
            substitute("${tenant.name}-pilot", &t).as_deref(),
            Some("contoso-pilot")
        );
        assert_eq!(substitute("${vars.missing}", &t), None);
    }
}
