//! The command line: what `thematic` takes, as clap reads it.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Reproducible, scriptable thematic analysis of interview transcripts.
///
/// Exit codes: 0 success; 1 some inputs failed (the rest were processed and
/// reported); 2 usage or configuration error (nothing ran).
#[derive(Parser)]
#[command(name = "thematic", version, about, long_about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Make a new study folder that runs as it is (or the demo study with --demo).
    Init {
        /// The folder to make (created if missing).
        dir: PathBuf,
        /// Write the bundled demo study: seven interviews, eight themes, three discussion areas.
        #[arg(long)]
        demo: bool,
    },
    /// Run the study's stages and write its reports.
    Run {
        /// The study folder, holding thematic.toml.
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Run the study and write its reports, report.html always among them.
    Report {
        /// The study folder, holding thematic.toml.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Open report.html in the browser ($BROWSER, or the system's default) when written.
        #[arg(long)]
        open: bool,
    },
    /// Keep the study's outputs current: run again, coding only what changed,
    /// whenever transcripts, scripts, plugins, codebooks, participants or
    /// thematic.toml change.
    Watch {
        /// The study folder, holding thematic.toml.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Look for changes every half second instead of waiting for the
        /// system's events (for network drives, container mounts and WSL).
        #[arg(long)]
        poll: bool,
        /// Quiet time, in milliseconds, that ends a burst of changes.
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=60_000))]
        debounce_ms: u64,
        /// Serve the report on http://127.0.0.1 (this machine only); an open
        /// page takes each new run's report without a reload and says what changed.
        #[arg(long)]
        serve: bool,
        /// The port to serve on; 0 takes any free port.
        #[arg(long, requires = "serve", default_value_t = 7878)]
        port: u16,
        /// Open the served report in the browser ($BROWSER, or the system's default).
        #[arg(long, requires = "serve")]
        open: bool,
        /// Whose decisions the served workbench saves: their codings go to
        /// coders/NAME.csv (or the file of the `coder` stage named NAME).
        /// Defaults to the user's login name.
        #[arg(long, requires = "serve", value_name = "NAME")]
        coder: Option<String>,
    },
    /// Withdraw a participant who withdrew consent: their transcripts leave
    /// the study (moved or deleted), their row leaves the participants file,
    /// and nothing of them is left in the store or the reports.
    Withdraw {
        /// The participant's id, as in the participants file.
        participant: String,
        /// The study folder, holding thematic.toml.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Move their transcripts to this folder (kept outside the analysis).
        #[arg(
            long,
            value_name = "FOLDER",
            required_unless_present = "delete",
            conflicts_with = "delete"
        )]
        move_to: Option<PathBuf>,
        /// Delete their transcripts.
        #[arg(long)]
        delete: bool,
    },
    /// How far two coders (coding stages) agree, code by code: percent
    /// agreement, Cohen's kappa and Krippendorff's alpha.
    Agree {
        /// The study folder, holding thematic.toml.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// The two coders, as stage names: `--coders dictionary,hedging`.
        #[arg(long, value_delimiter = ',', required = true)]
        coders: Vec<String>,
        /// What one decision is about.
        #[arg(long, value_enum, default_value_t = AgreementUnit::Segment)]
        unit: AgreementUnit,
    },
    /// Search the outputs and the store for any entry of the study's
    /// redaction list; exits 1, naming file and place, if one is found.
    Audit {
        /// The study folder, holding thematic.toml.
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Validate a study (configuration, codebooks, participants, transcripts) without running it.
    Check {
        /// The study folder, holding thematic.toml.
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Run a Lua coding script on a text and print what it codes.
    Try {
        /// The script (a `lua` coding strategy).
        script: PathBuf,
        /// The text to code; `Name: ` at a line start opens a turn.
        #[arg(long, conflicts_with = "file")]
        text: Option<String>,
        /// A file to code instead of --text.
        #[arg(long)]
        file: Option<PathBuf>,
        /// Make the text one turn of this speaker.
        #[arg(long)]
        speaker: Option<String>,
        /// A codebook the script sees as `context.codebook`.
        #[arg(long)]
        codebook: Option<PathBuf>,
    },
    /// Native plugins.
    Plugin {
        #[command(subcommand)]
        what: PluginCommand,
    },
    /// Sentence-embedding models for `semantic` stages, in the user's model store.
    Model {
        #[command(subcommand)]
        what: ModelCommand,
    },
    /// Plugin packs: codebooks, Lua strategies, plugins and stage presets shared between studies.
    Pack {
        #[command(subcommand)]
        what: PackCommand,
    },
    /// Bring in data from other tools.
    Import {
        #[command(subcommand)]
        what: Import,
    },
    /// Print data of a study for other tools.
    Export {
        #[command(subcommand)]
        what: Export,
    },
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

#[derive(Subcommand)]
pub enum PackCommand {
    /// Make a working skeleton of a pack (manifest, codebook, Lua strategy, preset) in DIR/NAME.
    New {
        name: String,
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// Archive a pack folder as NAME-VERSION.zip beside it, or as --output (.zip or .tar.gz).
    Build {
        dir: PathBuf,
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Install a pack (folder, .zip or .tar.gz) for a study and pin it in its thematic.lock.
    Install {
        source: PathBuf,
        /// The study folder, holding thematic.toml.
        #[arg(long, default_value = ".")]
        study: PathBuf,
        /// Install for the user, shared by studies, instead of in the study's .thematic/packs/.
        #[arg(long)]
        global: bool,
        /// Let the pack's native plugins run (recorded in the lock).
        #[arg(long)]
        allow_native: bool,
    },
    /// List the packs a study has pinned, checked, and those installed.
    List {
        #[arg(long, default_value = ".")]
        study: PathBuf,
    },
    /// Check every pinned pack's installed files against thematic.lock.
    Verify {
        #[arg(long, default_value = ".")]
        study: PathBuf,
    },
    /// Pin a pack's installed files as they are now, on purpose.
    Update {
        name: String,
        #[arg(long, default_value = ".")]
        study: PathBuf,
        /// Let its native plugins run as they are now (what the last pin allowed was other files).
        #[arg(long)]
        allow_native: bool,
    },
    /// Take a pack out of a study (its pin, and its files if installed in the study).
    Remove {
        name: String,
        #[arg(long, default_value = ".")]
        study: PathBuf,
    },
}

#[derive(Subcommand)]
pub enum ModelCommand {
    /// Check a sentence-transformers model folder (config.json, 1_Pooling/config.json, tokenizer.json,
    /// model.safetensors) and put it in the model store, with a manifest of its files' SHA-256 sums.
    Add {
        path: PathBuf,
        /// The name stages use for it (`model = "NAME"`); by default the folder's name.
        #[arg(long)]
        name: Option<String>,
    },
    /// The models in the store: name, hash and folder.
    List,
    /// Download a model from the Hugging Face hub (the machine must be online) and add it to the store:
    /// `all-MiniLM-L6-v2` (a sentence-transformers model) or `OWNER/NAME`.
    Fetch { name: String },
}

#[derive(Subcommand)]
pub enum PluginCommand {
    /// Load a plugin library and print its name, kinds, ABI version and a smoke call's result.
    Check {
        path: PathBuf,
        /// Parameters for the smoke call, as in a stage's `params` (TOML), e.g. `lexicon = { anger = ["angry"] }`.
        #[arg(long, default_value = "")]
        params: String,
        /// Load and call the plugin in a child process, as `isolation = "process"` does.
        #[arg(long)]
        isolated: bool,
    },
    /// Serve an isolated plugin over stdin and stdout (thematic starts this itself).
    #[command(hide = true)]
    Serve {
        path: PathBuf,
        #[arg(long)]
        memory_mib: Option<u64>,
    },
}

#[derive(Subcommand)]
pub enum Export {
    /// The code × document matrix: segments per transcript carrying each code.
    Matrix {
        /// The study folder, holding thematic.toml.
        #[arg(default_value = ".")]
        dir: PathBuf,
        #[arg(long, value_enum, default_value_t = MatrixFormat::Json)]
        format: MatrixFormat,
    },
    /// A codebook (CSV or TOML) as a REFI-QDA codebook (.qdc), dictionary terms kept.
    Qdc {
        /// The codebook file.
        codebook: PathBuf,
        /// The .qdc file to write.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// The thematic map as Graphviz DOT: areas as clusters, themes, sub-themes and codes.
    Dot {
        /// The study folder, holding thematic.toml.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// The .dot file to write; printed if not given.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// The matrices as an Excel workbook: themes by participant, codes by transcript, participants.
    Xlsx {
        /// The study folder, holding thematic.toml.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// The .xlsx file to write.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// The study as a REFI-QDA project (.qdpx) for NVivo, ATLAS.ti, MAXQDA and QualCoder.
    Qdpx {
        /// The study folder, holding thematic.toml.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// The .qdpx file to write.
        #[arg(short, long)]
        output: PathBuf,
    },
}

#[derive(Subcommand)]
pub enum Import {
    /// A REFI-QDA project (.qdpx) into a study, new or existing: sources as
    /// transcripts, codebook, cases as participants, each coder's codings as
    /// a stage of strategy `coder`.
    Qdpx {
        /// The .qdpx file (from NVivo, ATLAS.ti, MAXQDA, QualCoder or thematic).
        file: PathBuf,
        /// The study folder: made if it holds no thematic.toml.
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// A REFI-QDA codebook (.qdc) as a TOML codebook a study can name.
    Qdc {
        /// The .qdc file.
        file: PathBuf,
        /// The TOML codebook to write.
        #[arg(short, long)]
        output: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum AgreementUnit {
    /// A segment (speaker turn): coded or not.
    Segment,
    /// A character of a segment: inside a coded span or not.
    Character,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum MatrixFormat {
    Json,
    Csv,
}
