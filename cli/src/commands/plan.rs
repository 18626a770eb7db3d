//! `kbundle plan`: the network plan as a readable table or as JSON.

use kbundle_core::plan::NetworkPlan;

use super::{Failure, load_config};
use crate::args::{Format, PlanArgs};

pub(crate) fn run(args: &PlanArgs) -> Result<(), Failure> {
    let validated = load_config(&args.config)?;
    let plan = NetworkPlan::new(&validated.config);
    match args.output {
        Format::Json => {
            let json = serde_json::to_string_pretty(&plan).map_err(anyhow::Error::from)?;
            println!("{json}");
        }
        Format::Text => print!("{}", plan.to_text()),
    }
    Ok(())
}
