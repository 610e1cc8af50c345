//! Directory surfaces: `groups` and `organization` (v1.0 and beta).
//!
//! Groups are read from the tenant (seeded or created through the admin API); the
//! organization is the tenant itself with its initial domain. Limits: no group members,
//! owners or dynamic-membership evaluation.

use crate::state::Tenant;
use crate::wire::{Ctx, GraphRequest, Query, Reply, collection, entity};
use serde_json::json;

pub fn groups(
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
        ctx.emu.inner.page_sizes.directory,
    )
}

pub fn organization(
    ctx: &Ctx<'_>,
    req: &GraphRequest,
    q: &Query,
    op: &str,
    t: &Tenant,
    id: &str,
) -> Reply {
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
        ctx.emu.inner.page_sizes.directory,
    )
}
