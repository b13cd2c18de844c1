//! `thematic`: the command-line shell around the analysis crates.
//!
//! Everything that touches the file system, the store, the terminal or the
//! clock lives in this crate; the crates under `crates/` are pure.

mod commands;
mod files;
mod outcome;
mod parallel;
mod progress;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::outcome::Outcome;

/// Reproducible, scriptable thematic analysis of interview transcripts.
#[derive(Parser)]
#[command(name = "thematic", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Code every turn of every transcript in a folder with a codebook and
    /// print the code × document matrix (no study folder needed).
    Code {
        /// Folder of `.txt` / `.md` transcripts.
        transcripts: PathBuf,
        /// Codebook: CSV with `code,term` columns, or TOML.
        #[arg(long)]
        codebook: PathBuf,
        #[arg(long, value_enum, default_value_t = MatrixFormat::Json)]
        format: MatrixFormat,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum MatrixFormat {
    Json,
    Csv,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("THEMATIC_LOG"))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Code {
            transcripts,
            codebook,
            format,
        } => commands::code::run(&transcripts, &codebook, format),
    };
    match outcome {
        Ok(outcome) => outcome.exit_code(),
        Err(error) => {
            eprintln!("error: {error:#}");
            Outcome::ConfigError.exit_code()
        }
    }
}
