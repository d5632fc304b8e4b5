//! The bytes a batch lives in: the request as it arrived, and what edits appended.

use bytes::Bytes;

use super::wire::{Loc, WireError};

/// A request's bytes, kept as they arrived, and the bytes its patches wrote (new names,
/// new attributes). A [`Loc`] addresses both as one range: offsets past the original bytes
/// are in the appended ones.
#[derive(Debug, Clone, Default)]
pub struct Storage {
    original: Bytes,
    appended: Vec<u8>,
}

impl Storage {
    /// Storage for `original`, refused if offsets could not address it.
    pub fn new(original: Bytes) -> Result<Self, WireError> {
        if original.len() >= u32::MAX as usize / 2 {
            return Err(WireError::TooLarge);
        }
        Ok(Storage {
            original,
            appended: Vec::new(),
        })
    }

    /// The request's bytes as they arrived.
    pub fn original(&self) -> &Bytes {
        &self.original
    }

    /// The bytes at `loc`.
    pub fn bytes(&self, loc: Loc) -> &[u8] {
        if loc.len == 0 {
            return &[];
        }
        let split = self.original.len();
        let start = loc.offset as usize;
        if start >= split {
            &self.appended[start - split..loc.end() - split]
        } else {
            &self.original[start..loc.end()]
        }
    }

    /// The UTF-8 text at `loc` (validated when the request was read, or written from a
    /// `str`); empty if it is somehow not UTF-8.
    pub fn text(&self, loc: Loc) -> &str {
        std::str::from_utf8(self.bytes(loc)).unwrap_or_default()
    }

    /// Appends what `write` writes; returns where it went.
    pub fn append_with(&mut self, write: impl FnOnce(&mut Vec<u8>)) -> Loc {
        let start = self.appended.len();
        write(&mut self.appended);
        Loc {
            offset: (self.original.len() + start) as u32,
            len: (self.appended.len() - start) as u32,
        }
    }

    /// Appends `bytes`; returns where they went.
    pub fn append(&mut self, bytes: &[u8]) -> Loc {
        self.append_with(|out| out.extend_from_slice(bytes))
    }

    /// The bytes held: the original and the appended.
    pub fn len(&self) -> usize {
        self.original.len() + self.appended.len()
    }

    /// Whether no bytes are held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loc_reads_original_and_appended_bytes_alike() {
        let mut storage = Storage::new(Bytes::from_static(b"original")).unwrap();
        let appended = storage.append(b"added");
        assert_eq!(appended, Loc { offset: 8, len: 5 });
        assert_eq!(storage.bytes(appended), b"added");
        assert_eq!(storage.bytes(Loc { offset: 2, len: 3 }), b"igi");
        assert_eq!(storage.bytes(Loc { offset: 8, len: 0 }), b"");
        // Found by the contract_edits fuzz target: an empty value appended past the original.
        let empty = storage.append(b"");
        assert_eq!(storage.bytes(Loc { offset: 20, len: 0 }), b"");
        assert_eq!(storage.bytes(empty), b"");
        assert_eq!(storage.len(), 13);
    }
}
