//! `spec.registry`: the image repository, mirrors, pull credentials (never echoed) and the
//! namespaces that get the pull secret.

use std::net::IpAddr;

use super::*;

impl Checker {
    pub(super) fn registry(&mut self, raw: &RawClusterConfig) -> Option<Registry> {
        let registry = &raw.spec.registry;
        let errors_before = self.error_count();
        let image_repository = registry
            .image_repository
            .clone()
            .unwrap_or_else(|| DEFAULT_IMAGE_REPOSITORY.into());
        if !is_image_repository(&image_repository) {
            self.push(
                Diagnostic::error(
                    "spec.registry.imageRepository",
                    "is not an image repository",
                )
                .value(&image_repository)
                .hint(
                    "write `host[:port][/path]` without a scheme, e.g. `registry.example.com/k8s`",
                ),
            );
        }
        let mut mirrors = Vec::new();
        for (index, mirror) in registry.mirrors.iter().enumerate() {
            let path = format!("spec.registry.mirrors[{index}]");
            let upstream =
                self.registry_host(&format!("{path}.registry"), mirror.registry.as_deref());
            if mirror.endpoints.is_empty() {
                self.push(
                    Diagnostic::error(format!("{path}.endpoints"), "is empty")
                        .hint("list the mirror URLs, e.g. `[https://mirror.example.com]`"),
                );
            }
            for (endpoint_index, endpoint) in mirror.endpoints.iter().enumerate() {
                if !is_http_url(endpoint) {
                    self.push(
                        Diagnostic::error(
                            format!("{path}.endpoints[{endpoint_index}]"),
                            "is not an http(s) URL",
                        )
                        .value(endpoint)
                        .hint("write e.g. `https://mirror.example.com`"),
                    );
                }
            }
            if let Some(upstream) = upstream {
                mirrors.push(Mirror {
                    registry: upstream,
                    endpoints: mirror.endpoints.clone(),
                });
            }
        }
        let mut credentials = Vec::new();
        for (index, credential) in registry.credentials.iter().enumerate() {
            let path = format!("spec.registry.credentials[{index}]");
            let host =
                self.registry_host(&format!("{path}.registry"), credential.registry.as_deref());
            let username = credential.username.clone().filter(|u| !u.is_empty());
            let password = credential.password.clone().filter(|p| !p.is_empty());
            if username.is_none() {
                self.push(
                    Diagnostic::error(format!("{path}.username"), "is missing")
                        .hint("give the registry user name"),
                );
            }
            if password.is_none() {
                // Never echo a secret: the value is not shown.
                self.push(
                    Diagnostic::error(format!("{path}.password"), "is missing")
                        .hint("give the password or token"),
                );
            } else if self.secrets == Secrets::Given
                && password.as_deref() == Some(crate::config::REDACTED_SECRET)
            {
                self.push(
                    Diagnostic::error(
                        format!("{path}.password"),
                        "is the placeholder a bundle's cluster.yaml keeps instead of the password",
                    )
                    .hint(
                        "give the password or token again: bundles do not store it in cluster.yaml",
                    ),
                );
            }
            if let (Some(registry), Some(username), Some(password)) = (host, username, password) {
                credentials.push(Credential {
                    registry,
                    username,
                    password,
                });
            }
        }
        let pull_secret_namespaces = match &registry.pull_secret_namespaces {
            Some(namespaces) => {
                for (index, namespace) in namespaces.iter().enumerate() {
                    if !is_dns_label(namespace) {
                        self.push(
                            Diagnostic::error(
                                format!("spec.registry.pullSecretNamespaces[{index}]"),
                                "is not a namespace name",
                            )
                            .value(namespace)
                            .hint("use lower-case letters, digits and `-`"),
                        );
                    }
                }
                namespaces.clone()
            }
            None if credentials.is_empty() => Vec::new(),
            None => vec!["default".to_owned()],
        };
        (self.error_count() == errors_before).then_some(Registry {
            image_repository,
            mirrors,
            credentials,
            pull_secret_namespaces,
        })
    }

    fn registry_host(&mut self, path: &str, text: Option<&str>) -> Option<String> {
        match text {
            None => {
                self.push(
                    Diagnostic::error(path, "is missing")
                        .hint("name the registry host, e.g. `docker.io`"),
                );
                None
            }
            Some(host) if !is_registry_host(host) => {
                self.push(
                    Diagnostic::error(path, "is not a registry host")
                        .value(host)
                        .hint("write `host[:port]` without a scheme or path, e.g. `docker.io`"),
                );
                None
            }
            Some(host) => Some(host.to_owned()),
        }
    }
}

fn is_registry_host(text: &str) -> bool {
    let host = match text.rsplit_once(':') {
        Some((host, port)) if port.parse::<u16>().is_ok() => host,
        _ => text,
    };
    is_dns_subdomain(&host.to_ascii_lowercase()) || host.parse::<IpAddr>().is_ok()
}

fn is_image_repository(text: &str) -> bool {
    let (host, path) = text.split_once('/').unwrap_or((text, ""));
    is_registry_host(host)
        && path.split('/').all(|segment| {
            path.is_empty()
                || (!segment.is_empty()
                    && segment.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b)
                    }))
        })
}

fn is_http_url(text: &str) -> bool {
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"));
    rest.is_some_and(|rest| {
        let host = rest.split('/').next().unwrap_or_default();
        !host.is_empty() && !rest.contains(char::is_whitespace)
    })
}
