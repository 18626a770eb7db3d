//! Kubeconfig files with embedded certificate data, shaped as kubeadm writes them: one cluster
//! named after the cluster, one user named after the client CN (or, for the bootstrap
//! kubeconfig, kubeadm's token user), one context `<user>@<cluster>`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;

/// Renders a kubeconfig whose user is a client certificate and its key.
pub(crate) fn render(
    cluster_name: &str,
    server: &str,
    ca_pem: &str,
    user: &str,
    certificate_pem: &str,
    key_pem: &str,
) -> String {
    let credentials = User {
        client_certificate_data: Some(STANDARD.encode(certificate_pem)),
        client_key_data: Some(STANDARD.encode(key_pem)),
        token: None,
    };
    render_for(cluster_name, server, ca_pem, user, credentials)
}

/// Renders a kubeconfig whose user is a bearer token (`<id>.<secret>` for a bootstrap token).
pub(crate) fn render_with_token(
    cluster_name: &str,
    server: &str,
    ca_pem: &str,
    user: &str,
    token: &str,
) -> String {
    let credentials = User {
        client_certificate_data: None,
        client_key_data: None,
        token: Some(token.to_owned()),
    };
    render_for(cluster_name, server, ca_pem, user, credentials)
}

fn render_for(
    cluster_name: &str,
    server: &str,
    ca_pem: &str,
    user: &str,
    credentials: User,
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
            user: credentials,
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

/// Either a client certificate and its key, or a token.
#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct User {
    #[serde(skip_serializing_if = "Option::is_none")]
    client_certificate_data: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_key_data: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
}
