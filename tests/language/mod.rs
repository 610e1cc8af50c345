//! Integration tests of the language area: diagnostics of every bad-input class (insta
//! snapshots, each renderer at least once), resolution (variables, overrides, union and
//! conflict across profiles), schema drift, and the shipped examples.

mod attack_reports;
mod cli;
mod diagnostics;
mod docs;
mod field_reports;
mod resolution;
mod shipped;

use std::path::Path;

use rampart::diag::{self, Format};
use rampart::resolve::{Validated, validate};

/// Writes `files` (path, text) under a fresh temporary root.
pub fn repo(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (path, text) in files {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }
    dir
}

/// Validates a repository made of `files`.
pub fn run(files: &[(&str, &str)]) -> (tempfile::TempDir, Validated) {
    let dir = repo(files);
    let v = validate(dir.path(), &[]);
    (dir, v)
}

/// The diagnostics of `files` rendered in `format`, temp paths filtered out.
pub fn render(files: &[(&str, &str)], format: Format) -> String {
    let (dir, v) = run(files);
    let text = diag::render(&v.diagnostics, &v.loaded.sources, format, false);
    filter(&text, dir.path())
}

pub fn filter(text: &str, root: &Path) -> String {
    text.replace(&root.display().to_string(), "[ROOT]")
}

/// A valid detection rule, a valid profile that selects it: the base of most cases.
pub const RULE: &str = "kind: DetectionRule
name: encoded-powershell
frequency: PT1H
query: |
  DeviceProcessEvents
  | where ProcessCommandLine has \"-enc\"
  | project Timestamp, DeviceId, ReportId
alert:
  title: Encoded PowerShell
  severity: high
  tactic: Execution
  techniques: [T1059.001]
  entityMappings:
    hosts: [{ deviceIdColumn: DeviceId }]
";

pub const PROFILE: &str = "kind: DistributionProfile
name: ring0
tenants:
  - id: 6f1c2b9e-0d4a-4e55-9a61-3c2f8e7d1a01
    name: contoso
policies:
  - encoded-powershell
";
