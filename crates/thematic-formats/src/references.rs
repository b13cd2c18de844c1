//! Character references (`&amp;`, `&eacute;`, `&#39;`, `&#x2019;`), as
//! HTML, XML and WebVTT write characters their text cannot hold as they are.

use std::borrow::Cow;

/// The longest reference: HTML's longest name (`&CounterClockwiseContourIntegral;`).
const LONGEST: usize = 40;

/// If `text` opens with a reference, pushes the text it stands for onto
/// `decoded` and returns the reference's length.
pub(crate) fn push_reference(text: &str, decoded: &mut String) -> Option<usize> {
    let end = text.bytes().take(LONGEST).position(|b| b == b';')?;
    let name = text.get(1..end)?;
    match name.strip_prefix('#') {
        Some(number) => {
            let code = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => number.parse().ok()?,
            };
            decoded.push(char::from_u32(code).filter(|&c| c != '\0')?);
        }
        None => decoded.push_str(quick_xml::escape::resolve_html5_entity(name)?),
    }
    Some(end + 1)
}

/// `text` with its references decoded; what only looks like one (`& co`,
/// `&unknown;`) stays as written.
pub(crate) fn unescape(text: &str) -> Cow<'_, str> {
    if !text.contains('&') {
        return Cow::Borrowed(text);
    }
    let mut decoded = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        decoded.push_str(&rest[..at]);
        let length = push_reference(&rest[at..], &mut decoded).unwrap_or_else(|| {
            decoded.push('&');
            1
        });
        rest = &rest[at + length..];
    }
    decoded.push_str(rest);
    Cow::Owned(decoded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_and_numbered_references_are_decoded_and_the_rest_kept() {
        assert_eq!(
            unescape("Zo&euml; &amp; O&#39;Brien &#x2019;&lrm; &bogus; & co &#0; &#xZZ;"),
            "Zoë & O'Brien \u{2019}\u{200e} &bogus; & co &#0; &#xZZ;"
        );
        assert!(matches!(unescape("plain"), Cow::Borrowed("plain")));
    }
}
