//! Redacting one string: run the detectors, settle overlaps, rewrite only what matched.

use std::cmp::Reverse;

use crate::action::{Outcome, Rule};
use crate::detect::{Buffers, Detector, NeedsTable, Profile};
use crate::sanitize::{Fill, Rewrite, Sanitizer, Sanitizers, overlaps};

/// The enabled detectors and patterns, each with its rule, in priority order.
#[derive(Default)]
pub(crate) struct Redactor {
    entries: Vec<Entry>,
    /// Each entry's [`Detector::needs`], asked once, in the entries' order: the entries a
    /// value can match come out of a few table look-ups, without visiting the others (most
    /// values meet few detectors' needs, many meet none).
    needs: NeedsTable,
    /// The number of entries up to and including the last with a `drop` rule (0 without one):
    /// entries from there on can only add matches that lose to a match covering the whole
    /// value, never drop it.
    drops_before: usize,
    /// The sanitizers of URLs and SQL statements, whose rewrites win over the detectors'
    /// matches.
    sanitizers: Sanitizers,
}

/// A detector and what to do with its matches.
struct Entry {
    detector: Box<dyn Detector>,
    rule: Rule,
}

/// Buffers reused from value to value, so a clean value allocates nothing.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    matches: Vec<Match>,
    buffers: Buffers,
    /// The sanitizers' rewrites of the current value.
    rewrites: Vec<Rewrite>,
    /// A decoded URL parameter name.
    name: Vec<u8>,
}

/// A match: bytes `start..end` of the value, found by entry `entry`.
#[derive(Debug, Clone, Copy)]
struct Match {
    start: usize,
    end: usize,
    entry: usize,
}

impl Redactor {
    /// Adds a detector. When matches overlap, the one that starts first wins, then the longer,
    /// then the one added first.
    pub(crate) fn push(&mut self, detector: Box<dyn Detector>, rule: Rule) {
        self.needs.push(&detector.needs(), detector.anchors());
        if rule.drops() {
            self.drops_before = self.entries.len() + 1;
        }
        self.entries.push(Entry { detector, rule });
    }

    /// Sets the sanitizers.
    pub(crate) fn set_sanitizers(&mut self, sanitizers: Sanitizers) {
        self.sanitizers = sanitizers;
    }

    /// The sanitizers.
    pub(crate) fn sanitizers(&self) -> &Sanitizers {
        &self.sanitizers
    }

    /// Whether nothing scans free text: no detector or pattern is enabled, and URLs inside
    /// text are not sanitized. (Values of sanitizer keys may still change.)
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty() && !self.sanitizers.in_text()
    }

    /// Redacts `text`, a value of no sanitizer key, a span name or a status message: see
    /// [`redact_as`](Self::redact_as).
    pub(crate) fn redact<'r>(&'r self, text: &str, scratch: &mut Scratch) -> Outcome<'r> {
        self.redact_as(text, Sanitizer::None, true, scratch)
    }

    /// Redacts `text`, a value whose key selects `sanitizer`: [`Outcome::Keep`] when nothing
    /// matched, [`Outcome::Drop`] when a rewrite or match belongs to a `drop` rule, otherwise
    /// the text with each rewrite and match replaced. With `detect`, the detectors and
    /// patterns run too (and, without a sanitizer, the search for URLs inside the text); the
    /// sanitizer's rewrites win over the matches they overlap.
    pub(crate) fn redact_as<'r>(
        &'r self,
        text: &str,
        sanitizer: Sanitizer,
        detect: bool,
        scratch: &mut Scratch,
    ) -> Outcome<'r> {
        let detectors = detect && !self.entries.is_empty();
        let in_text = detect && sanitizer == Sanitizer::None && self.sanitizers.in_text();
        if text.is_empty() || !(detectors || in_text || sanitizer != Sanitizer::None) {
            return Outcome::Keep;
        }
        let Scratch {
            matches,
            buffers,
            rewrites,
            name,
        } = scratch;
        matches.clear();
        rewrites.clear();
        let profile = (detectors || in_text).then(|| Profile::of(text));
        // A URL needs the `:` of `://`.
        let in_text = in_text && profile.is_some_and(|p| p.colons > 0);
        self.sanitizers
            .rewrite(text, sanitizer, in_text, name, rewrites);
        if let Some(rule) = self.sanitizers.dropping(rewrites) {
            return Outcome::Drop(rule);
        }
        if let Some(profile) = profile.filter(|_| detectors) {
            for index in self.needs.met_by(&profile, text) {
                let entry = &self.entries[index];
                let before = matches.len();
                entry.detector.find(text, buffers, &mut |start, end| {
                    matches.push(Match {
                        start,
                        end,
                        entry: index,
                    });
                });
                let found = &matches[before..];
                if entry.rule.drops() && found.iter().any(|m| !overlaps(rewrites, m.start, m.end)) {
                    // The attribute goes whole; no need to look further.
                    return Outcome::Drop(&entry.rule);
                }
                if index + 1 >= self.drops_before
                    && rewrites.is_empty()
                    && found.len() == 1
                    && found[0].start == 0
                    && found[0].end == text.len()
                {
                    // The whole value matched (an email field holding one address): a later
                    // detector's match would start no earlier and end no later, so it would
                    // lose.
                    break;
                }
            }
        }
        if !rewrites.is_empty() {
            // A rewrite wins over every match it overlaps.
            matches.retain(|m| !overlaps(rewrites, m.start, m.end));
        }
        if matches.is_empty() && rewrites.iter().all(|r| r.fill == Fill::Keep) {
            return Outcome::Keep;
        }
        matches.sort_unstable_by_key(|m| (m.start, Reverse(m.end), m.entry));
        let mut out = String::with_capacity(text.len() + 16);
        let mut copied = 0;
        let mut pending = rewrites.iter().peekable();
        for m in matches.iter() {
            // The rewrites before this match (they never overlap it).
            while let Some(rewrite) = pending.next_if(|r| r.start < m.start) {
                out.push_str(&text[copied..rewrite.start]);
                self.sanitizers.write(text, rewrite, &mut out);
                copied = rewrite.end;
            }
            // Skip a match overlapping one already replaced (`Bearer eyJ...` is both a bearer
            // token and a JWT).
            let (Some(before), Some(matched)) =
                (text.get(copied..m.start), text.get(m.start..m.end))
            else {
                continue;
            };
            out.push_str(before);
            let entry = &self.entries[m.entry];
            entry
                .rule
                .write_replacement(|sink| entry.detector.canonical(matched, sink), &mut out);
            copied = m.end;
        }
        for rewrite in pending {
            out.push_str(&text[copied..rewrite.start]);
            self.sanitizers.write(text, rewrite, &mut out);
            copied = rewrite.end;
        }
        out.push_str(&text[copied..]);
        Outcome::Replace(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::Hasher;
    use crate::config::Action;
    use crate::detect::{Builtin, Custom};

    fn mask(name: &str) -> Rule {
        Rule::new(Action::Mask, format!("[REDACTED:{name}]"), None, "test").unwrap()
    }

    fn all_builtins() -> Redactor {
        let mut redactor = Redactor::default();
        for builtin in Builtin::ALL {
            redactor.push(builtin.detector(), mask(builtin.name()));
        }
        redactor
    }

    fn redact(redactor: &Redactor, text: &str) -> Option<String> {
        match redactor.redact(text, &mut Scratch::default()) {
            Outcome::Keep => None,
            Outcome::Replace(text) => Some(text),
            Outcome::Drop(rule) => Some(format!("dropped by {}", rule.mask)),
        }
    }

    #[test]
    fn replaces_only_the_matched_parts() {
        let redactor = all_builtins();
        assert_eq!(
            redact(
                &redactor,
                "user bob@example.com paid with 4111 1111 1111 1111 from 203.0.113.9:443"
            )
            .unwrap(),
            "user [REDACTED:email] paid with [REDACTED:credit_card] from [REDACTED:ipv4]:443"
        );
    }

    #[test]
    fn overlapping_matches_resolve_to_the_first_and_longest() {
        let redactor = all_builtins();
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        assert_eq!(
            redact(&redactor, &format!("Authorization: Bearer {jwt}")).unwrap(),
            "Authorization: Bearer [REDACTED:jwt]"
        );
        // A card number inside an email's local part: the email starts first and wins.
        assert_eq!(
            redact(&redactor, "4111111111111111@example.com").unwrap(),
            "[REDACTED:email]"
        );
    }

    #[test]
    fn clean_values_are_kept() {
        let redactor = all_builtins();
        for clean in [
            "GET /api/v1/users/{id}",
            "ord-2024-000123",
            "2024-01-15T10:30:00.123Z",
            "1700000000",
            "1700000000123",
            "123e4567-e89b-12d3-a456-426614174000",
            "v10.4.1-beta",
            "1.2.3",
            "localhost:8080",
            "took 1.5s (1523 ms)",
            "4111111111111112",
            "",
        ] {
            assert_eq!(redact(&redactor, clean), None, "{clean:?}");
        }
    }

    #[test]
    fn a_drop_rule_drops_the_whole_value() {
        let mut redactor = Redactor::default();
        redactor.push(Builtin::Email.detector(), mask("email"));
        let drop = Rule::new(Action::Drop, "[REDACTED:ssn]".into(), None, "test").unwrap();
        redactor.push(Builtin::Ssn.detector(), drop);
        assert_eq!(
            redact(&redactor, "bob@example.com 123-45-6789").unwrap(),
            "dropped by [REDACTED:ssn]"
        );
    }

    #[test]
    fn a_drop_rule_after_a_whole_value_match_still_drops() {
        let drop = || Rule::new(Action::Drop, "[REDACTED:x]".into(), None, "test").unwrap();
        let mut redactor = Redactor::default();
        redactor.push(Builtin::Email.detector(), mask("email"));
        redactor.push(Box::new(Custom::new("example").unwrap()), drop());
        redactor.push(Box::new(Custom::new("bob").unwrap()), mask("bob"));
        assert_eq!(
            redact(&redactor, "bob@example.com").unwrap(),
            "dropped by [REDACTED:x]"
        );
        // Without the drop rule, the whole-value match wins over every later one.
        let mut redactor = Redactor::default();
        redactor.push(Builtin::Email.detector(), mask("email"));
        redactor.push(
            Box::new(Custom::new("bob@example.com").unwrap()),
            mask("same"),
        );
        redactor.push(Box::new(Custom::new("example").unwrap()), mask("part"));
        assert_eq!(
            redact(&redactor, "bob@example.com").unwrap(),
            "[REDACTED:email]"
        );
    }

    #[test]
    fn hashing_groups_spellings_of_the_same_value() {
        let hasher = Hasher::new(b"0123456789abcdef", 16).unwrap();
        let mut redactor = Redactor::default();
        let hash = || Rule::new(Action::Hash, String::new(), Some(&hasher), "test").unwrap();
        redactor.push(Builtin::Email.detector(), hash());
        redactor.push(Builtin::CreditCard.detector(), hash());
        let a = redact(&redactor, "Bob@Example.com 4111 1111 1111 1111").unwrap();
        let b = redact(&redactor, "bob%40example.com 4111-1111-1111-1111").unwrap();
        assert_eq!(a, b);
        assert!(a.starts_with("[HASH:") && !a.contains("bob"), "{a}");
    }

    #[test]
    fn custom_patterns_run_alongside_builtins() {
        let mut redactor = all_builtins();
        redactor.push(
            Box::new(Custom::new("EMP-[0-9]{6}").unwrap()),
            mask("employee_id"),
        );
        assert_eq!(
            redact(&redactor, "EMP-004211 <bob@example.com>").unwrap(),
            "[REDACTED:employee_id] <[REDACTED:email]>"
        );
    }
}
