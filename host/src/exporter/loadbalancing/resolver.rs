//! Where the backends are: a static list, or the A/AAAA records of a DNS name (a Kubernetes
//! headless Service lists its ready pods), resolved again on an interval.

use std::time::Duration;

use crate::config::ResolverConfig;

/// The backends' addresses (`host:port`), sorted, or why the name did not resolve.
pub async fn resolve(config: &ResolverConfig) -> Result<Vec<String>, String> {
    let mut addresses = match (&config.static_list, &config.dns) {
        (Some(list), _) => list.clone(),
        (None, Some(dns)) => tokio::net::lookup_host((dns.hostname.as_str(), dns.port))
            .await
            .map_err(|e| format!("resolving {}: {e}", dns.hostname))?
            .map(|addr| addr.to_string())
            .collect(),
        (None, None) => Vec::new(),
    };
    addresses.sort();
    addresses.dedup();
    Ok(addresses)
}

/// How often the backends are resolved again: never for a static list.
pub fn interval(config: &ResolverConfig) -> Option<Duration> {
    config
        .dns
        .as_ref()
        .map(|dns| Duration::from_millis(dns.interval_ms))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DnsResolverConfig;

    #[tokio::test]
    async fn a_dns_name_resolves_to_each_address_with_the_port() {
        let config = ResolverConfig {
            static_list: None,
            dns: Some(DnsResolverConfig {
                hostname: "localhost".into(),
                port: 5317,
                interval_ms: 1000,
            }),
        };
        let addresses = resolve(&config).await.unwrap();
        assert!(
            addresses.contains(&"127.0.0.1:5317".to_owned()),
            "{addresses:?}"
        );
        assert_eq!(interval(&config), Some(Duration::from_secs(1)));
        let unknown = ResolverConfig {
            static_list: None,
            dns: Some(DnsResolverConfig {
                hostname: "no-such-host.invalid".into(),
                port: 1,
                interval_ms: 1,
            }),
        };
        assert!(
            resolve(&unknown)
                .await
                .unwrap_err()
                .contains("no-such-host.invalid")
        );
    }
}
