//! Word documents: the paragraphs of `word/document.xml`. Transcription
//! services write either `Name: speech` paragraphs (read as plain text is)
//! or a speaker line with a timestamp (`Speaker 1  00:01:02`) above the
//! paragraphs of speech, which become turns starting at that time.
//!
//! A `.docx` is a zip archive, so it is opened with caps: on the number of
//! entries, on the size `word/document.xml` inflates to, and on how many
//! times larger than its compressed size it may grow (a zip bomb is small
//! on disk and enormous inflated).

use quick_xml::events::Event;
use quick_xml::Reader;

use thematic_text::split_turns;

use crate::zipped::Zipped;
use crate::{Document, FormatError, TimedTurn};

/// More entries than any word processor writes.
const MAX_ENTRIES: usize = 10_000;

pub fn read_docx(bytes: &[u8]) -> Result<Document, FormatError> {
    let paragraphs = paragraphs(&document_xml(bytes)?)?;
    Ok(match timed_turns(&paragraphs) {
        Some(turns) => Document::Turns(turns),
        None => Document::Text(paragraphs.join("\n")),
    })
}

/// The text of `word/document.xml`, inflated within the caps.
fn document_xml(bytes: &[u8]) -> Result<String, FormatError> {
    let xml = Zipped::open(bytes, "a .docx file", MAX_ENTRIES)
        .and_then(|mut archive| archive.read("word/document.xml"))
        .map_err(FormatError::Docx)?;
    String::from_utf8(xml).map_err(|e| {
        FormatError::Docx(format!(
            "`word/document.xml` is not UTF-8 at byte {}",
            e.utf8_error().valid_up_to()
        ))
    })
}

/// Each paragraph's text: runs' text, tabs and breaks; deleted text (tracked
/// changes) and field codes left out.
fn paragraphs(xml: &str) -> Result<Vec<String>, FormatError> {
    let mut reader = Reader::from_str(xml);
    let mut paragraphs = Vec::new();
    let mut current = String::new();
    let mut in_text = false;
    let mut open_elements = 0usize;
    loop {
        let event = reader.read_event().map_err(|e| {
            FormatError::Docx(format!(
                "`word/document.xml` is not well-formed XML near byte {}: {e}",
                reader.buffer_position()
            ))
        })?;
        match event {
            Event::Start(tag) => {
                open_elements += 1;
                in_text = tag.local_name().as_ref() == "t";
            }
            Event::End(tag) => {
                open_elements = open_elements.saturating_sub(1);
                match tag.local_name().as_ref() {
                    "p" => paragraphs.push(std::mem::take(&mut current)),
                    "t" => in_text = false,
                    _ => {}
                }
            }
            Event::Empty(tag) => match tag.local_name().as_ref() {
                "tab" => current.push('\t'),
                "br" | "cr" => current.push('\n'),
                "p" => paragraphs.push(String::new()),
                _ => {}
            },
            Event::Text(text) if in_text => current.push_str(&text.xml10_content()),
            Event::CData(text) if in_text => current.push_str(&text.xml10_content()),
            Event::GeneralRef(reference) if in_text => {
                if let Ok(Some(c)) = reference.resolve_char_ref() {
                    current.push(c);
                } else if let Some(text) = quick_xml::escape::resolve_predefined_entity(&reference.xml10_content()) {
                    current.push_str(text);
                }
            }
            Event::Eof if open_elements > 0 => {
                return Err(FormatError::Docx(
                    "`word/document.xml` is not well-formed XML: it ends inside an element".into(),
                ))
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(paragraphs)
}

/// The transcription-service layout, if the document uses it: a speaker
/// line (a name without a colon, then a timestamp) above each stretch of
/// speech. Paragraphs before the first speaker line make a turn without one.
fn timed_turns(paragraphs: &[String]) -> Option<Vec<TimedTurn>> {
    let mut turns: Vec<TimedTurn> = Vec::new();
    for paragraph in paragraphs.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
        if let Some((speaker, start_ms)) = speaker_line(paragraph) {
            turns.push(TimedTurn {
                speaker: Some(speaker.to_string()),
                text: String::new(),
                start_ms: Some(start_ms),
                end_ms: None,
            });
            continue;
        }
        match turns.last_mut() {
            Some(turn) => {
                if !turn.text.is_empty() {
                    turn.text.push('\n');
                }
                turn.text.push_str(paragraph);
            }
            None => turns.push(TimedTurn {
                speaker: None,
                text: paragraph.to_string(),
                start_ms: None,
                end_ms: None,
            }),
        }
    }
    // The layout is the document's only if it is used throughout: more than
    // one speaker line, and no `Name: ` labels (a stray line ending in a time
    // does not make a labelled transcript into one).
    let speaker_lines = turns.iter().filter(|t| t.speaker.is_some()).count();
    let labelled = paragraphs
        .iter()
        .any(|p| split_turns(p).iter().any(|turn| turn.label.is_some()));
    if speaker_lines < 2 || labelled {
        return None;
    }
    // A turn ends where the next begins.
    for i in 1..turns.len() {
        if turns[i - 1].start_ms.is_some() {
            turns[i - 1].end_ms = turns[i].start_ms;
        }
    }
    turns.retain(|t| !t.text.is_empty());
    Some(turns)
}

/// `Speaker 1  00:01:02` or `Interviewer (0:05)`: the name and the time in
/// milliseconds. `It was 10:30` is speech.
fn speaker_line(paragraph: &str) -> Option<(&str, u64)> {
    let (name, time) = paragraph.rsplit_once(|c: char| c.is_whitespace())?;
    let name = name.trim();
    let time = time.trim_start_matches('(').trim_end_matches(')');
    // A name, not speech that ends in a time: a few words, each capitalised or a number.
    let words: Vec<&str> = name.split_whitespace().collect();
    let named = (1..=5).contains(&words.len())
        && words
            .iter()
            .all(|w| w.chars().next().is_some_and(|c| c.is_uppercase() || c.is_ascii_digit()));
    if !named || name.chars().count() > 60 || name.contains(':') {
        return None;
    }
    let fields: Vec<&str> = time.split(':').collect();
    if !(2..=3).contains(&fields.len()) {
        return None;
    }
    let mut seconds = 0u64;
    for (i, field) in fields.iter().enumerate() {
        let whole = field.split('.').next().unwrap_or("");
        let valid = !whole.is_empty() && whole.len() <= 2 && whole.bytes().all(|b| b.is_ascii_digit());
        if !valid
            || (i + 1 == fields.len()
                && field.contains('.')
                && !field.split('.').nth(1)?.bytes().all(|b| b.is_ascii_digit()))
        {
            return None;
        }
        seconds = seconds * 60 + whole.parse::<u64>().ok()?;
    }
    Some((name, seconds * 1000))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Cursor, Write};

    pub(crate) fn docx_with(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        for (name, bytes) in entries {
            zip.start_file(*name, options).unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap().into_inner()
    }

    fn body(paragraphs: &[&str]) -> Vec<u8> {
        let paragraphs: String = paragraphs
            .iter()
            .map(|p| format!("<w:p><w:r><w:t xml:space=\"preserve\">{p}</w:t></w:r></w:p>"))
            .collect();
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body>{paragraphs}</w:body></w:document>").into_bytes()
    }

    #[test]
    fn labelled_paragraphs_read_as_text() {
        let docx = docx_with(&[(
            "word/document.xml",
            &body(&[
                "Interviewer: How was it?",
                "P1: Long &amp; hard.",
                "<w:delText>gone</w:delText>",
            ]),
        )]);
        assert_eq!(
            read_docx(&docx).unwrap(),
            Document::Text("Interviewer: How was it?\nP1: Long & hard.\n".into())
        );
    }

    #[test]
    fn speaker_lines_with_timestamps_make_timed_turns() {
        let docx = docx_with(&[(
            "word/document.xml",
            &body(&[
                "Recorded online.",
                "Speaker 1  00:01:02",
                "How was the first year?",
                "Speaker 2  00:01:09",
                "Long.",
                "Nobody to talk to.",
            ]),
        )]);
        let Document::Turns(turns) = read_docx(&docx).unwrap() else {
            panic!("expected turns")
        };
        let turn = |speaker: Option<&str>, text: &str, start_ms: Option<u64>, end_ms: Option<u64>| TimedTurn {
            speaker: speaker.map(str::to_string),
            text: text.to_string(),
            start_ms,
            end_ms,
        };
        assert_eq!(
            turns,
            vec![
                turn(None, "Recorded online.", None, None),
                turn(Some("Speaker 1"), "How was the first year?", Some(62_000), Some(69_000)),
                turn(Some("Speaker 2"), "Long.\nNobody to talk to.", Some(69_000), None),
            ]
        );
    }

    #[test]
    fn one_line_ending_in_a_time_leaves_a_labelled_document_text() {
        let docx = docx_with(&[(
            "word/document.xml",
            &body(&["Interview 12 10:30", "Interviewer: Who helped?", "P1: A mentor."]),
        )]);
        assert!(matches!(read_docx(&docx).unwrap(), Document::Text(_)));
    }

    #[test]
    fn speaker_lines_are_told_from_speech() {
        assert_eq!(speaker_line("Speaker 1  00:01:02"), Some(("Speaker 1", 62_000)));
        assert_eq!(speaker_line("Interviewer (0:05)"), Some(("Interviewer", 5_000)));
        assert_eq!(speaker_line("Jo Bloggs 1:02:03.5"), Some(("Jo Bloggs", 3_723_000)));
        assert_eq!(speaker_line("P1: we met at 10:30"), None);
        assert_eq!(speaker_line("It was 10:30"), None, "speech that ends in a time");
        assert_eq!(speaker_line("Speaker 1"), None);
    }

    #[test]
    fn broken_documents_are_refused_with_the_reason() {
        let reason = |bytes: &[u8]| match read_docx(bytes) {
            Err(FormatError::Docx(reason)) => reason,
            other => panic!("{other:?}"),
        };
        assert!(reason(b"plain text, not a zip").contains("not a zip archive"));
        assert!(reason(&docx_with(&[("word/other.xml", b"<x/>")])).contains("no `word/document.xml`"));
        let bomb = vec![b' '; 64 * 1024 * 1024];
        let bomb = docx_with(&[("word/document.xml", &bomb)]);
        assert!(bomb.len() < 1024 * 1024, "the bomb is small on disk");
        assert!(reason(&bomb).contains("zip bomb"), "{}", reason(&bomb));
        assert!(reason(&docx_with(&[("word/document.xml", b"<w:p><w:t>open")])).contains("not well-formed"));
    }
}
