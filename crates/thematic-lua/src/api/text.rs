//! Word and sentence helpers with the engine's notion of a word (Unicode
//! letters, numbers and `_`, as the dictionary matcher has it).

use mlua::{Lua, Table};
use thematic_text::is_word;

pub(super) fn register(lua: &Lua, api: &Table) -> mlua::Result<()> {
    // `{ {text = word, first = ..., last = ...}, ... }` with 1-based, inclusive byte positions.
    let words = lua.create_function(|lua, text: mlua::LuaString| {
        let text = super::host_text("thematic.words", &text)?;
        let list = lua.create_table()?;
        for (first, last) in word_ranges(&text) {
            list.push(piece(lua, &text, first, last)?)?;
        }
        Ok(list)
    })?;
    api.set("words", words)?;
    // Sentences (ended by `.`, `!`, `?` or a line break), trimmed, with their positions.
    let sentences = lua.create_function(|lua, text: mlua::LuaString| {
        let text = super::host_text("thematic.sentences", &text)?;
        let list = lua.create_table()?;
        for (first, last) in sentence_ranges(&text) {
            list.push(piece(lua, &text, first, last)?)?;
        }
        Ok(list)
    })?;
    api.set("sentences", sentences)
}

/// `{ text = ..., first = ..., last = ... }` for the bytes `first..last` of `text`.
fn piece(lua: &Lua, text: &str, first: usize, last: usize) -> mlua::Result<Table> {
    let entry = lua.create_table()?;
    entry.set("text", &text[first..last])?;
    entry.set("first", first + 1)?;
    entry.set("last", last)?;
    Ok(entry)
}

/// Byte ranges of the words of `text`.
fn word_ranges(text: &str) -> Vec<(usize, usize)> {
    let mut ranges = Vec::new();
    let mut start = None;
    for (at, c) in text.char_indices() {
        match (is_word(c), start) {
            (true, None) => start = Some(at),
            (false, Some(from)) => {
                ranges.push((from, at));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(from) = start {
        ranges.push((from, text.len()));
    }
    ranges
}

/// Byte ranges of the sentences of `text`, trimmed of white space.
fn sentence_ranges(text: &str) -> Vec<(usize, usize)> {
    let mut ranges = Vec::new();
    let mut from = 0;
    for (at, c) in text.char_indices() {
        if matches!(c, '.' | '!' | '?' | '\n' | '\r') {
            push_trimmed(text, from, at + c.len_utf8(), &mut ranges);
            from = at + c.len_utf8();
        }
    }
    push_trimmed(text, from, text.len(), &mut ranges);
    ranges
}

fn push_trimmed(text: &str, from: usize, to: usize, ranges: &mut Vec<(usize, usize)>) {
    let piece = &text[from..to];
    let start = from + (piece.len() - piece.trim_start().len());
    let end = from + piece.trim_end().len();
    if start < end && text[start..end].chars().any(is_word) {
        ranges.push((start, end));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_unicode_letters_and_numbers() {
        let text = "Ça va, P1? Yes_2!";
        let words: Vec<&str> = word_ranges(text).into_iter().map(|(a, b)| &text[a..b]).collect();
        assert_eq!(words, ["Ça", "va", "P1", "Yes_2"]);
    }

    #[test]
    fn sentences_end_at_stops_and_line_breaks() {
        let text = "I was angry. Not now!\nWell ... maybe";
        let sentences: Vec<&str> = sentence_ranges(text).into_iter().map(|(a, b)| &text[a..b]).collect();
        assert_eq!(sentences, ["I was angry.", "Not now!", "Well .", "maybe"]);
    }
}
