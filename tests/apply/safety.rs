//! Issue 10: apply safety under tampering, copied markers, revocation and one broken tenant
//! among healthy ones. Each reproduction of the issue is a test here; each failed before
//! the fix (edited plans were executed, a copied marker sent two DELETEs, a dropped RBAC
//! selector planned nothing, one tenant's error refused the fleet).

use rampart::apply::bench::EmulatedFleet;
use rampart::apply::{ApplyOptions, ApplyRefused, apply_plan};
use rampart::desired::{DesiredObject, Kind, TenantDesired};
use rampart::plan::{Action, HttpMethod, Plan, PlannedRequest, RequestPurpose, marker};
use rampart_emulator::FaultConfig;
use serde_json::json;

use super::{assert_converged, desired, duplicates, fleet, writes};

/// Apply options that check the plan against the current inputs, as `rampart apply
/// plan.json` does.
fn checked(fleet: &EmulatedFleet) -> ApplyOptions {
    ApplyOptions {
        current_inputs: Some(fleet.desired.clone()),
        ..ApplyOptions::default()
    }
}

/// Plans, applies and checks success: a tenant holding the whole baseline.
async fn applied(fleet: &EmulatedFleet) {
    let plan = fleet.plan(4).await.expect("plan");
    let r = fleet.apply(&plan, &checked(fleet)).await.expect("applied");
    assert!(r.success, "{}", r.render_human());
}

/// Round-trips a plan through its saved bytes, edits the JSON, loads it again.
fn edited(plan: &Plan, edit: impl FnOnce(&mut Plan)) -> Plan {
    let mut p = rampart::plan::load(&rampart::plan::save(plan)).expect("loads");
    edit(&mut p);
    p
}

fn refused_naming(r: Result<rampart::apply::ApplyReport, ApplyRefused>, address: &str) {
    match r {
        Err(ApplyRefused::Edited { problems }) => assert!(
            problems.iter().any(|p| p.starts_with(address)),
            "{address} not named in {problems:#?}"
        ),
        other => panic!("expected the edited plan to be refused, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue10_hand_edited_plans_are_refused_4_of_4_with_zero_writes() {
    let mut fleet = fleet(desired(1, 1000), FaultConfig::none(), 1, |_| None).await;
    let emu = fleet.emulator.admin().clone();
    applied(&fleet).await;
    // An unmanaged policy the attacker wants to overwrite.
    let tid = fleet.desired[0].tenant.id.clone();
    let managed = emu.policies(&tid);
    let mut body = managed[0].clone();
    body.as_object_mut().unwrap().remove("id");
    body["name"] = json!("Customer's own policy");
    body["description"] = json!("made in the portal");
    let unmanaged = emu.add_policy(&tid, &body).expect("seeded");
    // One description changes: the plan updates one policy (and nothing else).
    let d = &mut fleet.desired[0];
    d.allow_removal = false;
    for o in d.objects.values_mut() {
        if let DesiredObject::ConfigurationPolicy(p) = o {
            p.description = format!("{} (v2)", p.description);
            break;
        }
    }
    let plan = fleet.plan(1).await.expect("plan");
    let (_, update) = plan
        .objects()
        .find(|(_, o)| o.action == Action::Update)
        .expect("an update");
    let address = update.address.to_string();
    let opts = checked(&fleet);
    let c = fleet.connector().unwrap();
    emu.clear_log();

    // 1. Body: a setting's value (any value in the body) edited.
    let body_edit = edited(&plan, |p| {
        let o = p.tenants[0]
            .objects
            .iter_mut()
            .find(|o| o.address.to_string() == address)
            .unwrap();
        let b = o.requests[0].body.as_mut().unwrap();
        b["settings"][0]["settingInstance"]["settingDefinitionId"] =
            json!("device_vendor_msft_policy_config_defender_allowarchivescanning");
        b["name"] = json!("edited");
    });
    refused_naming(apply_plan(&body_edit, &c, &opts).await, &address);

    // 2. Path: the write pointed at the unmanaged policy.
    let path_edit = edited(&plan, |p| {
        let o = p.tenants[0]
            .objects
            .iter_mut()
            .find(|o| o.address.to_string() == address)
            .unwrap();
        o.requests[0].path = format!("/beta/deviceManagement/configurationPolicies/{unmanaged}");
    });
    refused_naming(apply_plan(&path_edit, &c, &opts).await, &address);

    // 3. An extra request: a Global Administrator grant.
    let extra = edited(&plan, |p| {
        let o = p.tenants[0]
            .objects
            .iter_mut()
            .find(|o| o.address.to_string() == address)
            .unwrap();
        o.requests.push(PlannedRequest {
            purpose: RequestPurpose::Create,
            method: HttpMethod::Post,
            path: "/v1.0/roleManagement/directory/roleAssignments".into(),
            body: Some(json!({
                "@odata.type": "#microsoft.graph.unifiedRoleAssignment",
                "roleDefinitionId": "62e90394-69f5-4237-9190-012177145e10",
                "principalId": "00000000-0000-0000-0000-00000000bad0",
                "directoryScopeId": "/",
            })),
        });
    });
    refused_naming(apply_plan(&extra, &c, &opts).await, &address);

    // 4. The update rewritten as a delete, in a tenant that does not allow removal.
    let delete = edited(&plan, |p| {
        let o = p.tenants[0]
            .objects
            .iter_mut()
            .find(|o| o.address.to_string() == address)
            .unwrap();
        o.action = Action::Delete;
        let id = o.observed[0].id.clone();
        o.requests = vec![PlannedRequest {
            purpose: RequestPurpose::Delete,
            method: HttpMethod::Delete,
            path: format!("/beta/deviceManagement/configurationPolicies/{id}"),
            body: None,
        }];
        o.changes.clear();
        p.recount();
    });
    refused_naming(apply_plan(&delete, &c, &opts).await, &address);

    assert!(
        writes(&emu).is_empty(),
        "a refused plan wrote: {:#?}",
        writes(&emu)
    );
    // The plan as made is applied.
    let r = apply_plan(&plan, &c, &opts)
        .await
        .expect("the real plan applies");
    assert!(r.success, "{}", r.render_human());
    assert_eq!(r.summary.applied, 1);
    fleet.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue10_an_edited_tenant_id_or_observation_is_refused() {
    let fleet = fleet(desired(2, 1010), FaultConfig::none(), 1, |_| None).await;
    let emu = fleet.emulator.admin().clone();
    let plan = fleet.plan(2).await.expect("plan");
    let opts = checked(&fleet);
    let c = fleet.connector().unwrap();
    // Tenant ids swapped: each tenant's writes would go to the other.
    let swapped = edited(&plan, |p| {
        let a = p.tenants[0].tenant_id.clone();
        p.tenants[0].tenant_id = p.tenants[1].tenant_id.clone();
        p.tenants[1].tenant_id = a;
    });
    refused_naming(
        apply_plan(&swapped, &c, &opts).await,
        &plan.tenants[0].tenant,
    );
    // A recorded observation edited so that a create disappears: the derived plan lacks it.
    let dropped = edited(&plan, |p| {
        p.tenants[0].objects.remove(0);
        p.recount();
    });
    refused_naming(
        apply_plan(&dropped, &c, &opts).await,
        &plan.tenants[0].objects[0].address.to_string(),
    );
    assert!(writes(&emu).is_empty());
    fleet.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue10_a_copied_marker_is_an_error_never_a_target() {
    let mut fleet = fleet(desired(1, 1020), FaultConfig::none(), 1, |_| None).await;
    let emu = fleet.emulator.admin().clone();
    applied(&fleet).await;
    let tid = fleet.desired[0].tenant.id.clone();
    // Intune's "Duplicate": same description (marker included), new name.
    let original = emu
        .policies(&tid)
        .into_iter()
        .find(|p| {
            p["description"]
                .as_str()
                .and_then(|d| marker::split(d).1)
                .is_some()
        })
        .expect("a managed policy");
    let name = marker::split(original["description"].as_str().unwrap())
        .1
        .unwrap()
        .to_string();
    let mut copy = original.clone();
    copy.as_object_mut().unwrap().remove("id");
    copy["name"] = json!("Customer copy");
    let copy_id = emu.add_policy(&tid, &copy).expect("copied");

    for drop_it in [false, true] {
        let d = &mut fleet.desired[0];
        d.allow_removal = true;
        if drop_it {
            d.objects.retain(|(_, n), _| n != &name);
        }
        let plan = fleet.plan(1).await.expect("plan");
        let (_, o) = plan
            .objects()
            .find(|(_, o)| o.address.name == name)
            .expect("the marker's address is planned");
        assert_eq!(o.action, Action::Error, "{o:#?}");
        let e = o.error.as_deref().unwrap();
        assert!(e.contains("marker found on 2 objects"), "{e}");
        assert!(e.contains(&copy_id) && e.contains("Customer copy"), "{e}");
        assert!(
            e.contains(original["id"].as_str().unwrap()),
            "{e} names the original"
        );
        assert_eq!(plan.summary.to_destroy, 0);
        emu.clear_log();
        // The only tenant is errored: the apply is refused (with more tenants, this one
        // would be skipped and reported; see the isolation test).
        let r = apply_plan(&plan, &fleet.connector().unwrap(), &checked(&fleet)).await;
        assert!(matches!(r, Err(ApplyRefused::Errored { .. })), "{r:?}");
        assert!(writes(&emu).is_empty(), "{:#?}", writes(&emu));
        assert!(emu.policy(&tid, &copy_id).is_some(), "the copy survives");
    }
    fleet.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue10_removing_the_only_rbac_selector_revokes_the_access() {
    let mut fleet = fleet(desired(1, 1030), FaultConfig::none(), 1, |_| None).await;
    let emu = fleet.emulator.admin().clone();
    applied(&fleet).await;
    let tid = fleet.desired[0].tenant.id.clone();
    let before = emu.tenant_snapshot(&tid).unwrap();
    assert!(
        !before.defender_role_assignments.is_empty(),
        "the baseline grants the SOC a Defender role"
    );
    // The profile drops `{ label: soc }`: no role assignment is desired any more.
    let d = &mut fleet.desired[0];
    d.allow_removal = true;
    d.objects.retain(|(k, _), _| *k != Kind::RoleAssignment);
    let plan = fleet.plan(1).await.expect("plan");
    let deleted: Vec<String> = plan
        .objects()
        .filter(|(_, o)| o.action == Action::Delete)
        .map(|(_, o)| o.address.to_string())
        .collect();
    assert!(
        deleted.iter().any(|a| a.contains("soc-tier1")),
        "the SOC assignment is revoked: {deleted:?}"
    );
    let r = fleet.apply(&plan, &checked(&fleet)).await.expect("applied");
    assert!(r.success, "{}", r.render_human());
    let after = emu.tenant_snapshot(&tid).unwrap();
    assert!(
        after
            .defender_role_assignments
            .values()
            .all(|a| a["description"]
                .as_str()
                .and_then(|d| marker::split(d).1)
                .is_none()),
        "managed Defender role assignments remain"
    );
    assert_converged(&fleet.plan(1).await.expect("re-plan"));
    fleet.emulator.shutdown().await;
}

/// The kinds of tenant error, each made in one tenant of five.
#[derive(Debug, Clone, Copy)]
enum Broken {
    /// Two policies carry one marker (plan-time object error).
    DuplicateManagedPolicy,
    /// The app's consent was revoked: no token (plan-time tenant failure).
    NoConsent,
    /// Read-only consent: every write is refused with 403 (apply-time tenant failure).
    ReadOnly,
    /// A group the desired state names does not exist (plan-time object error).
    MissingGroup,
    /// The tenant does not exist at the login endpoint (a wrong tenant id).
    UnknownTenant,
    /// Every write is throttled past the retry budget (429 after every retry).
    ThrottledPastRetries,
}

/// Answers every write to one tenant with a 429 that outlasted the retries.
struct Throttled<C> {
    inner: C,
    tenant_id: String,
}

struct ThrottledGraph(std::sync::Arc<dyn rampart::apply::TenantGraph>);

impl<C: rampart::apply::Connector> rampart::apply::Connector for Throttled<C> {
    fn connect(
        &self,
        t: &rampart::plan::TenantPlan,
    ) -> Result<std::sync::Arc<dyn rampart::apply::TenantGraph>, String> {
        let g = self.inner.connect(t)?;
        if t.tenant_id == self.tenant_id {
            Ok(std::sync::Arc::new(ThrottledGraph(g)))
        } else {
            Ok(g)
        }
    }
}

#[async_trait::async_trait]
impl rampart::apply::TenantGraph for ThrottledGraph {
    async fn get(
        &self,
        path: &str,
    ) -> Result<Option<serde_json::Value>, rampart::apply::CallError> {
        self.0.get(path).await
    }
    async fn list(&self, path: &str) -> Result<Vec<serde_json::Value>, rampart::apply::CallError> {
        self.0.list(path).await
    }
    async fn write(
        &self,
        method: HttpMethod,
        path: &str,
        _body: Option<&serde_json::Value>,
    ) -> Result<serde_json::Value, rampart::apply::CallError> {
        Err(rampart::apply::CallError::Http {
            status: 429,
            code: "TooManyRequests".into(),
            detail: format!(
                "{method:?} {path}: HTTP 429 TooManyRequests (gave up: retry budget exhausted)"
            ),
        })
    }
    fn stats(&self) -> rampart::apply::CallStats {
        self.0.stats()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue10_one_broken_tenant_among_five_never_stops_the_others() {
    for (i, kind) in [
        Broken::DuplicateManagedPolicy,
        Broken::NoConsent,
        Broken::ReadOnly,
        Broken::MissingGroup,
        Broken::UnknownTenant,
        Broken::ThrottledPastRetries,
    ]
    .into_iter()
    .enumerate()
    {
        let base = 1100 + i * 10;
        let all = desired(5, base);
        let broken_name = all[2].tenant.name.clone();
        let read_only = matches!(kind, Broken::ReadOnly);
        let broken = broken_name.clone();
        let mut fleet = fleet(all, FaultConfig::none(), 1, move |d| {
            (read_only && d.tenant.name == broken).then(|| {
                [
                    "DeviceManagementConfiguration.Read.All",
                    "DeviceManagementRBAC.Read.All",
                    "CustomDetection.Read.All",
                    "RoleManagement.Read.Defender",
                    "RoleManagement.Read.Directory",
                    "Group.Read.All",
                    "Organization.Read.All",
                ]
                .iter()
                .map(|s| s.to_string())
                .collect()
            })
        })
        .await;
        let emu = fleet.emulator.admin().clone();
        let tid = fleet.desired[2].tenant.id.clone();
        match kind {
            Broken::DuplicateManagedPolicy => {
                let d: &TenantDesired = &fleet.desired[2];
                let p = d
                    .objects
                    .values()
                    .find_map(|o| match o {
                        DesiredObject::ConfigurationPolicy(p) => Some(p.clone()),
                        _ => None,
                    })
                    .unwrap();
                let mut body = rampart::plan::diff::policy_body(&p);
                let t = rampart_emulator::templates::template(&p.template_id).unwrap();
                body["templateReference"] = rampart_emulator::templates::template_reference(t);
                emu.add_policy(&tid, &body).unwrap();
                body["name"] = json!("copy");
                emu.add_policy(&tid, &body).unwrap();
            }
            Broken::NoConsent => emu
                .revoke(&tid, rampart::apply::bench::FLEET_APP_ID)
                .unwrap(),
            Broken::UnknownTenant => {
                fleet.desired[2].tenant.id = "00000000-0000-4000-8000-00000000dead".into();
            }
            Broken::MissingGroup => {
                // Named after the tenant's groups were seeded: it does not exist there.
                for o in fleet.desired[2].objects.values_mut() {
                    if let DesiredObject::RoleAssignment(r) = o {
                        r.groups = vec!["No such group".into()];
                    }
                }
            }
            Broken::ReadOnly | Broken::ThrottledPastRetries => {}
        }
        let plan = fleet.plan(5).await.expect("plan");
        let connector = Throttled {
            inner: fleet.connector().unwrap(),
            tenant_id: if matches!(kind, Broken::ThrottledPastRetries) {
                tid.clone()
            } else {
                String::new()
            },
        };
        let r = apply_plan(&plan, &connector, &checked(&fleet))
            .await
            .unwrap_or_else(|e| panic!("{kind:?}: refused the fleet: {e}"));
        assert!(!r.success, "{kind:?}");
        assert_eq!(r.failed_tenants, 1, "{kind:?}: {}", r.render_human());
        for t in &r.tenants {
            if t.tenant == broken_name {
                assert!(
                    t.error.is_some(),
                    "{kind:?}: the broken tenant reports its error"
                );
                assert_eq!(t.counts.applied, 0, "{kind:?}");
            } else {
                assert_eq!(t.error, None, "{kind:?}: {}", r.render_human());
                assert!(t.counts.applied > 0, "{kind:?}: {}", t.tenant);
            }
        }
        let again = fleet.plan(5).await.expect("re-plan");
        for t in again.tenants.iter().filter(|t| t.tenant != broken_name) {
            assert!(
                t.objects
                    .iter()
                    .all(|o| matches!(o.action, Action::NoOp | Action::Adopt)),
                "{kind:?}: {} did not converge",
                t.tenant
            );
            assert_eq!(duplicates(&emu, &t.tenant_id), Vec::<String>::new());
        }
        fleet.emulator.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue10_a_look_alike_role_definition_that_appeared_after_the_plan_is_not_created() {
    use rampart::apply::Connector;
    let fleet = fleet(desired(1, 1200), FaultConfig::none(), 1, |_| None).await;
    let emu = fleet.emulator.admin().clone();
    let plan = fleet.plan(1).await.expect("plan");
    let (_, role) = plan
        .objects()
        .find(|(_, o)| {
            o.requests
                .iter()
                .any(|r| r.purpose == RequestPurpose::CreateRoleDefinition)
        })
        .expect("the baseline creates a custom role");
    let body = role.requests[0].body.clone().unwrap();
    // Someone makes a role with the same display name, by hand, after the plan.
    let mut by_hand = body.clone();
    by_hand["description"] = json!("made in the Defender portal");
    let c = fleet.connector().unwrap();
    let g = c.connect(&plan.tenants[0]).expect("connected");
    g.write(HttpMethod::Post, &role.requests[0].path, Some(&by_hand))
        .await
        .expect("created by hand");
    emu.clear_log();
    let r = fleet
        .apply(&plan, &checked(&fleet))
        .await
        .expect("reported");
    let result = r
        .tenants
        .iter()
        .flat_map(|t| &t.objects)
        .find(|o| o.address == role.address.to_string())
        .unwrap();
    assert_eq!(
        result.outcome,
        rampart::apply::Outcome::Stale,
        "{result:#?}"
    );
    assert!(
        result
            .messages
            .iter()
            .any(|m| m.contains("display name appeared")),
        "{result:#?}"
    );
    assert!(
        !writes(&emu)
            .iter()
            .any(|w| w.path.contains("roleDefinitions")),
        "no role definition create was sent: {:#?}",
        writes(&emu)
    );
    fleet.emulator.shutdown().await;
}

/// Issue 10 (7): after a 401, exactly one new token is requested and the request is sent
/// again; a second 401 is an error (no loop).
#[tokio::test]
async fn issue10_a_401_gets_exactly_one_token_refresh() {
    use crate::graph::{Reply, context, start_mock};
    use rampart::graph::auth::{AuthConfig, Authenticator, env};
    use std::sync::atomic::Ordering;
    let config = |base: &str| {
        let vars: std::collections::BTreeMap<&str, String> = [
            (env::AZURE_CLIENT_ID, "app-123".to_string()),
            (env::AZURE_CLIENT_SECRET, "the-secret-0123".to_string()),
        ]
        .into_iter()
        .collect();
        AuthConfig::from_env(None, Some(base), |k| vars.get(k).cloned()).unwrap()
    };
    // The first Graph request is refused with 401 (a revoked token), then all is well.
    let mock = start_mock(None, |s| {
        if s.nth == 0 {
            Reply::status(401)
        } else {
            Reply::ok(json!({"id": "org"}))
        }
    })
    .await;
    let (ctx, _) = context(&mock.base, |_| {});
    let auth = Authenticator::new(config(&mock.base), ctx.http().clone()).unwrap();
    let c = ctx.client(auth.tenant_auth("t1").unwrap());
    c.get("/v1.0/organization")
        .await
        .expect("succeeds after one refresh");
    assert_eq!(mock.token_requests.load(Ordering::SeqCst), 2, "one refresh");
    assert_eq!(mock.graph_log().len(), 2);

    // Always 401: one refresh, then the error.
    let mock = start_mock(None, |_| Reply::status(401)).await;
    let (ctx, _) = context(&mock.base, |_| {});
    let auth = Authenticator::new(config(&mock.base), ctx.http().clone()).unwrap();
    let c = ctx.client(auth.tenant_auth("t1").unwrap());
    let e = c.get("/v1.0/organization").await.unwrap_err();
    assert_eq!(e.status(), Some(401), "{e}");
    assert_eq!(
        mock.token_requests.load(Ordering::SeqCst),
        2,
        "exactly one refresh"
    );
    assert_eq!(mock.graph_log().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue10_an_edited_group_resolution_in_the_observation_is_refused() {
    let fleet = fleet(desired(2, 1300), FaultConfig::none(), 1, |_| None).await;
    let emu = fleet.emulator.admin().clone();
    let plan = fleet.plan(2).await.expect("plan");
    // The attacker points every group name at their own group id in the recorded
    // observation and re-plans from it, so requests and observation agree.
    let tampered = edited(&plan, |p| {
        let t = &mut p.tenants[0];
        let obs = t.observation.as_mut().unwrap();
        assert!(!obs.groups.by_name.is_empty(), "the baseline names groups");
        for ids in obs.groups.by_name.values_mut() {
            *ids = vec!["00000000-0000-0000-0000-00000000a77c".to_string()];
        }
        let d = fleet
            .desired
            .iter()
            .find(|d| d.tenant.name == t.tenant)
            .unwrap();
        *t = rampart::plan::diff_tenant(d, obs);
        p.recount();
    });
    emu.clear_log();
    let r = fleet
        .apply(&tampered, &checked(&fleet))
        .await
        .expect("reported");
    let t = &r.tenants[0];
    assert!(
        t.error.as_deref().unwrap_or("").contains("resolved to"),
        "{}",
        r.render_human()
    );
    let all = writes(&emu);
    assert!(
        all.iter()
            .all(|w| w.tenant.as_deref() != Some(plan.tenants[0].tenant_id.as_str())),
        "nothing written to the tampered tenant: {all:#?}"
    );
    assert!(
        all.iter()
            .any(|w| w.tenant.as_deref() == Some(plan.tenants[1].tenant_id.as_str())),
        "the check can see writes by tenant"
    );
    // The other tenant is applied.
    assert!(r.tenants[1].counts.applied > 0);
    fleet.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue10_an_edited_built_in_role_id_in_the_observation_is_refused() {
    let fleet = fleet(desired(1, 1400), FaultConfig::none(), 1, |_| None).await;
    let emu = fleet.emulator.admin().clone();
    let plan = fleet.plan(1).await.expect("plan");
    const GLOBAL_ADMINISTRATOR: &str = "62e90394-69f5-4237-9190-012177145e10";
    // "Security Reader" recorded with Global Administrator's id: the re-derived request
    // grants Global Administrator, consistently with the (edited) observation.
    let tampered = edited(&plan, |p| {
        let t = &mut p.tenants[0];
        let obs = t.observation.as_mut().unwrap();
        let dir = obs
            .rbac
            .get_mut(&rampart::desired::RbacSystem::Directory)
            .expect("the baseline uses directory roles");
        let reader = dir
            .role_definitions
            .iter_mut()
            .find(|d| d.display_name == "Security Reader")
            .expect("Security Reader");
        reader.id = GLOBAL_ADMINISTRATOR.into();
        let d = &fleet.desired[0];
        *t = rampart::plan::diff_tenant(d, obs);
        p.recount();
    });
    let grant = tampered.objects().flat_map(|(_, o)| &o.requests).any(|r| {
        r.body
            .as_ref()
            .is_some_and(|b| b["roleDefinitionId"] == GLOBAL_ADMINISTRATOR)
    });
    assert!(grant, "the tampered plan grants Global Administrator");
    emu.clear_log();
    let r = fleet
        .apply(&tampered, &checked(&fleet))
        .await
        .expect("reported");
    assert!(
        !writes(&emu)
            .iter()
            .any(|w| w.path.contains("roleManagement/directory")),
        "no directory role assignment was written: {}",
        r.render_human()
    );
    let o = r
        .tenants
        .iter()
        .flat_map(|t| &t.objects)
        .find(|o| o.address.ends_with("soc-security-reader"))
        .unwrap();
    assert_eq!(o.outcome, rampart::apply::Outcome::Stale, "{o:#?}");
    fleet.emulator.shutdown().await;
}
