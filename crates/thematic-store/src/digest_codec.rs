//! Transcript digests as the store keeps them: a compact binary record, so
//! that a run over a large study reads a thousand of them in milliseconds.
//! The transcript's id, participant and content hash are columns of their
//! own and not repeated here.
//!
//! Layout, little-endian: words, participant words, codings (u64 each);
//! speakers and codes as a u32 count of (u32 length, UTF-8 bytes, a zero byte); turns as a
//! u32 count of (turn, speaker index or `NO_SPEAKER`); coded pairs as a u32
//! count of (code index, turn).

use thematic_model::TranscriptDigest;

const NO_SPEAKER: u32 = u32::MAX;

/// Writes a u32, little-endian.
pub(crate) fn put(out: &mut Vec<u8>, number: u32) {
    out.extend_from_slice(&number.to_le_bytes());
}

/// Writes a count or length as a u32.
pub(crate) fn put_count(out: &mut Vec<u8>, count: usize) {
    put(out, u32::try_from(count).unwrap_or(u32::MAX));
}

/// Writes a string as its length, its UTF-8 bytes and a zero byte. The zero
/// ends the word for an audit that searches the record for names: the
/// number written next may begin with a byte that reads as a letter.
pub(crate) fn put_name(out: &mut Vec<u8>, name: &str) {
    put_count(out, name.len());
    out.extend_from_slice(name.as_bytes());
    out.push(0);
}

pub fn encode(digest: &TranscriptDigest) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + 8 * (digest.turns.len() + digest.coded.len()));
    for number in [digest.words, digest.participant_words, digest.codings] {
        out.extend_from_slice(&(number as u64).to_le_bytes());
    }
    for names in [&digest.speakers, &digest.codes] {
        put_count(&mut out, names.len());
        for name in names {
            put_name(&mut out, name);
        }
    }
    put_count(&mut out, digest.turns.len());
    for &(turn, speaker) in &digest.turns {
        put(&mut out, turn);
        put(&mut out, speaker.unwrap_or(NO_SPEAKER));
    }
    put_count(&mut out, digest.coded.len());
    for &(code, turn) in &digest.coded {
        put(&mut out, code);
        put(&mut out, turn);
    }
    out
}

/// The digest in `bytes`, with the given id, participant and hash; `None`
/// if the bytes are not a digest as [`encode`] writes them.
pub fn decode(bytes: &[u8], id: String, participant: Option<String>, content_hash: String) -> Option<TranscriptDigest> {
    let mut reader = Reader { rest: bytes };
    let mut digest = TranscriptDigest {
        id,
        participant,
        content_hash,
        words: reader.u64()?,
        participant_words: reader.u64()?,
        codings: reader.u64()?,
        ..TranscriptDigest::default()
    };
    digest.speakers = reader.names()?;
    digest.codes = reader.names()?;
    let speakers = digest.speakers.len();
    digest.turns = reader
        .pairs()?
        .into_iter()
        .map(|(turn, speaker)| match speaker {
            NO_SPEAKER => Some((turn, None)),
            s if (s as usize) < speakers => Some((turn, Some(s))),
            _ => None,
        })
        .collect::<Option<Vec<_>>>()?;
    digest.coded = reader.pairs()?;
    let codes = digest.codes.len();
    let whole = reader.rest.is_empty() && digest.coded.iter().all(|&(code, _)| (code as usize) < codes);
    whole.then_some(digest)
}

/// Reads the little-endian records the store's codecs write, every length
/// checked against what is left.
pub(crate) struct Reader<'a> {
    pub(crate) rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (bytes, rest) = self.rest.split_first_chunk::<N>()?;
        self.rest = rest;
        Some(*bytes)
    }

    pub(crate) fn u64(&mut self) -> Option<usize> {
        usize::try_from(u64::from_le_bytes(self.take()?)).ok()
    }

    pub(crate) fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take()?))
    }

    pub(crate) fn u8(&mut self) -> Option<u8> {
        Some(self.take::<1>()?[0])
    }

    pub(crate) fn f64(&mut self) -> Option<f64> {
        Some(f64::from_le_bytes(self.take()?))
    }

    /// A count, checked against what is left so that a corrupt one cannot ask for a huge allocation.
    pub(crate) fn count(&mut self, each: usize) -> Option<usize> {
        let count = self.u32()? as usize;
        (count.checked_mul(each)? <= self.rest.len()).then_some(count)
    }

    /// A string as [`put_name`] writes it.
    pub(crate) fn name(&mut self) -> Option<String> {
        self.borrowed_name().map(str::to_string)
    }

    /// A string as [`put_name`] writes it, borrowed from the bytes read.
    pub(crate) fn borrowed_name(&mut self) -> Option<&'a str> {
        let length = self.count(1)?;
        let (name, rest) = self.rest.split_at(length);
        self.rest = rest;
        let name = std::str::from_utf8(name).ok()?;
        (self.u8()? == 0).then_some(name)
    }

    /// The next `length` bytes.
    pub(crate) fn bytes(&mut self, length: usize) -> Option<&'a [u8]> {
        let (bytes, rest) = self.rest.split_at_checked(length)?;
        self.rest = rest;
        Some(bytes)
    }

    fn names(&mut self) -> Option<Vec<String>> {
        let count = self.count(4)?;
        (0..count).map(|_| self.name()).collect()
    }

    fn pairs(&mut self) -> Option<Vec<(u32, u32)>> {
        let count = self.count(8)?;
        let (pairs, rest) = self.rest.split_at(count * 8);
        self.rest = rest;
        let number = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        Some(
            pairs
                .chunks_exact(8)
                .map(|pair| (number(pair), number(&pair[4..])))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> TranscriptDigest {
        TranscriptDigest {
            id: "t/P1.txt".into(),
            participant: Some("P1".into()),
            content_hash: "abc".into(),
            words: 120,
            participant_words: 80,
            turns: vec![(1, None), (2, Some(0)), (3, Some(1))],
            speakers: vec!["P1".into(), "Zoë".into()],
            codings: 4,
            codes: vec!["trust".into(), "worry".into()],
            coded: vec![(0, 2), (1, 2), (1, 3)],
        }
    }

    #[test]
    fn a_digest_reads_back_as_written() {
        let digest = sample();
        let bytes = encode(&digest);
        let read = decode(
            &bytes,
            digest.id.clone(),
            digest.participant.clone(),
            digest.content_hash.clone(),
        );
        assert_eq!(read, Some(digest));
    }

    #[test]
    fn damaged_bytes_are_refused_rather_than_misread() {
        let bytes = encode(&sample());
        let decode = |bytes: &[u8]| decode(bytes, "t".into(), None, "h".into());
        for cut in 0..bytes.len() {
            assert_eq!(decode(&bytes[..cut]), None, "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(decode(&longer), None, "trailing bytes");
        let mut bad_code = bytes.clone();
        let last_pair = bad_code.len() - 8;
        bad_code[last_pair..last_pair + 4].copy_from_slice(&9u32.to_le_bytes());
        assert_eq!(decode(&bad_code), None, "a code index past the codes");
        let mut huge_count = bytes;
        huge_count[24..28].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(decode(&huge_count), None, "a count past the end");
    }
}
