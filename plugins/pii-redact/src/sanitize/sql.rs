//! The SQL sanitizer: literals become `?` (or the configured mask), comments go, and
//! everything else (keywords, identifiers, operators, placeholders, whitespace) stays byte for
//! byte, so `SELECT * FROM users WHERE email = 'bob@example.com' AND age > 30` becomes
//! `SELECT * FROM users WHERE email = ? AND age > ?`.
//!
//! What is a literal:
//!
//! - a string: `'...'` with `''` or `\'` inside, also prefixed (`N'...'`, `E'...'`, `X'ff'`,
//!   `B'01'`), and PostgreSQL's dollar-quoted `$$...$$` and `$tag$...$tag$`;
//! - a number: `42`, `3.14`, `.5`, `1e-3`, `0x1F`, with its sign when the sign cannot be a
//!   subtraction (`= -1`, `(-1`, `, -1`, `THEN -1`);
//! - a double-quoted string where MySQL reads one: after a comparison operator or `LIKE`, and
//!   as an item of an `IN (...)` or `VALUES (...)` list. Anywhere else `"..."` is a quoted
//!   identifier, as standard SQL has it, and stays.
//!
//! An `IN` list of literals only collapses to one `?`: `IN (1, 2, 3)` becomes `IN (?)`, so the
//! same query with a different number of ids keeps one shape. A list holding anything else
//! (`IN ($1, $2)`, `IN (SELECT ...)`) keeps its items, each literal masked alone.
//!
//! What stays: keywords, `TRUE`, `FALSE` and `NULL` (they tell nothing about a customer);
//! identifiers, also with digits (`table2`, `col_1`, `1st_place`), quoted with `"`, `` ` ``;
//! placeholders (`?`, `?1`, `$1`, `:name`, `:1`, `@p1`, `%s`, `%(name)s`); casts (`::int`).
//!
//! Comments (`-- ...` to the end of the line, `/* ... */`, nested as PostgreSQL nests them)
//! are removed with the space before them, as they can carry data (`/* user=bob@example.com */`)
//! and differ from call to call (a trace id in a `sqlcommenter` tag); optimizer hints
//! (`/*+ ... */`) go with them.
//!
//! Malformed input never panics: a string, dollar quote or comment left open (a statement cut
//! short by an instrumentation's length limit) is masked to the end. One pass over the bytes,
//! plus one forward search for a dollar quote's end tag, which resumes after it.

use super::{Fill, Rewrite, find};

/// Keywords after which `-` or `+` before a number is a sign, not a subtraction.
const SIGN_KEYWORDS: &[&str] = &[
    "SELECT", "WHERE", "AND", "OR", "NOT", "WHEN", "THEN", "ELSE", "RETURN", "LIMIT", "OFFSET",
    "BETWEEN", "LIKE", "CASE", "SET", "BY", "HAVING", "ON", "IS",
];

/// Keywords after which a double-quoted text is a value (MySQL's string), not an identifier.
const VALUE_KEYWORDS: &[&str] = &["LIKE", "ILIKE"];

/// Adds the rewrites of the statement `text` to `out`, in order and without overlaps.
pub(crate) fn rewrite(text: &str, out: &mut Vec<Rewrite>) {
    let mut scanner = Scanner {
        bytes: text.as_bytes(),
        at: 0,
        out,
        depth: 0,
        prev: Prev::Start,
        pending_in: false,
        list: None,
        values: None,
        seen_token: false,
    };
    scanner.run();
}

/// The kind of the previous significant token (comments and whitespace are not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prev {
    /// Nothing yet in this statement.
    Start,
    /// `=`, `<`, `>`, `!=`, `<>`, `<=`, `>=`.
    Comparison,
    /// Another operator: `+`, `-`, `*`, `/`, `%`, `|`, `::` and the like.
    Operator,
    /// `(`.
    Open,
    /// `,`.
    Comma,
    /// `)`.
    Close,
    /// A bare word (keyword or identifier), at these bytes.
    Word(usize, usize),
    /// A literal, a placeholder, a quoted identifier, or other punctuation.
    Other,
}

/// An `IN (...)` list being read, to collapse when it holds literals only.
#[derive(Debug, Clone, Copy)]
struct List {
    /// The depth of the parentheses around the list (its items are one deeper).
    depth: usize,
    /// How many rewrites there were when the list opened.
    rewrites_before: usize,
    /// Where the first literal starts and the last ends.
    first: Option<usize>,
    last: usize,
    /// Whether every item so far is one literal.
    literals_only: bool,
    /// Whether an item is due (after `(` or `,`).
    expects_item: bool,
}

struct Scanner<'a> {
    bytes: &'a [u8],
    /// The next byte to read.
    at: usize,
    out: &'a mut Vec<Rewrite>,
    /// Parentheses open in the current statement.
    depth: usize,
    prev: Prev,
    /// The previous word was `IN`: a `(` now opens a list.
    pending_in: bool,
    /// The innermost `IN` list being read.
    list: Option<List>,
    /// The depth of a `VALUES` keyword whose rows are being read.
    values: Option<usize>,
    /// Whether the statement has had a token other than a comment (a comment before the first
    /// token is removed with the space after it).
    seen_token: bool,
}

/// Whether `byte` continues a bare word: ASCII letters, digits, `_`, `$`, and every byte of a
/// non-ASCII character (identifiers may be written in any script).
fn is_word(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'$' || byte >= 0x80
}

/// Whether `byte` can start a bare word.
fn starts_word(byte: u8) -> bool {
    byte.is_ascii_alphabetic() || byte == b'_' || byte >= 0x80
}

/// Whether `word` is one of `keywords` (ASCII case ignored).
fn is_keyword(word: &[u8], keywords: &[&str]) -> bool {
    keywords
        .iter()
        .any(|k| word.eq_ignore_ascii_case(k.as_bytes()))
}

impl Scanner<'_> {
    fn run(&mut self) {
        while let Some(&byte) = self.bytes.get(self.at) {
            let next = self.bytes.get(self.at + 1).copied();
            match byte {
                _ if byte.is_ascii_whitespace() => self.at += 1,
                b'-' if next == Some(b'-') => self.line_comment(),
                b'/' if next == Some(b'*') => self.block_comment(),
                _ => {
                    self.seen_token = true;
                    let start = self.at;
                    self.token(byte, next);
                    debug_assert!(self.at > start, "no progress at {start}");
                    // Every token takes at least one byte, so the scan always ends.
                    self.at = self.at.max(start + 1);
                }
            }
        }
    }

    /// Reads the token starting with `byte` (followed by `next`).
    fn token(&mut self, byte: u8, next: Option<u8>) {
        let start = self.at;
        match byte {
            b'\'' => self.string(start, start, b'\'', true),
            b'"' if self.value_expected() => self.string(start, start, b'"', true),
            b'"' | b'`' => {
                self.at = quoted_end(self.bytes, start, byte, false);
                self.other();
            }
            b'$' => self.dollar(),
            b'0'..=b'9' => self.number(start),
            b'.' if next.is_some_and(|b| b.is_ascii_digit()) && !self.glued_before(start) => {
                self.number(start)
            }
            b'+' | b'-'
                if self.sign_expected()
                    && (next.is_some_and(|b| b.is_ascii_digit())
                        || (next == Some(b'.')
                            && self.bytes.get(start + 2).is_some_and(u8::is_ascii_digit))) =>
            {
                self.at += 1;
                self.number(start);
            }
            b'?' => {
                // `?` and SQLite's `?NNN`.
                self.at = run_end(self.bytes, start + 1, |b| b.is_ascii_digit());
                self.other();
            }
            b':' if next == Some(b':') => {
                self.at += 2;
                self.operator(Prev::Operator);
            }
            b':' if next.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_') => {
                // A bind parameter: `:name`, `:1`.
                self.at = run_end(self.bytes, start + 1, is_word);
                self.other();
            }
            b'@' => {
                // `@p1`, `@@version`.
                let from = if next == Some(b'@') {
                    start + 2
                } else {
                    start + 1
                };
                self.at = run_end(self.bytes, from, is_word);
                self.other();
            }
            b'(' => self.open(),
            b')' => self.close(),
            b',' => self.comma(),
            b';' => {
                self.at += 1;
                self.end_statement();
            }
            b'=' | b'<' | b'>' | b'!' => {
                self.at += 1;
                if self
                    .bytes
                    .get(self.at)
                    .is_some_and(|b| matches!(b, b'=' | b'<' | b'>'))
                {
                    self.at += 1;
                }
                self.operator(Prev::Comparison);
            }
            b'+' | b'-' | b'*' | b'/' | b'%' | b'|' | b'&' | b'^' | b'~' | b'#' => {
                self.at += 1;
                self.operator(Prev::Operator);
            }
            _ if starts_word(byte) => self.word(start),
            _ => {
                // Other punctuation (`.`, `[`, `]`, `{`, `}`, `\`) or a control byte.
                self.at += 1;
                self.other();
            }
        }
    }

    /// Whether a double-quoted text here would be a value: after a comparison or `LIKE`, or as
    /// an item of an `IN` or `VALUES` list.
    fn value_expected(&self) -> bool {
        match self.prev {
            Prev::Comparison => true,
            Prev::Word(start, end) => is_keyword(&self.bytes[start..end], VALUE_KEYWORDS),
            Prev::Open | Prev::Comma => {
                self.list.is_some_and(|l| self.depth == l.depth + 1)
                    || self.values.is_some_and(|v| self.depth == v + 1)
            }
            _ => false,
        }
    }

    /// Whether a `-` or `+` here would be a sign rather than a subtraction or an addition.
    fn sign_expected(&self) -> bool {
        match self.prev {
            Prev::Start | Prev::Comparison | Prev::Operator | Prev::Open | Prev::Comma => true,
            Prev::Word(start, end) => is_keyword(&self.bytes[start..end], SIGN_KEYWORDS),
            Prev::Close | Prev::Other => false,
        }
    }

    /// Whether the byte before `at` glues a `.` or digit there into a name (`t.1`, `x1`).
    fn glued_before(&self, at: usize) -> bool {
        at.checked_sub(1)
            .map(|i| self.bytes[i])
            .is_some_and(|b| is_word(b) || matches!(b, b'"' | b'`' | b')' | b']'))
    }

    /// A quoted string from `quote_at` (a literal starting at `start`, which may include a
    /// prefix such as `N`).
    fn string(&mut self, start: usize, quote_at: usize, quote: u8, escapes: bool) {
        self.at = quoted_end(self.bytes, quote_at, quote, escapes);
        self.literal(start, self.at);
    }

    /// A `$`: a placeholder (`$1`), a dollar-quoted string (`$$...$$`, `$tag$...$tag$`), or
    /// punctuation.
    fn dollar(&mut self) {
        let start = self.at;
        let bytes = self.bytes;
        if bytes.get(start + 1).is_some_and(u8::is_ascii_digit) {
            self.at = run_end(bytes, start + 1, |b| b.is_ascii_digit());
            self.other();
            return;
        }
        let tag_end = if bytes
            .get(start + 1)
            .is_some_and(|&b| b.is_ascii_alphabetic() || b == b'_')
        {
            run_end(bytes, start + 1, |b| b.is_ascii_alphanumeric() || b == b'_')
        } else {
            start + 1
        };
        if bytes.get(tag_end) != Some(&b'$') {
            // `$` alone, or a tag without its closing `$`.
            self.at = start + 1;
            self.other();
            return;
        }
        let delimiter = &bytes[start..=tag_end];
        let body = tag_end + 1;
        self.at = match find(&bytes[body..], delimiter) {
            Some(offset) => body + offset + delimiter.len(),
            None => bytes.len(),
        };
        self.literal(start, self.at);
    }

    /// A number starting at `start` (at its sign, when it has one; `self.at` is past the sign).
    fn number(&mut self, start: usize) {
        let bytes = self.bytes;
        let digits = self.at.max(start);
        if bytes[start].is_ascii_digit()
            && start >= 1
            && bytes[start - 1] == b'.'
            && self.glued_before(start - 1)
        {
            // Digits after `name.`: part of a dotted name (`libc.so.6`, `v1.2`).
            self.at = run_end(bytes, start, is_word);
            self.word_at(start);
            return;
        }
        let mut end;
        if bytes[digits] == b'0'
            && matches!(bytes.get(digits + 1), Some(b'x' | b'X'))
            && bytes.get(digits + 2).is_some_and(u8::is_ascii_hexdigit)
        {
            end = run_end(bytes, digits + 2, |b| b.is_ascii_hexdigit());
        } else {
            end = run_end(bytes, digits, |b| b.is_ascii_digit());
            if bytes.get(end) == Some(&b'.') {
                end = run_end(bytes, end + 1, |b| b.is_ascii_digit());
            }
            if matches!(bytes.get(end), Some(b'e' | b'E')) {
                let sign = usize::from(matches!(bytes.get(end + 1), Some(b'+' | b'-')));
                if bytes.get(end + 1 + sign).is_some_and(u8::is_ascii_digit) {
                    end = run_end(bytes, end + 1 + sign, |b| b.is_ascii_digit());
                }
            }
        }
        if bytes.get(end).is_some_and(|&b| is_word(b)) {
            // Digits glued to letters: a name such as `1st_place` (the sign, if any, is an
            // operator before it).
            self.at = run_end(bytes, end, is_word);
            self.word_at(digits);
            return;
        }
        self.at = end;
        self.literal(start, end);
    }

    /// A bare word starting at `start`.
    fn word(&mut self, start: usize) {
        self.at = run_end(self.bytes, start, is_word);
        // A one-letter prefix glued to a string: `N'...'`, `E'...'`, `X'ff'`, `B'01'`.
        if self.at == start + 1
            && matches!(
                self.bytes[start].to_ascii_uppercase(),
                b'N' | b'E' | b'X' | b'B'
            )
            && self.bytes.get(self.at) == Some(&b'\'')
        {
            self.string(start, self.at, b'\'', true);
            return;
        }
        self.word_at(start);
    }

    /// Records the word `start..self.at`.
    fn word_at(&mut self, start: usize) {
        let word = &self.bytes[start..self.at];
        self.item_other();
        let in_keyword = word.eq_ignore_ascii_case(b"IN");
        if self.values.is_some_and(|v| self.depth <= v) {
            // A word after the rows (`ON CONFLICT`, `RETURNING`) ends them.
            self.values = None;
        }
        if word.eq_ignore_ascii_case(b"VALUES") {
            self.values = Some(self.depth);
        }
        self.pending_in = in_keyword;
        self.prev = Prev::Word(start, self.at);
    }

    /// Records a literal `start..end`.
    fn literal(&mut self, start: usize, end: usize) {
        if start < end {
            self.out.push(Rewrite {
                start,
                end,
                fill: Fill::Literal,
            });
        }
        self.pending_in = false;
        if let Some(list) = &mut self.list
            && self.depth == list.depth + 1
        {
            if list.expects_item {
                list.first.get_or_insert(start);
                list.last = end;
                list.expects_item = false;
            } else {
                list.literals_only = false;
            }
        }
        self.prev = Prev::Other;
    }

    /// Records a token that is neither a literal nor a word: a placeholder, a quoted
    /// identifier, punctuation.
    fn other(&mut self) {
        self.item_other();
        self.pending_in = false;
        self.prev = Prev::Other;
    }

    /// Records an operator.
    fn operator(&mut self, prev: Prev) {
        self.item_other();
        self.pending_in = false;
        self.prev = prev;
    }

    /// Notes that the current `IN` list has an item that is not a literal.
    fn item_other(&mut self) {
        if let Some(list) = &mut self.list
            && self.depth == list.depth + 1
        {
            list.literals_only = false;
        }
    }

    fn open(&mut self) {
        self.at += 1;
        self.item_other();
        if self.pending_in {
            self.list = Some(List {
                depth: self.depth,
                rewrites_before: self.out.len(),
                first: None,
                last: 0,
                literals_only: true,
                expects_item: true,
            });
        }
        self.pending_in = false;
        self.depth += 1;
        self.prev = Prev::Open;
    }

    fn close(&mut self) {
        self.at += 1;
        if let Some(list) = self.list
            && self.depth == list.depth + 1
        {
            self.list = None;
            if let (true, false, Some(first)) = (list.literals_only, list.expects_item, list.first)
            {
                self.collapse(list, first);
            }
        }
        self.depth = self.depth.saturating_sub(1);
        if self.values.is_some_and(|v| self.depth < v) {
            self.values = None;
        }
        self.pending_in = false;
        self.prev = Prev::Close;
    }

    /// Replaces the rewrites of a list of literals with one covering them all.
    fn collapse(&mut self, list: List, first: usize) {
        let inside = &self.out[list.rewrites_before..];
        let start = inside.first().map_or(first, |r| r.start.min(first));
        let end = inside.last().map_or(list.last, |r| r.end.max(list.last));
        self.out.truncate(list.rewrites_before);
        self.out.push(Rewrite {
            start,
            end,
            fill: Fill::Literal,
        });
    }

    fn comma(&mut self) {
        self.at += 1;
        if let Some(list) = &mut self.list
            && self.depth == list.depth + 1
        {
            if list.expects_item {
                list.literals_only = false;
            }
            list.expects_item = true;
        }
        self.pending_in = false;
        self.prev = Prev::Comma;
    }

    fn end_statement(&mut self) {
        self.depth = 0;
        self.prev = Prev::Start;
        self.pending_in = false;
        self.list = None;
        self.values = None;
    }

    /// `-- ...` up to the end of the line (the line break stays).
    fn line_comment(&mut self) {
        let start = self.at;
        let end = run_end(self.bytes, start, |b| b != b'\n' && b != b'\r');
        self.at = end;
        self.comment(start, end);
    }

    /// `/* ... */`, nested: PostgreSQL ends a comment when every `/*` in it is closed.
    fn block_comment(&mut self) {
        let bytes = self.bytes;
        let start = self.at;
        let mut depth = 0usize;
        let mut at = start;
        let end = loop {
            match (bytes.get(at), bytes.get(at + 1)) {
                (None, _) => break bytes.len(),
                (Some(b'/'), Some(b'*')) => {
                    depth += 1;
                    at += 2;
                }
                (Some(b'*'), Some(b'/')) => {
                    depth -= 1;
                    at += 2;
                    if depth == 0 {
                        break at;
                    }
                }
                _ => at += 1,
            }
        };
        self.at = end;
        self.comment(start, end);
    }

    /// Removes the comment `start..end` so that the statement reads as if it was not there:
    /// with the whitespace before it when whitespace (or the end) follows, with the whitespace
    /// after it at the start, and leaving one space where it alone separated two tokens.
    fn comment(&mut self, start: usize, end: usize) {
        let bytes = self.bytes;
        let free = self.out.last().map_or(0, |r| r.end);
        let mut space_before = start;
        while space_before > free && bytes[space_before - 1].is_ascii_whitespace() {
            space_before -= 1;
        }
        let space_after = run_end(bytes, end, |b| b.is_ascii_whitespace());
        let at_end = space_after == bytes.len();
        let (start, end, fill) = if !self.seen_token {
            (start, space_after, Fill::Remove)
        } else if at_end || (space_before < start && space_after > end) {
            (space_before, end, Fill::Remove)
        } else if space_before < start || space_after > end {
            (start, end, Fill::Remove)
        } else {
            (start, end, Fill::Space)
        };
        // A comment at the start takes the space after it, which the scan then skips.
        self.at = self.at.max(end);
        self.out.push(Rewrite { start, end, fill });
    }
}

/// Where the quoted text opening at `open` ends (past its closing quote, or at the end of the
/// text): a doubled quote stays inside, and so does a quote after a backslash when `escapes`.
fn quoted_end(bytes: &[u8], open: usize, quote: u8, escapes: bool) -> usize {
    let mut at = open + 1;
    while let Some(&byte) = bytes.get(at) {
        if escapes && byte == b'\\' {
            at += 2;
        } else if byte == quote {
            if bytes.get(at + 1) != Some(&quote) {
                return at + 1;
            }
            at += 2;
        } else {
            at += 1;
        }
    }
    bytes.len()
}

/// The end of the run of bytes from `from` that satisfy `class`.
fn run_end(bytes: &[u8], from: usize, class: impl Fn(u8) -> bool) -> usize {
    let from = from.min(bytes.len());
    from + bytes[from..].iter().take_while(|&&b| class(b)).count()
}

#[cfg(test)]
#[path = "sql_tests.rs"]
mod tests;
