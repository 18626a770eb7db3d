//! placeholder
pub(crate) fn node_files(
    _: &crate::config::ClusterConfig,
    _: &crate::plan::NetworkPlan,
    _: &crate::config::Node,
) -> Vec<super::RenderedFile> {
    Vec::new()
}
