//! Kubeconfig files with embedded certificate data, shaped as kubeadm writes them: one cluster
//! named after the cluster, one user named after the client CN, one context `<user>@<cluster>`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;

/// Renders a kubeconfig.
pub(crate) fn render(
    cluster_name: &str,
    server: &str,
    ca_pem: &str,
    user: &str,
    certificate_pem: &str,
    key_pem: &str,
) -> String {
    let context = format!("{user}@{cluster_name}");
    let config = Kubeconfig {
        api_version: "v1",
        kind: "Config",
        clusters: vec![NamedCluster {
            name: cluster_name,
            cluster: Cluster {
                certificate_authority_data: STANDARD.encode(ca_pem),
                server,
            },
        }],
        contexts: vec![NamedContext {
            name: &context,
            context: Context {
                cluster: cluster_name,
                user,
            },
        }],
        current_context: &context,
        preferences: Preferences {},
        users: vec![NamedUser {
            name: user,
            user: User {
                client_certificate_data: STANDARD.encode(certificate_pem),
                client_key_data: STANDARD.encode(key_pem),
            },
        }],
    };
    crate::yaml::to_yaml(&config)
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct Kubeconfig<'a> {
    #[serde(rename = "apiVersion")]
    api_version: &'a str,
    kind: &'a str,
    clusters: Vec<NamedCluster<'a>>,
    contexts: Vec<NamedContext<'a>>,
    current_context: &'a str,
    preferences: Preferences,
    users: Vec<NamedUser<'a>>,
}

#[derive(Serialize)]
struct NamedCluster<'a> {
    name: &'a str,
    cluster: Cluster<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct Cluster<'a> {
    certificate_authority_data: String,
    server: &'a str,
}

#[derive(Serialize)]
struct NamedContext<'a> {
    name: &'a str,
    context: Context<'a>,
}

#[derive(Serialize)]
struct Context<'a> {
    cluster: &'a str,
    user: &'a str,
}

#[derive(Serialize)]
struct Preferences {}

#[derive(Serialize)]
struct NamedUser<'a> {
    name: &'a str,
    user: User,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct User {
    client_certificate_data: String,
    client_key_data: String,
}
