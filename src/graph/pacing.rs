//! Per-tenant write pacing.
//!
//! Intune allows 100 writes (POST, PUT, PATCH, DELETE) per 20 s per app per tenant on
//! configuration policies and Intune RBAC (graph-api.md §1.9); going over earns 429s that
//! cost far more time than waiting. [`WritePacer`] is a sliding-window limiter: before a
//! write, it waits until fewer than `limit` writes were started in the last `window`.
//! Clock and sleeper are injected so tests are exact and instant.
//!
//! Limits: it paces only what this process sends. Other apps share the tenant-wide limit
//! (200 / 20 s for all apps) and we cannot see them; the retry layer handles the 429s.

use crate::graph::retry::{Clock, Sleeper};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Default writes allowed per window per tenant (Intune's per-app limit).
pub const DEFAULT_WRITES_PER_WINDOW: u32 = 100;
/// Default window (Intune's).
pub const DEFAULT_WRITE_WINDOW: Duration = Duration::from_secs(20);

/// Write-limit settings. `limit == 0` disables pacing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteLimit {
    /// Writes allowed per window.
    pub limit: u32,
    /// The window.
    pub window: Duration,
}

impl Default for WriteLimit {
    fn default() -> Self {
        Self {
            limit: DEFAULT_WRITES_PER_WINDOW,
            window: DEFAULT_WRITE_WINDOW,
        }
    }
}

/// A sliding-window limiter for one tenant's writes.
#[derive(Debug)]
pub struct WritePacer {
    limit: WriteLimit,
    clock: Arc<dyn Clock>,
    sleeper: Arc<dyn Sleeper>,
    started: Mutex<VecDeque<Duration>>,
}

impl WritePacer {
    /// A pacer with no writes recorded.
    pub fn new(limit: WriteLimit, clock: Arc<dyn Clock>, sleeper: Arc<dyn Sleeper>) -> Self {
        Self {
            limit,
            clock,
            sleeper,
            started: Mutex::new(VecDeque::new()),
        }
    }

    /// Waits until one more write fits in the window, and records it. Returns the total
    /// time waited (zero when there was room).
    pub async fn acquire(&self) -> Duration {
        let mut waited = Duration::ZERO;
        if self.limit.limit == 0 {
            return waited;
        }
        loop {
            let wait = {
                let mut started = self.started.lock().unwrap_or_else(|e| e.into_inner());
                let now = self.clock.now();
                while started
                    .front()
                    .is_some_and(|t| now.saturating_sub(*t) >= self.limit.window)
                {
                    started.pop_front();
                }
                if started.len() < self.limit.limit as usize {
                    started.push_back(now);
                    return waited;
                }
                // Full: the oldest write leaves the window at oldest + window.
                started
                    .front()
                    .map(|t| (*t + self.limit.window).saturating_sub(now))
                    .unwrap_or(Duration::ZERO)
            };
            tracing::debug!(target: "rampart::graph", wait_ms = wait.as_millis() as u64, "write pacing: waiting for room in the window");
            self.sleeper.sleep(wait).await;
            waited += wait;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::retry::ManualClock;
    use std::time::SystemTime;

    #[tokio::test]
    async fn paces_at_the_limit() {
        let clock = Arc::new(ManualClock::new(SystemTime::UNIX_EPOCH));
        let p = WritePacer::new(
            WriteLimit {
                limit: 3,
                window: Duration::from_secs(20),
            },
            clock.clone(),
            clock.clone(),
        );
        for _ in 0..3 {
            assert_eq!(p.acquire().await, Duration::ZERO);
        }
        clock.advance(Duration::from_secs(5));
        // Fourth write must wait until the first leaves the window (t = 20 s).
        assert_eq!(p.acquire().await, Duration::from_secs(15));
        assert_eq!(clock.now(), Duration::from_secs(20));
        // Writes 2 and 3 (t=0) also left; room for two more at t=20.
        assert_eq!(p.acquire().await, Duration::ZERO);
        assert_eq!(p.acquire().await, Duration::ZERO);
        assert_eq!(p.acquire().await, Duration::from_secs(20));
    }
}
