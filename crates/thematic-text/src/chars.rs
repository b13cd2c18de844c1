use unicode_general_category::{get_general_category, GeneralCategory as Gc};

/// `\w` of Python's `re` on text: letters and numbers of every script, and `_`.
/// Combining marks are not word characters there (unlike Rust's `regex`).
#[inline]
pub fn is_word(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric() || c == '_';
    }
    matches!(
        get_general_category(c),
        Gc::UppercaseLetter
            | Gc::LowercaseLetter
            | Gc::TitlecaseLetter
            | Gc::ModifierLetter
            | Gc::OtherLetter
            | Gc::DecimalNumber
            | Gc::LetterNumber
            | Gc::OtherNumber
    )
}

/// Whether Unicode 14 (Python 3.11's tables) assigns the character.
pub(crate) fn is_assigned(c: char) -> bool {
    get_general_category(c) != Gc::Unassigned
}

/// `\d` of Python's `re` on text: decimal digits of every script.
#[inline]
pub fn is_decimal_digit(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_digit();
    }
    get_general_category(c) == Gc::DecimalNumber
}

/// `\s` of Python's `re` on text, which is `str.isspace`: Unicode white space
/// plus the information separators U+001C..U+001F.
#[inline]
pub fn is_space(c: char) -> bool {
    matches!(c, '\u{1c}'..='\u{1f}') || c.is_whitespace()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_characters_follow_python_not_rust_regex() {
        assert!(is_word('é'));
        assert!(is_word('ß'));
        assert!(is_word('٣'), "Arabic-Indic digit");
        assert!(is_word('²'), "superscript two is a number");
        assert!(is_word('_'));
        assert!(
            !is_word('\u{301}'),
            "a combining accent is not a word character in Python"
        );
        assert!(!is_word('’'));
        assert!(!is_word('-'));
    }

    #[test]
    fn white_space_includes_information_separators() {
        for c in ['\t', '\n', '\u{0b}', '\u{1c}', '\u{1f}', '\u{85}', '\u{a0}', '\u{3000}'] {
            assert!(is_space(c), "{c:?}");
        }
        assert!(!is_space('\u{200b}'), "zero width space is not white space");
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// Whether eight bytes are all printable ASCII or space (0x20..=0x7F): none of
/// them can end a line, start a multi-byte character or be white space other
/// than the plain space. Lets the scanners skip ordinary text eight bytes at a time.
#[inline]
pub(crate) fn is_plain_ascii(chunk: u64) -> bool {
    (chunk.wrapping_sub(ONES * 0x20) | chunk) & HIGH_BITS == 0
}

/// Lowercases the ASCII letters of eight plain ASCII bytes (see [`is_plain_ascii`]).
#[inline]
pub(crate) fn lowercase_plain_ascii(chunk: u64) -> u64 {
    let at_least_a = chunk.wrapping_add(ONES * (0x80 - b'A' as u64));
    let above_z = chunk.wrapping_add(ONES * (0x7F - b'Z' as u64));
    let upper = at_least_a & !above_z & HIGH_BITS;
    chunk | (upper >> 2)
}

/// Whether two spaces stand side by side in eight plain ASCII bytes.
#[inline]
pub(crate) fn has_double_space(chunk: u64) -> bool {
    // Bytes equal to a space become zero; the high bit of each byte of
    // `nonzero` says whether that byte is not zero (no borrows between bytes).
    let x = chunk ^ (ONES * 0x20);
    let nonzero = ((x & !HIGH_BITS) + !HIGH_BITS) | x;
    let spaces = !nonzero & HIGH_BITS;
    spaces & (spaces >> 8) != 0
}

#[cfg(test)]
mod chunk_tests {
    use super::*;

    fn chunk(bytes: &[u8; 8]) -> u64 {
        u64::from_le_bytes(*bytes)
    }

    #[test]
    fn plain_ascii_excludes_controls_and_high_bytes() {
        assert!(is_plain_ascii(chunk(b"Hi there")));
        assert!(is_plain_ascii(chunk(b"~~ @[`{ ")));
        assert!(!is_plain_ascii(chunk(b"Hi\nthere")));
        assert!(!is_plain_ascii(chunk(b"Hi\tthere")));
        assert!(!is_plain_ascii(chunk(&[
            b'a', b'b', 0xC3, 0xA9, b'c', b'd', b'e', b'f'
        ])));
    }

    #[test]
    fn lowercasing_touches_only_letters() {
        for bytes in [b"AZaz@[`{", b"Hello, W", b"QUIET!?_"] {
            let mut expected = *bytes;
            expected.make_ascii_lowercase();
            assert_eq!(lowercase_plain_ascii(chunk(bytes)).to_le_bytes(), expected);
        }
    }

    #[test]
    fn double_spaces_are_found_anywhere_in_the_chunk() {
        assert!(!has_double_space(chunk(b"a b c d ")));
        assert!(has_double_space(chunk(b"a  b c d")));
        assert!(has_double_space(chunk(b"abcdef  ")));
        assert!(!has_double_space(chunk(b" abcdef ")));
        assert!(!has_double_space(chunk(b"!!!!!!!!")));
    }
}
