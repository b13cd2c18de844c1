//! `thematic`: the command line. It reads the arguments (`cli`), hands each
//! command to its leaf in `commands`, which asks the engine
//! (`thematic-engine`) and prints what it returns, and turns the outcome
//! into the exit code. The study's lifecycle lives in the engine.

mod cli;
mod commands;
mod outcome;
mod templates;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{AgreementUnit, Cli, Command, Export, Import, ModelCommand, PackCommand, PluginCommand};
use crate::outcome::{exit_code, Outcome};

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("THEMATIC_LOG"))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Init { dir, demo } => commands::init::run(&dir, demo),
        Command::Run { dir } => commands::run::run(&dir),
        Command::Report { dir, open } => commands::run::report(&dir, open),
        Command::Check { dir } => commands::check::run(&dir),
        Command::Audit { dir } => commands::audit::run(&dir),
        Command::Agree { dir, coders, unit } => commands::agree::run(
            &dir,
            &coders,
            match unit {
                AgreementUnit::Segment => thematic_pipeline::Unit::Segment,
                AgreementUnit::Character => thematic_pipeline::Unit::Character,
            },
        ),
        Command::Withdraw {
            participant,
            dir,
            move_to,
            delete: _,
        } => commands::withdraw::withdraw(
            &participant,
            &dir,
            match move_to {
                Some(folder) => thematic_engine::withdraw::Removal::MoveTo(folder),
                None => thematic_engine::withdraw::Removal::Delete,
            },
        ),
        Command::Watch {
            dir,
            poll,
            debounce_ms,
            serve,
            port,
            open,
            coder,
        } => commands::watch::watch(
            &dir,
            poll,
            std::time::Duration::from_millis(debounce_ms),
            serve.then_some(commands::watch::Serve { port, open, coder }),
        ),
        Command::Export {
            what: Export::Matrix { dir, format },
        } => commands::export::matrix(&dir, format),
        Command::Export {
            what: Export::Qdpx { dir, output },
        } => commands::export::qdpx(&dir, &output),
        Command::Export {
            what: Export::Dot { dir, output },
        } => commands::export::dot(&dir, output.as_deref()),
        Command::Export {
            what: Export::Xlsx { dir, output },
        } => commands::export::xlsx(&dir, &output),
        Command::Export {
            what: Export::Qdc { codebook, output },
        } => commands::export::qdc(&codebook, &output),
        Command::Import {
            what: Import::Qdc { file, output },
        } => commands::import::qdc(&file, &output),
        Command::Import {
            what: Import::Qdpx { file, dir },
        } => commands::import::qdpx(&file, &dir),
        Command::Plugin {
            what: PluginCommand::Check { path, params, isolated },
        } => commands::plugin::check(&path, &params, isolated),
        Command::Plugin {
            what: PluginCommand::Serve { path, memory_mib },
        } => commands::plugin::serve(&path, memory_mib),
        Command::Model { what } => match what {
            ModelCommand::Add { path, name } => commands::model::add(&path, name.as_deref()),
            ModelCommand::List => commands::model::list(),
            ModelCommand::Fetch { name } => commands::model::fetch(&name),
        },
        Command::Pack { what } => match what {
            PackCommand::New { name, dir } => commands::pack::new(&name, &dir),
            PackCommand::Build { dir, output } => commands::pack::build(&dir, output.as_deref()),
            PackCommand::Install {
                source,
                study,
                global,
                allow_native,
            } => commands::pack::install(&source, &study, global, allow_native),
            PackCommand::List { study } => commands::pack::list(&study),
            PackCommand::Verify { study } => commands::pack::verify(&study),
            PackCommand::Update {
                name,
                study,
                allow_native,
            } => commands::pack::update(&name, &study, allow_native),
            PackCommand::Remove { name, study } => commands::pack::remove(&name, &study),
        },
        Command::Try {
            script,
            text,
            file,
            speaker,
            codebook,
        } => commands::try_script::run(commands::try_script::TryInput {
            script,
            text,
            file,
            speaker,
            codebook,
        }),
        Command::Code {
            transcripts,
            codebook,
            format,
        } => commands::code::run(&transcripts, &codebook, format),
    };
    match outcome {
        Ok(outcome) => exit_code(outcome),
        Err(error) => {
            eprintln!("error: {error:#}");
            exit_code(Outcome::ConfigError)
        }
    }
}
