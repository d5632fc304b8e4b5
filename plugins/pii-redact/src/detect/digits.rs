//! Runs of digit groups, the shape shared by card numbers, phone numbers and SSNs.
//!
//! A *run* is a maximal stretch of text like `4111 1111 1111 1111`, `(415) 555-2671` or
//! `123-45-6789`: groups of ASCII digits joined by single separators. The detectors then look
//! for a *window* of consecutive groups with the layout they expect, so
//! `paid 4111 1111 1111 1111 2024-01-15` still yields the card in its first four groups.
//!
//! Scanning is one pass over the text; the groups of the current run go into a caller-owned
//! buffer that is reused from value to value.

use super::{free_after, free_before};

/// One group of digits in a run: `415` or `(415)` in `(415) 555-2671`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Group {
    /// Byte offset of the group's first character (the `(` of a parenthesised group).
    pub(crate) start: usize,
    /// Byte offset just past the group (past its `)`).
    pub(crate) end: usize,
    /// How many digits the group holds.
    pub(crate) digits: usize,
    /// Whether the group is written in parentheses.
    pub(crate) paren: bool,
    /// The separator before the group; `0` for the first group of a run and for a group
    /// written straight after a parenthesised one, as in `(415)555-2671`.
    pub(crate) sep: u8,
}

impl Group {
    /// The byte offset of the group's first digit.
    pub(crate) fn first_digit(&self) -> usize {
        self.start + usize::from(self.paren)
    }
}

/// Which separators a detector accepts between groups, and whether groups may be
/// parenthesised.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Grammar {
    /// The accepted separators, each one byte (e.g. `b" -"`).
    pub(crate) separators: &'static [u8],
    /// Whether `(415)` counts as a group.
    pub(crate) parens: bool,
}

/// Calls `visit` with every maximal run of digit groups in `text`, in order.
pub(crate) fn for_each_run(
    text: &[u8],
    grammar: Grammar,
    groups: &mut Vec<Group>,
    mut visit: impl FnMut(&[Group]),
) {
    let mut i = 0;
    while i < text.len() {
        let Some(first) = group_at(text, i, grammar, 0) else {
            i += 1;
            continue;
        };
        groups.clear();
        groups.push(first);
        let mut end = first.end;
        loop {
            // `(415)555-2671`: a group may follow a parenthesised one with no separator.
            if last_is_paren(groups)
                && let Some(group) = group_at(text, end, grammar, 0)
            {
                groups.push(group);
                end = group.end;
                continue;
            }
            if let Some(&sep) = text.get(end)
                && grammar.separators.contains(&sep)
                && let Some(group) = group_at(text, end + 1, grammar, sep)
            {
                groups.push(group);
                end = group.end;
                continue;
            }
            break;
        }
        visit(groups);
        i = end;
    }
}

/// Whether the last group read is parenthesised.
fn last_is_paren(groups: &[Group]) -> bool {
    groups.last().is_some_and(|group| group.paren)
}

/// The group starting at byte `start`, if one does.
fn group_at(text: &[u8], start: usize, grammar: Grammar, sep: u8) -> Option<Group> {
    let paren = grammar.parens && text.get(start) == Some(&b'(');
    let digits_start = start + usize::from(paren);
    let digits = text
        .get(digits_start..)?
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    if digits == 0 {
        return None;
    }
    let mut end = digits_start + digits;
    if paren {
        if text.get(end) != Some(&b')') {
            return None;
        }
        end += 1;
    }
    Some(Group {
        start,
        end,
        digits,
        paren,
        sep,
    })
}

/// Whether the window `run[first..=last]` can be cut out of its run and its text as a token
/// of its own.
///
/// At the ends of the run the text around it decides (see [`free_before`], [`free_after`]);
/// inside the run only a space may separate the window from its neighbours, since
/// `415-555-2671-1234` is one identifier while `415-555-2671 1234` is a number and then
/// something else.
pub(crate) fn window_stands_alone(
    text: &[u8],
    run: &[Group],
    first: usize,
    last: usize,
    start: usize,
) -> bool {
    let left = if first == 0 {
        free_before(text, start)
    } else {
        run[first].sep == b' '
    };
    let right = match run.get(last + 1) {
        None => free_after(text, run[last].end),
        Some(next) => next.sep == b' ',
    };
    left && right
}

/// Whether every group after the first in `window` uses the same separator (and has one).
pub(crate) fn one_separator(window: &[Group]) -> bool {
    match window.get(1) {
        None => true,
        Some(second) => second.sep != 0 && window[1..].iter().all(|g| g.sep == second.sep),
    }
}

/// The ASCII digits of `text[start..end]`, skipping separators and parentheses.
pub(crate) fn digits_of(
    text: &[u8],
    start: usize,
    end: usize,
) -> impl DoubleEndedIterator<Item = u8> + '_ {
    text[start..end]
        .iter()
        .filter(|b| b.is_ascii_digit())
        .map(|b| b - b'0')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(text: &str, grammar: Grammar) -> Vec<Vec<&str>> {
        let mut found = Vec::new();
        let mut buffer = Vec::new();
        for_each_run(text.as_bytes(), grammar, &mut buffer, |run| {
            found.push(run.iter().map(|g| &text[g.start..g.end]).collect());
        });
        found
    }

    const PHONE: Grammar = Grammar {
        separators: b" -.",
        parens: true,
    };

    #[test]
    fn splits_text_into_runs_of_groups() {
        assert_eq!(
            runs("call (415) 555-2671 now", PHONE),
            vec![vec!["(415)", "555", "2671"]]
        );
        assert_eq!(
            runs("(415)555-2671", PHONE),
            vec![vec!["(415)", "555", "2671"]]
        );
        assert_eq!(runs("a 1  2 b", PHONE), vec![vec!["1"], vec!["2"]]);
        assert_eq!(runs("1- 2", PHONE), vec![vec!["1"], vec!["2"]]);
        assert_eq!(runs("(12 34)", PHONE), vec![vec!["12", "34"]]);
        assert_eq!(runs("no digits", PHONE), Vec::<Vec<&str>>::new());
        let card = Grammar {
            separators: b" -",
            parens: false,
        };
        assert_eq!(runs("1.2-3", card), vec![vec!["1"], vec!["2", "3"]]);
    }
}
