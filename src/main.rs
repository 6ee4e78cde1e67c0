//! `amalgam`: obfuscated neural-network training on untrusted compute.
//!
//! Owner side: `augment`, `extract`, `baseline`, `eval`; cloud side: `train`; both in one go:
//! `run`; the privacy audit: `audit`, `audit-sweep`; the other schemes: `privynet ...`,
//! `tempo ...`, `mixnn ...`; all side by side: `compare`. See `amalgam --help`.

mod args;
mod commands;
mod plot;
mod progress;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Augment(a) => commands::augment::run(a),
        Command::Train(a) => commands::train::run(a),
        Command::Extract(a) => commands::extract::run(a),
        Command::Baseline(a) => commands::baseline::run(a),
        Command::Eval(a) => commands::eval::run(a),
        Command::Run(a) => commands::run::run(a),
        Command::Audit(a) => commands::audit::run(a),
        Command::AuditSweep(a) => commands::audit_sweep::run(a),
        Command::Compare(a) => commands::compare::run(a),
        Command::Privynet { command } => commands::privynet::run(command),
        Command::Tempo { command } => commands::tempo::run(command),
        Command::Mixnn { command } => commands::mixnn::run(command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
