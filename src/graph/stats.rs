//! Request counters for a run: what the planner reports and the benchmark measures.
//!
//! Vocabulary: a *request* is one Graph operation the caller asked for (one page of a
//! listing, one sub-request of a `$batch`, one write); a *round trip* is one HTTP exchange
//! on the wire (a whole `$batch` is one; every retry is one more). `requests - round_trips`
//! is what batching saved; `retries` is what throttling and failures cost.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// Counters for one tenant (or the whole run).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counters {
    /// Graph operations requested.
    pub requests: u64,
    /// HTTP exchanges, retries included.
    pub round_trips: u64,
    /// Re-sent requests (whole requests or batch sub-requests).
    pub retries: u64,
    /// Answers with status 429 (batch sub-responses included).
    pub throttled: u64,
    /// Tokens asked of the credential: one per Graph round trip, mostly answered from
    /// its cache. Not the number of requests sent to the token endpoint, which only the
    /// endpoint (or the emulator's counters) can see.
    pub token_lookups: u64,
}

impl Counters {
    fn add(&mut self, other: &Counters) {
        self.requests += other.requests;
        self.round_trips += other.round_trips;
        self.retries += other.retries;
        self.throttled += other.throttled;
        self.token_lookups += other.token_lookups;
    }
}

/// Run-wide counters, by tenant. Cheap enough to update on every request.
#[derive(Debug, Default)]
pub struct RequestStats {
    by_tenant: Mutex<BTreeMap<String, Counters>>,
}

impl RequestStats {
    /// Adds to one tenant's counters.
    pub fn record(&self, tenant: &str, f: impl FnOnce(&mut Counters)) {
        let mut m = self.by_tenant.lock().unwrap_or_else(|e| e.into_inner());
        // Look up before inserting: this runs on every request, avoid the key allocation.
        match m.get_mut(tenant) {
            Some(c) => f(c),
            None => f(m.entry(tenant.to_string()).or_default()),
        }
    }

    /// One tenant's counters (zero if it was never used).
    pub fn tenant(&self, tenant: &str) -> Counters {
        let m = self.by_tenant.lock().unwrap_or_else(|e| e.into_inner());
        m.get(tenant).copied().unwrap_or_default()
    }

    /// Every tenant's counters, sorted by tenant id.
    pub fn by_tenant(&self) -> BTreeMap<String, Counters> {
        self.by_tenant
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The sum over all tenants.
    pub fn total(&self) -> Counters {
        let m = self.by_tenant.lock().unwrap_or_else(|e| e.into_inner());
        let mut t = Counters::default();
        for c in m.values() {
            t.add(c);
        }
        t
    }
}
