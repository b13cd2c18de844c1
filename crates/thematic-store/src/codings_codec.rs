//! A stage's codings of one transcript text as the store keeps them: one
//! compact binary record per (text, stage), so that a run stores and an
//! export reads a study's millions of codings as thousands of records, not
//! as a row each. The transcript, stage and strategy are the record's
//! context (columns of their own, or the caller's) and not repeated here.
//!
//! Layout, little-endian: a u32 count of codings, in (turn, code) order; each
//! its turn (u32), its code (u32 length, UTF-8 bytes, a zero byte), its spans
//! (u32 count of (start, end) as u64 each), its confidence (a flag byte, then
//! f64 bits if set) and its memo (a flag byte, then a string as the code's if
//! set).

use thematic_model::{Coding, Span};

use crate::digest_codec::{put, put_count, put_name, Reader};

pub fn encode(codings: &[Coding]) -> Vec<u8> {
    let mut in_order: Vec<&Coding> = codings.iter().collect();
    in_order.sort_by(|a, b| (a.turn, &a.code).cmp(&(b.turn, &b.code)));
    let mut out = Vec::with_capacity(4 + 40 * codings.len());
    put_count(&mut out, in_order.len());
    for coding in in_order {
        put(&mut out, coding.turn);
        put_name(&mut out, &coding.code);
        put_count(&mut out, coding.spans.len());
        for span in &coding.spans {
            out.extend_from_slice(&(span.start as u64).to_le_bytes());
            out.extend_from_slice(&(span.end as u64).to_le_bytes());
        }
        match coding.confidence {
            Some(confidence) => {
                out.push(1);
                out.extend_from_slice(&confidence.to_le_bytes());
            }
            None => out.push(0),
        }
        match &coding.memo {
            Some(memo) => {
                out.push(1);
                put_name(&mut out, memo);
            }
            None => out.push(0),
        }
    }
    out
}

/// One coding as a record or a [`Coding`] holds it, borrowed: what an export
/// reads of each of a study's codings without copying its strings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CodingView<'b> {
    pub turn: u32,
    pub code: &'b str,
    pub spans: Spans<'b>,
    pub confidence: Option<f64>,
    pub memo: Option<&'b str>,
}

/// A coding's spans: still encoded in a record (checked when it was read), or a coding's own.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Spans<'b> {
    Encoded(&'b [u8]),
    Decoded(&'b [Span]),
}

impl<'b> CodingView<'b> {
    pub fn of(coding: &'b Coding) -> CodingView<'b> {
        CodingView {
            turn: coding.turn,
            code: &coding.code,
            spans: Spans::Decoded(&coding.spans),
            confidence: coding.confidence,
            memo: coding.memo.as_deref(),
        }
    }

    fn to_coding(self, transcript: &str, stage: &str, strategy: &str) -> Coding {
        Coding {
            transcript: transcript.to_string(),
            turn: self.turn,
            code: self.code.to_string(),
            stage: stage.to_string(),
            strategy: strategy.to_string(),
            spans: self.spans.iter().collect(),
            confidence: self.confidence,
            memo: self.memo.map(str::to_string),
        }
    }
}

impl<'b> Spans<'b> {
    pub fn is_empty(&self) -> bool {
        match self {
            Spans::Encoded(bytes) => bytes.is_empty(),
            Spans::Decoded(spans) => spans.is_empty(),
        }
    }

    pub fn iter(self) -> impl Iterator<Item = Span> + 'b {
        let (encoded, decoded) = match self {
            Spans::Encoded(bytes) => (bytes, &[][..]),
            Spans::Decoded(spans) => (&[][..], spans),
        };
        // Encoded offsets were checked to fit a usize when the record was read.
        let offset = |bytes: &[u8]| u64::from_le_bytes(bytes.try_into().unwrap_or_default()) as usize;
        let encoded = encoded.chunks_exact(16).map(move |pair| Span {
            start: offset(&pair[..8]),
            end: offset(&pair[8..]),
        });
        encoded.chain(decoded.iter().copied())
    }
}

/// The codings in `bytes`, borrowed from them; `None` if the bytes are not
/// codings as [`encode`] writes them.
pub fn views(bytes: &[u8]) -> Option<Vec<CodingView<'_>>> {
    let mut reader = Reader { rest: bytes };
    // A coding takes at least 15 bytes: turn, code length and end, span count and two flags.
    let count = reader.count(15)?;
    let mut codings = Vec::with_capacity(count);
    for _ in 0..count {
        let turn = reader.u32()?;
        let code = reader.borrowed_name()?;
        let span_count = reader.count(16)?;
        let spans = reader.bytes(span_count * 16)?;
        let fits = |offset: &[u8]| usize::try_from(u64::from_le_bytes(offset.try_into().unwrap_or_default())).is_ok();
        if !spans.chunks_exact(8).all(fits) {
            return None;
        }
        let confidence = match reader.u8()? {
            0 => None,
            1 => Some(reader.f64()?),
            _ => return None,
        };
        let memo = match reader.u8()? {
            0 => None,
            1 => Some(reader.borrowed_name()?),
            _ => return None,
        };
        codings.push(CodingView {
            turn,
            code,
            spans: Spans::Encoded(spans),
            confidence,
            memo,
        });
    }
    reader.rest.is_empty().then_some(codings)
}

/// The codings in `bytes`, attributed to `transcript` and made by `stage`
/// running `strategy`; `None` if the bytes are not codings as [`encode`]
/// writes them.
pub fn decode(bytes: &[u8], transcript: &str, stage: &str, strategy: &str) -> Option<Vec<Coding>> {
    let views = views(bytes)?;
    Some(
        views
            .into_iter()
            .map(|view| view.to_coding(transcript, stage, strategy))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coding(turn: u32, code: &str, spans: &[(usize, usize)], confidence: Option<f64>, memo: Option<&str>) -> Coding {
        Coding {
            transcript: "t/P1.txt".into(),
            turn,
            code: code.into(),
            stage: "code".into(),
            strategy: "dictionary".into(),
            spans: spans.iter().map(|&(start, end)| Span { start, end }).collect(),
            confidence,
            memo: memo.map(str::to_string),
        }
    }

    #[test]
    fn codings_read_back_as_written_in_turn_and_code_order() {
        let written = [
            coding(4, "worry", &[(10, 250), (300, 301)], None, Some("said twice — ✓")),
            coding(2, "trust", &[], Some(0.75), None),
            coding(2, "calm", &[(0, 1)], None, None),
        ];
        let read = decode(&encode(&written), "t/P1.txt", "code", "dictionary").unwrap();
        assert_eq!(read, [written[2].clone(), written[1].clone(), written[0].clone()]);
        assert_eq!(decode(&encode(&[]), "t/P1.txt", "code", "dictionary"), Some(Vec::new()));
    }

    #[test]
    fn a_view_reads_what_the_coding_holds_without_copying_it() {
        let written = [
            coding(4, "worry", &[(10, 250), (300, 301)], Some(0.5), Some("memo")),
            coding(2, "calm", &[], None, None),
        ];
        let bytes = encode(&written);
        let read = views(&bytes).unwrap();
        assert_eq!(read.len(), 2);
        for (view, coding) in read.iter().zip([&written[1], &written[0]]) {
            let of = CodingView::of(coding);
            assert_eq!(
                (view.turn, view.code, view.confidence, view.memo),
                (of.turn, of.code, of.confidence, of.memo)
            );
            assert_eq!(view.spans.iter().collect::<Vec<_>>(), coding.spans);
            assert_eq!(view.spans.is_empty(), coding.spans.is_empty());
            assert!(matches!(view.spans, Spans::Encoded(_)));
        }
    }

    #[test]
    fn every_string_ends_where_a_search_for_whole_words_sees_it_end() {
        // Turn 97 is written as the byte of `a`: without an end, the memo would read "… Anaa".
        let bytes = encode(&[
            coding(3, "trust", &[], None, Some("mentions Ana")),
            coding(97, "worry", &[], None, None),
        ]);
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("mentions Ana\0"), "{text:?}");
        assert!(text.contains("trust\0"), "{text:?}");
    }

    #[test]
    fn damaged_codings_are_refused_rather_than_misread() {
        let bytes = encode(&[coding(1, "trust", &[(0, 5)], Some(1.0), Some("m"))]);
        for cut in 0..bytes.len() {
            assert_eq!(decode(&bytes[..cut], "t", "s", "x"), None, "cut at {cut}");
            assert_eq!(views(&bytes[..cut]), None, "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(decode(&longer, "t", "s", "x"), None);
        let mut huge = bytes;
        huge[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(decode(&huge, "t", "s", "x"), None);
    }
}
