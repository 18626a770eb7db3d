//! Writes everything rendered for a cluster.yaml into a directory, one folder per node plus
//! `addons/` (with a fixed seed and time: for looking at the output, not for real clusters).
//! `cargo run -p kbundle-core --example render_dump -- cluster.yaml OUT_DIR`

use std::path::Path;

use kbundle_core::config::ClusterConfig;
use kbundle_core::pki::{Pki, PkiInputs};
use kbundle_core::plan::NetworkPlan;
use kbundle_core::render::render;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(config_path), Some(out)) = (args.next(), args.next()) else {
        return Err("usage: render_dump CLUSTER_YAML OUT_DIR".into());
    };
    let text = std::fs::read_to_string(config_path)?;
    let config = ClusterConfig::from_yaml(&text)
        .map_err(|d| format!("{d:?}"))?
        .config;
    let plan = NetworkPlan::new(&config);
    let issued_at = 1_790_000_000;
    let pki = Pki::issue(
        &config,
        &PkiInputs {
            seed: [1; 32],
            issued_at,
            existing_cas: Vec::new(),
        },
    )?;
    let rendered = render(&config, &plan, &pki, issued_at);
    let out = Path::new(&out);
    for node in &rendered.nodes {
        for file in &node.files {
            let path = out.join(&node.node).join(file.path.trim_start_matches('/'));
            std::fs::create_dir_all(path.parent().ok_or("no parent")?)?;
            std::fs::write(path, &file.contents)?;
        }
    }
    std::fs::create_dir_all(out.join("addons"))?;
    for addon in &rendered.addons {
        std::fs::write(out.join("addons").join(&addon.name), &addon.contents)?;
    }
    Ok(())
}
