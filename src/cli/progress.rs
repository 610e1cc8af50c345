//! Per-tenant progress on stderr, the same for `plan` and `apply`: an indicatif bar on a
//! terminal, and a plain line per finished tenant otherwise (CI logs keep a record of which
//! tenant finished when). The engines only emit events; this turns them into output.
//!
//! `apply`'s engine has no event of its own: [`ProgressConnector`] wraps its
//! [`Connector`] and reports a tenant finished when the engine drops the tenant's Graph
//! handle (at the end of that tenant's apply), counting the writes that failed on the way.

use std::io::IsTerminal as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

use crate::apply::{CallError, CallStats, Connector, TenantGraph};
use crate::plan::{HttpMethod, TenantPlan};

/// Reports finished tenants: `done(tenant, ok)`.
#[derive(Clone)]
pub struct Reporter {
    inner: Arc<Inner>,
}

struct Inner {
    total: usize,
    done: AtomicUsize,
    /// Past participle for the plain lines: `planned`, `applied`.
    verb: &'static str,
    bar: Option<indicatif::ProgressBar>,
}

impl Reporter {
    /// A reporter for `total` tenants; a bar when stderr is a terminal.
    pub fn new(total: usize, verb: &'static str) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(total as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} tenants {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar
        });
        Reporter {
            inner: Arc::new(Inner {
                total,
                done: AtomicUsize::new(0),
                verb,
                bar,
            }),
        }
    }

    /// One tenant finished.
    pub fn done(&self, tenant: &str, ok: bool) {
        let i = &self.inner;
        let n = i.done.fetch_add(1, Ordering::SeqCst) + 1;
        match &i.bar {
            Some(bar) => {
                bar.inc(1);
                // The bar draws to the terminal itself: its text is scrubbed here.
                bar.set_message(crate::redact::scrub(tenant).into_owned());
                if n == i.total {
                    bar.finish_and_clear();
                }
            }
            None => {
                let state = if ok { i.verb } else { "FAILED" };
                crate::errln!("[{n}/{}] {tenant}: {state}", i.total);
            }
        }
    }

    /// The plan engine's callback.
    pub fn fleet_callback(&self) -> crate::fetch::Progress {
        let me = self.clone();
        Arc::new(move |e: crate::fetch::FleetEvent| {
            let crate::fetch::FleetEvent::TenantDone { tenant, ok } = e;
            me.done(&tenant, ok);
        })
    }
}

/// A [`Connector`] that reports each tenant to a [`Reporter`] when its apply ends.
pub struct ProgressConnector<'a> {
    /// The real connector.
    pub inner: &'a dyn Connector,
    /// Where finished tenants go.
    pub reporter: Reporter,
}

impl Connector for ProgressConnector<'_> {
    fn connect(&self, tenant: &TenantPlan) -> Result<Arc<dyn TenantGraph>, String> {
        match self.inner.connect(tenant) {
            Ok(g) => Ok(Arc::new(Observed {
                inner: g,
                tenant: tenant.tenant.clone(),
                failed: AtomicUsize::new(0),
                reporter: self.reporter.clone(),
            })),
            Err(e) => {
                self.reporter.done(&tenant.tenant, false);
                Err(e)
            }
        }
    }
}

struct Observed {
    inner: Arc<dyn TenantGraph>,
    tenant: String,
    failed: AtomicUsize,
    reporter: Reporter,
}

impl Drop for Observed {
    fn drop(&mut self) {
        self.reporter
            .done(&self.tenant, self.failed.load(Ordering::SeqCst) == 0);
    }
}

#[async_trait::async_trait]
impl TenantGraph for Observed {
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
        let r = self.inner.write(method, path, body).await;
        if r.is_err() {
            self.failed.fetch_add(1, Ordering::SeqCst);
        }
        r
    }
    fn stats(&self) -> CallStats {
        self.inner.stats()
    }
}
