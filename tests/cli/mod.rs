//! The real `rampart` binary, run the way a pipeline runs it: configured by environment
//! variables only (the process environment is cleared first), against an emulator served by
//! the `rampart emulator` binary, with every non-loopback connection sent to a dead proxy so
//! that a request anywhere else fails the command instead of leaving silently.
//!
//! - [`connect`]: every subcommand that connects goes through the one connection set-up
//!   (walked from clap's command tree, so a new command cannot skip it).
//! - [`endpoint`]: a saved plan applies only where it was made.
//! - [`exit_codes`]: every subcommand's usage errors, `--detailed-exitcode`, selections.
//! - [`manners`]: closed pipes, colour, first run without credentials, confirmation.
//! - [`usage`]: missing subcommands, loopback with a cloud authority, the token URL logged.
//! - [`workflow`]: the shipped GitHub Actions workflow's commands, in its order.

mod connect;
mod containment;
mod endpoint;
mod exit_codes;
mod manners;
mod redaction;
mod usage;
mod workflow;

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// The emulator's default app (`rampart emulator --help`).
pub const APP_ID: &str = "7e57a990-0000-4000-8000-000000000001";
/// The emulator's default development secret.
pub const APP_SECRET: &str = "rampart-emulator";
/// A tenant of the shipped profiles.
pub const CONTOSO: &str = "contoso";

pub use crate::support::bin;

/// A copy of the shipped repository (policies, profiles, schemas) in a temporary folder.
pub fn repo() -> tempfile::TempDir {
    crate::support::shipped_copy(&["policies", "profiles", "schemas"])
}

/// The usual start: a [`repo`] and an [`Emulator`] served from its profiles.
pub fn served() -> (tempfile::TempDir, Emulator) {
    let repo = repo();
    let emu = Emulator::start(repo.path());
    (repo, emu)
}

/// A served emulator (`rampart emulator`), seeded from a repository's profiles; killed on
/// drop.
pub struct Emulator {
    child: Child,
    /// Kept open: the emulator prints more lines, and a closed pipe would end it.
    _stdout: BufReader<std::process::ChildStdout>,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Emulator {
    /// Starts one on a free loopback port and waits for its first line.
    pub fn start(root: &Path) -> Emulator {
        Self::start_with(root, &[])
    }

    /// As [`Emulator::start`], with more `rampart emulator` arguments (faults, latency).
    pub fn start_with(root: &Path, extra: &[&str]) -> Emulator {
        let mut child = Command::new(bin())
            .args(["emulator", "--listen", "127.0.0.1:0", "--seed-profiles"])
            .arg(root)
            .args(extra)
            .env_clear()
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start rampart emulator");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        let mut reader = BufReader::new(stdout);
        reader.read_line(&mut line).expect("emulator's first line");
        let base = line.trim().rsplit(' ').next().expect("address").to_string();
        assert!(base.starts_with("http://127.0.0.1:"), "{line}");
        Emulator {
            child,
            _stdout: reader,
            base,
        }
    }

    /// Every request the emulator answered (tokens included), as its admin log lists them.
    pub fn requests(&self) -> Vec<serde_json::Value> {
        let url = format!("{}/_emulator/requests", self.base);
        let body = blocking_get(&url);
        serde_json::from_str(&body).expect("requests JSON")
    }

    /// The environment a pipeline would set for this emulator.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("RAMPART_GRAPH_URL".into(), self.base.clone()),
            ("AZURE_AUTHORITY_HOST".into(), self.base.clone()),
            ("AZURE_CLIENT_ID".into(), APP_ID.into()),
            ("AZURE_CLIENT_SECRET".into(), APP_SECRET.into()),
        ]
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain HTTP GET to a loopback URL (no client library: the test must not depend on the
/// code under test to observe it).
fn blocking_get(url: &str) -> String {
    use std::io::{Read as _, Write as _};
    let rest = url.strip_prefix("http://").expect("http url");
    let (host, path) = rest.split_once('/').expect("path");
    let mut s = std::net::TcpStream::connect(host).expect("connect");
    write!(
        s,
        "GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read");
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").expect("http answer");
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        body = &rest[n + 2..];
    }
    out
}

/// Runs `rampart ARGS` in `dir` with only `env` set (plus a dead proxy for anything not on
/// loopback, and an empty `PATH` unless given).
pub fn run(dir: &Path, args: &[&str], env: &[(String, String)]) -> Output {
    command(dir, args, env).output().expect("run rampart")
}

/// As [`run`], and the command must exit 0 (else the test fails with its output).
pub fn run_ok(dir: &Path, args: &[&str], env: &[(String, String)]) -> Output {
    let o = run(dir, args, env);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    o
}

/// The command [`run`] runs.
pub fn command(dir: &Path, args: &[&str], env: &[(String, String)]) -> Command {
    let mut c = Command::new(bin());
    c.args(args)
        .current_dir(dir)
        .env_clear()
        // Anything that is not loopback goes to a port where nothing listens: a request to
        // the public cloud fails the command rather than go unnoticed.
        .env("HTTPS_PROXY", "http://127.0.0.1:9")
        .env("HTTP_PROXY", "http://127.0.0.1:9")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("PATH", "")
        .stdin(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

/// stdout and stderr as text, for messages.
pub fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

/// A write the emulator answered: not a read, not a token, not a `$batch` envelope (whose
/// sub-requests are logged on their own).
pub fn is_write(r: &serde_json::Value) -> bool {
    let method = r["method"].as_str().unwrap_or("");
    method != "GET" && r["route"] != "token" && !r["path"].as_str().unwrap_or("").contains("$batch")
}
