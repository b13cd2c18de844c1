//! Model folders downloaded from the Hugging Face hub (hf-hub, blocking):
//! the one place thematic reaches the internet, and only when a researcher
//! asks (`thematic model fetch NAME`). Nothing of a study ever goes out;
//! what comes in is a model's files, which the engine checks and stores
//! like any folder it is given (`thematic model add`).
//!
//! The files land in the hub's own cache (`~/.cache/huggingface`, or
//! `HF_HOME`), as the Python tools put them; the folder returned holds them.

use std::path::PathBuf;

use hf_hub::api::sync::ApiBuilder;

/// Where sentence-transformers publishes its models: a bare name is looked for there.
pub const DEFAULT_OWNER: &str = "sentence-transformers";

#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("the Hugging Face hub could not be reached or set up: {0}")]
    Api(String),
    #[error("{repository}: {file}: {message}")]
    File {
        repository: String,
        file: String,
        message: String,
    },
}

/// The hub repository a model name means: `owner/name` as it is, a bare
/// name under [`DEFAULT_OWNER`].
pub fn repository_of(name: &str) -> String {
    match name.contains('/') {
        true => name.to_string(),
        false => format!("{DEFAULT_OWNER}/{name}"),
    }
}

/// Downloads `files` of the model `name` (each with whether it must be
/// there) and returns the folder that holds them.
pub fn download(name: &str, files: &[(&str, bool)]) -> Result<PathBuf, HubError> {
    let api = ApiBuilder::new()
        .with_progress(true)
        .build()
        .map_err(|e| HubError::Api(e.to_string()))?;
    let repository = repository_of(name);
    let repo = api.model(repository.clone());
    let mut folder = None;
    for &(file, required) in files {
        match repo.get(file) {
            Ok(path) => {
                // Every file of a revision lands in one snapshot folder; a file in a
                // subfolder (`1_Pooling/config.json`) tells it by its depth.
                let depth = file.matches('/').count() + 1;
                folder = path.ancestors().nth(depth).map(PathBuf::from).or(folder);
            }
            Err(_) if !required => {}
            Err(e) => {
                return Err(HubError::File {
                    repository,
                    file: file.to_string(),
                    message: e.to_string(),
                })
            }
        }
    }
    folder.ok_or_else(|| HubError::Api(format!("{repository}: no files were downloaded")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_name_is_a_sentence_transformers_model() {
        assert_eq!(
            repository_of("all-MiniLM-L6-v2"),
            "sentence-transformers/all-MiniLM-L6-v2"
        );
        assert_eq!(repository_of("someone/their-model"), "someone/their-model");
    }
}
