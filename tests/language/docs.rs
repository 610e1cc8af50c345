//! docs/language.md states the severity of every diagnostic; this keeps its table and the
//! code in step: every code the language area can emit is in the table with the severity
//! it is emitted with, and the table lists no code that is never emitted.

use std::collections::BTreeMap;
use std::path::Path;

/// The kebab-case string literal starting at `at` (after whitespace), if any.
fn literal_at(s: &str, at: usize) -> Option<String> {
    let rest = s[at..].trim_start();
    let rest = rest.strip_prefix('"')?;
    let end = rest.find('"')?;
    let lit = &rest[..end];
    (!lit.is_empty()
        && lit
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'))
    .then(|| lit.to_string())
}

fn add(codes: &mut BTreeMap<String, String>, code: String, severity: &str, file: &str) {
    if let Some(old) = codes.insert(code.clone(), severity.to_string()) {
        assert_eq!(
            old, severity,
            "`{code}` is emitted as both {old} and {severity} ({file})"
        );
    }
}

/// Every (code, severity) the language area's sources emit.
fn emitted() -> BTreeMap<String, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![
        root.join("load.rs"),
        root.join("resolve.rs"),
        root.join("yaml.rs"),
        root.join("repo_files.rs"),
        // Saved hunts (`kind: HuntingQuery` under hunts/) are validated with the policies.
        root.join("soc/hunt.rs"),
        // The credential check needs the process environment, so it runs at the CLI edge.
        root.join("cli/validate.rs"),
    ];
    for dir in ["load", "settings"] {
        for e in std::fs::read_dir(root.join(dir)).expect("src dir") {
            files.push(e.expect("entry").path());
        }
    }
    let mut codes = BTreeMap::new();
    for f in &files {
        let text = std::fs::read_to_string(f).expect("source");
        // Unit tests build diagnostics of their own.
        let s = text.split("#[cfg(test)]").next().unwrap_or("");
        let name = f.display().to_string();
        // `settings/coverage.rs` returns only warnings (its callers make them so); other
        // `code:` fields are errors.
        let code_severity = if name.ends_with("coverage.rs") {
            "warning"
        } else {
            "error"
        };
        for (marker, severity) in [
            ("Diagnostic::error(", "error"),
            ("Diagnostic::warning(", "warning"),
            ("code: ", code_severity),
        ] {
            for (i, _) in s.match_indices(marker) {
                if let Some(c) = literal_at(s, i + marker.len()) {
                    add(&mut codes, c, severity, &name);
                }
            }
        }
        // The settings reader: `self.error(pointer, at_key, "code", ...)`.
        for (i, _) in s.match_indices("self.error(") {
            let call = &s[i..s[i..].find(';').map_or(s.len(), |e| i + e)];
            for flag in ["false,", "true,"] {
                if let Some(j) = call.find(flag)
                    && let Some(c) = literal_at(call, j + flag.len())
                {
                    add(&mut codes, c, "error", &name);
                }
            }
        }
        // Codes chosen by a match: `=> "code"` and `=> ("code", help)`.
        for marker in ["=> \"", "=> (\n"] {
            for (i, _) in s.match_indices(marker) {
                let from = i + 2;
                let at = s[from..]
                    .trim_start()
                    .strip_prefix('(')
                    .map_or(from, |r| s.len() - r.len());
                if let Some(c) = literal_at(s, at)
                    && c.contains('-')
                    && (name.ends_with("repo_files.rs") || name.ends_with("load.rs"))
                {
                    add(&mut codes, c, "error", &name);
                }
            }
        }
    }
    codes
}

/// The table of docs/language.md: code -> severity.
fn documented() -> BTreeMap<String, String> {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/language.md"))
            .expect("docs/language.md");
    let table = doc.split("### Diagnostic codes").nth(1).expect("the table");
    table
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let code = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            Some((code.to_string(), cells.get(2)?.to_string()))
        })
        .collect()
}

#[test]
fn severity_table_matches_the_code() {
    let emitted = emitted();
    let documented = documented();
    assert!(emitted.len() > 60, "the scan found too little: {emitted:?}");
    let missing: Vec<_> = emitted
        .iter()
        .filter(|(c, _)| !documented.contains_key(*c))
        .collect();
    assert!(
        missing.is_empty(),
        "codes missing from docs/language.md: {missing:?}"
    );
    let stale: Vec<_> = documented
        .keys()
        .filter(|c| !emitted.contains_key(*c))
        .collect();
    assert!(stale.is_empty(), "documented but never emitted: {stale:?}");
    for (code, severity) in &emitted {
        assert_eq!(&documented[code], severity, "severity of `{code}`");
    }
}
