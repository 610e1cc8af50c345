//! Directory surfaces: `groups` and `organization` (v1.0 and beta).
//!
//! Groups are read from the tenant (seeded, created through the admin API, or created with
//! `POST /groups` as `group-post-groups` documents: `displayName`, `mailEnabled`,
//! `mailNickname` and `securityEnabled` required, 201 with the group); `$filter` on
//! `displayName` (`eq`, `startswith`) works as for every collection. Graph allows several
//! groups with one display name, and so does the emulator. The organization is the tenant
//! itself with its initial domain. Limits: no members, owners, mail-enabled security
//! groups' Exchange side, or dynamic-membership evaluation.

use crate::state::{Tenant, graph_time};
use crate::wire::{
    Call, Ctx, GraphRequest, Query, Reply, collection, created_entity, entity, object_body,
};
use serde_json::Map;
use serde_json::{Value, json};

/// Handles group operations; returns the reply and whether the tenant changed.
pub fn groups(c: &Call<'_>, t: &mut Tenant) -> (Reply, bool) {
    let (ctx, req, q, op, id, body) = c.parts();
    if op == "group.create" {
        return match create_group(ctx, req, t, body) {
            Ok(r) => (r, true),
            Err(r) => (r, false),
        };
    }
    (read_groups(ctx, req, q, op, t, id), false)
}

fn create_group(
    ctx: &Ctx<'_>,
    req: &GraphRequest,
    t: &mut Tenant,
    body: Option<&Value>,
) -> Result<Reply, Reply> {
    let o = object_body(body)?;
    let missing = |k: &str| {
        Reply::error(
            400,
            "Request_BadRequest",
            format!("A value is required for property '{k}' of resource 'Group'."),
        )
    };
    let name = o
        .get("displayName")
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| missing("displayName"))?;
    let nick = o
        .get("mailNickname")
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| missing("mailNickname"))?;
    let mail_enabled = o
        .get("mailEnabled")
        .and_then(Value::as_bool)
        .ok_or_else(|| missing("mailEnabled"))?;
    let security_enabled = o
        .get("securityEnabled")
        .and_then(Value::as_bool)
        .ok_or_else(|| missing("securityEnabled"))?;
    let group_types = o.get("groupTypes").cloned().unwrap_or(json!([]));
    let unified = group_types
        .as_array()
        .is_some_and(|a| a.iter().any(|g| g == "Unified"));
    if mail_enabled && !unified {
        return Err(Reply::error(
            400,
            "Request_BadRequest",
            "Creating mail-enabled security groups and distribution lists is not supported through Microsoft Graph.",
        ));
    }
    if nick.len() > 64
        || nick
            .chars()
            .any(|c| !c.is_ascii() || " @()\\[]\";:<>,".contains(c))
    {
        return Err(Reply::error(
            400,
            "Request_BadRequest",
            "Invalid value specified for property 'mailNickname' of resource 'Group'.",
        ));
    }
    let gid = ctx.emu.new_object_id(t);
    let mut g = group_entity(&gid, name, o.get("description").and_then(Value::as_str));
    g["createdDateTime"] = json!(graph_time(ctx.emu.now(t)));
    g["mailNickname"] = json!(nick);
    g["mailEnabled"] = json!(mail_enabled);
    g["securityEnabled"] = json!(security_enabled);
    g["groupTypes"] = group_types;
    t.groups.insert(gid, g.clone());
    Ok(created_entity(ctx, req, "groups", g))
}

fn read_groups(
    ctx: &Ctx<'_>,
    req: &GraphRequest,
    q: &Query,
    op: &str,
    t: &Tenant,
    id: &str,
) -> Reply {
    if op == "group.get" {
        return match t.groups.get(id) {
            Some(g) => entity(ctx, req, q, "groups", g.clone()),
            None => Reply::error(
                404,
                "Request_ResourceNotFound",
                format!(
                    "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
                ),
            ),
        };
    }
    collection(
        ctx,
        req,
        q,
        "groups",
        t.groups.values().cloned().collect(),
        ctx.emu.page_sizes().directory,
    )
}

/// Handles `organization` reads.
pub fn organization(c: &Call<'_>, t: &Tenant) -> Reply {
    let (ctx, req, q, op, id, _) = c.parts();
    let org = json!({
        "id": t.id,
        "deletedDateTime": null,
        "displayName": t.display_name,
        "tenantType": "AAD",
        "countryLetterCode": "US",
        "createdDateTime": "2020-01-01T00:00:00Z",
        "verifiedDomains": [{"capabilities": "Email, OfficeCommunicationsOnline", "isDefault": true, "isInitial": true, "name": t.domain, "type": "Managed"}],
    });
    if op == "org.get" {
        if id != t.id {
            return Reply::error(
                404,
                "Request_ResourceNotFound",
                format!(
                    "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
                ),
            );
        }
        return entity(ctx, req, q, "organization", org);
    }
    collection(
        ctx,
        req,
        q,
        "organization",
        vec![org],
        ctx.emu.page_sizes().directory,
    )
}

/// A security group entity in Graph's shape (`group-get`), as seeded or created.
pub fn group_entity(id: &str, name: &str, description: Option<&str>) -> Value {
    let nick: String = name.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    let mut m = Map::new();
    m.insert("id".into(), json!(id));
    m.insert("deletedDateTime".into(), Value::Null);
    m.insert("classification".into(), Value::Null);
    m.insert("createdDateTime".into(), json!("2024-01-01T00:00:00Z"));
    m.insert(
        "description".into(),
        description.map_or(Value::Null, |d| json!(d)),
    );
    m.insert("displayName".into(), json!(name));
    m.insert("groupTypes".into(), json!([]));
    m.insert("mail".into(), Value::Null);
    m.insert("mailEnabled".into(), json!(false));
    m.insert(
        "mailNickname".into(),
        json!(if nick.is_empty() {
            "group".to_string()
        } else {
            nick
        }),
    );
    m.insert("membershipRule".into(), Value::Null);
    m.insert("securityEnabled".into(), json!(true));
    m.insert("visibility".into(), Value::Null);
    Value::Object(m)
}
