//! `kbundle join-token`: a fresh bootstrap token for a node that joins after the bundle's token
//! expired. Its arguments are checked against the bundle before any connection; then, over SSH
//! as `kbundle apply` connects, the first control-plane node creates the token Secret and the
//! join folder carrying it is written (see `apply::phases::join_token`).

use kbundle_core::config::parse_duration_hours;
use kbundle_core::pki::BootstrapToken;

use super::Failure;
use super::apply::{Mode, run_workflow};
use crate::apply::Phase;
use crate::apply::phases::{Connect, MintJoinToken};
use crate::args::JoinTokenArgs;

pub(crate) fn run(args: &JoinTokenArgs) -> Result<(), Failure> {
    let output = &args.output_dir;
    if output.symlink_metadata().is_ok() {
        eprintln!(
            "error: --output-dir: `{}` already exists\n  hint: name a folder that does not exist yet; it is written whole or not at all",
            output.display()
        );
        return Err(Failure::Invalid);
    }
    let ttl = args.ttl.as_str();
    let ttl_hours = match parse_duration_hours(ttl) {
        Some(0) => {
            eprintln!(
                "error: --ttl: `{ttl}` must be longer than zero\n  hint: a token that never expires is what this command exists to avoid; use e.g. `1h` or `2d`"
            );
            return Err(Failure::Invalid);
        }
        Some(hours) => hours,
        None => {
            eprintln!(
                "error: --ttl: `{ttl}` is not a duration\n  hint: write a whole number of hours, days or years, e.g. `1h` or `2d`"
            );
            return Err(Failure::Invalid);
        }
    };
    run_workflow(&args.apply, Mode::JoinToken, |config| {
        let validity = config.certificates.validity_hours;
        if ttl_hours > validity {
            eprintln!(
                "error: --ttl: `{ttl}` is longer than the certificates' validity ({validity}h)\n  hint: the token lets nodes join, so it must not outlive the certificates; use a shorter --ttl"
            );
            return Err(Failure::Invalid);
        }
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed)
            .map_err(|error| anyhow::anyhow!("reading the system's random generator: {error}"))?;
        let expires_at = crate::clock::unix_now() + i64::from(ttl_hours) * 3600;
        let phases: Vec<Box<dyn Phase>> = vec![
            Box::new(Connect),
            Box::new(MintJoinToken {
                token: BootstrapToken::from_seed(seed),
                expires_at,
                expiration: kbundle_core::bundle::token::expiration(expires_at),
                output: output.clone(),
            }),
        ];
        Ok(phases)
    })
}
