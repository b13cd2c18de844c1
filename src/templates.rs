//! Study folders embedded in the binary, so that an installed `thematic`
//! can start a study (or show itself) with nothing else on disk.

/// A file of an embedded study: its path inside the study and its contents.
pub type TemplateFile = (&'static str, &'static str);

/// `thematic init`: a small study that runs as it is.
pub const STARTER: &[TemplateFile] = &[
    ("thematic.toml", include_str!("../templates/starter/thematic.toml")),
    ("codebook.csv", include_str!("../templates/starter/codebook.csv")),
    (
        "participants.csv",
        include_str!("../templates/starter/participants.csv"),
    ),
    (
        "transcripts/P1.txt",
        include_str!("../templates/starter/transcripts/P1.txt"),
    ),
];

/// `thematic init --demo`: seven interviews shaped on the study in STUDY.md.
pub const DEMO: &[TemplateFile] = &[
    ("thematic.toml", include_str!("../demo/thematic.toml")),
    ("codebook.toml", include_str!("../demo/codebook.toml")),
    ("participants.csv", include_str!("../demo/participants.csv")),
    ("transcripts/P1.txt", include_str!("../demo/transcripts/P1.txt")),
    ("transcripts/P2.txt", include_str!("../demo/transcripts/P2.txt")),
    ("transcripts/P3.txt", include_str!("../demo/transcripts/P3.txt")),
    ("transcripts/P4.txt", include_str!("../demo/transcripts/P4.txt")),
    ("transcripts/P5.txt", include_str!("../demo/transcripts/P5.txt")),
    ("transcripts/P6.txt", include_str!("../demo/transcripts/P6.txt")),
    ("transcripts/P7.txt", include_str!("../demo/transcripts/P7.txt")),
];
