//! The settings catalog: Microsoft's facts about the endpoint-security templates of every
//! family and platform rampart knows (Windows, macOS, Linux; graph-api-2.md §5), kept as
//! data (`catalog.json` and one `templates/*.json` per family, embedded at build time and
//! parsed once), and the document [`Kind`]s that use them (one per Intune template family,
//! plus [`Kind::SettingsCatalogPolicy`] for plain settings-catalog policies). A crate of its
//! own because both rampart (readable names, validation, import) and its Graph emulator
//! (template validation) read it; it depends on neither, so the dependency runs one way.
//!
//! For each template: its id (with the `_N` version suffix), family, display name, platforms,
//! technologies, `lifecycleState` and a short alias (`antivirus`, `bitlocker`, `laps`, ...).
//! For the setting definitions it knows: the raw `settingDefinitionId`, the value type, the
//! choice options (`itemId`), bounds, the `settingInstanceTemplateId` /
//! `settingValueTemplateId` where known, and a readable camelCase name
//! (`realTimeMonitoring`, `requireDeviceEncryption`) with readable option names.
//!
//! Limits: the catalog is *not* complete and never a limit. Microsoft's templates hold more
//! definitions than listed here; a definition unknown to the catalog is still expressible
//! (raw id, explicit form), planned and applied as written, and only warned about. The
//! service is the authority: [`snapshot`] merges what `rampart catalog refresh` learned from
//! a tenant over the shipped data. Each entry carries `source` and `verified`:
//! `verified: false` marks ids not yet seen in a real Graph export (inferred from the CSP
//! naming convention or taken from third-party code). Field names follow Graph.

pub mod snapshot;

use std::collections::HashMap;

pub mod seen;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The kinds of object rampart manages; the `kind` of a policy document.
///
/// Configuration-policy kinds follow Intune's endpoint-security *families*
/// (`templateFamily`): one kind per family, with the family's templates chosen by
/// `template:` (an alias such as `bitlocker` or a raw template id). A plain settings-catalog
/// policy (`templateFamily: none`, no template) is [`Kind::SettingsCatalogPolicy`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Kind {
    AntivirusPolicy,
    FirewallPolicy,
    AttackSurfaceReductionPolicy,
    /// `endpointSecurityEndpointDetectionAndResponse` (Windows, macOS, Linux EDR).
    EndpointDetectionAndResponsePolicy,
    /// `endpointSecurityDiskEncryption` (BitLocker, Personal Data Encryption).
    DiskEncryptionPolicy,
    /// `endpointSecurityAccountProtection` (LAPS, Windows Hello for Business, local user
    /// group membership).
    AccountProtectionPolicy,
    /// `endpointSecurityApplicationControl` (App Control for Business).
    ApplicationControlPolicy,
    /// A settings-catalog policy without a template (`templateFamily: none`).
    SettingsCatalogPolicy,
    DetectionRule,
    RoleAssignment,
}

impl Kind {
    pub const ALL: [Kind; 10] = [
        Kind::AntivirusPolicy,
        Kind::FirewallPolicy,
        Kind::AttackSurfaceReductionPolicy,
        Kind::EndpointDetectionAndResponsePolicy,
        Kind::DiskEncryptionPolicy,
        Kind::AccountProtectionPolicy,
        Kind::ApplicationControlPolicy,
        Kind::SettingsCatalogPolicy,
        Kind::DetectionRule,
        Kind::RoleAssignment,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::AntivirusPolicy => "AntivirusPolicy",
            Kind::FirewallPolicy => "FirewallPolicy",
            Kind::AttackSurfaceReductionPolicy => "AttackSurfaceReductionPolicy",
            Kind::EndpointDetectionAndResponsePolicy => "EndpointDetectionAndResponsePolicy",
            Kind::DiskEncryptionPolicy => "DiskEncryptionPolicy",
            Kind::AccountProtectionPolicy => "AccountProtectionPolicy",
            Kind::ApplicationControlPolicy => "ApplicationControlPolicy",
            Kind::SettingsCatalogPolicy => "SettingsCatalogPolicy",
            Kind::DetectionRule => "DetectionRule",
            Kind::RoleAssignment => "RoleAssignment",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether objects of this kind are Intune settings-catalog configuration policies.
    pub fn is_configuration_policy(self) -> bool {
        self.template_family().is_some()
    }

    /// The Graph `templateFamily` of this kind's policies (`none` for a plain
    /// settings-catalog policy); `None` for kinds that are not configuration policies.
    pub fn template_family(self) -> Option<&'static str> {
        Some(match self {
            Kind::AntivirusPolicy => "endpointSecurityAntivirus",
            Kind::FirewallPolicy => "endpointSecurityFirewall",
            Kind::AttackSurfaceReductionPolicy => "endpointSecurityAttackSurfaceReduction",
            Kind::EndpointDetectionAndResponsePolicy => {
                "endpointSecurityEndpointDetectionAndResponse"
            }
            Kind::DiskEncryptionPolicy => "endpointSecurityDiskEncryption",
            Kind::AccountProtectionPolicy => "endpointSecurityAccountProtection",
            Kind::ApplicationControlPolicy => "endpointSecurityApplicationControl",
            Kind::SettingsCatalogPolicy => "none",
            Kind::DetectionRule | Kind::RoleAssignment => return None,
        })
    }

    /// The kind whose policies have this Graph `templateFamily`.
    pub fn for_template_family(family: &str) -> Option<Kind> {
        Kind::ALL
            .into_iter()
            .find(|k| k.template_family() == Some(family))
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The data files: the only places where Microsoft ids are written down. `catalog.json`
/// holds the antivirus, firewall and ASR rules templates; `templates/*.json` add the other
/// endpoint-security families (one file per family), merged in this order.
const CATALOG_JSON: &str = include_str!("catalog.json");
const FAMILY_JSON: [(&str, &str); 5] = [
    (
        "templates/antivirus.json",
        include_str!("templates/antivirus.json"),
    ),
    (
        "templates/endpoint-security.json",
        include_str!("templates/endpoint-security.json"),
    ),
    (
        "templates/disk-encryption.json",
        include_str!("templates/disk-encryption.json"),
    ),
    (
        "templates/attack-surface-reduction.json",
        include_str!("templates/attack-surface-reduction.json"),
    ),
    (
        "templates/account-protection.json",
        include_str!("templates/account-protection.json"),
    ),
];

/// An endpoint-security template (`deviceManagementConfigurationPolicyTemplate`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Template {
    /// `templateReference.templateId`, e.g. `804339ad-1553-4478-a742-138fb5807418_1`.
    pub id: String,
    /// The id without its version suffix.
    pub base_id: String,
    pub version: u32,
    /// rampart's short name, usable as `template:` in YAML.
    pub alias: String,
    /// `templateDisplayName`.
    pub display_name: String,
    /// `templateFamily`, e.g. `endpointSecurityAntivirus`.
    pub template_family: String,
    /// The policy `platforms` this template requires.
    pub platforms: String,
    /// The policy `technologies` this template requires.
    pub technologies: String,
    /// The rampart document kind whose policies use this template.
    pub kind: Kind,
    /// Graph `lifecycleState`: `active`, `superseded`, `deprecated`, `retired`, `draft`.
    #[serde(default = "active", skip_serializing_if = "is_active")]
    pub lifecycle_state: String,
    /// For a superseded or deprecated version: the template id that replaces it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub superseded_by: Option<String>,
    pub source: String,
    pub verified: bool,
}

fn active() -> String {
    "active".to_string()
}

fn is_active(s: &String) -> bool {
    s == "active"
}

impl Template {
    /// Whether this is the pseudo-template of plain settings-catalog policies
    /// (`templateFamily: none`, empty `templateId`): any definition may appear, the
    /// platforms and technologies come from the document, nothing is filled in.
    pub fn is_none_family(&self) -> bool {
        self.template_family == "none"
    }

    /// A warning sentence when this template version should not be used any more
    /// (`superseded`, `deprecated`, `retired`), naming its replacement when known.
    pub fn lifecycle_warning(&self) -> Option<String> {
        if matches!(self.lifecycle_state.as_str(), "active" | "draft") {
            return None;
        }
        Some(match &self.superseded_by {
            Some(next) => format!(
                "template `{}` ({}) is {}; use `{next}` instead",
                self.id, self.display_name, self.lifecycle_state
            ),
            None => format!(
                "template `{}` ({}) is {}",
                self.id, self.display_name, self.lifecycle_state
            ),
        })
    }
}

/// The value type of a setting definition, i.e. the shape of its instances.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ValueType {
    Choice,
    ChoiceCollection,
    /// A simple integer (`IntegerSettingValue`), optionally bounded.
    Integer,
    /// A simple string (`StringSettingValue`).
    String,
    StringCollection,
    IntegerCollection,
    GroupCollection,
    Group,
}

impl ValueType {
    /// A short noun used in messages ("expected a choice").
    pub fn describe(self) -> &'static str {
        match self {
            ValueType::Choice => "a choice (one option name)",
            ValueType::ChoiceCollection => "a list of option names",
            ValueType::Integer => "an integer",
            ValueType::String => "a string",
            ValueType::StringCollection => "a list of strings",
            ValueType::IntegerCollection => "a list of integers",
            ValueType::GroupCollection => "a list of groups",
            ValueType::Group => "a group",
        }
    }

    /// The Graph `@odata.type` of an instance of this type (without `#microsoft.graph.`).
    pub fn instance_odata_type(self) -> &'static str {
        match self {
            ValueType::Choice => "deviceManagementConfigurationChoiceSettingInstance",
            ValueType::ChoiceCollection => {
                "deviceManagementConfigurationChoiceSettingCollectionInstance"
            }
            ValueType::Integer | ValueType::String => {
                "deviceManagementConfigurationSimpleSettingInstance"
            }
            ValueType::StringCollection | ValueType::IntegerCollection => {
                "deviceManagementConfigurationSimpleSettingCollectionInstance"
            }
            ValueType::GroupCollection => {
                "deviceManagementConfigurationGroupSettingCollectionInstance"
            }
            ValueType::Group => "deviceManagementConfigurationGroupSettingInstance",
        }
    }
}

/// One option of a choice definition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChoiceOption {
    /// The raw option id Graph stores in `choiceSettingValue.value`.
    pub item_id: String,
    /// Readable camelCase name used in YAML (`enabled`, `high`, `block`).
    pub name: String,
    /// Microsoft's label (or ours when not seen).
    pub display_name: String,
}

/// A setting definition (`deviceManagementConfigurationSettingDefinition`), as far as
/// rampart needs it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SettingDefinition {
    /// `settingDefinitionId`.
    pub id: String,
    /// Readable camelCase name, unique across the catalog.
    pub name: String,
    pub display_name: String,
    /// Template ids this definition belongs to.
    pub templates: Vec<String>,
    pub value_type: ValueType,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<ChoiceOption>,
    /// Default value: an option `itemId` or an integer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum: Option<i64>,
    /// The definition this one is a child of (`None` for a template's root settings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// For children of a choice: the parent option `itemId`s under which it may appear.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parent_options: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setting_instance_template_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setting_value_template_id: Option<String>,
    /// The local field name inside a readable section (firewall `profiles:` and `rules:`,
    /// ASR rule `exclusions`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For firewall profile settings: `domain`, `private` or `public`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// For ASR rules: the rule GUID the CSP uses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_guid: Option<String>,
    pub source: String,
    pub verified: bool,
}

impl SettingDefinition {
    /// The option named by its readable name, its short suffix (`1`, `block`) or its raw
    /// `itemId`.
    pub fn option(&self, name: &str) -> Option<&ChoiceOption> {
        self.options
            .iter()
            .find(|o| o.name == name)
            .or_else(|| self.options.iter().find(|o| o.item_id == name))
            .or_else(|| self.options.iter().find(|o| self.option_suffix(o) == name))
    }

    /// The option with exactly this raw `itemId`.
    pub fn option_by_item_id(&self, item_id: &str) -> Option<&ChoiceOption> {
        self.options.iter().find(|o| o.item_id == item_id)
    }

    /// The short suffix of an option (`itemId` minus `<definitionId>_`).
    pub fn option_suffix<'a>(&self, option: &'a ChoiceOption) -> &'a str {
        option
            .item_id
            .strip_prefix(self.id.as_str())
            .and_then(|s| s.strip_prefix('_'))
            .unwrap_or(&option.item_id)
    }

    /// Readable option names, for "valid values are ..." messages.
    pub fn option_names(&self) -> Vec<&str> {
        self.options.iter().map(|o| o.name.as_str()).collect()
    }

    pub fn in_template(&self, template_id: &str) -> bool {
        self.templates.iter().any(|t| t == template_id)
    }
}

/// One catalog data file (the shipped ones and a repository snapshot share this shape).
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogFile {
    /// Where the data comes from, for people reading the file.
    #[serde(default)]
    pub comment: String,
    #[serde(default)]
    pub templates: Vec<Template>,
    #[serde(default)]
    pub definitions: Vec<SettingDefinition>,
}

/// The catalog: templates and definitions with lookup indexes.
#[derive(Debug)]
pub struct Catalog {
    templates: Vec<Template>,
    definitions: Vec<SettingDefinition>,
    by_id: HashMap<String, usize>,
    by_name: HashMap<String, usize>,
}

static BUILTIN: LazyLock<Catalog> = LazyLock::new(|| {
    // The data files are part of the binary and checked by unit tests; a parse failure is
    // a build defect, not an input error.
    let mut texts = vec![CATALOG_JSON];
    texts.extend(FAMILY_JSON.iter().map(|(_, t)| *t));
    Catalog::from_json_files(&texts).expect("embedded catalog data is valid")
});

/// Errors in catalog data (only reachable through [`Catalog::from_json`]).
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("catalog data is not valid JSON for the catalog schema")]
    Parse(#[from] serde_json::Error),
    #[error("catalog data is inconsistent: {0}")]
    Inconsistent(String),
}

impl Catalog {
    /// The catalog in force: the one shipped with rampart, merged with the repository's
    /// snapshot once [`snapshot::install_repository_snapshot`] has installed one.
    pub fn builtin() -> &'static Catalog {
        snapshot::installed().unwrap_or(&BUILTIN)
    }

    /// The catalog shipped with rampart, whatever snapshot is installed.
    pub fn shipped() -> &'static Catalog {
        &BUILTIN
    }

    /// The shipped catalog merged with one more data file (a snapshot).
    pub fn shipped_with(text: &str) -> Result<Catalog, CatalogError> {
        let mut texts = vec![CATALOG_JSON];
        texts.extend(FAMILY_JSON.iter().map(|(_, t)| *t));
        texts.push(text);
        Catalog::from_json_files(&texts)
    }

    /// Parses and checks catalog data (unique ids and names, parents and templates exist).
    pub fn from_json(text: &str) -> Result<Catalog, CatalogError> {
        Catalog::from_json_files(&[text])
    }

    /// Parses several catalog data files and merges them in order: templates are appended
    /// (a later file restating a template id updates its `lifecycleState` and
    /// `supersededBy` only: a snapshot's view of the service); a definition id repeated in a later
    /// file adds its templates to the first entry (one definition can belong to several
    /// templates, e.g. a Defender setting in antivirus and device control). Checked as one.
    pub fn from_json_files(texts: &[&str]) -> Result<Catalog, CatalogError> {
        let mut templates: Vec<Template> = Vec::new();
        let mut definitions: Vec<SettingDefinition> = Vec::new();
        for text in texts {
            let file: CatalogFile = serde_json::from_str(text)?;
            for t in file.templates {
                match templates.iter_mut().find(|x| x.id == t.id) {
                    Some(first) => {
                        first.lifecycle_state = t.lifecycle_state;
                        first.superseded_by = t.superseded_by;
                    }
                    None => templates.push(t),
                }
            }
            for d in file.definitions {
                match definitions.iter_mut().find(|x| x.id == d.id) {
                    Some(first) => {
                        for t in d.templates {
                            if !first.templates.contains(&t) {
                                first.templates.push(t);
                            }
                        }
                    }
                    None => definitions.push(d),
                }
            }
        }
        Catalog::from_parts(templates, definitions)
    }

    /// Builds and checks a catalog from already-parsed parts.
    pub fn from_parts(
        templates: Vec<Template>,
        definitions: Vec<SettingDefinition>,
    ) -> Result<Catalog, CatalogError> {
        let file = CatalogFile {
            comment: String::new(),
            templates,
            definitions,
        };
        let mut by_id = HashMap::new();
        let mut by_name = HashMap::new();
        for (i, d) in file.definitions.iter().enumerate() {
            if by_id.insert(d.id.clone(), i).is_some() {
                return Err(CatalogError::Inconsistent(format!("duplicate id {}", d.id)));
            }
            if by_name.insert(d.name.clone(), i).is_some() {
                return Err(CatalogError::Inconsistent(format!(
                    "duplicate name {}",
                    d.name
                )));
            }
        }
        for t in &file.templates {
            if t.kind.template_family() != Some(t.template_family.as_str()) {
                return Err(CatalogError::Inconsistent(format!(
                    "template {}: family {} does not belong to kind {}",
                    t.id, t.template_family, t.kind
                )));
            }
        }
        for d in &file.definitions {
            if let Some(p) = &d.parent
                && !by_id.contains_key(p)
            {
                return Err(CatalogError::Inconsistent(format!(
                    "{}: unknown parent {p}",
                    d.id
                )));
            }
            for t in &d.templates {
                if !file.templates.iter().any(|x| &x.id == t) {
                    return Err(CatalogError::Inconsistent(format!(
                        "{}: unknown template {t}",
                        d.id
                    )));
                }
            }
            let choice = matches!(
                d.value_type,
                ValueType::Choice | ValueType::ChoiceCollection
            );
            if choice == d.options.is_empty() {
                return Err(CatalogError::Inconsistent(format!(
                    "{}: options must be given exactly for choice types",
                    d.id
                )));
            }
        }
        Ok(Catalog {
            templates: file.templates,
            definitions: file.definitions,
            by_id,
            by_name,
        })
    }

    pub fn templates(&self) -> &[Template] {
        &self.templates
    }

    /// All definitions, in data-file order.
    pub fn definitions(&self) -> &[SettingDefinition] {
        &self.definitions
    }

    /// A template by its full id (`..._1`). Never the pseudo-template of plain
    /// settings-catalog policies (its empty id is Graph's "no template").
    pub fn template(&self, id: &str) -> Option<&Template> {
        self.templates
            .iter()
            .find(|t| t.id == id && !t.is_none_family())
    }

    /// The templates the service lists under `configurationPolicyTemplates` (every
    /// template but the pseudo-template of plain settings-catalog policies).
    pub fn service_templates(&self) -> impl Iterator<Item = &Template> {
        self.templates.iter().filter(|t| !t.is_none_family())
    }

    pub fn template_by_alias(&self, alias: &str) -> Option<&Template> {
        self.templates.iter().find(|t| t.alias == alias)
    }

    /// A template by alias or full id, as the YAML `template:` field allows.
    pub fn resolve_template(&self, alias_or_id: &str) -> Option<&Template> {
        self.template_by_alias(alias_or_id)
            .or_else(|| self.template(alias_or_id))
    }

    /// The template a document of `kind` uses when it names none: `antivirus`, `asr`,
    /// `firewall`, or `firewallRules` when the firewall document has `rules:`.
    pub fn default_template(&self, kind: Kind, has_rules: bool) -> Option<&Template> {
        let alias = match kind {
            Kind::AntivirusPolicy => "antivirus",
            Kind::FirewallPolicy if has_rules => "firewallRules",
            Kind::FirewallPolicy => "firewall",
            Kind::AttackSurfaceReductionPolicy => "asr",
            Kind::EndpointDetectionAndResponsePolicy => "edr",
            Kind::DiskEncryptionPolicy => "bitlocker",
            Kind::ApplicationControlPolicy => "appControl",
            Kind::SettingsCatalogPolicy => "settingsCatalog",
            // Its three templates (LAPS, Windows Hello, local group membership) share no
            // setting: the document names one.
            Kind::AccountProtectionPolicy | Kind::DetectionRule | Kind::RoleAssignment => {
                return None;
            }
        };
        self.template_by_alias(alias)
    }

    /// A definition by raw `settingDefinitionId`.
    pub fn definition(&self, id: &str) -> Option<&SettingDefinition> {
        self.by_id.get(id).map(|&i| &self.definitions[i])
    }

    /// A definition by readable name (any template).
    pub fn definition_by_name(&self, name: &str) -> Option<&SettingDefinition> {
        self.by_name.get(name).map(|&i| &self.definitions[i])
    }

    /// Resolves a YAML key (readable name or raw id) to a definition of `template`.
    /// Returns `None` when the catalog does not know it for this template.
    pub fn resolve_name(
        &self,
        template: &Template,
        readable_or_raw: &str,
    ) -> Option<&SettingDefinition> {
        self.definition_by_name(readable_or_raw)
            .or_else(|| self.definition(readable_or_raw))
            .filter(|d| d.in_template(&template.id))
    }

    /// The readable name of a raw definition id, if the catalog knows it.
    pub fn readable_name(&self, definition_id: &str) -> Option<&str> {
        self.definition(definition_id).map(|d| d.name.as_str())
    }

    /// Every definition the catalog lists for a template (roots and children).
    pub fn template_definitions<'a>(
        &'a self,
        template_id: &'a str,
    ) -> impl Iterator<Item = &'a SettingDefinition> + 'a {
        self.definitions
            .iter()
            .filter(move |d| d.in_template(template_id))
    }

    /// The root definitions (top-level settings) of a template.
    pub fn root_definitions<'a>(
        &'a self,
        template_id: &'a str,
    ) -> impl Iterator<Item = &'a SettingDefinition> + 'a {
        self.template_definitions(template_id)
            .filter(|d| d.parent.is_none())
    }

    /// The direct children of a definition.
    pub fn children_of<'a>(
        &'a self,
        definition_id: &'a str,
    ) -> impl Iterator<Item = &'a SettingDefinition> + 'a {
        self.definitions
            .iter()
            .filter(move |d| d.parent.as_deref() == Some(definition_id))
    }

    /// Whether an option `itemId` is valid for a definition the catalog knows. `None` when
    /// the catalog does not know the definition (the caller must not reject it then).
    pub fn option_allowed(&self, definition_id: &str, item_id: &str) -> Option<bool> {
        self.definition(definition_id)
            .map(|d| d.option_by_item_id(item_id).is_some())
    }

    /// The closest readable name among `candidates` (edit distance), for "did you mean".
    pub fn suggest<'a, I>(name: &str, candidates: I) -> Option<&'a str>
    where
        I: IntoIterator<Item = &'a str>,
    {
        let lower = name.to_ascii_lowercase();
        candidates
            .into_iter()
            .map(|c| (edit_distance(&lower, &c.to_ascii_lowercase()), c))
            .filter(|(d, c)| *d <= (c.len().max(name.len()) / 3).max(2))
            .min_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(b.1)))
            .map(|(_, c)| c)
    }

    /// The Graph shape of `GET configurationPolicyTemplates/{id}/settingTemplates`
    /// (`value` array of `deviceManagementConfigurationSettingTemplate`) for the root
    /// settings the catalog knows, with `settingDefinitions` expanded (the definition and
    /// its descendants). `None` for an unknown template. For the emulator.
    pub fn setting_templates(&self, template_id: &str) -> Option<Value> {
        self.template(template_id)?;
        let mut items = Vec::new();
        for root in self.root_definitions(template_id) {
            let mut defs = Vec::new();
            self.collect_graph_definitions(root, &mut defs);
            let mut instance_template = json!({
                "@odata.type": format!("#microsoft.graph.{}", root.value_type.instance_odata_type().replace("Instance", "InstanceTemplate")),
                "settingInstanceTemplateId": root.setting_instance_template_id,
                "settingDefinitionId": root.id,
                "isRequired": false,
            });
            // The value template sits in a typed property of the instance template
            // (graph-api-2.md §5.2); collections hold a list of them.
            if let Some(vt) = &root.setting_value_template_id {
                let (key, list) = match root.value_type {
                    ValueType::Choice => ("choiceSettingValueTemplate", false),
                    ValueType::ChoiceCollection => ("choiceSettingCollectionValueTemplate", true),
                    ValueType::Integer | ValueType::String => ("simpleSettingValueTemplate", false),
                    ValueType::StringCollection | ValueType::IntegerCollection => {
                        ("simpleSettingCollectionValueTemplate", true)
                    }
                    ValueType::Group => ("groupSettingValueTemplate", false),
                    ValueType::GroupCollection => ("groupSettingCollectionValueTemplate", true),
                };
                let mut value = json!({ "settingValueTemplateId": vt });
                if let (Some(default), ValueType::Choice) = (&root.default, root.value_type) {
                    value["defaultValue"] = json!({
                        "@odata.type": "#microsoft.graph.deviceManagementConfigurationChoiceSettingValueDefaultTemplate",
                        "settingDefinitionOptionId": default,
                    });
                }
                instance_template[key] = if list { json!([value]) } else { value };
            }
            items.push(json!({
                "id": root.setting_instance_template_id.clone().unwrap_or_else(|| root.id.clone()),
                "settingInstanceTemplate": instance_template,
                "settingDefinitions": defs,
            }));
        }
        Some(json!({ "value": items }))
    }

    fn collect_graph_definitions(&self, def: &SettingDefinition, out: &mut Vec<Value>) {
        out.push(graph_definition(def, self));
        for child in self.children_of(&def.id) {
            self.collect_graph_definitions(child, out);
        }
    }
}

impl Catalog {
    /// The reference page `docs/settings-catalog.md`: every template and readable name with
    /// its raw ids, generated from the data (a test keeps the file in step).
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        out.push_str(DOC_INTRO);
        out.push_str("\n## Kinds and families\n\n| kind | `templateFamily` | templates (`template:` aliases; the first is the default) |\n|---|---|---|\n");
        for kind in Kind::ALL {
            let Some(family) = kind.template_family() else {
                continue;
            };
            let default = self.default_template(kind, false).map(|t| t.alias.as_str());
            let mut aliases: Vec<&str> = self
                .templates
                .iter()
                .filter(|t| t.kind == kind)
                .map(|t| t.alias.as_str())
                .collect();
            aliases.sort_by_key(|a| (Some(*a) != default, *a));
            let aliases: Vec<String> = aliases.iter().map(|a| format!("`{a}`")).collect();
            out.push_str(&format!(
                "| `{kind}` | `{family}` | {} |\n",
                aliases.join(", ")
            ));
        }
        out.push_str("\n## Templates\n\n| alias (`template:`) | template id | display name | family | kind | platforms | technologies | seen in a real export |\n|---|---|---|---|---|---|---|---|\n");
        for t in &self.templates {
            let id = if t.id.is_empty() {
                "(none)".to_string()
            } else {
                format!("`{}`", t.id)
            };
            out.push_str(&format!(
                "| `{}` | {id} | {} | `{}` | `{}` | `{}` | `{}` | {} |\n",
                t.alias,
                t.display_name,
                t.template_family,
                t.kind,
                t.platforms,
                t.technologies,
                if t.verified { "yes" } else { "no" }
            ));
        }
        for t in &self.templates {
            out.push_str(&format!("\n## `{}`: {}\n\n", t.alias, t.display_name));
            if t.is_none_family() {
                out.push_str("Any setting of Microsoft's settings catalog. Readable names of every template above are accepted for root settings; nothing is filled in (no template references), and `platforms`/`technologies` are the document's own.\n");
                continue;
            }
            if !t.verified {
                out.push_str(&format!("Unverified: {}.\n\n", t.source));
            }
            if self.root_definitions(&t.id).next().is_none() {
                out.push_str("No readable names yet: write settings by raw `settingDefinitionId` in the explicit form, or refresh the catalog from a tenant (`rampart catalog refresh`).\n");
                continue;
            }
            out.push_str("| readable name | YAML field | type | values (readable = raw suffix) | settingDefinitionId | seen in a real export |\n|---|---|---|---|---|---|\n");
            for d in self.root_definitions(&t.id) {
                self.markdown_rows(d, 0, &mut out);
            }
        }
        out
    }

    fn markdown_rows(&self, d: &SettingDefinition, depth: usize, out: &mut String) {
        let values = match d.value_type {
            ValueType::Choice | ValueType::ChoiceCollection => d
                .options
                .iter()
                .map(|o| format!("`{}`={}", o.name, d.option_suffix(o)))
                .collect::<Vec<_>>()
                .join(", "),
            ValueType::Integer => match (d.minimum, d.maximum) {
                (Some(lo), Some(hi)) => format!("{lo}..={hi}"),
                _ => String::new(),
            },
            _ => String::new(),
        };
        let indent = "↳ ".repeat(depth);
        let field = d
            .field
            .as_deref()
            .map_or(String::new(), |f| format!("`{f}`"));
        let guid = d
            .rule_guid
            .as_deref()
            .map_or(String::new(), |g| format!(" (rule {g})"));
        out.push_str(&format!(
            "| {indent}`{}` | {field} | {} | {values} | `{}`{guid} | {} |\n",
            d.name,
            d.value_type.describe(),
            d.id,
            if d.verified { "yes" } else { "no" }
        ));
        for c in self.children_of(&d.id) {
            self.markdown_rows(c, depth + 1, out);
        }
    }
}

const DOC_INTRO: &str = "<!-- Generated from catalog/src/catalog.json and catalog/src/templates/*.json by \
`Catalog::markdown()`; the test `import::docs` fails when this file is out of date (RAMPART_BLESS=1 \
rewrites it). -->
# Settings catalog: kinds, templates and readable names

Policy kinds follow Intune's endpoint-security *families*: one kind per family
(`templateFamily`), the family's template chosen with `template:` (an alias below or a raw
template id with its `_N` version; each kind but `AccountProtectionPolicy` has a default).
A plain settings-catalog policy (no template, `templateFamily: none`) is a
`SettingsCatalogPolicy`, which also takes `platforms` (default `windows10`) and
`technologies` (default `mdm`). Templates marked \"no\" under \"seen in a real export\" come
from third-party implementations only (see graph-api-2.md §5); their ids are Microsoft's as
far as those sources know, not checked against a real tenant.

The catalog is never a limit: a setting it does not know for a template is planned and
applied exactly as written (Graph is the authority), and `validate` warns with its id
(`unknown-to-catalog`). `rampart catalog refresh --tenant T` reads the templates and their
`settingTemplates` from a tenant and writes `.rampart/catalog/snapshot.json` in the
repository; `validate`, `plan` and `import` then merge it over this catalog (new templates,
new definitions by raw id, template membership, `lifecycleState`), and warn
(`superseded-template`) when a document uses a superseded or deprecated template version,
naming its replacement.

rampart names Intune settings-catalog settings by readable camelCase names; the raw
`settingDefinitionId` (and raw option `itemId`s or their short suffixes) are always accepted
too, so the catalog is a convenience, never a limit. A setting the catalog does not know is
written in the explicit form (`{choice: <itemId>}`, `{integer: 5}`, `{string: ..}`,
`{strings: [..]}`, `{integers: [..]}`, `{choices: [..]}`, `{groups: [{..children..}]}`,
`{group: {..}}`, `{secret: .., valueState: ..}`, each with optional `instanceTemplateId`,
`valueTemplateId` and, for choices, `children`).

Short forms: a choice takes one of its readable option names (options named `true`/`false`
also accept YAML booleans); an integer a number within its range; a string collection a list
(numbers are accepted and stored as strings, e.g. ports); a group collection a list of
mappings of its children. For a template's top-level settings, the template references
(`settingInstanceTemplateId`, `settingValueTemplateId`) listed by the catalog are filled in;
`instanceTemplateId: null` in the explicit form says \"none\". An explicit reference other
than the one the catalog lists for the template is an error at validate time
(`invalid-template-reference`), since Intune refuses it (400 \"Invalid Reference id\"); a
reference that is not a GUID is too.

Readable sections: ASR documents take `rules:` (rule name -> `off|block|audit|warn`, or
`{mode, exclusions}`); firewall documents (template `firewall`) take `profiles:` with the
fields listed under each `...FirewallEnabled` setting (`enabled` plus the YAML field names
below it); firewall-rules documents take `rules:`, a list of mappings with the YAML field
names listed under `firewallRules`.

\"Seen in a real export\" = the id was read from a real Graph export or a real Graph payload;
`no` marks ids inferred from Microsoft's CSP naming convention, not yet seen on the wire.
Warn mode: Intune offers `warn` for every ASR rule, but Microsoft documents that a few rules
do not support it on the device; check before using it.
";

/// A definition in the Graph `deviceManagementConfigurationSettingDefinition` shape.
fn graph_definition(d: &SettingDefinition, catalog: &Catalog) -> Value {
    let children: Vec<&str> = catalog.children_of(&d.id).map(|c| c.id.as_str()).collect();
    let odata = match d.value_type {
        ValueType::Choice => "deviceManagementConfigurationChoiceSettingDefinition",
        ValueType::ChoiceCollection => {
            "deviceManagementConfigurationChoiceSettingCollectionDefinition"
        }
        ValueType::Integer | ValueType::String => {
            "deviceManagementConfigurationSimpleSettingDefinition"
        }
        ValueType::StringCollection | ValueType::IntegerCollection => {
            "deviceManagementConfigurationSimpleSettingCollectionDefinition"
        }
        ValueType::GroupCollection => {
            "deviceManagementConfigurationSettingGroupCollectionDefinition"
        }
        ValueType::Group => "deviceManagementConfigurationSettingGroupDefinition",
    };
    let mut v = json!({
        "@odata.type": format!("#microsoft.graph.{odata}"),
        "id": d.id,
        "displayName": d.display_name,
        "name": d.name,
    });
    if !d.options.is_empty() {
        v["options"] = Value::Array(
            d.options
                .iter()
                .map(|o| {
                    json!({
                        "itemId": o.item_id,
                        "name": o.name,
                        "displayName": o.display_name,
                        "dependedOnBy": catalog
                            .children_of(&d.id)
                            .filter(|c| c.parent_options.iter().any(|p| p == &o.item_id))
                            .map(|c| json!({"dependedOnBy": c.id, "required": false}))
                            .collect::<Vec<_>>(),
                    })
                })
                .collect(),
        );
    }
    if let Some(default) = &d.default {
        v["defaultOptionId"] = default.clone();
    }
    if matches!(d.value_type, ValueType::Integer) {
        v["valueDefinition"] = json!({
            "@odata.type": "#microsoft.graph.deviceManagementConfigurationIntegerSettingValueDefinition",
            "minimumValue": d.minimum,
            "maximumValue": d.maximum,
        });
    }
    if matches!(d.value_type, ValueType::GroupCollection | ValueType::Group) {
        v["childIds"] = json!(children);
    }
    v
}

/// Levenshtein distance over chars; small inputs only (names).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_parses_and_is_consistent() {
        let c = Catalog::builtin();
        assert_eq!(c.templates().len(), 29);
        assert!(c.definitions().len() > 100);
    }

    #[test]
    fn readable_names_resolve_both_ways() {
        let c = Catalog::builtin();
        let av = c.template_by_alias("antivirus").unwrap();
        let d = c.resolve_name(av, "realTimeMonitoring").unwrap();
        assert_eq!(
            d.id,
            "device_vendor_msft_policy_config_defender_allowrealtimemonitoring"
        );
        assert_eq!(
            c.resolve_name(av, &d.id).unwrap().name,
            "realTimeMonitoring"
        );
        assert_eq!(d.option("enabled").unwrap().item_id, format!("{}_1", d.id));
        assert_eq!(d.option("1").unwrap().name, "enabled");
        assert_eq!(d.option(&format!("{}_0", d.id)).unwrap().name, "disabled");
        // A definition of another template does not resolve here.
        assert!(c.resolve_name(av, "blockObfuscatedScripts").is_none());
    }

    #[test]
    fn every_asr_rule_has_four_modes_and_an_exclusion_child() {
        let c = Catalog::builtin();
        let root = "device_vendor_msft_policy_config_defender_attacksurfacereductionrules";
        let rules: Vec<_> = c.children_of(root).collect();
        assert_eq!(rules.len(), 19);
        for r in rules {
            assert_eq!(
                r.option_names(),
                ["off", "block", "audit", "warn"],
                "{}",
                r.id
            );
            assert!(r.rule_guid.is_some());
            assert_eq!(c.children_of(&r.id).count(), 1, "{}", r.id);
        }
    }

    #[test]
    fn default_templates_per_kind() {
        let c = Catalog::builtin();
        assert_eq!(
            c.default_template(Kind::FirewallPolicy, true).unwrap().id,
            "19c8aa67-f286-4861-9aa0-f23541d31680_1"
        );
        assert_eq!(
            c.default_template(Kind::FirewallPolicy, false)
                .unwrap()
                .alias,
            "firewall"
        );
        assert_eq!(
            c.default_template(Kind::AttackSurfaceReductionPolicy, false)
                .unwrap()
                .id,
            "e8c053d6-9f95-42b1-a7f1-ebfd71c67a4b_1"
        );
        assert!(c.default_template(Kind::DetectionRule, false).is_none());
    }

    #[test]
    fn suggestions_use_edit_distance() {
        let names = ["realTimeMonitoring", "cloudBlockLevel", "cloudProtection"];
        assert_eq!(
            Catalog::suggest("cloudBlokLevel", names),
            Some("cloudBlockLevel")
        );
        assert_eq!(
            Catalog::suggest("realtimemonitoring", names),
            Some("realTimeMonitoring")
        );
        assert_eq!(Catalog::suggest("zzz", names), None);
    }

    #[test]
    fn setting_templates_are_graph_shaped() {
        let c = Catalog::builtin();
        let v = c
            .setting_templates("e8c053d6-9f95-42b1-a7f1-ebfd71c67a4b_1")
            .unwrap();
        let items = v["value"].as_array().unwrap();
        let asr = items
            .iter()
            .find(|i| {
                i["settingInstanceTemplate"]["settingInstanceTemplateId"]
                    == "19600663-e264-4c02-8f55-f2983216d6d7"
            })
            .unwrap();
        // root + 19 rules + 19 exclusion children
        assert_eq!(asr["settingDefinitions"].as_array().unwrap().len(), 39);
    }

    #[test]
    fn edit_distance_basics() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
    }
}
