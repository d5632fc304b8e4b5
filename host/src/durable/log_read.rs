//! Reading records back from a running log by sequence number (what an exporter that
//! recovered missed).

use bytes::Bytes;

use super::super::segment::{file_name, scan};
use super::{Log, LogError};

impl Log {
    /// The payloads of records `seqs` (sorted) that the log still holds, read back from its
    /// files, each segment once. Records deleted or damaged since are left out.
    pub fn read(&self, seqs: &[u64]) -> Result<Vec<(u64, Bytes)>, LogError> {
        let segments: Vec<u64> = {
            let state = crate::sync::lock(&self.shared.state);
            let mut firsts: Vec<u64> = state.sealed.iter().map(|s| s.first_seq).collect();
            firsts.push(state.active_first);
            firsts
        };
        let durable = self.next_seq();
        let mut found = Vec::new();
        for (i, first) in segments.iter().enumerate() {
            let end = segments.get(i + 1).copied().unwrap_or(durable);
            let wanted: Vec<u64> = seqs
                .iter()
                .copied()
                .filter(|seq| (*first..end).contains(seq))
                .collect();
            if wanted.is_empty() {
                continue;
            }
            let path = self.options.dir.join(file_name(*first));
            let scanned = scan(&path, *first, self.options.max_record_bytes)
                .map_err(|e| LogError::io("reading", &path, e))?;
            for (seq, range) in &scanned.records {
                if wanted.binary_search(seq).is_ok() {
                    // A copy: the segment's bytes are not kept alive by one record.
                    found.push((*seq, Bytes::copy_from_slice(&scanned.bytes[range.clone()])));
                }
            }
        }
        Ok(found)
    }
}
