//! `kbundle plan`: the network plan as a readable table or as JSON, keeping the pod ranges of a
//! previous bundle when one is given.

use kbundle_core::plan::NetworkPlan;

use super::{Failure, load_config, previous_ranges, print_invalid};
use crate::args::{Format, PlanArgs};

pub(crate) fn run(args: &PlanArgs) -> Result<(), Failure> {
    let validated = load_config(&args.config)?;
    let plan = match &args.from {
        None => NetworkPlan::new(&validated.config),
        Some(previous) => {
            let previous = previous_ranges(previous, args.passphrase_file.as_deref())?;
            NetworkPlan::with_previous(&validated.config, &previous).map_err(|diagnostics| {
                print_invalid(&args.config, &diagnostics);
                Failure::Invalid
            })?
        }
    };
    match args.output {
        Format::Json => {
            let json = serde_json::to_string_pretty(&plan).map_err(anyhow::Error::from)?;
            println!("{json}");
        }
        Format::Text => print!("{}", plan.to_text()),
    }
    Ok(())
}
