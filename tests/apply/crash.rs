//! Crashes and lost answers: a connector that wraps the real one to stop the apply after
//! its k-th write (before or after the write reached Graph), or to carry out a create and
//! then report its outcome as unknown. Each crash is followed by a re-plan and a re-run
//! that must converge with no duplicates.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use rampart::apply::bench::fleet_tenant;
use rampart::apply::{ApplyOptions, CallError, CallStats, Connector, TenantGraph, apply_plan};
use rampart::desired::{DesiredObject, TenantDesired};
use rampart::plan::{HttpMethod, TenantPlan};
use rampart_emulator::FaultConfig;
use serde_json::Value;

use super::{assert_converged, duplicates, fleet, template};

/// What the wrapped connections do to writes.
pub struct Script {
    lose_create_answers: bool,
    crash_at: Option<u32>,
    after_send: bool,
    count: AtomicU32,
    pub crashed: tokio::sync::Notify,
}

impl Script {
    pub fn lose_create_answers() -> Self {
        Script {
            lose_create_answers: true,
            crash_at: None,
            after_send: false,
            count: AtomicU32::new(0),
            crashed: tokio::sync::Notify::new(),
        }
    }
    pub fn crash(at: u32, after_send: bool) -> Self {
        Script {
            lose_create_answers: false,
            crash_at: Some(at),
            after_send,
            count: AtomicU32::new(0),
            crashed: tokio::sync::Notify::new(),
        }
    }
}

pub struct Wrapped<C> {
    pub inner: C,
    pub plan: Arc<Script>,
}

impl<C: Connector> Connector for Wrapped<C> {
    fn connect(&self, tenant: &TenantPlan) -> Result<Arc<dyn TenantGraph>, String> {
        let inner = self.inner.connect(tenant)?;
        Ok(Arc::new(WrappedGraph {
            inner,
            script: self.plan.clone(),
        }))
    }
}

struct WrappedGraph {
    inner: Arc<dyn TenantGraph>,
    script: Arc<Script>,
}

#[async_trait::async_trait]
impl TenantGraph for WrappedGraph {
    async fn get(&self, path: &str) -> Result<Option<Value>, CallError> {
        self.inner.get(path).await
    }
    async fn list(&self, path: &str) -> Result<Vec<Value>, CallError> {
        self.inner.list(path).await
    }
    async fn write(
        &self,
        method: HttpMethod,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, CallError> {
        let s = &self.script;
        if s.lose_create_answers && method == HttpMethod::Post && !path.ends_with("/assign") {
            self.inner.write(method, path, body).await?;
            return Err(CallError::Ambiguous {
                detail: format!("POST {path}: connection dropped after sending (test)"),
            });
        }
        if let Some(k) = s.crash_at {
            let n = s.count.fetch_add(1, Ordering::SeqCst) + 1;
            if n >= k {
                if n == k {
                    if s.after_send {
                        let _ = self.inner.write(method, path, body).await;
                    }
                    s.crashed.notify_one();
                }
                // The process is gone: this future never completes.
                std::future::pending::<()>().await;
            }
        }
        self.inner.write(method, path, body).await
    }
    fn stats(&self) -> CallStats {
        self.inner.stats()
    }
}

/// A tiny deterministic generator for crash points.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

fn writes_in(plan: &rampart::plan::Plan) -> u32 {
    plan.objects().map(|(_, o)| o.requests.len() as u32).sum()
}

/// Makes phase B's change: one configuration policy removed (the profile allows removal),
/// every detection rule's description edited (PATCH), the role's description edited
/// (replacement of the role assignment).
fn change(d: &mut TenantDesired) {
    d.allow_removal = true;
    if let Some(k) = d
        .objects
        .keys()
        .find(|(k, _)| k.is_configuration_policy())
        .cloned()
    {
        d.objects.remove(&k);
    }
    for o in d.objects.values_mut() {
        match o {
            DesiredObject::DetectionRule(r) => {
                let desc = r.body["description"].as_str().unwrap_or("").to_string();
                r.body["description"] = Value::String(format!("{desc} (v2)"));
            }
            DesiredObject::RoleAssignment(r) => r.description = format!("{} (v2)", r.description),
            DesiredObject::ConfigurationPolicy(p) => {
                p.description = format!("{} (v2)", p.description)
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_random_points_a_rerun_converges_without_duplicates() {
    const TRIALS: usize = 24;
    let t = template();
    let desired: Vec<TenantDesired> = (0..TRIALS).map(|i| fleet_tenant(&t, 600 + i)).collect();
    let mut fleet = fleet(desired, FaultConfig::none(), 7, |_| None).await;
    let emu = fleet.emulator.admin().clone();
    let mut rng = Lcg(0x5eed);
    let mut crashes = 0;
    for trial in 0..TRIALS {
        let name = fleet.desired[trial].tenant.name.clone();
        let tid = fleet.desired[trial].tenant.id.clone();
        let phases = if trial % 2 == 1 { 2 } else { 1 };
        for phase in 0..phases {
            if phase == 1 {
                change(&mut fleet.desired[trial]);
            }
            let only = |d: &TenantDesired| d.tenant.name == name;
            let plan = fleet.plan_where(1, only).await.expect("plan");
            assert!(!plan.errored, "{name}: {:#?}", plan.summary);
            let total = writes_in(&plan);
            assert!(total > 0, "{name} phase {phase}: nothing to write");
            let k = 1 + (rng.next() % u64::from(total)) as u32;
            let after_send = rng.next().is_multiple_of(2);
            let script = Arc::new(Script::crash(k, after_send));
            let connector = Wrapped {
                inner: fleet.connector().unwrap(),
                plan: script.clone(),
            };
            let opts = ApplyOptions {
                allow_mass_deletion: true,
                ..ApplyOptions::default()
            };
            tokio::select! {
                r = apply_plan(&plan, &connector, &opts) => {
                    panic!("{name}: the apply finished before its crash at write {k}/{total}: {r:?}")
                }
                _ = script.crashed.notified() => crashes += 1,
            }
            // The re-run: plan afresh, apply, and check.
            let replan = fleet.plan_where(1, only).await.expect("re-plan");
            assert!(
                !replan.errored,
                "{name} after crash at {k}/{total}: {:#?}",
                replan.tenants
            );
            let report = fleet.apply(&replan, &opts).await.expect("re-run");
            assert!(
                report.success,
                "{name} after crash at {k}/{total}: {}",
                report.render_human()
            );
            assert_converged(&fleet.plan_where(1, only).await.expect("final plan"));
            assert_eq!(
                duplicates(&emu, &tid),
                Vec::<String>::new(),
                "{name} phase {phase} crash at write {k}/{total} (after send: {after_send})"
            );
        }
    }
    assert!(crashes >= 20, "{crashes} crashes");
    fleet.emulator.shutdown().await;
}
