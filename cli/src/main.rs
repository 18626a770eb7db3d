//! The `kbundle` binary: parses arguments, runs one command, and maps the outcome to an exit
//! code (0 success, 2 invalid input, 1 anything else).

mod apply;
mod args;
mod clock;
mod commands;
mod files;
mod ssh;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command};
use crate::commands::Failure;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Init(args) => commands::init::run(&args),
        Command::Validate(args) => commands::validate::run(&args),
        Command::Plan(args) => commands::plan::run(&args),
        Command::Generate(args) => commands::generate::run(&args),
        Command::Inspect(args) => commands::inspect::run(&args),
        Command::Verify(args) => commands::verify::run(&args),
        Command::Diff(args) => commands::diff::run(&args),
        Command::Artifacts(args::ArtifactsCommand::List(args)) => commands::artifacts::list(&args),
        Command::Artifacts(args::ArtifactsCommand::Fetch(args)) => commands::fetch::run(&args),
        Command::Artifacts(args::ArtifactsCommand::Check { directory }) => {
            commands::fetch::check(&directory)
        }
        Command::Apply(args) => commands::apply::run(&args, commands::apply::Mode::Apply),
        Command::Status(args) => commands::apply::run(&args, commands::apply::Mode::Status),
        Command::Reset(args) => commands::apply::run(&args, commands::apply::Mode::Reset),
        Command::JoinToken(args) => commands::join_token::run(&args),
        Command::Certs(args) => commands::certs::run(&args),
        Command::Export(args::ExportCommand::Ansible(args)) => commands::export::ansible(&args),
        Command::Export(args::ExportCommand::CloudInit(args)) => {
            commands::export::cloud_init(&args)
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Invalid) => ExitCode::from(2),
        Err(Failure::Other(error)) => {
            eprintln!("error: {error:#}");
            ExitCode::from(1)
        }
    }
}
