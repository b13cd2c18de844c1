use std::io;

use serde::Serialize;
use serde_json::ser::{CharEscape, Formatter};

/// Serialises `value` the way Python's `json.dump(value, sort_keys=True)`
/// writes it (`", "` and `": "` separators, non-ASCII escaped), so that a
/// matrix can be compared byte for byte with the reference coder's output.
/// Map keys must already be sorted (use `BTreeMap`).
pub fn to_python_json<T: Serialize>(value: &T) -> String {
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, PythonFormatter);
    value
        .serialize(&mut serializer)
        .expect("serialising to memory cannot fail");
    String::from_utf8(out).expect("the formatter writes ASCII")
}

struct PythonFormatter;

impl Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + io::Write>(&mut self, writer: &mut W, first: bool) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + io::Write>(&mut self, writer: &mut W, first: bool) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b": ")
    }

    fn write_string_fragment<W: ?Sized + io::Write>(&mut self, writer: &mut W, fragment: &str) -> io::Result<()> {
        let mut units = [0u16; 2];
        for c in fragment.chars() {
            // Python escapes everything outside printable ASCII, DEL included.
            if c.is_ascii() && c != '\x7f' {
                writer.write_all(&[c as u8])?;
            } else {
                for unit in c.encode_utf16(&mut units) {
                    write!(writer, "\\u{unit:04x}")?;
                }
            }
        }
        Ok(())
    }

    fn write_char_escape<W: ?Sized + io::Write>(&mut self, writer: &mut W, escape: CharEscape) -> io::Result<()> {
        let text: &[u8] = match escape {
            CharEscape::Quote => b"\\\"",
            CharEscape::ReverseSolidus => b"\\\\",
            CharEscape::Solidus => b"/",
            CharEscape::Backspace => b"\\b",
            CharEscape::FormFeed => b"\\f",
            CharEscape::LineFeed => b"\\n",
            CharEscape::CarriageReturn => b"\\r",
            CharEscape::Tab => b"\\t",
            CharEscape::AsciiControl(byte) => return write!(writer, "\\u{byte:04x}"),
        };
        writer.write_all(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn output_is_byte_identical_to_python_json_dump() {
        let mut inner = BTreeMap::new();
        inner.insert("café", 2);
        inner.insert("a\"b", 1);
        let mut outer = BTreeMap::new();
        outer.insert("P1", inner);
        outer.insert("P2", BTreeMap::new());
        // python3 -c 'import json; print(json.dumps({"P1": {"café": 2, "a\"b": 1}, "P2": {}}, sort_keys=True))'
        assert_eq!(
            to_python_json(&outer),
            r#"{"P1": {"a\"b": 1, "caf\u00e9": 2}, "P2": {}}"#
        );
        assert_eq!(to_python_json(&vec!["😀\x7f"]), r#"["\ud83d\ude00\u007f"]"#);
    }
}
