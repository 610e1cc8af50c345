//! Defence in depth for credentials: the values of the credential variables in use
//! (`AZURE_CLIENT_SECRET`, the federated assertion, GitHub's OIDC request token, the lock
//! store's key or SAS...) are replaced by a placeholder wherever rampart prints or writes
//! text: the human, JSON and Markdown renderers' output, saved plans, apply reports, error
//! messages and log lines. Nothing in rampart should ever put them there; this catches the
//! case where something does anyway (a symlinked detection query reading
//! `/proc/self/environ`, a Graph error echoing a request, a future bug).
//!
//! Where: every command's output leaves through [`print_out`] / [`print_err`] (and the
//! macros `outln!`, `errln!`, `errprint!`), log lines through [`stderr`], files through
//! the writers that call [`scrub`] / [`scrub_bytes`]; no command scrubs on its own.
//!
//! The values are read once from the environment (the one place this module touches it;
//! files named by `AZURE_FEDERATED_TOKEN_FILE` are read too, since their content is the
//! assertion). Values shorter than [`MIN_LEN`] are not treated as secrets: replacing every
//! `1` or `true` would garble output and such values protect nothing. Both the raw value
//! and its JSON-escaped form are replaced (a value with a quote or backslash appears
//! escaped in JSON).

use std::borrow::Cow;
use std::sync::OnceLock;

/// Variables whose values are credentials (the Azure SDK's, GitHub's and Azure DevOps's,
/// the emulator's and the lock store's).
pub const CREDENTIAL_VARIABLES: [&str; 9] = [
    "AZURE_CLIENT_SECRET",
    "AZURE_CLIENT_CERTIFICATE_PASSWORD",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "SYSTEM_ACCESSTOKEN",
    "RAMPART_EMULATOR_APP_SECRET",
    "RAMPART_LOCK_BLOB_KEY",
    "RAMPART_LOCK_BLOB_SAS",
    "RAMPART_LOCK_BLOB_TOKEN",
    "AZURE_ACCESS_TOKEN",
];

/// Variables naming a file whose content is a credential.
pub const CREDENTIAL_FILE_VARIABLES: [&str; 1] = ["AZURE_FEDERATED_TOKEN_FILE"];

/// Shortest value treated as a secret.
pub const MIN_LEN: usize = 8;

/// Replaces known secret values in text.
#[derive(Clone, Default)]
pub struct Redactor {
    /// (value, placeholder), longest value first so that a secret containing another is
    /// replaced whole.
    secrets: Vec<(String, String)>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} values)", self.secrets.len())
    }
}

impl Redactor {
    /// A redactor for `(variable, value)` pairs.
    pub fn new<'a>(values: impl IntoIterator<Item = (&'a str, String)>) -> Redactor {
        let mut secrets = Vec::new();
        for (name, value) in values {
            let value = value.trim().to_string();
            if value.chars().count() < MIN_LEN {
                continue;
            }
            let placeholder = format!("[redacted {name}]");
            let escaped = serde_json::to_string(&value).unwrap_or_default();
            let escaped = escaped.trim_matches('"').to_string();
            if escaped != value {
                secrets.push((escaped, placeholder.clone()));
            }
            secrets.push((value, placeholder));
        }
        secrets.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(&b.0)));
        secrets.dedup_by(|a, b| a.0 == b.0);
        Redactor { secrets }
    }

    /// The credential values of the environment `get` reads (and of the files it names).
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Redactor {
        let mut values: Vec<(&str, String)> = CREDENTIAL_VARIABLES
            .iter()
            .filter_map(|n| get(n).map(|v| (*n, v)))
            .collect();
        for n in CREDENTIAL_FILE_VARIABLES {
            if let Some(path) = get(n)
                && let Ok(content) = std::fs::read_to_string(path)
            {
                values.push((n, content));
            }
        }
        Redactor::new(values)
    }

    /// `text` with every secret value replaced by its placeholder.
    pub fn redact<'t>(&self, text: &'t str) -> Cow<'t, str> {
        if !self.secrets.iter().any(|(v, _)| text.contains(v.as_str())) {
            return Cow::Borrowed(text);
        }
        let mut out = text.to_string();
        for (v, p) in &self.secrets {
            out = out.replace(v.as_str(), p);
        }
        Cow::Owned(out)
    }

    /// The names of the credential variables whose values occur in `text` (sorted, once
    /// each). Used to refuse a desired state that would carry a secret into a tenant.
    pub fn found_in(&self, text: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .secrets
            .iter()
            .filter(|(v, _)| text.contains(v.as_str()))
            .map(|(_, p)| {
                p.trim_start_matches("[redacted ")
                    .trim_end_matches(']')
                    .to_string()
            })
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Whether any secret is known.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }
}

static PROCESS: OnceLock<Redactor> = OnceLock::new();

/// The process's redactor (credential variables of this process's environment, read once).
pub fn process() -> &'static Redactor {
    PROCESS.get_or_init(|| Redactor::from_env(|k| std::env::var(k).ok()))
}

/// [`process`]`().redact(text)`.
pub fn scrub(text: &str) -> Cow<'_, str> {
    process().redact(text)
}

/// Bytes scrubbed as text (non-UTF-8 bytes are left as they are: rampart writes UTF-8).
pub fn scrub_bytes(bytes: Vec<u8>) -> Vec<u8> {
    match std::str::from_utf8(&bytes) {
        Ok(s) => match scrub(s) {
            Cow::Borrowed(_) => bytes,
            Cow::Owned(o) => o.into_bytes(),
        },
        Err(_) => bytes,
    }
}

/// Writes `text` to stdout, scrubbed, and flushes: the one door for every command's output.
/// rampart's code prints nowhere else (a source check in `tests/cli/redaction.rs` keeps it
/// so; the progress bar's text and log lines are scrubbed on their own way out).
/// Formatting happens before this call, so a secret is never split across two writes.
pub fn print_out(text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    out.write_all(scrub(text).as_bytes())?;
    out.flush()
}

/// As [`print_out`], to stderr (messages, prompts, progress lines). A failing stderr is
/// ignored, as `eprintln!` would panic instead.
pub fn print_err(text: &str) {
    use std::io::Write as _;
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(scrub(text).as_bytes());
    let _ = err.flush();
}

/// `println!` through [`print_out`]; evaluates to `std::io::Result<()>`.
#[macro_export]
macro_rules! outln {
    () => { $crate::redact::print_out("\n") };
    ($($t:tt)*) => { $crate::redact::print_out(&format!("{}\n", format_args!($($t)*))) };
}

/// `eprintln!` through [`print_err`].
#[macro_export]
macro_rules! errln {
    ($($t:tt)*) => { $crate::redact::print_err(&format!("{}\n", format_args!($($t)*))) };
}

/// `eprint!` through [`print_err`].
#[macro_export]
macro_rules! errprint {
    ($($t:tt)*) => { $crate::redact::print_err(&format!($($t)*)) };
}

/// A stderr writer for log lines that scrubs each write (the tracing formatter writes one
/// event per call).
pub struct ScrubbingStderr;

impl std::io::Write for ScrubbingStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let out = scrub_bytes(buf.to_vec());
        std::io::stderr().write_all(&out)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// `MakeWriter`-shaped constructor for `tracing_subscriber::fmt().with_writer(..)`.
pub fn stderr() -> ScrubbingStderr {
    ScrubbingStderr
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_replaced_raw_and_json_escaped() {
        let r = Redactor::new([
            ("AZURE_CLIENT_SECRET", "s3cr3t\"value~1".to_string()),
            ("SYSTEM_ACCESSTOKEN", "short".to_string()),
        ]);
        let raw = "query: s3cr3t\"value~1 and short";
        assert_eq!(
            r.redact(raw),
            "query: [redacted AZURE_CLIENT_SECRET] and short"
        );
        let json = serde_json::to_string(&serde_json::json!({ "q": raw })).unwrap();
        let out = r.redact(&json);
        assert!(!out.contains("s3cr3t"), "{out}");
        assert!(out.contains("[redacted AZURE_CLIENT_SECRET]"), "{out}");
        assert!(matches!(r.redact("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn from_env_reads_the_credential_variables_and_files() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("assertion");
        std::fs::write(&f, "eyJhbGciOiJSUzI1NiJ9.assertion.sig\n").unwrap();
        let path = f.display().to_string();
        let r = Redactor::from_env(|k| match k {
            "AZURE_CLIENT_SECRET" => Some("client-secret-value".into()),
            "AZURE_FEDERATED_TOKEN_FILE" => Some(path.clone()),
            "AZURE_CLIENT_ID" => Some("not-a-secret-id".into()),
            _ => None,
        });
        let out = r
            .redact("a client-secret-value b eyJhbGciOiJSUzI1NiJ9.assertion.sig c not-a-secret-id");
        assert_eq!(
            out,
            "a [redacted AZURE_CLIENT_SECRET] b [redacted AZURE_FEDERATED_TOKEN_FILE] c not-a-secret-id"
        );
    }
}
