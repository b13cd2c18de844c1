//! Speaker-turn segmentation and the character rules of dictionary matching.
//!
//! Everything here is a pure function of its input text. The rules are those of
//! the reference coder `peer_re.py` (Python 3.11's `re` on `str`, with its Unicode 14 tables):
//! a *word character* is a letter or number of any script or `_`, *white space* is
//! what `str.isspace` accepts, lines break where `str.splitlines` breaks them, and
//! case-insensitive comparison is simple lowercasing plus `re`'s extra equivalences.

mod chars;
mod fold;
mod position;
mod turns;

pub use chars::{is_decimal_digit, is_space, is_word};
pub use fold::{fold_char, fold_into, fold_texts, fold_turns, folded_starts, FoldedTranscript, TURN_SEPARATOR};
pub use position::line_column;
pub use turns::{split_turns, Turn};
