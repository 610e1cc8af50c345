//! The setting-definition oracle independent of any client's catalog: the definition ids
//! (with the `settingInstanceTemplateId` sent for them) seen in real Graph exports of
//! settings-catalog policies, per template, from `data/seen_setting_ids.tsv`.
//!
//! Sources: the UK NCSC Device Security Guidance configuration packs (Apache-2.0, Crown
//! Copyright; licence in `data/NCSC-LICENSE`) and the identifiers (only Microsoft's ids, no
//! export content) of OpenIntuneBaseline exports; the file's header names the commits.
//! Regenerated with `data/gen_oracle.py`.
//!
//! Limits: an export shows what a tenant accepted, so a definition seen here exists; one not
//! seen may exist too (exports cover only what their authors configured). Both rampart's
//! `validate` (a warning on definitions no source confirms) and the emulator's stricter
//! oracle mode read it from here, so neither depends on the other.

use crate::Catalog;

/// The oracle's data, as shipped (tab-separated; `#` lines are its header).
pub const SEEN_SETTING_IDS: &str = include_str!("../data/seen_setting_ids.tsv");

/// The NCSC packs' licence (Apache-2.0), which the data's attribution points to.
pub const NCSC_LICENSE: &str = include_str!("../data/NCSC-LICENSE");

/// One row: (templateId, settingDefinitionId, settingInstanceTemplateId or `-`, sources).
fn rows() -> impl Iterator<Item = (&'static str, &'static str, &'static str, &'static str)> {
    SEEN_SETTING_IDS
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let mut f = l.split('\t');
            Some((f.next()?, f.next()?, f.next()?, f.next().unwrap_or("")))
        })
}

/// Whether setting definition `definition_id` was seen in a real export of a policy made
/// from template `template_id` (`""`: a plain settings-catalog policy). Ids compare
/// case-insensitively, as Intune's do.
pub fn seen_in_export(template_id: &str, definition_id: &str) -> bool {
    rows().any(|(t, d, _, _)| t == template_id && d.eq_ignore_ascii_case(definition_id))
}

/// Whether `definition_id` was seen in a real export of a policy of any template.
pub fn seen_in_any_export(definition_id: &str) -> bool {
    rows().any(|(_, d, _, _)| d.eq_ignore_ascii_case(definition_id))
}

/// The `settingInstanceTemplateId`s real exports of `template_id` carry for a definition.
pub fn seen_instance_template_ids(template_id: &str, definition_id: &str) -> Vec<&'static str> {
    rows()
        .filter(|(t, d, r, _)| {
            *t == template_id && d.eq_ignore_ascii_case(definition_id) && *r != "-"
        })
        .map(|(_, _, r, _)| r)
        .collect()
}

/// How well a catalog definition is confirmed, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmation {
    /// Seen in a real Graph export of a policy of the template.
    SeenInExport,
    /// Not seen in an export, but the catalog marks it verified (its `source` says how).
    CatalogVerified,
    /// Neither: inferred (e.g. from the CSP naming convention).
    Unconfirmed,
}

/// The [`Confirmation`] of `definition_id` in `template_id`, against the built-in catalog.
pub fn confirmation(template_id: &str, definition_id: &str) -> Confirmation {
    if seen_in_export(template_id, definition_id) {
        Confirmation::SeenInExport
    } else if Catalog::builtin()
        .definition(definition_id)
        .is_some_and(|d| d.verified)
    {
        Confirmation::CatalogVerified
    } else {
        Confirmation::Unconfirmed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oracle_reads_its_rows_and_keeps_its_attribution() {
        assert!(rows().count() > 100);
        assert!(SEEN_SETTING_IDS.contains("Apache-2.0"));
        assert!(NCSC_LICENSE.contains("Apache License"));
        let (t, d, _, _) = rows().find(|(t, _, _, _)| !t.is_empty()).unwrap();
        assert!(seen_in_export(t, d));
        assert!(seen_in_export(t, &d.to_uppercase()));
        assert!(!seen_in_export(t, "no_such_definition"));
        assert_eq!(confirmation(t, d), Confirmation::SeenInExport);
        assert_eq!(
            confirmation(t, "no_such_definition"),
            Confirmation::Unconfirmed
        );
    }
}
