//! Base-URL policy for Graph and the login authority.
//!
//! Both base URLs are configurable (so rampart can target sovereign clouds and the built-in
//! emulator), but a bearer token or a client secret must never travel in clear text across a
//! network: plain `http://` is accepted only for loopback hosts (127.0.0.0/8, `::1`,
//! `localhost`), where nothing leaves the machine. Everything else must be `https://`.

use std::net::IpAddr;
use thiserror::Error;
use url::Url;

/// Microsoft Graph, global cloud.
pub const DEFAULT_GRAPH_URL: &str = "https://graph.microsoft.com";
/// Microsoft Entra ID authority, global cloud.
pub const DEFAULT_LOGIN_URL: &str = "https://login.microsoftonline.com";
/// Environment variable for the Graph base URL.
pub const GRAPH_URL_ENV: &str = "RAMPART_GRAPH_URL";
/// Environment variable for the login authority (the standard Azure SDK name).
pub const LOGIN_URL_ENV: &str = "AZURE_AUTHORITY_HOST";

/// A base URL that failed the policy.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum UrlPolicyError {
    /// Not a URL at all.
    #[error("{name} `{url}` is not a valid URL: {reason}")]
    Invalid {
        /// Which setting (`--graph-url`, `--login-url`, ...).
        name: &'static str,
        /// The rejected value.
        url: String,
        /// Parser message.
        reason: String,
    },
    /// `http://` to a host that is not loopback: tokens would cross the network in clear.
    #[error(
        "{name} `{url}` uses plain http to a non-loopback host; use https (http is only allowed for 127.0.0.0/8, ::1 and localhost)"
    )]
    InsecureNonLoopback {
        /// Which setting.
        name: &'static str,
        /// The rejected value.
        url: String,
    },
    /// Neither http nor https, or a URL carrying credentials, a query or a fragment.
    #[error("{name} `{url}` is not usable as a base URL: {reason}")]
    Unsupported {
        /// Which setting.
        name: &'static str,
        /// The rejected value.
        url: String,
        /// Why.
        reason: &'static str,
    },
}

/// True when the URL's host is a loopback address or `localhost`.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(url::Host::Domain(d)) => {
            d.eq_ignore_ascii_case("localhost") || d.to_ascii_lowercase().ends_with(".localhost")
        }
        None => false,
    }
}

/// Parses and checks a base URL (`name` says which setting it came from, for the error).
/// The result has no trailing slash in its path, so `base + "/beta/..."` is well formed.
pub fn checked_base_url(name: &'static str, raw: &str) -> Result<Url, UrlPolicyError> {
    let mut url = Url::parse(raw.trim()).map_err(|e| UrlPolicyError::Invalid {
        name,
        url: raw.to_string(),
        reason: e.to_string(),
    })?;
    let unsupported = |reason| UrlPolicyError::Unsupported {
        name,
        url: raw.to_string(),
        reason,
    };
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(UrlPolicyError::InsecureNonLoopback {
                name,
                url: raw.to_string(),
            });
        }
        _ => {
            return Err(unsupported(
                "the scheme must be https (or http to loopback)",
            ));
        }
    }
    if url.host().is_none() {
        return Err(unsupported("it has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        // Credentials in a URL end up in logs; refuse rather than redact.
        return Err(unsupported("it carries a user name or password"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(unsupported("it has a query or fragment"));
    }
    let trimmed = url.path().trim_end_matches('/').to_string();
    url.set_path(&trimmed);
    Ok(url)
}

/// The origin (`scheme://host:port`) of a URL, used to decide whether a URL returned by the
/// service (an `@odata.nextLink`) may receive our token.
pub fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str().map(str::to_ascii_lowercase) == b.host_str().map(str::to_ascii_lowercase)
        && a.port_or_known_default() == b.port_or_known_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_anywhere_http_only_loopback() {
        assert!(checked_base_url("x", "https://graph.microsoft.com").is_ok());
        assert!(checked_base_url("x", "http://127.0.0.1:8080").is_ok());
        assert!(checked_base_url("x", "http://127.5.6.7:1").is_ok());
        assert!(checked_base_url("x", "http://[::1]:9").is_ok());
        assert!(checked_base_url("x", "http://localhost:9/").is_ok());
        assert!(matches!(
            checked_base_url("x", "http://graph.example.com"),
            Err(UrlPolicyError::InsecureNonLoopback { .. })
        ));
        assert!(matches!(
            checked_base_url("x", "http://10.0.0.1"),
            Err(UrlPolicyError::InsecureNonLoopback { .. })
        ));
        // A look-alike host name is not loopback.
        assert!(matches!(
            checked_base_url("x", "http://127.0.0.1.evil.example"),
            Err(UrlPolicyError::InsecureNonLoopback { .. })
        ));
        assert!(checked_base_url("x", "ftp://localhost").is_err());
        assert!(checked_base_url("x", "https://u:p@graph.microsoft.com").is_err());
        assert!(checked_base_url("x", "not a url").is_err());
    }

    #[test]
    fn trailing_slash_removed() {
        let u = checked_base_url("x", "https://graph.microsoft.com/").unwrap();
        assert_eq!(u.as_str(), "https://graph.microsoft.com/");
        let u = checked_base_url("x", "http://127.0.0.1:1/graph/").unwrap();
        assert_eq!(u.as_str(), "http://127.0.0.1:1/graph");
    }
}
