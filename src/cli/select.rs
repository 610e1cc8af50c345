//! Selections (`--profile`, `--tenant`, `--target`, `--kind`) checked the same way on every
//! command that takes them: a value that matches nothing is an error with a did-you-mean,
//! never an empty run that reports "no changes" (a nightly drift check with a typo would
//! otherwise report no drift for ever). Every bad value of one run is reported at once.
//!
//! Two stages: [`Selection::apply`] checks names against the repository before any network
//! call (tenants, profiles, kinds, the tenant and kind parts of targets) and narrows the
//! tenants to those the selection names; [`check_targets_matched`] checks, once the plan
//! exists, that each `--target` matched an object (desired, or found in the tenant: a
//! deletion is only known after reading it).

use std::collections::BTreeSet;

use anyhow::bail;

use crate::desired::{Kind, TenantDesired};
use crate::diag::did_you_mean;
use crate::plan::{CreatedFrom, Plan, address_matches};

/// Which tenants and objects a command covers.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct Selection {
    /// Only tenants of this distribution profile (repeatable).
    #[arg(long = "profile")]
    pub profiles: Vec<String>,
    /// Only this tenant, by name or id (repeatable).
    #[arg(long = "tenant")]
    pub tenants: Vec<String>,
    /// Only this address: tenant, tenant/Kind or tenant/Kind/name (repeatable).
    #[arg(long = "target")]
    pub targets: Vec<String>,
    /// Only objects of this kind (repeatable).
    #[arg(long = "kind")]
    pub kinds: Vec<String>,
    /// Only tenants of this rollout ring (`N`), or of rings 0 to N (`..N`). A tenant's ring
    /// is the lowest `ring` among its profiles.
    #[arg(long = "ring", value_name = "N|..N", allow_hyphen_values = true)]
    pub ring: Option<String>,
    /// Only the tenants of shard K of N (a stable partition by tenant id, for a CI matrix;
    /// `show --merge` joins the shard plans).
    #[arg(long, value_name = "K/N", value_parser = crate::plan::shard::Shard::parse)]
    pub shard: Option<crate::plan::shard::Shard>,
}

/// Checks `--ring` against the rings the profiles declare: not a ring number, or a ring no
/// profile has, is an error with a suggestion.
pub fn check_ring(
    all: &[TenantDesired],
    ring: Option<&str>,
) -> Result<Option<crate::rollout::RingSelection>, String> {
    let Some(text) = ring else {
        return Ok(None);
    };
    let rings = crate::rollout::rings_of(all);
    let names: Vec<String> = rings.iter().map(u32::to_string).collect();
    let listed = if names.is_empty() {
        "no profile declares a ring".to_string()
    } else {
        format!("rings: {}", names.join(", "))
    };
    let sel = crate::rollout::RingSelection::parse(text).map_err(|e| format!("{e}; {listed}"))?;
    if !rings.contains(&sel.named()) {
        let suggestion = hint(&sel.named().to_string(), names.iter().map(String::as_str));
        return Err(format!(
            "--ring `{text}`: no profile has ring {}{}",
            sel.named(),
            if suggestion.is_empty() {
                format!(" ({listed})")
            } else {
                format!("{suggestion} ({listed})")
            }
        ));
    }
    Ok(Some(sel))
}

/// " (did you mean `x`?)" or nothing.
pub fn hint<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    did_you_mean(word, candidates)
        .map(|c| format!(" (did you mean `{c}`?)"))
        .unwrap_or_default()
}

/// Whether `t` is the tenant named `x` (by short name, or by id in any case).
pub fn names_tenant(t: &TenantDesired, x: &str) -> bool {
    t.tenant.name == x || t.tenant.id.eq_ignore_ascii_case(x)
}

/// Checks `--tenant` values (names or ids) against `all`; one message per unknown value.
pub fn unknown_tenants(all: &[TenantDesired], tenants: &[String]) -> Vec<String> {
    tenants
        .iter()
        .filter(|x| !all.iter().any(|t| names_tenant(t, x)))
        .map(|x| {
            format!(
                "no profile names tenant `{x}`{}",
                hint(x, all.iter().map(|t| t.tenant.name.as_str()))
            )
        })
        .collect()
}

/// Checks `--profile` values against the profiles that target a tenant.
pub fn unknown_profiles(all: &[TenantDesired], profiles: &[String]) -> Vec<String> {
    let known: BTreeSet<&str> = all
        .iter()
        .flat_map(|t| t.profiles.iter().map(String::as_str))
        .collect();
    profiles
        .iter()
        .filter(|p| !known.contains(p.as_str()))
        .map(|p| {
            format!(
                "--profile `{p}`: no profile of this name targets any tenant{}",
                hint(p, known.iter().copied())
            )
        })
        .collect()
}

/// Parses `--kind` values; unknown ones are errors with a suggestion.
pub fn parse_kinds(kinds: &[String]) -> anyhow::Result<Vec<Kind>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for k in kinds {
        match Kind::parse(k) {
            Some(kind) => out.push(kind),
            None => errors.push(kind_error("--kind", k)),
        }
    }
    fail(errors)?;
    Ok(out)
}

fn kind_error(flag: &str, k: &str) -> String {
    let all: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
    let suggestion = hint(k, all.iter().copied());
    if suggestion.is_empty() {
        format!("{flag} `{k}`: unknown kind (kinds: {})", all.join(", "))
    } else {
        format!("{flag} `{k}`: unknown kind{suggestion}")
    }
}

fn fail(errors: Vec<String>) -> anyhow::Result<()> {
    match errors.len() {
        0 => Ok(()),
        1 => bail!("{}", errors[0]),
        n => bail!("{n} selection errors:\n  {}", errors.join("\n  ")),
    }
}

impl Selection {
    /// The `--kind` values as kinds.
    pub fn kinds(&self) -> anyhow::Result<Vec<Kind>> {
        let kinds = parse_kinds(&self.kinds)?;
        // A --target naming a kind that --kind excludes selects nothing: an error, as
        // --tenant with a --profile that does not hold it is.
        let mut errors = Vec::new();
        for target in &self.targets {
            let mut parts = target.trim_end_matches('/').split('/');
            let (_, Some(kind)) = (parts.next(), parts.next()) else {
                continue;
            };
            if !kinds.is_empty()
                && !kinds
                    .iter()
                    .any(|k| k.to_string().eq_ignore_ascii_case(kind))
            {
                errors.push(format!(
                    "--target `{target}` is of kind {kind}, which --kind {} excludes: together they select nothing",
                    self.kinds.join(",")
                ));
            }
        }
        fail(errors)?;
        Ok(kinds)
    }

    /// The selection as the plan records it, each list sorted (reproducible bytes).
    pub fn created_from(&self) -> CreatedFrom {
        CreatedFrom {
            source: String::new(),
            profiles: sorted(&self.profiles),
            tenants: sorted(&self.tenants),
            targets: sorted(&self.targets),
            kinds: sorted(&self.kinds),
        }
    }

    /// Checks every value against the repository (all errors at once) and returns the
    /// selected tenants: those of the `--profile`s, `--tenant`s and, when targets are
    /// given, only the tenants the targets name (the others are not read, nor shown).
    pub fn apply(&self, all: &[TenantDesired]) -> anyhow::Result<Vec<TenantDesired>> {
        let mut errors = unknown_tenants(all, &self.tenants);
        errors.extend(unknown_profiles(all, &self.profiles));
        let ring = match check_ring(all, self.ring.as_deref()) {
            Ok(r) => r,
            Err(e) => {
                errors.push(e);
                None
            }
        };
        for k in &self.kinds {
            if Kind::parse(k).is_none() {
                errors.push(kind_error("--kind", k));
            }
        }
        for target in &self.targets {
            let mut parts = target.trim_end_matches('/').splitn(3, '/');
            let tenant = parts.next().unwrap_or("");
            if !all.iter().any(|t| t.tenant.name == tenant) {
                errors.push(format!(
                    "--target `{target}`: no tenant named `{tenant}`{}",
                    hint(tenant, all.iter().map(|t| t.tenant.name.as_str()))
                ));
                continue;
            }
            if let Some(kind) = parts.next()
                && Kind::parse(kind).is_none_or(|k| k.as_str() != kind)
            {
                errors.push(kind_error(&format!("--target `{target}`:"), kind));
            }
        }
        fail(errors)?;
        let selected: Vec<TenantDesired> = all
            .iter()
            .filter(|d| {
                self.profiles.is_empty() || d.profiles.iter().any(|p| self.profiles.contains(p))
            })
            .filter(|d| self.tenants.is_empty() || self.tenants.iter().any(|t| names_tenant(d, t)))
            .filter(|d| ring.is_none_or(|r| r.selects(d.ring)))
            .filter(|d| {
                self.targets.is_empty()
                    || self.targets.iter().any(|tg| {
                        tg.trim_end_matches('/').split('/').next() == Some(d.tenant.name.as_str())
                    })
            })
            .cloned()
            .collect();
        if selected.is_empty() {
            bail!(
                "the selection ({}) matches no tenant: each value names something, but not together",
                self.describe()
            );
        }
        // A shard may hold no tenant (more shards than tenants): an empty run, not an error,
        // so every job of a CI matrix succeeds.
        Ok(match self.shard {
            Some(shard) => selected
                .into_iter()
                .filter(|d| shard.contains(&d.tenant.id))
                .collect(),
            None => selected,
        })
    }

    fn describe(&self) -> String {
        let mut parts = Vec::new();
        for (flag, values) in [
            ("--profile", &self.profiles),
            ("--tenant", &self.tenants),
            ("--target", &self.targets),
            ("--kind", &self.kinds),
        ] {
            for v in values {
                parts.push(format!("{flag} {v}"));
            }
        }
        if let Some(r) = &self.ring {
            parts.push(format!("--ring {r}"));
        }
        parts.join(" ")
    }
}

/// After planning: each `--target` must have matched an object of the plan (desired or
/// found in the tenant) or a whole tenant; otherwise an error naming the closest address.
/// Failed tenants are not held against a target (their objects are unknown).
pub fn check_targets_matched(
    plan: &Plan,
    targets: &[String],
    desired: &[TenantDesired],
) -> anyhow::Result<()> {
    let mut addresses: BTreeSet<String> = BTreeSet::new();
    for t in &plan.tenants {
        for o in &t.objects {
            addresses.insert(o.address.to_string());
        }
    }
    for d in desired {
        for (kind, name) in d.objects.keys() {
            addresses.insert(format!("{}/{kind}/{name}", d.tenant.name));
        }
    }
    let mut errors = Vec::new();
    for target in targets {
        let tenant = target.trim_end_matches('/').split('/').next().unwrap_or("");
        let tenant_failed = plan
            .tenants
            .iter()
            .any(|t| t.tenant == tenant && !matches!(t.status, crate::plan::TenantStatus::Ok));
        let whole_tenant = !target.trim_end_matches('/').contains('/');
        let matched = whole_tenant
            || tenant_failed
            || plan
                .tenants
                .iter()
                .flat_map(|t| &t.objects)
                .any(|o| address_matches(target, &o.address))
            || desired.iter().any(|d| {
                d.objects.keys().any(|(kind, name)| {
                    address_matches(
                        target,
                        &crate::desired::Address {
                            tenant: d.tenant.name.clone(),
                            kind: *kind,
                            name: name.clone(),
                        },
                    )
                })
            });
        if !matched {
            errors.push(format!(
                "--target `{target}` matches no object, desired or in the tenant{}",
                hint(target, addresses.iter().map(String::as_str))
            ));
        }
    }
    fail(errors)
}

fn sorted(v: &[String]) -> Vec<String> {
    let mut v = v.to_vec();
    v.sort();
    v.dedup();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(targets: &[&str], kinds: &[&str]) -> Selection {
        Selection {
            targets: targets.iter().map(|s| s.to_string()).collect(),
            kinds: kinds.iter().map(|s| s.to_string()).collect(),
            ..Selection::default()
        }
    }

    #[test]
    fn a_target_of_a_kind_that_kind_excludes_is_an_error() {
        for (targets, kinds) in [
            (
                &["contoso/AntivirusPolicy/baseline-antivirus"][..],
                &["DetectionRule"][..],
            ),
            (&["contoso/DetectionRule/x"], &["AntivirusPolicy"]),
            (
                &["contoso/DetectionRule/x", "fabrikam/AntivirusPolicy/y"],
                &["DetectionRule"],
            ),
        ] {
            let e = sel(targets, kinds).kinds().unwrap_err().to_string();
            assert!(e.contains("select nothing"), "{targets:?} {kinds:?}: {e}");
        }
        for (targets, kinds) in [
            (&["contoso/DetectionRule/x"][..], &["DetectionRule"][..]),
            (&["contoso/DetectionRule/x"], &[]),
            (&["contoso"], &["DetectionRule"]),
            (
                &["contoso/AntivirusPolicy/y"],
                &["DetectionRule", "AntivirusPolicy"],
            ),
        ] {
            assert!(sel(targets, kinds).kinds().is_ok(), "{targets:?} {kinds:?}");
        }
    }
}
