//! `spec.proxy`: HTTP(S) proxy URLs (shown without their user info) and NO_PROXY entries.

use super::*;

impl Checker {
    pub(super) fn proxy(&mut self, raw: &RawClusterConfig) -> Option<Proxy> {
        let proxy = raw.spec.proxy.as_ref()?;
        for (field, value) in [("http", &proxy.http), ("https", &proxy.https)] {
            if let Some(url) = value
                && !is_proxy_url(url)
            {
                self.push(
                    Diagnostic::error(format!("spec.proxy.{field}"), "is not a proxy URL")
                        .value(redact_userinfo(url))
                        .hint("write e.g. `http://proxy.example.com:3128`"),
                );
            } else if let Some(url) = value
                && self.secrets == Secrets::Given
                && url.contains(&format!("://{}@", crate::config::REDACTED_USERINFO))
            {
                self.push(
                    Diagnostic::error(
                        format!("spec.proxy.{field}"),
                        "holds the placeholder a bundle's cluster.yaml keeps instead of the proxy's user and password",
                    )
                    .value(redact_userinfo(url))
                    .hint("write the user and password again (`http://user:password@host:port`): bundles do not store them in cluster.yaml"),
                );
            }
        }
        if proxy.http.is_none() && proxy.https.is_none() {
            self.push(
                Diagnostic::error("spec.proxy", "names neither an http nor an https proxy")
                    .hint("set `http` and/or `https`, or remove `proxy`"),
            );
        }
        for (index, entry) in proxy.no_proxy.iter().enumerate() {
            if entry.trim().is_empty() || entry.contains([',', ' ']) {
                self.push(
                    Diagnostic::error(
                        format!("spec.proxy.noProxy[{index}]"),
                        "is not a NO_PROXY entry",
                    )
                    .value(entry)
                    .hint("give one host, domain (`.example.com`), IP or CIDR per list item"),
                );
            }
        }
        Some(Proxy {
            http: proxy.http.clone(),
            https: proxy.https.clone(),
            extra_no_proxy: proxy.no_proxy.clone(),
        })
    }
}

fn is_proxy_url(text: &str) -> bool {
    let rest = ["http://", "https://", "socks5://"]
        .iter()
        .find_map(|scheme| text.strip_prefix(scheme));
    rest.is_some_and(|rest| {
        let authority = rest.split('/').next().unwrap_or_default();
        let host = authority
            .rsplit_once('@')
            .map_or(authority, |(_, host)| host);
        !host.is_empty() && !rest.contains(char::is_whitespace)
    })
}

/// Proxy URLs may carry `user:password@`; errors show them without it.
fn redact_userinfo(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}://<redacted>@{}", &url[..scheme_end], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}
