//! What a command met on the way: warnings and inputs that failed, shown
//! as they come, and the outcome they add up to.

/// What happened, as the exit code says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// Everything was processed.
    Success,
    /// Some inputs failed; the rest were processed and reported.
    InputsFailed,
    /// The command line or the study's configuration is wrong; nothing ran.
    ConfigError,
}

/// Warnings and failed inputs of one command, shown on stderr as they come.
#[derive(Debug, Default)]
pub struct Diagnostics {
    pub warnings: Vec<String>,
    pub failures: Vec<String>,
    /// Kept, not shown: for a second pass over inputs whose problems the
    /// first pass has shown already.
    quiet: bool,
}

impl Diagnostics {
    pub fn quiet() -> Diagnostics {
        Diagnostics {
            quiet: true,
            ..Diagnostics::default()
        }
    }

    pub fn warn(&mut self, message: impl Into<String>) {
        let message = message.into();
        if !self.quiet {
            eprintln!("warning: {message}");
        }
        self.warnings.push(message);
    }

    pub fn fail(&mut self, message: impl Into<String>) {
        let message = message.into();
        if !self.quiet {
            eprintln!("error: {message}");
        }
        self.failures.push(message);
    }

    pub fn outcome(&self) -> Outcome {
        if self.failures.is_empty() {
            Outcome::Success
        } else {
            Outcome::InputsFailed
        }
    }
}

/// `1 transcript`, `2 transcripts`: a number with its noun (regular plurals).
pub fn count(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}
