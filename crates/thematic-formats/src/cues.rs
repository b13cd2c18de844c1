//! Caption files: WebVTT and SRT cues made into speaker turns. A cue's
//! speaker is its `<v Name>` voice tag (WebVTT) or a `Name: ` label at the
//! start of its text, by the same rule as plain transcripts; consecutive
//! cues of one speaker make one turn, from the first cue's start to the last
//! one's end. A cue with neither continues the turn before it, as an
//! unlabelled line does in text: subtitle tools split one person's long
//! utterance across cues and label only the first. Cues before any speaker
//! is named are the preamble. Overlapping cues are accepted (people talk
//! over each other).

use std::borrow::Cow;

use thematic_text::split_turns;

use crate::references::unescape;
use crate::{FormatError, TimedTurn};

/// A cue's timing and text, before speakers are found.
struct Cue {
    start_ms: u64,
    end_ms: u64,
    /// The cue's text lines, as written (tags and all).
    payload: String,
}

pub fn read_webvtt(text: &str) -> Result<Vec<TimedTurn>, FormatError> {
    let first = text.lines().next().unwrap_or("");
    let signature = first.strip_prefix("WEBVTT");
    if !signature.is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t'])) {
        return Err(FormatError::Line {
            line: 1,
            message: "a WebVTT file starts with `WEBVTT`".into(),
        });
    }
    let mut cues = Vec::new();
    for (index, block) in blocks(text).into_iter().enumerate() {
        let first = block.lines[0];
        // The header (its first block), comments, styles and regions carry no speech.
        let is_other = ["NOTE", "STYLE", "REGION"].iter().any(|word| {
            first
                .strip_prefix(word)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
        });
        if index == 0 || is_other {
            continue;
        }
        // An optional cue identifier comes before the timing line.
        let timing_at = usize::from(!first.contains("-->"));
        cues.push(cue(&block, timing_at, '.')?);
    }
    Ok(turns(cues))
}

pub fn read_srt(text: &str) -> Result<Vec<TimedTurn>, FormatError> {
    let mut cues = Vec::new();
    for block in blocks(text) {
        // The cue's number is optional in practice; the timing line is not.
        let first = block.lines[0];
        let timing_at = usize::from(first.trim().chars().all(|c| c.is_ascii_digit()));
        cues.push(cue(&block, timing_at, ',')?);
    }
    Ok(turns(cues))
}

/// The cue of `block` whose timing line is its line `timing_at` (after an
/// optional identifier or number); its text is the lines after.
fn cue(block: &Block, timing_at: usize, fraction: char) -> Result<Cue, FormatError> {
    let Some(timing) = block.lines.get(timing_at) else {
        return Err(FormatError::Line {
            line: block.line,
            message: format!("a cue without a timing line (`00:00:01{fraction}000 --> 00:00:04{fraction}000`)"),
        });
    };
    let (start_ms, end_ms) = timing_line(timing, block.line + timing_at, fraction)?;
    Ok(Cue {
        start_ms,
        end_ms,
        payload: block.lines[timing_at + 1..].join("\n"),
    })
}

/// A run of non-blank lines, with the 1-based number of its first line.
struct Block<'a> {
    line: usize,
    lines: Vec<&'a str>,
}

fn blocks(text: &str) -> Vec<Block<'_>> {
    let mut blocks: Vec<Block> = Vec::new();
    let mut open = false;
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            open = false;
        } else if open {
            if let Some(block) = blocks.last_mut() {
                block.lines.push(line);
            }
        } else {
            blocks.push(Block {
                line: index + 1,
                lines: vec![line],
            });
            open = true;
        }
    }
    blocks
}

/// `start --> end [settings]`, both times in milliseconds; `fraction` is
/// the separator before the milliseconds (`.` in WebVTT, `,` in SRT, which
/// tools also write with `.`).
fn timing_line(line: &str, number: usize, fraction: char) -> Result<(u64, u64), FormatError> {
    let error = |message: String| FormatError::Line { line: number, message };
    let (start, rest) = line
        .split_once("-->")
        .ok_or_else(|| error("a timing line needs `-->` between its start and end".into()))?;
    let end = rest.split_whitespace().next().unwrap_or("");
    // What is malformed is not quoted: a line may be speech, not a timing.
    let expected = format!("expected hh:mm:ss{fraction}ttt or mm:ss{fraction}ttt");
    let start_ms =
        timestamp(start.trim(), fraction).ok_or_else(|| error(format!("malformed start time ({expected})")))?;
    let end_ms = timestamp(end, fraction).ok_or_else(|| error(format!("malformed end time ({expected})")))?;
    if end_ms <= start_ms {
        return Err(error(format!(
            "the cue does not end after it starts ({} to {})",
            clock(start_ms),
            clock(end_ms)
        )));
    }
    Ok((start_ms, end_ms))
}

/// Milliseconds as `hh:mm:ss.ttt`.
fn clock(ms: u64) -> String {
    let (seconds, ms) = (ms / 1000, ms % 1000);
    format!(
        "{:02}:{:02}:{:02}.{ms:03}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

/// `hh:mm:ss.ttt` or `mm:ss.ttt` (hours of any length, the rest two digits,
/// milliseconds three) in milliseconds.
fn timestamp(text: &str, fraction: char) -> Option<u64> {
    let (clock, millis) = text.rsplit_once([fraction, '.'])?;
    let digits = |s: &str, n: Option<usize>| {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && n.is_none_or(|n| s.len() == n))
            .then(|| s.parse::<u64>().ok())
            .flatten()
    };
    let (rest, seconds) = clock.rsplit_once(':')?;
    let (hours, minutes) = match rest.rsplit_once(':') {
        Some((h, m)) => (digits(h, None)?, m),
        None => (0, rest),
    };
    let (minutes, seconds) = (digits(minutes, Some(2))?, digits(seconds, Some(2))?);
    let millis = digits(millis, Some(3))?;
    if minutes >= 60 || seconds >= 60 {
        return None;
    }
    let total_seconds = hours.checked_mul(3600)?.checked_add(minutes * 60 + seconds)?;
    total_seconds.checked_mul(1000)?.checked_add(millis)
}

/// Cues made into turns: each cue's speaker found, its markup taken out,
/// and consecutive cues of one speaker joined.
fn turns(cues: Vec<Cue>) -> Vec<TimedTurn> {
    let mut turns: Vec<TimedTurn> = Vec::new();
    // Whom the last voice tag or label named, even on a cue with no words:
    // a cue naming no one is theirs.
    let mut speaking: Option<String> = None;
    for cue in cues {
        let (voice, payload) = voice(&cue.payload);
        let stripped = strip_tags(payload);
        let plain = unescape(&stripped);
        // A label may stand on a line of its own: lines are joined before one is looked for.
        let mut words = String::new();
        let (named, said) = match voice {
            Some(name) => (Some(name), &plain[..]),
            None => {
                push_words(&mut words, &plain);
                labelled(&words)
            }
        };
        if named.is_some() {
            speaking = named;
        }
        if said.split_whitespace().next().is_none() {
            continue;
        }
        match turns.last_mut() {
            Some(last) if last.speaker == speaking => {
                push_words(&mut last.text, said);
                last.end_ms = last.end_ms.max(Some(cue.end_ms));
            }
            _ => {
                let mut text = String::with_capacity(said.len());
                push_words(&mut text, said);
                turns.push(TimedTurn {
                    speaker: speaking.clone(),
                    text,
                    start_ms: Some(cue.start_ms),
                    end_ms: Some(cue.end_ms),
                })
            }
        }
    }
    turns
}

/// Appends the words of `text` to `to`, one space between each (captions
/// break lines where the screen ends, not where the speaker paused).
fn push_words(to: &mut String, text: &str) {
    for word in text.split_whitespace() {
        if !to.is_empty() {
            to.push(' ');
        }
        to.push_str(word);
    }
}

/// A leading `<v Name>` or `<v.class Name>` voice tag: the name, and the rest.
fn voice(payload: &str) -> (Option<String>, &str) {
    let trimmed = payload.trim_start();
    let Some(tag) = trimmed.strip_prefix("<v") else {
        return (None, payload);
    };
    if !tag.starts_with([' ', '\t', '.']) {
        return (None, payload);
    }
    let Some(close) = tag.find('>') else {
        return (None, payload);
    };
    let inside = &tag[..close];
    // Classes (`.loud`) come before the space that starts the name.
    let name = inside.split_once([' ', '\t']).map_or("", |(_, name)| name.trim());
    let name = unescape(name).into_owned();
    let rest = &tag[close + 1..];
    ((!name.is_empty()).then_some(name), rest)
}

/// A `Name: ` label opening the cue text, by the rule of plain transcripts.
fn labelled(text: &str) -> (Option<String>, &str) {
    match split_turns(text).first() {
        Some(turn) if turn.range.start == 0 => match &turn.label {
            Some(label) => {
                let said = text[label.end..].trim_start_matches(':').trim_start();
                (Some(text[label.clone()].to_string()), said)
            }
            None => (None, text),
        },
        _ => (None, text),
    }
}

/// The text without `<...>` tags (voice, italics, classes, timestamps,
/// fonts). A `<` that opens no tag on its line (`I <3 it`) is text.
fn strip_tags(text: &str) -> Cow<'_, str> {
    if !text.contains('<') {
        return Cow::Borrowed(text);
    }
    let mut plain = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        plain.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        // A tag: `<i>`, `</i>`, `<v Name>`, `<c.class>`, `<font color="red">`, or a timestamp `<00:00:01.000>`.
        let tag = after
            .find(['>', '<', '\n'])
            .filter(|&close| after[close..].starts_with('>'))
            .map(|close| &after[..close]);
        let is_tag = tag.is_some_and(|tag| {
            tag.starts_with(|c: char| c.is_ascii_alphabetic() || c == '/')
                || (!tag.is_empty() && tag.chars().all(|c| c.is_ascii_digit() || matches!(c, ':' | '.')))
        });
        match tag {
            Some(tag) if is_tag => rest = &after[tag.len() + 1..],
            _ => {
                plain.push('<');
                rest = after;
            }
        }
    }
    plain.push_str(rest);
    Cow::Owned(plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(speaker: Option<&str>, text: &str, start_ms: u64, end_ms: u64) -> TimedTurn {
        TimedTurn {
            speaker: speaker.map(str::to_string),
            text: text.to_string(),
            start_ms: Some(start_ms),
            end_ms: Some(end_ms),
        }
    }

    #[test]
    fn voices_and_labels_name_speakers_and_one_speakers_cues_merge() {
        let vtt = "WEBVTT - a meeting\n\nNOTE made up\n\n1\n00:00:01.000 --> 00:00:04.000\n<v Interviewer>How was the\nfirst year?</v>\n\n00:00:04.500 --> 00:00:06.000 align:start\n<v.loud Ana Ruiz>It was <i>long</i> &amp; hard.\n\n00:00:06.000 --> 00:01:00.250\n<v Ana Ruiz>Nobody to talk to.\n\n01:00:01.000 --> 01:00:02.000\nInterviewer: Thank you.\n";
        assert_eq!(
            read_webvtt(vtt).unwrap(),
            vec![
                turn(Some("Interviewer"), "How was the first year?", 1000, 4000),
                turn(Some("Ana Ruiz"), "It was long & hard. Nobody to talk to.", 4500, 60250),
                turn(Some("Interviewer"), "Thank you.", 3_601_000, 3_602_000),
            ]
        );
    }

    #[test]
    fn a_cue_without_a_speaker_continues_the_turn_before_it() {
        let srt = "1\n00:00:01,000 --> 00:00:02,000\nInterviewer: How was it?\n\n2\n00:00:02,500 --> 00:00:04,000\nP1: It was hard on nights,\n\n3\n00:00:04,000 --> 00:00:06,000\nand I felt alone.\n\n4\n00:00:07,000 --> 00:00:08,000\nInterviewer: I see.\n";
        let expected = vec![
            turn(Some("Interviewer"), "How was it?", 1000, 2000),
            turn(Some("P1"), "It was hard on nights, and I felt alone.", 2500, 6000),
            turn(Some("Interviewer"), "I see.", 7000, 8000),
        ];
        assert_eq!(read_srt(srt).unwrap(), expected);
        // In WebVTT alike, after a voice tag as after a label.
        let vtt = "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<v Interviewer>How was it?\n\n00:00:02.500 --> 00:00:04.000\nP1: It was hard on nights,\n\n00:00:04.000 --> 00:00:06.000\nand I felt alone.\n\n00:00:07.000 --> 00:00:08.000\n<v Interviewer>I see.\n";
        assert_eq!(read_webvtt(vtt).unwrap(), expected);
        let voiced =
            "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<v P1>Hard,\n\n00:00:02.000 --> 00:00:03.000\nand lonely.\n";
        assert_eq!(
            read_webvtt(voiced).unwrap(),
            vec![turn(Some("P1"), "Hard, and lonely.", 1000, 3000)]
        );
        // A voice tag on a cue with no words still says who speaks next.
        let silent = "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<v Interviewer>How?\n\n00:00:02.000 --> 00:00:03.000\n<v P3>\n\n00:00:03.000 --> 00:00:04.000\nIt was hard.\n";
        assert_eq!(
            read_webvtt(silent).unwrap(),
            vec![
                turn(Some("Interviewer"), "How?", 1000, 2000),
                turn(Some("P3"), "It was hard.", 3000, 4000),
            ]
        );
    }

    #[test]
    fn cues_before_any_speaker_are_the_preamble_and_cues_without_any_one_turn() {
        let srt = "1\n00:00:00,000 --> 00:00:01,000\nRecording starts.\n\n2\n00:00:01,000 --> 00:00:02,000\nConsent given.\n\n3\n00:00:02,000 --> 00:00:03,000\nP1: Hello.\n";
        assert_eq!(
            read_srt(srt).unwrap(),
            vec![
                turn(None, "Recording starts. Consent given.", 0, 2000),
                turn(Some("P1"), "Hello.", 2000, 3000),
            ]
        );
        let unlabelled = "1\n00:00:00,000 --> 00:00:01,000\nOne.\n\n2\n00:00:01,000 --> 00:00:02,000\nTwo.\n";
        assert_eq!(read_srt(unlabelled).unwrap(), vec![turn(None, "One. Two.", 0, 2000)]);
    }

    #[test]
    fn overlapping_cues_are_accepted() {
        let vtt = "WEBVTT\n\n00:00:01.000 --> 00:00:05.000\nA: one\n\n00:00:03.000 --> 00:00:04.000\nB: two\n";
        assert_eq!(read_webvtt(vtt).unwrap().len(), 2);
    }

    #[test]
    fn bad_webvtt_is_named_by_line() {
        let cases = [
            ("00:00:01.000 --> 00:00:02.000\nA: hi\n", 1, "starts with `WEBVTT`"),
            ("WEBVTTX\n", 1, "starts with `WEBVTT`"),
            (
                "WEBVTT\n\n00:00:01 --> 00:00:02.000\nA: hi\n",
                3,
                "malformed start time (expected hh:mm:ss.ttt or mm:ss.ttt)",
            ),
            (
                "WEBVTT\n\n00:00:01.000 --> 00:0x:02.000\nA: hi\n",
                3,
                "malformed end time",
            ),
            (
                "WEBVTT\n\n\n00:00:05.000 --> 00:00:02.000\nA: hi\n",
                4,
                "does not end after it starts (00:00:05.000 to 00:00:02.000)",
            ),
            (
                "WEBVTT\n\n9999999999999999:00:00.000 --> 9999999999999999:00:01.000\nA: hi\n",
                3,
                "malformed start time",
            ),
            ("WEBVTT\n\nintro\n", 3, "without a timing line"),
        ];
        for (vtt, line, message) in cases {
            match read_webvtt(vtt) {
                Err(FormatError::Line {
                    line: at,
                    message: said,
                }) => {
                    assert_eq!(at, line, "{vtt:?}: {said}");
                    assert!(said.contains(message), "{vtt:?}: {said}");
                }
                other => panic!("{vtt:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn labels_on_their_own_line_and_stray_angle_brackets_are_text() {
        let srt = "1\n00:00:01,000 --> 00:00:02,000\nAna:\nWell then, I <3 it <i>a lot</i>.\n";
        assert_eq!(
            read_srt(srt).unwrap(),
            vec![turn(Some("Ana"), "Well then, I <3 it a lot.", 1000, 2000)]
        );
    }

    #[test]
    fn srt_cues_become_turns() {
        let srt = "1\n00:00:01,000 --> 00:00:02,500\nInterviewer: Hello.\n\n2\n00:00:03,000 --> 00:00:04,000\nP1: <i>Hi</i>,\nthanks.\n\n3\n00:00:04,000 --> 00:00:05,000\nP1: Really.\n";
        assert_eq!(
            read_srt(srt).unwrap(),
            vec![
                turn(Some("Interviewer"), "Hello.", 1000, 2500),
                turn(Some("P1"), "Hi, thanks. Really.", 3000, 5000),
            ]
        );
        match read_srt("1\n00:00:01,000 -> 00:00:02,000\nA: hi\n") {
            Err(FormatError::Line { line: 2, .. }) => {}
            other => panic!("{other:?}"),
        }
    }
}
