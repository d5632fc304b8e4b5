//! The exporters reading the log, each in a slot with its [`Progress`].

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};

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

/// One exporter reading the log.
#[derive(Debug)]
struct Consumer {
    name: String,
    progress: Progress,
    /// Records it dropped unsent in this run (its queue was full while it failed, or a
    /// send was cut short), oldest first: to send again once it recovers.
    deferred: BTreeSet<u64>,
}

/// The exporters reading the log.
#[derive(Debug, Default)]
pub struct Consumers {
    slots: Vec<Option<Consumer>>,
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
            if let Some(stem) = name.strip_suffix(".progress")
                && !kept.iter().any(|k| *k == name)
            {
                let position = Progress::load(dir, stem, first).next_needed();
                if position < end {
                    tracing::warn!(
                        exporter = stem,
                        records = end - position,
                        "An exporter no longer in the config had not sent everything the persistent queue holds for it; those records are no longer kept for it."
                    );
                }
                std::fs::remove_file(dir.join(&*name))?;
            }
        }
        Ok(consumers)
    }

    fn slot_of(&self, name: &str) -> Option<Slot> {
        self.slots
            .iter()
            .position(|s| s.as_ref().is_some_and(|c| c.name == name))
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
        self.slots[slot] = Some(Consumer {
            name: name.to_owned(),
            progress,
            deferred: BTreeSet::new(),
        });
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
            .filter(|(_, c)| !c.progress.is_finished(seq))
            .fold(SlotMask::default(), |m, (slot, _)| m.with(slot))
    }

    /// Marks record `seq` finished for `slot`.
    pub fn finish(&mut self, slot: Slot, seq: u64) {
        if let Some(Some(consumer)) = self.slots.get_mut(slot as usize) {
            consumer.progress.finish(seq);
            consumer.deferred.remove(&seq);
        }
    }

    /// Notes that `slot` dropped record `seq` unsent.
    pub fn defer(&mut self, slot: Slot, seq: u64) {
        if let Some(Some(consumer)) = self.slots.get_mut(slot as usize)
            && !consumer.progress.is_finished(seq)
        {
            consumer.deferred.insert(seq);
        }
    }

    /// Takes up to `max` of the oldest records exporter `name` dropped unsent, with its slot.
    pub fn take_deferred(&mut self, name: &str, max: usize) -> Option<(Slot, Vec<u64>)> {
        let slot = self.slot_of(name)?;
        let consumer = self.slots[slot as usize].as_mut()?;
        let taken: Vec<u64> = consumer.deferred.iter().take(max).copied().collect();
        for seq in &taken {
            consumer.deferred.remove(seq);
        }
        (!taken.is_empty()).then_some((slot, taken))
    }

    /// Every position that moved since it was saved: the exporter, its file, the position.
    pub fn unsaved(&self) -> Vec<(String, PathBuf, u64)> {
        self.each()
            .filter_map(|(_, c)| {
                let (path, at) = c.progress.unsaved()?;
                Some((c.name.clone(), path, at))
            })
            .collect()
    }

    /// Notes that exporter `name`'s position `at` was written.
    pub fn saved(&mut self, name: &str, at: u64) {
        if let Some(slot) = self.slot_of(name)
            && let Some(consumer) = &mut self.slots[slot as usize]
        {
            consumer.progress.saved_at(at);
        }
    }

    /// The oldest record some exporter still needs, if there is an exporter.
    pub fn oldest_needed(&self) -> Option<u64> {
        self.each().map(|(_, c)| c.progress.next_needed()).min()
    }

    /// Each exporter's name and the first record it still needs.
    pub fn positions(&self) -> impl Iterator<Item = (&str, u64)> {
        self.each()
            .map(|(_, c)| (c.name.as_str(), c.progress.next_needed()))
    }

    fn each(&self) -> impl Iterator<Item = (Slot, &Consumer)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|s| (i as Slot, s)))
    }
}
