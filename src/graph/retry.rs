//! Retry policy: which failures are retried, how long to wait, and when to stop.
//!
//! Modelled on smithy-rs / the AWS SDKs: a small classification vocabulary
//! ([`RetryClass`]), `Retry-After` honoured (seconds or HTTP-date) and clamped, otherwise
//! capped exponential backoff with *full jitter*, and a [`RetryBudget`] (token bucket)
//! shared by the whole run so that a failing service is not hammered by a retry storm from
//! a thousand tenants at once. Time and randomness are injected ([`Clock`], [`Sleeper`],
//! [`Random`]) so tests are instant and exact; [`ManualClock`] is both a clock and a
//! sleeper whose `sleep` just advances time.
//!
//! Limits: the budget is process-wide per run (not per tenant): one tenant's storm can
//! spend it for everybody, which is the point of a budget.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// Default number of attempts per request (the first try plus up to 7 retries).
pub const DEFAULT_MAX_ATTEMPTS: u32 = 8;
/// Default first backoff step when the service gives no `Retry-After`.
pub const DEFAULT_BASE_DELAY: Duration = Duration::from_millis(500);
/// Default cap for exponential backoff (IntuneCD uses `min(2^n*10, 60)` s; we start lower
/// because full jitter spreads the fleet anyway).
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Default upper bound on a server-sent `Retry-After`: a misbehaving proxy must not park a
/// tenant for an hour.
pub const DEFAULT_MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// Default capacity of the run's retry budget (tokens). Same figure as the AWS SDKs.
pub const DEFAULT_BUDGET_CAPACITY: u32 = 500;
/// Tokens a retry after a throttling or server answer (429/503/504) costs.
pub const DEFAULT_RETRY_COST: u32 = 5;
/// Tokens a retry after a transport failure (reset, timeout) costs: these are more likely
/// to mean the service is down, so they drain the budget faster.
pub const DEFAULT_TIMEOUT_RETRY_COST: u32 = 10;
/// Tokens a successful request gives back (up to the capacity).
pub const DEFAULT_SUCCESS_REFUND: u32 = 1;

/// Why a request failed, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryClass {
    /// 429: the service refused the request without processing it. Safe for any method.
    Throttling,
    /// 503/504: the service may or may not have processed it.
    Transient,
    /// The connection could not be established: nothing was sent. Safe for any method.
    ConnectFailure,
    /// Reset, timeout or a dropped connection after the request was sent: ambiguous.
    TransportAfterSend,
    /// Anything else (4xx, other 5xx): never retried.
    NotRetryable,
}

impl RetryClass {
    /// Classifies an HTTP status.
    pub fn from_status(status: u16) -> Self {
        match status {
            429 => Self::Throttling,
            503 | 504 => Self::Transient,
            _ => Self::NotRetryable,
        }
    }

    /// Whether a request of this idempotency may be re-sent after this failure.
    pub fn retryable(self, idempotent: bool) -> bool {
        match self {
            Self::Throttling | Self::ConnectFailure => true,
            Self::Transient | Self::TransportAfterSend => idempotent,
            Self::NotRetryable => false,
        }
    }
}

/// Retry settings. `Default` gives the documented `DEFAULT_*` values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryConfig {
    /// Attempts per request, the first one included (1 disables retries).
    pub max_attempts: u32,
    /// First backoff step.
    pub base_delay: Duration,
    /// Cap on exponential backoff.
    pub max_backoff: Duration,
    /// Cap on a server-sent `Retry-After`.
    pub max_retry_after: Duration,
    /// Run-wide retry budget.
    pub budget: BudgetConfig,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            base_delay: DEFAULT_BASE_DELAY,
            max_backoff: DEFAULT_MAX_BACKOFF,
            max_retry_after: DEFAULT_MAX_RETRY_AFTER,
            budget: BudgetConfig::default(),
        }
    }
}

impl RetryConfig {
    /// Full-jitter backoff for retry number `retry` (0 = first retry):
    /// a uniform draw in `[0, min(max_backoff, base_delay * 2^retry)]`.
    pub fn backoff(&self, retry: u32, random: &dyn Random) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX));
        let ceiling = exp.min(self.max_backoff);
        ceiling.mul_f64(random.unit().clamp(0.0, 1.0))
    }

    /// The wait before the next attempt: the server's `Retry-After` when present (clamped),
    /// else the jittered backoff.
    pub fn delay(
        &self,
        retry: u32,
        retry_after: Option<&str>,
        now: SystemTime,
        random: &dyn Random,
    ) -> Duration {
        match retry_after.and_then(|v| parse_retry_after(v, now)) {
            Some(d) => d.min(self.max_retry_after),
            None => self.backoff(retry, random),
        }
    }
}

/// Parses `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP-date. A date in the
/// past means "now" (zero). Returns `None` for anything unparseable.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = v.parse::<f64>() {
        // Not RFC-conformant, but some services send "1.5"; honour it rather than guess.
        if secs.is_finite() && secs >= 0.0 {
            return Some(Duration::from_secs_f64(secs.min(86_400.0)));
        }
        return None;
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Budget settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetConfig {
    /// Capacity (and starting level).
    pub capacity: u32,
    /// Cost of a retry after 429/503/504.
    pub retry_cost: u32,
    /// Cost of a retry after a transport failure.
    pub timeout_retry_cost: u32,
    /// Refund per successful request.
    pub success_refund: u32,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        Self {
            capacity: DEFAULT_BUDGET_CAPACITY,
            retry_cost: DEFAULT_RETRY_COST,
            timeout_retry_cost: DEFAULT_TIMEOUT_RETRY_COST,
            success_refund: DEFAULT_SUCCESS_REFUND,
        }
    }
}

/// The run-wide retry budget: a token bucket. Each retry takes tokens, each success gives
/// a few back; when the bucket cannot pay for a retry, the request fails with its last
/// error instead of retrying.
#[derive(Debug)]
pub struct RetryBudget {
    config: BudgetConfig,
    level: AtomicU64,
}

impl RetryBudget {
    /// A full bucket.
    pub fn new(config: BudgetConfig) -> Self {
        Self {
            level: AtomicU64::new(u64::from(config.capacity)),
            config,
        }
    }

    /// Tokens left.
    pub fn level(&self) -> u64 {
        self.level.load(Ordering::SeqCst)
    }

    /// Tries to pay for one retry of this class; false when the budget is exhausted.
    pub fn try_acquire(&self, class: RetryClass) -> bool {
        let cost = u64::from(match class {
            RetryClass::ConnectFailure | RetryClass::TransportAfterSend => {
                self.config.timeout_retry_cost
            }
            _ => self.config.retry_cost,
        });
        self.level
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |l| l.checked_sub(cost))
            .is_ok()
    }

    /// Refunds after a success.
    pub fn on_success(&self) {
        let cap = u64::from(self.config.capacity);
        let refund = u64::from(self.config.success_refund);
        let _ = self
            .level
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |l| {
                Some((l + refund).min(cap))
            });
    }
}

/// Source of time. `now` is monotonic (for pacing); `wall` is calendar time (for
/// `Retry-After` dates).
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Monotonic time since an arbitrary origin.
    fn now(&self) -> Duration;
    /// Calendar time.
    fn wall(&self) -> SystemTime;
}

/// Something that waits. Production: `tokio::time::sleep`.
#[async_trait::async_trait]
pub trait Sleeper: Send + Sync + std::fmt::Debug {
    /// Waits for `d`.
    async fn sleep(&self, d: Duration);
}

/// Source of randomness for jitter: a uniform draw in `[0, 1)`.
pub trait Random: Send + Sync + std::fmt::Debug {
    /// A uniform value in `[0, 1)`.
    fn unit(&self) -> f64;
}

/// The real clock.
#[derive(Debug)]
pub struct SystemClock {
    origin: std::time::Instant,
}

impl Default for SystemClock {
    fn default() -> Self {
        Self {
            origin: std::time::Instant::now(),
        }
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }
    fn wall(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// The real sleeper.
#[derive(Debug, Default)]
pub struct TokioSleeper;

#[async_trait::async_trait]
impl Sleeper for TokioSleeper {
    async fn sleep(&self, d: Duration) {
        tokio::time::sleep(d).await;
    }
}

/// The real random source (thread-local RNG).
#[derive(Debug, Default)]
pub struct ThreadRandom;

impl Random for ThreadRandom {
    fn unit(&self) -> f64 {
        rand::random::<f64>()
    }
}

/// A fixed random value, for exact tests (`FixedRandom(1.0)` waits the whole ceiling;
/// values are clamped to `[0, 1]`).
#[derive(Debug, Clone, Copy)]
pub struct FixedRandom(pub f64);

impl Random for FixedRandom {
    fn unit(&self) -> f64 {
        self.0
    }
}

/// A manual clock that is also a sleeper: `sleep(d)` advances time by `d` at once and
/// records the sleep, so tests can assert the exact waits without waiting.
#[derive(Debug)]
pub struct ManualClock {
    state: Mutex<ManualState>,
    wall_origin: SystemTime,
}

#[derive(Debug, Default)]
struct ManualState {
    now: Duration,
    sleeps: Vec<Duration>,
}

impl ManualClock {
    /// Starts at monotonic zero and the given calendar time.
    pub fn new(wall_origin: SystemTime) -> Self {
        Self {
            state: Mutex::new(ManualState::default()),
            wall_origin,
        }
    }

    /// Moves time forward without recording a sleep.
    pub fn advance(&self, d: Duration) {
        self.lock().now += d;
    }

    /// Every sleep so far, in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.lock().sleeps.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ManualState> {
        // A poisoned lock only means a test panicked elsewhere; the data is still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        self.lock().now
    }
    fn wall(&self) -> SystemTime {
        self.wall_origin + self.lock().now
    }
}

#[async_trait::async_trait]
impl Sleeper for ManualClock {
    async fn sleep(&self, d: Duration) {
        {
            let mut s = self.lock();
            s.now += d;
            s.sleeps.push(d);
        }
        // Let other tasks run, as a real sleep would.
        tokio::task::yield_now().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(12));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(12))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(12));
        assert_eq!(parse_retry_after(&past, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
    }

    #[test]
    fn delay_clamps_and_backs_off() {
        let c = RetryConfig::default();
        let now = SystemTime::UNIX_EPOCH;
        assert_eq!(
            c.delay(0, Some("3600"), now, &FixedRandom(0.5)),
            DEFAULT_MAX_RETRY_AFTER
        );
        assert_eq!(c.delay(0, None, now, &FixedRandom(1.0)), DEFAULT_BASE_DELAY);
        assert_eq!(
            c.delay(2, None, now, &FixedRandom(1.0)),
            DEFAULT_BASE_DELAY * 4
        );
        assert_eq!(
            c.delay(40, None, now, &FixedRandom(1.0)),
            DEFAULT_MAX_BACKOFF
        );
        assert_eq!(c.delay(3, None, now, &FixedRandom(0.0)), Duration::ZERO);
    }

    #[test]
    fn budget_drains_and_refills() {
        let b = RetryBudget::new(BudgetConfig {
            capacity: 10,
            retry_cost: 5,
            timeout_retry_cost: 10,
            success_refund: 1,
        });
        assert!(b.try_acquire(RetryClass::Throttling));
        assert!(b.try_acquire(RetryClass::Throttling));
        assert!(!b.try_acquire(RetryClass::Throttling));
        for _ in 0..20 {
            b.on_success();
        }
        assert_eq!(b.level(), 10);
        assert!(b.try_acquire(RetryClass::TransportAfterSend));
        assert!(!b.try_acquire(RetryClass::Throttling));
    }

    #[test]
    fn classification() {
        assert!(RetryClass::from_status(429).retryable(false));
        assert!(!RetryClass::from_status(503).retryable(false));
        assert!(RetryClass::from_status(504).retryable(true));
        assert!(!RetryClass::from_status(500).retryable(true));
        assert!(RetryClass::ConnectFailure.retryable(false));
        assert!(!RetryClass::TransportAfterSend.retryable(false));
    }
}
