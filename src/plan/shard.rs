//! Sharding a fleet across CI runners: `plan --shard K/N` and `apply --shard K/N` take a
//! stable partition of the tenants, and `show --merge` joins the shard plans into the plan
//! one unsharded run makes.
//!
//! A tenant belongs to shard `1 + (h mod N)`, where `h` is the first 8 bytes (big-endian)
//! of the SHA-256 of its lower-cased tenant id: the partition depends only on the id and N,
//! never on names, order or which other tenants exist, so a tenant stays on its shard when
//! others are added (as long as N stays). Shards are about even for many tenants, not
//! exactly even.
//!
//! Merging checks that the shard plans agree on everything but their tenants (format and
//! rampart versions, endpoint, selection) and that no tenant appears twice; the merged
//! plan's inputs digest is recomputed over the union's desired states by the caller (it is
//! a digest of all of them, not of the shards' digests), so the merged bytes equal an
//! unsharded run's.

use std::collections::BTreeSet;
use std::fmt;

use sha2::{Digest as _, Sha256};

use super::model::Plan;

/// One shard of N: `index` is 1-based (`--shard 1/4` .. `--shard 4/4`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// Parses `K/N` with 1 <= K <= N.
    pub fn parse(s: &str) -> Result<Shard, String> {
        let (k, n) = s
            .split_once('/')
            .ok_or_else(|| format!("`{s}` is not K/N (e.g. 1/4)"))?;
        let index: u32 = k
            .trim()
            .parse()
            .map_err(|_| format!("`{s}`: K is not a number"))?;
        let count: u32 = n
            .trim()
            .parse()
            .map_err(|_| format!("`{s}`: N is not a number"))?;
        if count == 0 || index == 0 || index > count {
            return Err(format!("`{s}`: need 1 <= K <= N"));
        }
        Ok(Shard { index, count })
    }

    /// The shard (1-based) of `tenant_id` among `count`.
    pub fn of(tenant_id: &str, count: u32) -> u32 {
        let h = Sha256::digest(tenant_id.to_ascii_lowercase().as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&h[..8]);
        (u64::from_be_bytes(first) % u64::from(count.max(1))) as u32 + 1
    }

    /// Whether `tenant_id` belongs to this shard.
    pub fn contains(&self, tenant_id: &str) -> bool {
        Shard::of(tenant_id, self.count) == self.index
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Shard plans that cannot be merged.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MergeError {
    #[error("no plan to merge")]
    Empty,
    #[error("plan {index} differs from plan 1 in its {what}: merge only the shards of one run")]
    Differs { index: usize, what: &'static str },
    #[error("tenant {tenant} is in more than one plan: were the shards made with the same N?")]
    Duplicate { tenant: String },
}

/// Joins shard plans into one: tenants in name order, summary recounted, everything else
/// from the first plan (which the others must match), the inputs digest from
/// `digest_of(tenant ids)`.
pub fn merge(
    plans: Vec<Plan>,
    digest_of: impl FnOnce(&[String]) -> String,
) -> Result<Plan, MergeError> {
    let mut plans = plans.into_iter();
    let mut merged = plans.next().ok_or(MergeError::Empty)?;
    let mut seen: BTreeSet<String> = merged.tenants.iter().map(|t| t.tenant_id.clone()).collect();
    for (i, p) in plans.enumerate() {
        let index = i + 2;
        let differs = |what| MergeError::Differs { index, what };
        if p.format_version != merged.format_version || p.rampart_version != merged.rampart_version
        {
            return Err(differs("format or rampart version"));
        }
        if p.endpoint != merged.endpoint {
            return Err(differs("endpoint"));
        }
        if p.created_from != merged.created_from {
            return Err(differs("selection"));
        }
        for t in p.tenants {
            if !seen.insert(t.tenant_id.clone()) {
                return Err(MergeError::Duplicate { tenant: t.tenant });
            }
            merged.tenants.push(t);
        }
    }
    merged.tenants.sort_by(|a, b| a.tenant.cmp(&b.tenant));
    let ids: Vec<String> = merged.tenants.iter().map(|t| t.tenant_id.clone()).collect();
    merged.inputs_digest = digest_of(&ids);
    merged.recount();
    Ok(merged)
}
