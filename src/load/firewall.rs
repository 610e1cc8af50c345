//! Firewall rule fields checked as the Windows Firewall CSP accepts them
//! (`./Vendor/MSFT/Firewall/MdmStore/FirewallRules/{name}/...`), so that what the device
//! would reject is an error at validate time, at the value:
//!
//! - `localPorts` / `remotePorts`: a port 1-65535, a range `low-high` with low <= high, or
//!   a keyword (`*`, `Any`, `RPC`, `RPC-EPMap`, `IPHTTPS`, `IPHTTPSIn`, `IPHTTPSOut`,
//!   `Teredo`, `Ply2Disc`, `mDNS`);
//! - `localAddresses` / `remoteAddresses`: an IPv4 or IPv6 address, a subnet (`/prefix`
//!   within 0-32 or 0-128, or an IPv4 mask), a range `start-end` of one family with
//!   start <= end, or a keyword (`*`, `Any`, `DefaultGateway`, `DHCP`, `DNS`, `WINS`,
//!   `LocalSubnet`, `Internet`, `Intranet`, `IntranetRemoteAccess`, `RmtIntranet`,
//!   `PlayToDevice`, `Ply2Renders`, `CaptivePortal`, optionally suffixed `4` or `6`;
//!   case-insensitive, as INetFwRule and `Set-NetFirewallRule` document them); `*` must be
//!   the only entry;
//! - `protocol`: a number 0-255 (the catalog's range); a protocol *name* is refused with
//!   its number, since the CSP stores numbers.
//!
//! Sources: INetFwRule::put_RemoteAddresses (learn.microsoft.com, netfw.h) and the
//! `Set-NetFirewallRule` reference for address keywords. Unverified: the port keywords
//! come from INetFwRule's LocalPorts documentation, not from a CSP page that lists them;
//! a keyword not listed here is reported as an error and may need adding.
//!
//! Strings holding a `${...}` variable are skipped here and checked per tenant after
//! substitution.

use std::net::{IpAddr, Ipv4Addr};

use serde_json::Value;

use super::DocCtx;
use crate::diag::{self, Diagnostic};

const PORT_KEYWORDS: [&str; 10] = [
    "*",
    "Any",
    "RPC",
    "RPC-EPMap",
    "IPHTTPS",
    "IPHTTPSIn",
    "IPHTTPSOut",
    "Teredo",
    "Ply2Disc",
    "mDNS",
];

const ADDRESS_KEYWORDS: [&str; 14] = [
    "*",
    "Any",
    "DefaultGateway",
    "DHCP",
    "DNS",
    "WINS",
    "LocalSubnet",
    "Internet",
    "Intranet",
    "IntranetRemoteAccess",
    "RmtIntranet",
    "PlayToDevice",
    "Ply2Renders",
    "CaptivePortal",
];

/// Protocol names users write, with the IANA number the CSP wants.
const PROTOCOLS: [(&str, u8); 6] = [
    ("ICMPv4", 1),
    ("IGMP", 2),
    ("TCP", 6),
    ("UDP", 17),
    ("IPv6-ICMP", 58),
    ("ICMPv6", 58),
];

/// Checks every rule of a firewall-rules policy's `rules:` list.
pub(crate) fn check_rules(json: &Value, ctx: &DocCtx<'_>, out: &mut Vec<Diagnostic>) {
    let Some(rules) = json.get("rules").and_then(Value::as_array) else {
        return;
    };
    for (i, rule) in rules.iter().enumerate() {
        let ptr = format!("/rules/{i}");
        for field in ["localPorts", "remotePorts"] {
            for (j, v) in items(rule.get(field), ctx) {
                if let Err(m) = port_range(&v) {
                    out.push(
                        Diagnostic::error("invalid-port", m)
                            .at(ctx.span(&format!("{ptr}/{field}{j}"), false))
                            .with_help(format!(
                                "a port 1-65535, a range like `137-139`, or one of: {}",
                                PORT_KEYWORDS.join(", ")
                            )),
                    );
                }
            }
        }
        for field in ["localAddresses", "remoteAddresses"] {
            let entries = items(rule.get(field), ctx);
            for (j, v) in &entries {
                if let Err(m) = address(v) {
                    let help = match diag::did_you_mean(v, ADDRESS_KEYWORDS) {
                        Some(k) => format!("did you mean `{k}`?"),
                        None => format!(
                            "an IPv4/IPv6 address, a subnet like `10.0.0.0/8`, a range like `10.0.0.1-10.0.0.9`, or one of: {}",
                            ADDRESS_KEYWORDS.join(", ")
                        ),
                    };
                    out.push(
                        Diagnostic::error("invalid-address", m)
                            .at(ctx.span(&format!("{ptr}/{field}{j}"), false))
                            .with_help(help),
                    );
                } else if v == "*" && entries.len() > 1 {
                    out.push(
                        Diagnostic::error(
                            "invalid-address",
                            "`*` (any address) must be the only entry",
                        )
                        .at(ctx.span(&format!("{ptr}/{field}{j}"), false)),
                    );
                }
            }
        }
        ports_need_tcp_or_udp(rule, &ptr, ctx, out);
        if let Some(Value::String(p)) = rule.get("protocol")
            && !ctx.has_variable(p)
        {
            let number = PROTOCOLS
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(p))
                .map(|(_, n)| *n);
            let help = match number {
                Some(n) => format!("write `protocol: {n}` ({p} is protocol {n})"),
                None => "write the IANA protocol number: 6 for TCP, 17 for UDP, 1 for ICMPv4, 58 for ICMPv6".to_string(),
            };
            out.push(
                Diagnostic::error(
                    "invalid-protocol",
                    format!(
                        "protocol `{p}` is a name; the firewall stores protocol numbers (0-255)"
                    ),
                )
                .at(ctx.span(&format!("{ptr}/protocol"), false))
                .with_help(help),
            );
        }
    }
}

/// Windows accepts `localPorts`/`remotePorts` only on a TCP (6) or UDP (17) rule
/// (INetFwRule::put_LocalPorts: "only for TCP and UDP"; the CSP's `LocalPortRanges` and
/// `RemotePortRanges` say the same): ports with another protocol number are an error at
/// the protocol. A rule without `protocol` (any protocol) is not flagged here: unverified
/// whether the CSP refuses it or applies the ports to TCP and UDP.
fn ports_need_tcp_or_udp(rule: &Value, ptr: &str, ctx: &DocCtx<'_>, out: &mut Vec<Diagnostic>) {
    let Some(n) = rule.get("protocol").and_then(Value::as_u64) else {
        return;
    };
    if n == 6 || n == 17 {
        return;
    }
    let with_ports: Vec<&str> = ["localPorts", "remotePorts"]
        .into_iter()
        .filter(|f| {
            rule.get(*f)
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty())
        })
        .collect();
    let Some(first) = with_ports.first() else {
        return;
    };
    let name = PROTOCOLS
        .iter()
        .find(|(_, k)| u64::from(*k) == n)
        .map(|(p, _)| format!(" ({p})"))
        .unwrap_or_default();
    out.push(
        Diagnostic::error(
            "ports-need-tcp-or-udp",
            format!("this rule gives `{first}` but its protocol is {n}{name}; ports apply only to TCP (6) and UDP (17)"),
        )
        .at(ctx.span(&format!("{ptr}/protocol"), false))
        .with_label(ctx.span(&format!("{ptr}/{first}"), false), "ports given here")
        .with_help("set `protocol: 6` or `protocol: 17`, or remove the ports"),
    );
}

/// The string entries of a list (numbers as written), with their pointer suffix `/j`;
/// strings with variables still to substitute are left out. Entries are kept as written:
/// the CSP does not trim, so `" 80"` is refused rather than quietly repaired.
fn items(v: Option<&Value>, ctx: &DocCtx<'_>) -> Vec<(String, String)> {
    let Some(Value::Array(a)) = v else {
        return Vec::new();
    };
    a.iter()
        .enumerate()
        .filter_map(|(j, x)| {
            let s = match x {
                Value::String(s) if !ctx.has_variable(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => return None,
            };
            Some((format!("/{j}"), s))
        })
        .collect()
}

/// One port number, plain ASCII digits only (no sign, no spaces), 1-65535.
fn port(s: &str) -> Option<Result<u32, String>> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(match s.parse::<u64>() {
        Ok(n) if (1..=65535).contains(&n) => Ok(n as u32),
        Ok(n) => Err(format!("port {n} is out of range: ports are 1-65535")),
        // Only digits, so only too long to parse.
        Err(_) => Err(format!("port {s} is out of range: ports are 1-65535")),
    })
}

/// A port, a `low-high` range, or a keyword. Messages speak of the whole value.
pub(crate) fn port_range(s: &str) -> Result<(), String> {
    if PORT_KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(s)) {
        return Ok(());
    }
    if s.contains(',') {
        return Err(format!(
            "`{s}` holds several ports; write one per list item"
        ));
    }
    if s.trim() != s || s.is_empty() {
        return Err(format!("`{s}` is not a port: remove the spaces around it"));
    }
    let parts: Vec<&str> = s.split('-').collect();
    match parts.as_slice() {
        [one] => match port(one) {
            Some(r) => r.map(|_| ()),
            None => Err(format!(
                "`{s}` is not a port: write digits only (1-65535), a range `low-high`, or a keyword"
            )),
        },
        [lo, hi] => match (port(lo), port(hi)) {
            (Some(lo), Some(hi)) => {
                let (lo, hi) = (lo?, hi?);
                if lo > hi {
                    return Err(format!("port range `{s}` runs backwards ({lo} > {hi})"));
                }
                Ok(())
            }
            _ => Err(format!(
                "`{s}` is not a port range: a range is two ports `low-high`, each 1-65535"
            )),
        },
        _ => Err(format!(
            "`{s}` is not a port range: a range has exactly one `-` between two ports"
        )),
    }
}

/// An address, subnet, range or keyword.
pub(crate) fn address(s: &str) -> Result<(), String> {
    let keyword = |k: &str| {
        let base = k.strip_suffix(['4', '6']).unwrap_or(k);
        ADDRESS_KEYWORDS
            .iter()
            .any(|w| w.eq_ignore_ascii_case(k) || (*w != "*" && w.eq_ignore_ascii_case(base)))
    };
    if keyword(s) {
        return Ok(());
    }
    if let Some((net, prefix)) = s.split_once('/') {
        let ip: IpAddr = net
            .parse()
            .map_err(|_| format!("`{net}` in `{s}` is not an IP address"))?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        if let Ok(p) = prefix.parse::<u32>() {
            if p > max {
                return Err(format!(
                    "prefix /{p} is out of range for an {} subnet (0-{max})",
                    family(&ip)
                ));
            }
            return Ok(());
        }
        return match (ip, prefix.parse::<Ipv4Addr>()) {
            (IpAddr::V4(_), Ok(mask)) if is_mask(mask) => Ok(()),
            _ => Err(format!(
                "`{prefix}` in `{s}` is neither a prefix length nor a subnet mask"
            )),
        };
    }
    // IPv6 addresses hold no `-`, so a dash is a range.
    if let Some((a, b)) = s.split_once('-') {
        let a: IpAddr = a
            .trim()
            .parse()
            .map_err(|_| format!("`{a}` in `{s}` is not an IP address"))?;
        let b: IpAddr = b
            .trim()
            .parse()
            .map_err(|_| format!("`{b}` in `{s}` is not an IP address"))?;
        if a.is_ipv4() != b.is_ipv4() {
            return Err(format!("range `{s}` mixes IPv4 and IPv6"));
        }
        if a > b {
            return Err(format!("address range `{s}` runs backwards"));
        }
        return Ok(());
    }
    s.parse::<IpAddr>()
        .map(|_| ())
        .map_err(|_| format!("`{s}` is not an IP address, subnet, range or keyword"))
}

fn family(ip: &IpAddr) -> &'static str {
    if ip.is_ipv4() { "IPv4" } else { "IPv6" }
}

/// Whether a dotted mask is contiguous ones then zeros.
fn is_mask(m: Ipv4Addr) -> bool {
    let bits = u32::from(m);
    bits.leading_ones() + bits.trailing_zeros() == 32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_as_the_csp_allows() {
        for ok in [
            "1",
            "445",
            "65535",
            "137-139",
            "80-80",
            "RPC",
            "rpc-epmap",
            "*",
        ] {
            assert!(port_range(ok).is_ok(), "{ok}");
        }
        for (bad, says) in [
            ("0", "out of range"),
            ("65536", "out of range"),
            ("139-137", "backwards"),
            ("80-70000", "out of range"),
            ("http", "not a port"),
            ("80,443", "several"),
        ] {
            let e = port_range(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn addresses_as_the_csp_allows() {
        for ok in [
            "10.0.0.1",
            "10.0.0.0/8",
            "10.0.0.0/255.0.0.0",
            "fe80::1",
            "fe80::/64",
            "10.0.0.1-10.0.0.9",
            "fe80::1-fe80::9",
            "Internet",
            "localsubnet",
            "LocalSubnet4",
            "DNS6",
            "*",
        ] {
            assert!(address(ok).is_ok(), "{ok}");
        }
        for (bad, says) in [
            ("10.0.0.0/33", "out of range"),
            ("fe80::/129", "out of range"),
            ("10.0.0.256", "not an IP"),
            ("10.0.0.9-10.0.0.1", "backwards"),
            ("10.0.0.1-fe80::1", "mixes"),
            ("10.0.0.0/255.0.255.0", "neither"),
            ("Internat", "not an IP"),
        ] {
            let e = address(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
