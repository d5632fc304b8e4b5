//! The exporters reading the log, each in a slot with its [`Progress`].

use std::io;
use std::path::Path;

use super::progress::{Progress, file_name};

/// An exporter's place among the log's consumers, fixed while it runs.
pub type Slot = u8;

/// How many exporters can read one log.
pub const MAX_CONSUMERS: usize = 64;

/// A set of slots.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SlotMask(u64);

impl SlotMask {
    /// Whether `slot` is in the set.
    pub fn contains(self, slot: Slot) -> bool {
        self.0 & (1 << slot) != 0
    }

    /// The set with `slot`.
    pub fn with(self, slot: Slot) -> Self {
        SlotMask(self.0 | (1 << slot))
    }

    /// The set without `slot`.
    pub fn without(self, slot: Slot) -> Self {
        SlotMask(self.0 & !(1 << slot))
    }

    /// Slots in either set.
    pub fn union(self, other: SlotMask) -> Self {
        SlotMask(self.0 | other.0)
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The slots in the set, lowest first.
    pub fn slots(self) -> impl Iterator<Item = Slot> {
        (0..MAX_CONSUMERS as Slot).filter(move |slot| self.contains(*slot))
    }
}

/// The exporters reading the log.
#[derive(Debug, Default)]
pub struct Consumers {
    slots: Vec<Option<(String, Progress)>>,
}

impl Consumers {
    /// The consumers `names`, each from its saved progress (never before `first`, the oldest
    /// record kept) or, without one, from `end`: a new exporter does not get what came before
    /// it. Progress files of other names are deleted.
    pub fn load(dir: &Path, names: &[String], first: u64, end: u64) -> io::Result<Consumers> {
        let mut consumers = Consumers::default();
        for name in names {
            consumers.add(dir, name, first, end)?;
        }
        let kept: Vec<String> = names.iter().map(|n| file_name(n)).collect();
        for entry in std::fs::read_dir(dir)? {
            let name = entry?.file_name();
            let name = name.to_string_lossy();
            if name.ends_with(".progress") && !kept.iter().any(|k| *k == name) {
                std::fs::remove_file(dir.join(&*name))?;
            }
        }
        Ok(consumers)
    }

    fn slot_of(&self, name: &str) -> Option<Slot> {
        self.slots
            .iter()
            .position(|s| s.as_ref().is_some_and(|(n, _)| n == name))
            .map(|i| i as Slot)
    }

    /// The slot of `name`: from its saved progress (never before `first`), or, if it has
    /// none, starting at `end` (saved at once). A slot freed by a removed exporter is reused
    /// only once every slot has been used.
    pub fn add(&mut self, dir: &Path, name: &str, first: u64, end: u64) -> io::Result<Slot> {
        if let Some(slot) = self.slot_of(name) {
            return Ok(slot);
        }
        let progress = if dir.join(file_name(name)).exists() {
            Progress::load(dir, name, first)
        } else {
            Progress::start(dir, name, end)?
        };
        let slot = if self.slots.len() < MAX_CONSUMERS {
            self.slots.push(None);
            self.slots.len() - 1
        } else {
            self.slots
                .iter()
                .position(Option::is_none)
                .ok_or_else(|| io::Error::other(format!("more than {MAX_CONSUMERS} exporters")))?
        };
        self.slots[slot] = Some((name.to_owned(), progress));
        Ok(slot as Slot)
    }

    /// Forgets `name` and deletes its progress.
    pub fn remove(&mut self, dir: &Path, name: &str) {
        if let Some(slot) = self.slot_of(name) {
            self.slots[slot as usize] = None;
            let _ = std::fs::remove_file(dir.join(file_name(name)));
        }
    }

    /// Every running exporter.
    pub fn live(&self) -> SlotMask {
        self.each()
            .fold(SlotMask::default(), |m, (slot, _)| m.with(slot))
    }

    /// The exporters that have not finished record `seq`.
    pub fn unfinished(&self, seq: u64) -> SlotMask {
        self.each()
            .filter(|(_, (_, progress))| !progress.is_finished(seq))
            .fold(SlotMask::default(), |m, (slot, _)| m.with(slot))
    }

    /// Marks record `seq` finished for `slot`.
    pub fn finish(&mut self, slot: Slot, seq: u64) {
        if let Some(Some((_, progress))) = self.slots.get_mut(slot as usize) {
            progress.finish(seq);
        }
    }

    /// Saves every position that moved.
    pub fn save(&mut self) -> io::Result<()> {
        for (_, progress) in self.slots.iter_mut().flatten() {
            progress.save()?;
        }
        Ok(())
    }

    /// The oldest record some exporter still needs, if there is an exporter.
    pub fn oldest_needed(&self) -> Option<u64> {
        self.each().map(|(_, (_, p))| p.next_needed()).min()
    }

    /// Each exporter's name and the first record it still needs.
    pub fn positions(&self) -> impl Iterator<Item = (&str, u64)> {
        self.each()
            .map(|(_, (name, p))| (name.as_str(), p.next_needed()))
    }

    fn each(&self) -> impl Iterator<Item = (Slot, &(String, Progress))> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|s| (i as Slot, s)))
    }
}
