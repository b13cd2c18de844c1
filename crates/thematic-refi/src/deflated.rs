//! One zip entry's data compressed in stretches, each on its own and on any
//! thread, and joined into one deflate stream (as pigz does): a large
//! project's XML is compressed on every core instead of on one.
//!
//! Each stretch is raw deflate ended by a sync flush: byte-aligned, and not
//! the stream's last block, so stretches placed one after another decode as
//! one stream. The entry's last block (an empty one) is the zip writer's.
//! The entry's checksum is the stretches' CRC-32s combined.

use std::io::{self, Write};

use flate2::{Compress, Compression, FlushCompress, Status};

/// A stretch of an entry's data, compressed.
pub struct Deflated {
    pub bytes: Vec<u8>,
    /// The CRC-32 of the data compressed, to combine with the others'.
    pub checksum: crc32fast::Hasher,
    /// How many bytes were compressed.
    pub len: u64,
}

/// `data` compressed at the fastest level (a project's XML is large and
/// repetitive, and compresses well at any level).
pub fn deflate(data: &[u8]) -> io::Result<Deflated> {
    let mut compress = Compress::new(Compression::fast(), false);
    let mut bytes = Vec::with_capacity(data.len() / 4 + 64);
    loop {
        let taken = compress.total_in() as usize;
        let status = compress
            .compress_vec(&data[taken..], &mut bytes, FlushCompress::Sync)
            .map_err(io::Error::other)?;
        // Flushed once all is taken and the output did not fill the room it had.
        if compress.total_in() as usize == data.len() && bytes.len() < bytes.capacity() {
            break;
        }
        if status == Status::StreamEnd {
            return Err(io::Error::other(
                "the compressor ended a stream it was not asked to end",
            ));
        }
        bytes.reserve(bytes.capacity().max(4096));
    }
    let mut checksum = crc32fast::Hasher::new();
    checksum.update(data);
    Ok(Deflated {
        bytes,
        checksum,
        len: data.len() as u64,
    })
}

/// The stretches of one entry as they are written: their checksum and
/// length so far, for the entry's header.
#[derive(Default)]
pub struct Joined {
    pub checksum: crc32fast::Hasher,
    pub len: u64,
}

impl Joined {
    /// Writes `stretch` to `out` after those before it.
    pub fn put(&mut self, stretch: &Deflated, out: &mut impl Write) -> io::Result<()> {
        out.write_all(&stretch.bytes)?;
        self.checksum.combine(&stretch.checksum);
        self.len += stretch.len;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn stretches_compressed_apart_decode_as_one_stream() {
        let parts: Vec<Vec<u8>> = vec![
            b"<Project>".repeat(1000),
            Vec::new(),
            (0..200_000u32).flat_map(|n| n.to_le_bytes()).collect(),
            "é, 中文, 🙂 ".repeat(5000).into_bytes(),
        ];
        let mut joined = Joined::default();
        let mut stream = Vec::new();
        for part in &parts {
            joined.put(&deflate(part).unwrap(), &mut stream).unwrap();
        }
        // The entry's last block, as the zip writer ends an entry it was given no data for.
        stream.extend_from_slice(&[0x03, 0x00]);
        let mut decoded = Vec::new();
        flate2::read::DeflateDecoder::new(stream.as_slice())
            .read_to_end(&mut decoded)
            .unwrap();
        let whole = parts.concat();
        assert_eq!(decoded, whole);
        assert_eq!(joined.len, whole.len() as u64);
        assert_eq!(joined.checksum.finalize(), crc32fast::hash(&whole));
    }
}
