//! Where a REFI-QDA selection's positions fall in its source. The standard
//! counts code points of the text as written with the end exclusive, but
//! exporters differ: an end that is the last character coded, `\r\n`
//! counted as one character or two, a byte-order mark counted as character
//! 0, UTF-16 code units (as .NET and Java count). Each source's positions are
//! read the way its selections fit words best (`Counted::best_reading`),
//! and mapped to code points of the text as thematic reads it (`\n` line
//! ends, no mark).

/// One way of counting positions in a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Reading {
    /// The end position is the last character coded, not the one after it.
    pub inclusive_end: bool,
    /// `\r\n` counts as one character (as thematic reads it), not two.
    pub line_end_as_one: bool,
    /// The byte-order mark counts as character 0.
    pub mark_counted: bool,
    /// Positions count UTF-16 code units (a character past U+FFFF is two),
    /// as .NET and Java strings do.
    pub utf16_units: bool,
}

impl Reading {
    /// The standard's: code points of the file as written, the end exclusive.
    pub const STANDARD: Reading = Reading {
        inclusive_end: false,
        line_end_as_one: false,
        mark_counted: false,
        utf16_units: false,
    };

    /// What sets it apart from the standard, if anything.
    pub fn described(self) -> Option<String> {
        let parts: Vec<&str> = [
            (self.inclusive_end, "end positions inclusive (the last character coded)"),
            (self.line_end_as_one, "`\\r\\n` counted as one character"),
            (self.mark_counted, "the byte-order mark counted as a character"),
            (
                self.utf16_units,
                "UTF-16 code units (a character past U+FFFF counted twice)",
            ),
        ]
        .into_iter()
        .filter_map(|(on, text)| on.then_some(text))
        .collect();
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

/// A source's characters, as written and as thematic reads them.
pub(crate) struct Counted {
    /// Characters as thematic reads them (`\n` line ends).
    chars: Vec<char>,
    /// For each character position as written (`\r\n` two), the position
    /// as read; empty when the two are the same.
    written_to_read: Vec<usize>,
    /// For each UTF-16 unit position of the text as written and as read,
    /// the character position (`None` inside a surrogate pair); empty when
    /// every character is one unit, or (as written) when the two texts are
    /// the same.
    written_units: Vec<Option<usize>>,
    read_units: Vec<Option<usize>>,
    has_mark: bool,
}

/// For each UTF-16 unit position of `text`, its character position.
fn unit_positions(text: &str) -> Vec<Option<usize>> {
    let mut positions = Vec::with_capacity(text.len() + 1);
    let mut count = 0;
    for (at, c) in text.chars().enumerate() {
        positions.push(Some(at));
        if c.len_utf16() == 2 {
            positions.push(None);
        }
        count = at + 1;
    }
    positions.push(Some(count));
    positions
}

impl Counted {
    pub fn new(written: &str, read: &str, has_mark: bool) -> Counted {
        let mut written_to_read = Vec::new();
        if written.len() != read.len() {
            let chars: Vec<char> = written.chars().collect();
            let mut removed = 0;
            for (at, &c) in chars.iter().enumerate() {
                written_to_read.push(at - removed);
                if c == '\r' && chars.get(at + 1) == Some(&'\n') {
                    removed += 1;
                }
            }
            written_to_read.push(chars.len() - removed);
        }
        let astral = read.chars().any(|c| c.len_utf16() == 2);
        Counted {
            chars: read.chars().collect(),
            written_units: match astral && !written_to_read.is_empty() {
                true => unit_positions(written),
                false => Vec::new(),
            },
            read_units: match astral {
                true => unit_positions(read),
                false => Vec::new(),
            },
            written_to_read,
            has_mark,
        }
    }

    pub fn length(&self) -> usize {
        self.chars.len()
    }

    /// The readings that differ for this source, the standard's first.
    fn readings(&self) -> Vec<Reading> {
        let mut readings = Vec::new();
        for utf16_units in [false, true] {
            for mark_counted in [false, true] {
                for line_end_as_one in [false, true] {
                    for inclusive_end in [false, true] {
                        let distinct = (!mark_counted || self.has_mark)
                            && (!line_end_as_one || !self.written_to_read.is_empty())
                            && (!utf16_units || !self.read_units.is_empty());
                        if distinct {
                            readings.push(Reading {
                                inclusive_end,
                                line_end_as_one,
                                mark_counted,
                                utf16_units,
                            });
                        }
                    }
                }
            }
        }
        readings
    }

    /// Positions `start`, `end` under `reading` as code points of the text
    /// as read, if they make a non-empty range inside it.
    pub fn range(&self, reading: Reading, start: usize, end: usize) -> Option<(usize, usize)> {
        let as_written = !reading.line_end_as_one && !self.written_to_read.is_empty();
        let place = |position: usize| -> Option<usize> {
            let position = if reading.mark_counted {
                position.checked_sub(1)?
            } else {
                position
            };
            let position = match (reading.utf16_units, as_written) {
                (false, _) => position,
                (true, true) => (*self.written_units.get(position)?)?,
                (true, false) => (*self.read_units.get(position)?)?,
            };
            match as_written {
                true => self.written_to_read.get(position).copied(),
                false => (position <= self.chars.len()).then_some(position),
            }
        };
        let end = if reading.inclusive_end {
            end.checked_add(1)?
        } else {
            end
        };
        let (start, end) = (place(start)?, place(end)?);
        (start < end).then_some((start, end))
    }

    /// Under `reading`: how many selections lie inside the text, and how
    /// many of their edges are clean (starts and ends between words, not on
    /// white space).
    pub fn fit(&self, reading: Reading, positions: &[(usize, usize)]) -> (usize, usize) {
        let word = |at: usize| self.chars.get(at).is_some_and(|c| c.is_alphanumeric());
        let space = |at: usize| self.chars.get(at).is_some_and(|c| c.is_whitespace());
        let mut fit = 0;
        let mut clean_edges = 0;
        for &(start, end) in positions {
            let Some((start, end)) = self.range(reading, start, end) else {
                continue;
            };
            fit += 1;
            let whole_start = start == 0 || !(word(start - 1) && word(start));
            let whole_end = !(word(end - 1) && word(end));
            clean_edges += [whole_start, whole_end, !space(start), !space(end - 1)]
                .iter()
                .filter(|&&clean| clean)
                .count();
        }
        (fit, clean_edges)
    }

    /// The reading under which most selections lie inside the text and
    /// most of their edges are clean; the standard's unless another fits
    /// more selections with edges as clean, or is cleaner by a tenth of the
    /// selections' count (at least two edges), so that odd selections do not
    /// turn a file.
    pub fn best_reading(&self, positions: &[(usize, usize)]) -> Reading {
        let standard = self.fit(Reading::STANDARD, positions);
        let mut best = (Reading::STANDARD, standard);
        for reading in self.readings() {
            let fit = self.fit(reading, positions);
            let margin = (positions.len() / 10).max(2);
            // More selections inside the text count only where the edges do not get worse:
            // counting a mark or UTF-16 units pulls a past-the-end selection in and shifts the rest.
            let better = (fit.0 > standard.0 && fit.1 >= standard.1) || fit.1 >= standard.1 + margin;
            if fit > best.1 && better {
                best = (reading, fit);
            }
        }
        best.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Positions of `needles` in `text` as code points, end exclusive.
    fn spans(text: &str, needles: &[&str]) -> Vec<(usize, usize)> {
        needles
            .iter()
            .map(|needle| {
                let at = text.find(needle).unwrap();
                let start = text[..at].chars().count();
                (start, start + needle.chars().count())
            })
            .collect()
    }

    #[test]
    fn the_standards_reading_stays_where_it_fits_and_maps_line_ends_to_one() {
        let written = "P1: one two\r\nP2: three four\r\n";
        let read = written.replace("\r\n", "\n");
        let counted = Counted::new(written, &read, false);
        let positions = spans(written, &["two", "three", "four"]);
        assert_eq!(counted.best_reading(&positions), Reading::STANDARD);
        // As written, `three` starts at 17; as read (one line end fewer) at 16.
        assert_eq!(counted.range(Reading::STANDARD, 17, 22), Some((16, 21)));
    }

    #[test]
    fn inclusive_ends_and_utf16_units_are_told_from_the_selections() {
        let text = "P1: 👍 one two three four five six\n";
        let counted = Counted::new(text, text, false);
        let words = spans(text, &["one", "two", "three", "four", "five", "six"]);
        let inclusive: Vec<(usize, usize)> = words.iter().map(|&(s, e)| (s, e - 1)).collect();
        assert!(counted.best_reading(&inclusive).inclusive_end);
        // After the emoji, UTF-16 counts one more.
        let units: Vec<(usize, usize)> = words.iter().map(|&(s, e)| (s + 1, e + 1)).collect();
        let reading = counted.best_reading(&units);
        assert!(reading.utf16_units && !reading.inclusive_end, "{reading:?}");
        assert_eq!(counted.range(reading, units[0].0, units[0].1), Some(words[0]));
    }

    #[test]
    fn positions_outside_the_text_or_reversed_make_no_range() {
        let counted = Counted::new("P1: short\n", "P1: short\n", false);
        assert_eq!(counted.range(Reading::STANDARD, 4, 99), None);
        assert_eq!(counted.range(Reading::STANDARD, 6, 4), None);
        assert_eq!(Reading::STANDARD.described(), None);
    }
}
