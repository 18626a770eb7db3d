//! The subset of Kubernetes API objects kbundle emits, as typed serde structs with the API's
//! field names, so that what we write is shaped like the API by construction (and checked in
//! strict mode against the official schemas by `kubernetes-validate` in CI). Maps are
//! `BTreeMap`s and optional fields are skipped, so output is deterministic and minimal.

use std::collections::BTreeMap;

use serde::Serialize;

/// String map (labels, annotations, data).
pub(crate) type Map = BTreeMap<String, String>;

pub(crate) fn map<const N: usize>(entries: [(&str, &str); N]) -> Map {
    entries
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ObjectMeta {
    pub(crate) name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) namespace: Option<String>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub(crate) labels: Map,
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub(crate) annotations: Map,
}

impl ObjectMeta {
    pub(crate) fn in_kube_system(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            namespace: Some("kube-system".to_owned()),
            ..Self::default()
        }
    }

    pub(crate) fn labels(mut self, labels: Map) -> Self {
        self.labels = labels;
        self
    }

    pub(crate) fn annotations(mut self, annotations: Map) -> Self {
        self.annotations = annotations;
        self
    }
}

/// An object with `apiVersion` and `kind` in front.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Object<T: Serialize> {
    pub(crate) api_version: &'static str,
    pub(crate) kind: &'static str,
    pub(crate) metadata: ObjectMeta,
    #[serde(flatten)]
    pub(crate) body: T,
}

#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct PodBody {
    pub(crate) spec: PodSpec,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PodSpec {
    pub(crate) containers: Vec<Container>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) dns_policy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) host_network: Option<bool>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub(crate) node_selector: Map,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) priority: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) priority_class_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) security_context: Option<PodSecurityContext>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) service_account_name: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) tolerations: Vec<Toleration>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) volumes: Vec<Volume>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) init_containers: Vec<Container>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) affinity: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PodSecurityContext {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) seccomp_profile: Option<SeccompProfile>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct SeccompProfile {
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Toleration {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) operator: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) effect: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Container {
    pub(crate) name: String,
    pub(crate) image: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) image_pull_policy: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) command: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) args: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) env: Vec<EnvVar>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) ports: Vec<ContainerPort>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) liveness_probe: Option<Probe>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) readiness_probe: Option<Probe>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) startup_probe: Option<Probe>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) resources: Option<Resources>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) security_context: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) volume_mounts: Vec<VolumeMount>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EnvVar {
    pub(crate) name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) value_from: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ContainerPort {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<String>,
    pub(crate) container_port: u16,
    pub(crate) protocol: &'static str,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Probe {
    pub(crate) http_get: HttpGet,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) initial_delay_seconds: Option<u32>,
    pub(crate) period_seconds: u32,
    pub(crate) timeout_seconds: u32,
    pub(crate) failure_threshold: u32,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct HttpGet {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) host: Option<String>,
    pub(crate) path: String,
    pub(crate) port: PortRef,
    pub(crate) scheme: &'static str,
}

/// A port by number or by name.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub(crate) enum PortRef {
    Number(u16),
    Name(String),
}

#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Resources {
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub(crate) requests: Map,
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub(crate) limits: Map,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VolumeMount {
    pub(crate) name: String,
    pub(crate) mount_path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) read_only: Option<bool>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Volume {
    pub(crate) name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) host_path: Option<HostPath>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) config_map: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct HostPath {
    pub(crate) path: String,
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
}

/// A hostPath volume and its mount at the same path.
pub(crate) fn host_mount(
    name: &str,
    path: &str,
    kind: &'static str,
    read_only: bool,
) -> (Volume, VolumeMount) {
    (
        Volume {
            name: name.to_owned(),
            host_path: Some(HostPath {
                path: path.to_owned(),
                kind,
            }),
            config_map: None,
        },
        VolumeMount {
            name: name.to_owned(),
            mount_path: path.to_owned(),
            read_only: read_only.then_some(true),
        },
    )
}

/// Renders one object as a YAML document.
pub(crate) fn to_yaml<T: Serialize>(object: &T) -> String {
    crate::yaml::to_yaml(object)
}

/// Joins YAML documents into one multi-document file.
pub(crate) fn documents(documents: &[String]) -> String {
    documents
        .iter()
        .map(|document| format!("---\n{document}"))
        .collect()
}
