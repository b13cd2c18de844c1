//! Every code point's character classes and case-insensitive identity,
//! compared with what Python's `re` (the reference coder's engine) says.

use std::collections::HashMap;
use std::process::Command;

use thematic_text::{fold_char, is_decimal_digit, is_space, is_word};

/// Prints, for every code point, one line `word space digit key` where key is
/// the smallest member of the code point's `re.IGNORECASE` equivalence class.
const PYTHON: &str = r#"
import _sre, re, sys
from re import _casefix
lines = []
for c in range(0x110000):
    ch = chr(c)
    lower = _sre.unicode_tolower(c)
    key = min((lower,) + _casefix._EXTRA_CASES.get(lower, ()))
    lines.append("%d %d %d %d" % (ch.isalnum() or ch == "_", ch.isspace(), bool(re.match(r"\d", ch)), key))
sys.stdout.write("\n".join(lines))
"#;

#[test]
fn classes_and_case_folding_match_python_re_for_every_code_point() {
    let output = Command::new("python3")
        .args(["-c", PYTHON])
        .output()
        .expect("python3 runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).unwrap();
    // Python's equivalence class key -> our folded character, which must be one-to-one.
    let mut ours_for_key: HashMap<u32, char> = HashMap::new();
    let mut key_for_ours: HashMap<char, u32> = HashMap::new();
    for (code, line) in text.lines().enumerate() {
        let Some(c) = char::from_u32(code as u32) else { continue };
        let fields: Vec<u32> = line.split(' ').map(|f| f.parse().unwrap()).collect();
        assert_eq!(is_word(c), fields[0] == 1, "\\w of {c:?} (U+{code:04X})");
        assert_eq!(is_space(c), fields[1] == 1, "\\s of {c:?} (U+{code:04X})");
        assert_eq!(is_decimal_digit(c), fields[2] == 1, "\\d of {c:?} (U+{code:04X})");
        // The one documented difference: U+0345 stays itself, apart from ι.
        if code == 0x345 {
            assert_eq!(fold_char(c), c);
            continue;
        }
        let folded = fold_char(c);
        let key = fields[3];
        assert_eq!(
            *ours_for_key.entry(key).or_insert(folded),
            folded,
            "{c:?} (U+{code:04X}) folds apart from its class"
        );
        assert_eq!(
            *key_for_ours.entry(folded).or_insert(key),
            key,
            "{c:?} (U+{code:04X}) folds into another class"
        );
    }
    assert_eq!(text.lines().count(), 0x110000);
}
