//! Azure Blob Storage leases as tenant locks, the way Terraform's `azurerm` backend locks
//! its state: one blob per tenant (`<container>/<tenant-id>.lock`, created empty when
//! missing), leased for 60 seconds with `PUT <blob>?comp=lease` and
//! `x-ms-lease-action: acquire | renew | release` (Blob service REST API, "Lease Blob"),
//! renewed every 20 seconds while held.
//!
//! Authorisation, as the Blob service accepts it: Shared Key (the `Authorization:
//! SharedKey <account>:<signature>` header, HMAC-SHA256 over the canonical string of the
//! "Authorize with Shared Key" document, version 2015-02-21 and later), a SAS token appended
//! to every URL, or an OAuth bearer token (`x-ms-version` 2017-11-09 or later). Tested
//! against Azurite (path-style URLs: `http://127.0.0.1:10000/devstoreaccount1/<container>`),
//! whose canonical resource therefore names the account twice. Not verified against the
//! real service from this repository's tests.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::{Method, StatusCode};

use super::{LockError, POLL};

/// The `x-ms-version` sent (Azurite and the service both accept it).
pub const API_VERSION: &str = "2021-08-06";
/// Lease duration in seconds (the service allows 15 to 60, or infinite).
pub const LEASE_SECONDS: u64 = 60;
/// How often a held lease is renewed.
pub const RENEW_EVERY: Duration = Duration::from_secs(20);

/// How requests to the container are authorised.
#[derive(Clone, PartialEq)]
pub enum BlobAuth {
    /// Storage account name and base64 account key.
    SharedKey { account: String, key: String },
    /// A SAS token (the query string, without `?`).
    Sas(String),
    /// An OAuth 2 access token for `https://storage.azure.com/`.
    Bearer(String),
}

impl std::fmt::Debug for BlobAuth {
    // Never print a key or a token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BlobAuth::SharedKey { account, .. } => {
                write!(f, "SharedKey {{ account: {account:?}, key: <redacted> }}")
            }
            BlobAuth::Sas(_) => write!(f, "Sas(<redacted>)"),
            BlobAuth::Bearer(_) => write!(f, "Bearer(<redacted>)"),
        }
    }
}

/// Where the leases live.
#[derive(Clone, Debug, PartialEq)]
pub struct BlobLockConfig {
    /// The container URL, e.g. `https://acct.blob.core.windows.net/rampart-locks` or
    /// Azurite's `http://127.0.0.1:10000/devstoreaccount1/rampart-locks`.
    pub container_url: url::Url,
    pub auth: BlobAuth,
}

/// A held lease; renewed in the background until [`BlobLease::release`].
#[derive(Debug)]
pub struct BlobLease {
    client: Client,
    blob: url::Url,
    lease_id: String,
    renewer: tokio::task::JoinHandle<()>,
}

#[derive(Clone, Debug)]
struct Client {
    http: reqwest::Client,
    auth: BlobAuth,
}

impl Client {
    /// Sends one request with the `x-ms-*` headers given, signed as configured.
    async fn send(
        &self,
        method: Method,
        url: &url::Url,
        headers: &[(&str, &str)],
    ) -> Result<reqwest::Response, String> {
        let mut url = url.clone();
        if let BlobAuth::Sas(sas) = &self.auth {
            let q = match url.query() {
                Some(q) if !q.is_empty() => format!("{q}&{}", sas.trim_start_matches('?')),
                _ => sas.trim_start_matches('?').to_string(),
            };
            url.set_query(Some(&q));
        }
        let date = httpdate::fmt_http_date(std::time::SystemTime::now());
        let mut all: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
            .collect();
        all.push(("x-ms-date".into(), date));
        all.push(("x-ms-version".into(), API_VERSION.into()));
        let mut rq = self.http.request(method.clone(), url.clone());
        for (k, v) in &all {
            rq = rq.header(k.as_str(), v.as_str());
        }
        match &self.auth {
            BlobAuth::SharedKey { account, key } => {
                let sig = shared_key_signature(&method, &url, &all, account, key)?;
                rq = rq.header("authorization", format!("SharedKey {account}:{sig}"));
            }
            BlobAuth::Bearer(token) => rq = rq.bearer_auth(token),
            BlobAuth::Sas(_) => {}
        }
        // Content-Length: 0 on every PUT (the service requires it).
        rq = rq.header("content-length", "0");
        rq.send().await.map_err(|e| e.without_url().to_string())
    }
}

/// The Shared Key signature: base64(HMAC-SHA256(key, string-to-sign)).
fn shared_key_signature(
    method: &Method,
    url: &url::Url,
    headers: &[(String, String)],
    account: &str,
    key: &str,
) -> Result<String, String> {
    let key = STANDARD
        .decode(key)
        .map_err(|_| "the account key is not base64".to_string())?;
    let mut ms: Vec<(String, String)> = headers
        .iter()
        .filter(|(k, _)| k.starts_with("x-ms-"))
        .map(|(k, v)| (k.clone(), v.trim().to_string()))
        .collect();
    ms.sort();
    let canonical_headers: String = ms.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let mut resource = format!("/{account}{}", url.path());
    let mut params: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.into_owned()))
        .collect();
    params.sort();
    for (k, v) in params {
        resource.push_str(&format!("\n{k}:{v}"));
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    };
    // Content-Length is empty when zero (version 2015-02-21 and later).
    let to_sign = format!(
        "{}\n\n\n\n\n\n\n\n\n{}\n\n\n{canonical_headers}{resource}",
        method.as_str(),
        header("if-none-match"),
    );
    let k = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &key);
    Ok(STANDARD.encode(aws_lc_rs::hmac::sign(&k, to_sign.as_bytes()).as_ref()))
}

fn header(r: &reqwest::Response, name: &str) -> String {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

fn blob_error(url: &url::Url, detail: impl Into<String>) -> LockError {
    let mut shown = url.clone();
    shown.set_query(None);
    LockError::Blob {
        url: shown.to_string(),
        detail: detail.into(),
    }
}

impl BlobLease {
    /// Acquires the lease on `<container>/<tenant-id>.lock`, creating the container and the
    /// blob when missing, waiting up to `timeout` while another apply holds it.
    pub async fn acquire(
        cfg: &BlobLockConfig,
        tenant_id: &str,
        timeout: Duration,
    ) -> Result<BlobLease, LockError> {
        let client = Client {
            http: reqwest::Client::new(),
            auth: cfg.auth.clone(),
        };
        let base = cfg.container_url.as_str().trim_end_matches('/');
        let blob = url::Url::parse(&format!("{base}/{tenant_id}.lock"))
            .map_err(|e| blob_error(&cfg.container_url, e.to_string()))?;
        let mut lease_url = blob.clone();
        lease_url.set_query(Some("comp=lease"));
        let duration = LEASE_SECONDS.to_string();
        let start = tokio::time::Instant::now();
        let mut created = false;
        loop {
            let r = client
                .send(
                    Method::PUT,
                    &lease_url,
                    &[
                        ("x-ms-lease-action", "acquire"),
                        ("x-ms-lease-duration", &duration),
                    ],
                )
                .await
                .map_err(|e| blob_error(&blob, e))?;
            match r.status() {
                StatusCode::CREATED | StatusCode::OK => {
                    let lease_id = header(&r, "x-ms-lease-id");
                    if lease_id.is_empty() {
                        return Err(blob_error(&blob, "the lease answer carries no lease id"));
                    }
                    let renewer = tokio::spawn(renew(client.clone(), lease_url, lease_id.clone()));
                    return Ok(BlobLease {
                        client,
                        blob,
                        lease_id,
                        renewer,
                    });
                }
                StatusCode::NOT_FOUND if !created => {
                    create_blob(&client, &cfg.container_url, &blob).await?;
                    created = true;
                }
                StatusCode::CONFLICT if header(&r, "x-ms-error-code") == "LeaseAlreadyPresent" => {
                    if start.elapsed() >= timeout {
                        return Err(LockError::Timeout {
                            what: format!("lease on {}", blob.path()),
                            waited: timeout,
                        });
                    }
                    tokio::time::sleep(POLL).await;
                }
                s => {
                    return Err(blob_error(
                        &blob,
                        format!("acquire answered {s} {}", header(&r, "x-ms-error-code")),
                    ));
                }
            }
        }
    }

    /// The lease id (for tests and diagnostics).
    pub fn lease_id(&self) -> &str {
        &self.lease_id
    }

    /// Stops renewing and releases the lease.
    pub async fn release(self) -> Result<(), LockError> {
        self.renewer.abort();
        let mut url = self.blob.clone();
        url.set_query(Some("comp=lease"));
        let r = self
            .client
            .send(
                Method::PUT,
                &url,
                &[
                    ("x-ms-lease-action", "release"),
                    ("x-ms-lease-id", &self.lease_id),
                ],
            )
            .await
            .map_err(|e| blob_error(&self.blob, e))?;
        if r.status().is_success() {
            Ok(())
        } else {
            Err(blob_error(
                &self.blob,
                format!(
                    "release answered {} {}",
                    r.status(),
                    header(&r, "x-ms-error-code")
                ),
            ))
        }
    }
}

/// Renews the lease until aborted; a failed renewal is retried at the next tick (the lease
/// lasts three ticks).
async fn renew(client: Client, url: url::Url, lease_id: String) {
    loop {
        tokio::time::sleep(RENEW_EVERY).await;
        let _ = client
            .send(
                Method::PUT,
                &url,
                &[("x-ms-lease-action", "renew"), ("x-ms-lease-id", &lease_id)],
            )
            .await;
    }
}

/// Creates the container (when missing) and the empty lock blob (when missing).
async fn create_blob(
    client: &Client,
    container: &url::Url,
    blob: &url::Url,
) -> Result<(), LockError> {
    let mut c = container.clone();
    c.set_query(Some("restype=container"));
    let r = client
        .send(Method::PUT, &c, &[])
        .await
        .map_err(|e| blob_error(container, e))?;
    if !(r.status().is_success() || r.status() == StatusCode::CONFLICT) {
        return Err(blob_error(
            container,
            format!("creating the container answered {}", r.status()),
        ));
    }
    let r = client
        .send(
            Method::PUT,
            blob,
            &[("x-ms-blob-type", "BlockBlob"), ("if-none-match", "*")],
        )
        .await
        .map_err(|e| blob_error(blob, e))?;
    // 409/412: another apply created it first.
    if r.status().is_success()
        || r.status() == StatusCode::CONFLICT
        || r.status() == StatusCode::PRECONDITION_FAILED
    {
        Ok(())
    } else {
        Err(blob_error(
            blob,
            format!("creating the lock blob answered {}", r.status()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_show_in_debug() {
        let a = BlobAuth::SharedKey {
            account: "acct".into(),
            key: "c2VjcmV0".into(),
        };
        assert!(!format!("{a:?}").contains("c2VjcmV0"));
        assert!(!format!("{:?}", BlobAuth::Sas("sig=abc".into())).contains("abc"));
    }

    #[test]
    fn shared_key_signs_the_canonical_resource() {
        // Same inputs, same signature; another query, another signature.
        let u =
            url::Url::parse("http://127.0.0.1:10000/devstoreaccount1/c/t.lock?comp=lease").unwrap();
        let h = vec![(
            "x-ms-date".to_string(),
            "Sun, 29 Nov 2026 20:00:00 GMT".to_string(),
        )];
        let a = shared_key_signature(&Method::PUT, &u, &h, "devstoreaccount1", "c2VjcmV0").unwrap();
        let b = shared_key_signature(&Method::PUT, &u, &h, "devstoreaccount1", "c2VjcmV0").unwrap();
        assert_eq!(a, b);
        let u2 = url::Url::parse("http://127.0.0.1:10000/devstoreaccount1/c/t.lock").unwrap();
        let c =
            shared_key_signature(&Method::PUT, &u2, &h, "devstoreaccount1", "c2VjcmV0").unwrap();
        assert_ne!(a, c);
    }
}
