//! Per-tenant locks held while apply writes to a tenant, so that two applies on overlapping
//! tenants (a CI re-run, two merges in a row) take turns per tenant instead of racing.
//!
//! Two backends, chosen by [`LockConfig`]:
//! - **local**: an OS file lock (`flock`/`LockFileEx` through `std::fs::File::try_lock`) on
//!   `<dir>/<tenant-id>.lock`; serialises applies on one machine (one CI runner, one
//!   workstation). The lock dies with the process, so a crash never leaves it held.
//! - **azure-blob**: a blob lease in an Azure Storage container, as Terraform's `azurerm`
//!   backend locks its state: `PUT <container>/<tenant-id>.lock?comp=lease` with
//!   `x-ms-lease-action: acquire` and a 60-second duration, renewed every 20 seconds while
//!   apply runs and released at the end (see [`blob`]). An apply that crashes leaves the
//!   lease to expire within 60 seconds.
//!
//! A lock is an optimisation of a guarantee, not the guarantee itself: apply's freshness
//! check (a create whose marker already exists is stale) and its convergence rule (of two
//! copies created at once the newer is removed by its creator) keep a tenant free of
//! duplicates without any lock. With a lock the second apply finds the first one's
//! objects and writes nothing.
//!
//! Waiting: a held lock is retried every [`POLL`] until `timeout` (`RAMPART_LOCK_TIMEOUT`,
//! like Terraform's `-lock-timeout`); then that tenant fails with [`LockError::Timeout`] and
//! the others go on.

pub mod blob;

use std::path::PathBuf;
use std::time::Duration;

pub use blob::{BlobAuth, BlobLease, BlobLockConfig};

/// How often a held lock is tried again.
pub const POLL: Duration = Duration::from_millis(250);
/// Default wait for a held lock (`RAMPART_LOCK_TIMEOUT`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// Which lock apply holds per tenant.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum LockConfig {
    /// No lock: only the freshness check and the convergence rule protect the tenant.
    #[default]
    None,
    /// Local file locks in this directory.
    Local { dir: PathBuf },
    /// Azure Blob Storage leases.
    AzureBlob(BlobLockConfig),
}

/// The environment variables that choose the lock (for CI: set them as pipeline
/// variables, the key or SAS as a secret).
pub const ENV_LOCK: &str = "RAMPART_LOCK";
pub const ENV_BLOB_URL: &str = "RAMPART_LOCK_BLOB_URL";
pub const ENV_BLOB_ACCOUNT: &str = "RAMPART_LOCK_BLOB_ACCOUNT";
pub const ENV_BLOB_KEY: &str = "RAMPART_LOCK_BLOB_KEY";
pub const ENV_BLOB_SAS: &str = "RAMPART_LOCK_BLOB_SAS";
pub const ENV_BLOB_TOKEN: &str = "RAMPART_LOCK_BLOB_TOKEN";

/// Seconds to wait for a held lock (default [`DEFAULT_TIMEOUT`]).
pub const ENV_TIMEOUT: &str = "RAMPART_LOCK_TIMEOUT";

/// The wait for a held lock from `RAMPART_LOCK_TIMEOUT` (whole seconds).
pub fn timeout_from_env(get: impl Fn(&str) -> Option<String>) -> Result<Duration, String> {
    match get(ENV_TIMEOUT) {
        None => Ok(DEFAULT_TIMEOUT),
        Some(v) => v
            .trim()
            .parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|_| format!("{ENV_TIMEOUT}={v:?} is not a number of seconds")),
    }
}

impl LockConfig {
    /// The lock chosen by the environment: `RAMPART_LOCK` = `local` (the default: file
    /// locks in `<root>/.rampart-state/locks`), `none`, or `azure-blob` (container URL in
    /// `RAMPART_LOCK_BLOB_URL`; `RAMPART_LOCK_BLOB_ACCOUNT` + `RAMPART_LOCK_BLOB_KEY`, or
    /// `RAMPART_LOCK_BLOB_SAS`, or `RAMPART_LOCK_BLOB_TOKEN`). `Err` names what is wrong
    /// (never a secret value).
    pub fn from_env(
        root: &std::path::Path,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<LockConfig, String> {
        let kind = get(ENV_LOCK).unwrap_or_else(|| "local".to_string());
        match kind.as_str() {
            "none" => Ok(LockConfig::None),
            "local" => Ok(LockConfig::Local {
                dir: root.join(".rampart-state").join("locks"),
            }),
            "azure-blob" => {
                let raw = get(ENV_BLOB_URL)
                    .ok_or(format!("{ENV_LOCK}=azure-blob needs {ENV_BLOB_URL}"))?;
                let container_url = url::Url::parse(&raw)
                    .map_err(|e| format!("{ENV_BLOB_URL} is not a URL: {e}"))?;
                if container_url.query().is_some() {
                    return Err(format!(
                        "{ENV_BLOB_URL} must not carry a query (put a SAS in {ENV_BLOB_SAS})"
                    ));
                }
                let auth = match (
                    get(ENV_BLOB_ACCOUNT),
                    get(ENV_BLOB_KEY),
                    get(ENV_BLOB_SAS),
                    get(ENV_BLOB_TOKEN),
                ) {
                    (Some(account), Some(key), None, None) => BlobAuth::SharedKey { account, key },
                    (None, None, Some(sas), None) => BlobAuth::Sas(sas),
                    (None, None, None, Some(token)) => BlobAuth::Bearer(token),
                    _ => {
                        return Err(format!(
                            "{ENV_LOCK}=azure-blob needs exactly one of {ENV_BLOB_ACCOUNT}+{ENV_BLOB_KEY}, {ENV_BLOB_SAS} or {ENV_BLOB_TOKEN}"
                        ));
                    }
                };
                Ok(LockConfig::AzureBlob(BlobLockConfig {
                    container_url,
                    auth,
                }))
            }
            other => Err(format!(
                "{ENV_LOCK}={other:?} is not a lock (local, azure-blob or none)"
            )),
        }
    }

    /// One line for plan and apply output: which lock is (or will be) held.
    pub fn describe(&self) -> String {
        match self {
            LockConfig::None => {
                "none (duplicates are prevented by the freshness check and the convergence rule only)".to_string()
            }
            LockConfig::Local { dir } => {
                format!("local file lock per tenant in {}", dir.display())
            }
            LockConfig::AzureBlob(b) => {
                format!("Azure Blob lease per tenant in {}", b.container_url)
            }
        }
    }

    /// Takes the tenant's lock, waiting up to `timeout` while someone else holds it.
    pub async fn acquire(&self, tenant_id: &str, timeout: Duration) -> Result<Held, LockError> {
        check_name(tenant_id)?;
        match self {
            LockConfig::None => Ok(Held::None),
            LockConfig::Local { dir } => local(dir, tenant_id, timeout).await,
            LockConfig::AzureBlob(b) => {
                Ok(Held::Blob(BlobLease::acquire(b, tenant_id, timeout).await?))
            }
        }
    }
}

/// Why a tenant's lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("tenant id {0:?} cannot name a lock")]
    Name(String),
    #[error("cannot use the lock file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the lock {what} is held by another apply; gave up after {waited:?} (RAMPART_LOCK_TIMEOUT)"
    )]
    Timeout { what: String, waited: Duration },
    #[error("Azure Blob lease on {url}: {detail}")]
    Blob { url: String, detail: String },
}

/// A held lock; [`Held::release`] gives it back (dropping it releases a file lock too, and
/// a blob lease expires on its own).
#[derive(Debug)]
pub enum Held {
    None,
    File(std::fs::File),
    Blob(BlobLease),
}

impl Held {
    /// Releases the lock.
    pub async fn release(self) -> Result<(), LockError> {
        match self {
            Held::None => Ok(()),
            Held::File(f) => {
                // Closing the file releases the lock; unlock first to say so explicitly.
                // `File::unlock`/`try_lock` are std since 1.89; the crate already needs
                // 1.88 (let chains), the declared rust-version lags (see the report).
                #[allow(clippy::incompatible_msrv)]
                let _ = f.unlock();
                Ok(())
            }
            Held::Blob(lease) => lease.release().await,
        }
    }
}

/// Tenant ids are GUIDs; anything with a path separator or `..` never names a file.
fn check_name(tenant_id: &str) -> Result<(), LockError> {
    let ok = !tenant_id.is_empty()
        && tenant_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        && !tenant_id.contains("..");
    if ok {
        Ok(())
    } else {
        Err(LockError::Name(tenant_id.to_string()))
    }
}

async fn local(
    dir: &std::path::Path,
    tenant_id: &str,
    timeout: Duration,
) -> Result<Held, LockError> {
    let path = dir.join(format!("{tenant_id}.lock"));
    let io = |source| LockError::Io {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io)?;
    let start = tokio::time::Instant::now();
    loop {
        #[allow(clippy::incompatible_msrv)]
        match file.try_lock() {
            Ok(()) => return Ok(Held::File(file)),
            Err(std::fs::TryLockError::WouldBlock) => {
                if start.elapsed() >= timeout {
                    return Err(LockError::Timeout {
                        what: path.display().to_string(),
                        waited: timeout,
                    });
                }
                tokio::time::sleep(POLL).await;
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_local_lock_is_exclusive_until_released() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = LockConfig::Local {
            dir: dir.path().to_path_buf(),
        };
        let t = "00000000-0000-4000-8000-000000000001";
        let held = cfg.acquire(t, Duration::ZERO).await.expect("free");
        let e = cfg.acquire(t, Duration::ZERO).await.unwrap_err();
        assert!(matches!(e, LockError::Timeout { .. }), "{e}");
        // Another tenant is independent.
        let other = cfg
            .acquire("00000000-0000-4000-8000-000000000002", Duration::ZERO)
            .await
            .expect("other tenant");
        held.release().await.unwrap();
        other.release().await.unwrap();
        cfg.acquire(t, Duration::ZERO)
            .await
            .expect("free again")
            .release()
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn tenant_ids_never_name_paths() {
        let cfg = LockConfig::Local {
            dir: std::env::temp_dir(),
        };
        for bad in ["../x", "a/b", "", ".."] {
            assert!(matches!(
                cfg.acquire(bad, Duration::ZERO).await,
                Err(LockError::Name(_))
            ));
        }
    }
}
