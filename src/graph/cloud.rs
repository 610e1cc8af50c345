//! Microsoft's clouds: the public (global) service and the national clouds, each with its
//! own Microsoft Graph host, Entra ID login authority, Graph token scope and Azure Resource
//! Manager host. One table, read by the connection set-up ([`crate::graph::setup`]) and by
//! everything that needs an endpoint of a given cloud.
//!
//! Source: "Microsoft Graph national cloud deployments"
//! (<https://learn.microsoft.com/graph/deployments>): Graph is `graph.microsoft.com`
//! (global, also GCC), `graph.microsoft.us` (US Government L4, GCC High),
//! `dod-graph.microsoft.us` (US Government L5, DoD) and `microsoftgraph.chinacloudapi.cn`
//! (operated by 21Vianet); Entra ID is `login.microsoftonline.com`,
//! `login.microsoftonline.us` (both US Government clouds) and `login.chinacloudapi.cn`.
//! "Access national cloud deployments with the Microsoft Graph SDKs" states that a scope
//! naming the Graph domain must use the national cloud's Graph host, hence
//! `https://<graph host>/.default`. The ARM hosts (`management.azure.com`,
//! `management.usgovcloudapi.net`, `management.chinacloudapi.cn`) are from the Azure
//! national-cloud documentation; rampart does not call ARM yet, they are here so that the
//! Sentinel surface can take its endpoint from the same table.
//!
//! Limits: GCC (moderate) is the public cloud as far as endpoints go; Azure Germany is
//! retired and not listed. The US Government hosts are documented but unverified against a
//! live tenant by this project.

use std::fmt;
use std::str::FromStr;

use url::Url;

/// A Microsoft cloud (`--cloud`, `RAMPART_CLOUD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Cloud {
    /// The global service (also GCC).
    #[default]
    Public,
    /// US Government L4 (GCC High).
    UsGov,
    /// US Government L5 (DoD).
    UsGovDod,
    /// Microsoft Azure and Microsoft 365 operated by 21Vianet in China.
    China,
}

/// Environment variable selecting the cloud.
pub const CLOUD_ENV: &str = "RAMPART_CLOUD";

/// The endpoints of one cloud.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloudEndpoints {
    /// The cloud.
    pub cloud: Cloud,
    /// `--cloud` spelling.
    pub name: &'static str,
    /// What Microsoft calls it.
    pub title: &'static str,
    /// Microsoft Graph service root.
    pub graph_url: &'static str,
    /// Entra ID (login) authority.
    pub login_url: &'static str,
    /// App-only Graph token scope.
    pub graph_scope: &'static str,
    /// Azure Resource Manager root (for Sentinel and other ARM surfaces; unused today).
    pub arm_url: &'static str,
}

/// Every cloud's endpoints, in `--help` order (and in [`Cloud`] declaration order).
pub const CLOUDS: [CloudEndpoints; 4] = [
    CloudEndpoints {
        cloud: Cloud::Public,
        name: "public",
        title: "global service",
        graph_url: "https://graph.microsoft.com",
        login_url: "https://login.microsoftonline.com",
        graph_scope: "https://graph.microsoft.com/.default",
        arm_url: "https://management.azure.com",
    },
    CloudEndpoints {
        cloud: Cloud::UsGov,
        name: "usgov",
        title: "US Government L4 (GCC High)",
        graph_url: "https://graph.microsoft.us",
        login_url: "https://login.microsoftonline.us",
        graph_scope: "https://graph.microsoft.us/.default",
        arm_url: "https://management.usgovcloudapi.net",
    },
    CloudEndpoints {
        cloud: Cloud::UsGovDod,
        name: "usgovdod",
        title: "US Government L5 (DoD)",
        graph_url: "https://dod-graph.microsoft.us",
        login_url: "https://login.microsoftonline.us",
        graph_scope: "https://dod-graph.microsoft.us/.default",
        arm_url: "https://management.usgovcloudapi.net",
    },
    CloudEndpoints {
        cloud: Cloud::China,
        name: "china",
        title: "operated by 21Vianet in China",
        graph_url: "https://microsoftgraph.chinacloudapi.cn",
        login_url: "https://login.chinacloudapi.cn",
        graph_scope: "https://microsoftgraph.chinacloudapi.cn/.default",
        arm_url: "https://management.chinacloudapi.cn",
    },
];

impl Cloud {
    /// Every cloud.
    pub const ALL: [Cloud; 4] = [Cloud::Public, Cloud::UsGov, Cloud::UsGovDod, Cloud::China];

    /// This cloud's endpoints.
    pub fn endpoints(self) -> &'static CloudEndpoints {
        &CLOUDS[self as usize]
    }

    /// The `--cloud` spelling.
    pub fn as_str(self) -> &'static str {
        self.endpoints().name
    }

    /// The cloud whose Graph host `url` is (None for any other host, the emulator's too).
    pub fn of_graph_url(url: &Url) -> Option<Cloud> {
        let host = url.host_str()?.to_ascii_lowercase();
        CLOUDS
            .iter()
            .find(|c| {
                Url::parse(c.graph_url)
                    .ok()
                    .and_then(|u| u.host_str().map(str::to_string))
                    == Some(host.clone())
            })
            .map(|c| c.cloud)
    }

    /// The clouds whose login authority `url` is: the two US Government clouds share one,
    /// so this is a list (empty for any other host).
    pub fn of_login_url(url: &Url) -> Vec<Cloud> {
        let Some(host) = url.host_str().map(str::to_ascii_lowercase) else {
            return Vec::new();
        };
        CLOUDS
            .iter()
            .filter(|c| {
                Url::parse(c.login_url)
                    .ok()
                    .and_then(|u| u.host_str().map(str::to_string))
                    == Some(host.clone())
            })
            .map(|c| c.cloud)
            .collect()
    }
}

impl fmt::Display for Cloud {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `--cloud` / `RAMPART_CLOUD` named no known cloud.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown cloud `{0}` (expected public, usgov, usgovdod or china)")]
pub struct UnknownCloud(pub String);

impl FromStr for Cloud {
    type Err = UnknownCloud;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        // The Azure CLI's names (`az cloud list`) are accepted as well.
        let c = match lower.as_str() {
            "public" | "global" | "azurecloud" => Cloud::Public,
            "usgov" | "gcchigh" | "azureusgovernment" => Cloud::UsGov,
            "usgovdod" | "dod" => Cloud::UsGovDod,
            "china" | "azurechinacloud" => Cloud::China,
            _ => return Err(UnknownCloud(s.to_string())),
        };
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_in_declaration_order() {
        for (i, c) in CLOUDS.iter().enumerate() {
            assert_eq!(c.cloud as usize, i);
            assert_eq!(c.name.parse::<Cloud>().unwrap(), c.cloud);
            assert_eq!(c.graph_scope, format!("{}/.default", c.graph_url));
        }
    }

    #[test]
    fn hosts_name_their_cloud() {
        let u = |s: &str| Url::parse(s).unwrap();
        assert_eq!(
            Cloud::of_graph_url(&u("https://dod-graph.microsoft.us/")),
            Some(Cloud::UsGovDod)
        );
        assert_eq!(
            Cloud::of_graph_url(&u("https://GRAPH.microsoft.us")),
            Some(Cloud::UsGov)
        );
        assert_eq!(Cloud::of_graph_url(&u("http://127.0.0.1:9")), None);
        assert_eq!(
            Cloud::of_login_url(&u("https://login.microsoftonline.us")),
            vec![Cloud::UsGov, Cloud::UsGovDod]
        );
        assert_eq!(
            Cloud::of_login_url(&u("https://login.chinacloudapi.cn")),
            vec![Cloud::China]
        );
        assert!(Cloud::of_login_url(&u("http://localhost:1")).is_empty());
        assert!("mars".parse::<Cloud>().is_err());
    }
}
