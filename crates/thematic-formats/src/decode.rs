//! Bytes to text: UTF-8 with or without a byte-order mark, UTF-16 in either
//! byte order with one; line ends made `\n` whether they were `\r\n` or a
//! lone `\r`, so that offsets do not depend on the machine that saved it.

use crate::FormatError;

/// Decodes a text file and makes its line ends `\n`.
pub fn decode_text(bytes: &[u8]) -> Result<String, FormatError> {
    decode_as_written(bytes).map(unix_line_ends)
}

/// Whether the bytes open with a UTF-8 or UTF-16 byte-order mark.
pub fn has_byte_order_mark(bytes: &[u8]) -> bool {
    [b"\xEF\xBB\xBF".as_slice(), b"\xFF\xFE", b"\xFE\xFF"]
        .iter()
        .any(|mark| bytes.starts_with(mark))
}

/// Decodes a text file without its byte-order mark, its line ends as
/// written: for readers that must count characters as another tool did.
pub fn decode_as_written(bytes: &[u8]) -> Result<String, FormatError> {
    Ok(if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        utf8(rest, 3)?
    } else if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        utf16(rest, u16::from_le_bytes)?
    } else if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        utf16(rest, u16::from_be_bytes)?
    } else {
        // UTF-16 without a mark, and every binary format, has NUL bytes; text has none.
        if let Some(offset) = bytes.iter().position(|&b| b == 0) {
            return Err(FormatError::Binary { offset });
        }
        utf8(bytes, 0)?
    })
}

fn utf8(bytes: &[u8], skipped: usize) -> Result<String, FormatError> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(text.to_string()),
        Err(e) => Err(FormatError::Utf8 {
            offset: e.valid_up_to() + skipped,
        }),
    }
}

fn utf16(bytes: &[u8], unit: fn([u8; 2]) -> u16) -> Result<String, FormatError> {
    let units = bytes.chunks(2).map(|pair| match pair {
        [a, b] => unit([*a, *b]),
        // An odd last byte cannot be a whole unit: an unpaired surrogate stands for it.
        _ => 0xD800,
    });
    let mut text = String::with_capacity(bytes.len() / 2);
    // Units decoded so far; the byte-order mark's two bytes come first.
    let mut units_read = 0;
    for decoded in char::decode_utf16(units) {
        match decoded {
            // Text has no NUL; UTF-32 read as UTF-16 has one in every other unit.
            Ok('\0') => {
                return Err(FormatError::NulCharacter {
                    offset: 2 + 2 * units_read,
                })
            }
            Ok(c) => {
                text.push(c);
                units_read += c.len_utf16();
            }
            Err(_) => {
                return Err(FormatError::Utf16 {
                    offset: 2 + 2 * units_read,
                })
            }
        }
    }
    Ok(text)
}

/// `\r\n` and lone `\r` made `\n`.
pub fn unix_line_ends(text: String) -> String {
    if !text.contains('\r') {
        return text;
    }
    text.replace("\r\n", "\n").replace('\r', "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16le(text: &str) -> Vec<u8> {
        let mut bytes = vec![0xFF, 0xFE];
        bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        bytes
    }

    fn utf16be(text: &str) -> Vec<u8> {
        let mut bytes = vec![0xFE, 0xFF];
        bytes.extend(text.encode_utf16().flat_map(u16::to_be_bytes));
        bytes
    }

    #[test]
    fn every_encoding_gives_the_same_text() {
        let text = "Interviewer: Où étiez-vous?\nP1: À l'école 🙂\n";
        let with_bom = [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat();
        for bytes in [text.as_bytes().to_vec(), with_bom, utf16le(text), utf16be(text)] {
            assert_eq!(decode_text(&bytes).unwrap(), text);
        }
    }

    #[test]
    fn line_ends_become_newlines() {
        assert_eq!(decode_text(b"a\r\nb\rc\n").unwrap(), "a\nb\nc\n");
        assert_eq!(decode_text(&utf16le("a\r\nb")).unwrap(), "a\nb");
    }

    #[test]
    fn bad_bytes_are_named_by_offset() {
        assert_eq!(decode_text(b"ok \xFF no"), Err(FormatError::Utf8 { offset: 3 }));
        assert_eq!(
            decode_text(b"\xEF\xBB\xBFok \xC3"),
            Err(FormatError::Utf8 { offset: 6 })
        );
        assert_eq!(
            decode_text(b"PK\x03\x04\x00\x00"),
            Err(FormatError::Binary { offset: 4 })
        );
        let mut lone_surrogate = utf16le("ab");
        lone_surrogate.extend([0x00, 0xD8, b'c', 0]);
        assert_eq!(decode_text(&lone_surrogate), Err(FormatError::Utf16 { offset: 6 }));
        let mut after_emoji = utf16le("🙂🙂a");
        after_emoji.extend([0x00, 0xD8, b'c', 0]);
        assert_eq!(
            decode_text(&after_emoji),
            Err(FormatError::Utf16 { offset: 12 }),
            "two units per emoji"
        );
        let mut odd = utf16le("ab");
        odd.push(b'c');
        assert_eq!(decode_text(&odd), Err(FormatError::Utf16 { offset: 6 }));
        let utf32le: Vec<u8> = "\u{feff}Zoë".chars().flat_map(|c| u32::from(c).to_le_bytes()).collect();
        assert_eq!(decode_text(&utf32le), Err(FormatError::NulCharacter { offset: 2 }));
    }
}
