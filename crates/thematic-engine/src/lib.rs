//! The study's lifecycle, between the command line and the analysis
//! crates: a study folder loaded, analysed in passes that code only what
//! changed, its reports written and its runs recorded in the store.
//!
//! This is the imperative shell: it reads and writes the study's files,
//! opens the store, starts plugins' processes and reads the clock; the
//! crates it drives are pure.

pub mod agreement;
pub mod analyse;
pub mod audit;
pub mod clock;
pub mod desk;
pub mod diagnostics;
pub mod exchange;
pub mod files;
pub mod import;
pub mod kept_embeddings;
pub mod layout;
pub mod models;
pub mod pack_commands;
pub mod packs;
pub mod parallel;
pub mod plan;
pub mod progress;
pub mod reading;
pub mod reports;
pub mod run;
pub mod served;
pub mod session;
pub mod shaping;
pub mod source;
pub mod stages;
pub mod study;
pub mod withdraw;
