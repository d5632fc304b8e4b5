//! Sanitizers: rewrite the secret parts of a structured value and keep its shape.
//!
//! Detectors look for personal data anywhere; a sanitizer knows the structure of one kind of
//! value and rewrites the parts of it that are data rather than shape:
//!
//! - [`url`]: the password of `scheme://user:password@host`, and the values of query,
//!   fragment and `;` parameters with secret-like names (`?api_key=...`). On by default for
//!   the URL keys of the semantic conventions, and for `scheme://` URLs inside any scanned
//!   string (an exception message quoting a connection URL).
//! - [`sql`]: the literals of a statement (`'bob@example.com'`, `42`) become `?` and comments
//!   go. On by default for `db.statement` and `db.query.text`.
//!
//! A sanitizer reports [`Rewrite`]s, byte ranges of the value with what replaces them. They
//! take precedence over the detectors' matches: a match overlapping a rewrite is dropped, so
//! the password of `postgres://app:s3cr3t@db.example.com` is masked as a password and the
//! email detector does not also take `s3cr3t@db.example.com` (host included) for an address.
//! The detectors still scan the rest of the value (an email in a SQL comment is gone with the
//! comment; one in a MongoDB query's JSON, which the SQL rules leave alone, is masked). The
//! URL sanitizer also guards the `@` that ends a userinfo: `https://user@github.com/` is a
//! user and a host, and no detector's match may cross it.

mod sql;
mod url;

use std::cmp::Reverse;

use weft_sdk::AttributeSelection;

use crate::action::{Hasher, Rule};
use crate::config;
use crate::glob::Glob;

/// The default mask of a URL's userinfo password.
const PASSWORD_MASK: &str = "[REDACTED:url_password]";

/// The default mask of a secret URL parameter's value.
const PARAM_MASK: &str = "[REDACTED:url_param]";

/// The default mask of a SQL literal.
const LITERAL_MASK: &str = "?";

/// The sanitizer a key's values go through.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Sanitizer {
    /// None: only the detectors (and the URL sanitizer's search for URLs in text) run.
    #[default]
    None,
    /// The URL sanitizer, on the whole value.
    Url,
    /// The SQL sanitizer.
    Sql,
}

/// Bytes `start..end` of a value, to be replaced as `fill` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rewrite {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) fill: Fill,
}

/// What replaces a [`Rewrite`]'s bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fill {
    /// A URL's userinfo password: the URL sanitizer's rule applies.
    Password,
    /// The value of a secret URL parameter: the URL sanitizer's rule applies.
    Param,
    /// A SQL literal: the SQL sanitizer's rule applies.
    Literal,
    /// Nothing: a SQL comment is removed.
    Remove,
    /// One space: a SQL comment that alone separated two tokens.
    Space,
    /// The bytes themselves: the `@` that ends a URL's userinfo, so that no detector takes
    /// `user@host` (or `password@host`) for an email address. A value whose only rewrites
    /// keep their bytes is unchanged.
    Keep,
}

/// The enabled sanitizers, compiled.
#[derive(Debug, Default)]
pub(crate) struct Sanitizers {
    url: Option<UrlSanitizer>,
    sql: Option<SqlSanitizer>,
}

#[derive(Debug)]
struct UrlSanitizer {
    keys: Keys,
    /// Whether URLs inside any scanned string are sanitized too.
    in_text: bool,
    url: url::Url,
    /// Applies to userinfo passwords.
    password: Rule,
    /// Applies to secret parameter values.
    param: Rule,
}

#[derive(Debug)]
struct SqlSanitizer {
    keys: Keys,
    /// Applies to literals.
    rule: Rule,
}

/// The key patterns of one sanitizer.
#[derive(Debug)]
struct Keys {
    globs: Vec<Glob>,
    /// The patterns, when none has a wildcard: the exact keys to ask the host for.
    exact: Option<Vec<String>>,
}

impl Keys {
    /// Compiles `patterns`; `path` names the config field in errors.
    fn new(patterns: &[String], path: &str) -> Result<Keys, String> {
        check_patterns(patterns, path)?;
        let wildcard = patterns.iter().any(|p| p.contains(['*', '?']));
        Ok(Keys {
            globs: patterns.iter().map(|p| Glob::new(p)).collect(),
            exact: (!wildcard).then(|| patterns.to_vec()),
        })
    }

    fn matches(&self, key: &str) -> bool {
        self.globs.iter().any(|glob| glob.matches(key))
    }
}

/// Refuses an empty pattern, naming it: ``invalid config at `sanitizers.url.keys[1]`: ...``.
fn check_patterns(patterns: &[String], path: &str) -> Result<(), String> {
    match patterns.iter().position(String::is_empty) {
        Some(index) => Err(format!(
            "invalid config at `{path}[{index}]`: empty pattern"
        )),
        None => Ok(()),
    }
}

impl Sanitizers {
    /// Compiles the enabled sanitizers of `config`. A disabled sanitizer's settings are not
    /// checked beyond their types (its `hash` action needs no key, as it never runs).
    pub(crate) fn new(
        config: &config::Sanitizers,
        hasher: Option<&Hasher>,
    ) -> Result<Sanitizers, String> {
        let url = match &config.url {
            settings if !settings.enabled => None,
            settings => {
                let path = "sanitizers.url";
                check_patterns(&settings.secret_params, &format!("{path}.secret_params"))?;
                let rule = |default: &str| {
                    let mask = settings
                        .replacement
                        .clone()
                        .unwrap_or_else(|| default.to_owned());
                    Rule::new(settings.action, mask, hasher, &format!("{path}.action"))
                };
                let password = rule(PASSWORD_MASK)?;
                let param = rule(PARAM_MASK)?;
                let masks = [password.mask.clone(), param.mask.clone()];
                Some(UrlSanitizer {
                    keys: Keys::new(&settings.keys, &format!("{path}.keys"))?,
                    in_text: settings.in_text,
                    url: url::Url::new(&settings.secret_params, masks),
                    password,
                    param,
                })
            }
        };
        let sql = match &config.sql {
            settings if !settings.enabled => None,
            settings => {
                let mask = settings
                    .replacement
                    .clone()
                    .unwrap_or_else(|| LITERAL_MASK.to_owned());
                Some(SqlSanitizer {
                    keys: Keys::new(&settings.keys, "sanitizers.sql.keys")?,
                    rule: Rule::new(settings.action, mask, hasher, "sanitizers.sql.action")?,
                })
            }
        };
        Ok(Sanitizers { url, sql })
    }

    /// Whether URLs inside any scanned string are sanitized.
    pub(crate) fn in_text(&self) -> bool {
        self.url.as_ref().is_some_and(|url| url.in_text)
    }

    /// Whether some key selects a sanitizer.
    pub(crate) fn has_keys(&self) -> bool {
        self.url.as_ref().is_some_and(|u| !u.keys.globs.is_empty())
            || self.sql.as_ref().is_some_and(|s| !s.keys.globs.is_empty())
    }

    /// The sanitizer for the values of `key`. A key matching both lists is a URL key.
    pub(crate) fn for_key(&self, key: &str) -> Sanitizer {
        if self.url.as_ref().is_some_and(|url| url.keys.matches(key)) {
            Sanitizer::Url
        } else if self.sql.as_ref().is_some_and(|sql| sql.keys.matches(key)) {
            Sanitizer::Sql
        } else {
            Sanitizer::None
        }
    }

    /// The attributes the sanitizers' keys need from the host, on their own: none without
    /// keys, the keys themselves when every pattern is a plain key, else every string.
    pub(crate) fn key_selection(&self) -> AttributeSelection {
        if !self.has_keys() {
            return AttributeSelection::None;
        }
        let lists = [
            self.url.as_ref().map(|url| &url.keys),
            self.sql.as_ref().map(|sql| &sql.keys),
        ];
        let mut exact = Vec::new();
        for keys in lists.into_iter().flatten() {
            match &keys.exact {
                Some(list) => exact.extend(list.iter().cloned()),
                None => return AttributeSelection::Strings,
            }
        }
        AttributeSelection::Keys(exact)
    }

    /// Adds to `out` the rewrites of `text`, a value of a key that selects `sanitizer`; with
    /// [`Sanitizer::None`] and `in_text`, those of the URLs inside it. `out` ends up ordered,
    /// without overlaps. `name` is a buffer for decoded URL parameter names.
    pub(crate) fn rewrite(
        &self,
        text: &str,
        sanitizer: Sanitizer,
        in_text: bool,
        name: &mut Vec<u8>,
        out: &mut Vec<Rewrite>,
    ) {
        match (sanitizer, &self.url, &self.sql) {
            (Sanitizer::Url, Some(url), _) => url.url.rewrite_value(text, name, out),
            (Sanitizer::Sql, _, Some(_)) => sql::rewrite(text, out),
            (Sanitizer::None, Some(url), _) if in_text && url.in_text => {
                url.url.rewrite_in_text(text, name, out);
            }
            _ => return,
        }
        normalize(out);
    }

    /// The rule that applies to a rewrite, if one does (comments are removed whatever the
    /// SQL sanitizer's action).
    pub(crate) fn rule(&self, fill: Fill) -> Option<&Rule> {
        match fill {
            Fill::Password => self.url.as_ref().map(|url| &url.password),
            Fill::Param => self.url.as_ref().map(|url| &url.param),
            Fill::Literal => self.sql.as_ref().map(|sql| &sql.rule),
            Fill::Remove | Fill::Space | Fill::Keep => None,
        }
    }

    /// The first `drop` rule that applies to one of `rewrites`.
    pub(crate) fn dropping(&self, rewrites: &[Rewrite]) -> Option<&Rule> {
        rewrites
            .iter()
            .filter_map(|rewrite| self.rule(rewrite.fill))
            .find(|rule| rule.drops())
    }

    /// Appends what replaces `rewrite` (of `text`) to `out`.
    pub(crate) fn write(&self, text: &str, rewrite: &Rewrite, out: &mut String) {
        match (rewrite.fill, self.rule(rewrite.fill)) {
            (Fill::Space, _) => out.push(' '),
            (Fill::Keep, _) => out.push_str(&text[rewrite.start..rewrite.end]),
            (_, Some(rule)) => {
                let matched = &text.as_bytes()[rewrite.start..rewrite.end];
                rule.write_replacement(|sink| sink(matched), out);
            }
            _ => {}
        }
    }
}

/// Sorts `rewrites` by start (the longest first among equal starts) and removes those that
/// overlap one kept before them: a password inside a secret parameter's value goes with it.
fn normalize(rewrites: &mut Vec<Rewrite>) {
    rewrites.sort_unstable_by_key(|r| (r.start, Reverse(r.end)));
    let mut kept = 0;
    for read in 0..rewrites.len() {
        let rewrite = rewrites[read];
        if kept > 0 && rewrite.start < rewrites[kept - 1].end {
            continue;
        }
        rewrites[kept] = rewrite;
        kept += 1;
    }
    rewrites.truncate(kept);
}

/// Whether the match `start..end` overlaps one of `rewrites` (ordered, without overlaps).
pub(crate) fn overlaps(rewrites: &[Rewrite], start: usize, end: usize) -> bool {
    let next = rewrites.partition_point(|r| r.end <= start);
    rewrites.get(next).is_some_and(|r| r.start < end)
}

/// Where `needle` first occurs in `haystack` (bytes, not `str::find`: the sanitizers cut
/// values at byte offsets that need not be character boundaries; needles are short ASCII).
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, _) = needle.split_first()?;
    let mut from = 0;
    while let Some(offset) = haystack[from..].iter().position(|&b| b == first) {
        let at = from + offset;
        if haystack[at..].starts_with(needle) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sanitizers(json: &str) -> Result<Sanitizers, String> {
        let config: config::Sanitizers = weft_sdk::parse_config(json)?;
        Sanitizers::new(&config, None)
    }

    #[test]
    fn keys_select_a_sanitizer() {
        let defaults = sanitizers("{}").unwrap();
        assert_eq!(defaults.for_key("url.full"), Sanitizer::Url);
        assert_eq!(defaults.for_key("http.target"), Sanitizer::Url);
        assert_eq!(defaults.for_key("db.connection_string"), Sanitizer::Url);
        assert_eq!(defaults.for_key("db.statement"), Sanitizer::Sql);
        assert_eq!(defaults.for_key("db.query.text"), Sanitizer::Sql);
        assert_eq!(defaults.for_key("db.query.summary"), Sanitizer::None);
        assert_eq!(defaults.for_key("exception.message"), Sanitizer::None);
        assert!(defaults.in_text() && defaults.has_keys());

        let custom = sanitizers(
            r#"{"url": {"keys": ["*.callback_url"], "in_text": false},
                "sql": {"keys": ["app.query"]}}"#,
        )
        .unwrap();
        assert_eq!(custom.for_key("payment.callback_url"), Sanitizer::Url);
        assert_eq!(custom.for_key("url.full"), Sanitizer::None);
        assert_eq!(custom.for_key("App.Query"), Sanitizer::Sql);
        assert_eq!(custom.for_key("db.statement"), Sanitizer::None);
        assert!(!custom.in_text());
        assert_eq!(custom.key_selection(), AttributeSelection::Strings);

        let off = sanitizers(r#"{"url": {"enabled": false}, "sql": {"enabled": false}}"#).unwrap();
        assert_eq!(off.for_key("url.full"), Sanitizer::None);
        assert!(!off.in_text() && !off.has_keys());
        assert_eq!(off.key_selection(), AttributeSelection::None);
    }

    #[test]
    fn plain_keys_are_asked_for_by_name() {
        let plain = sanitizers(r#"{"url": {"keys": ["url.full"]}}"#).unwrap();
        let AttributeSelection::Keys(keys) = plain.key_selection() else {
            panic!("expected a key list");
        };
        assert_eq!(keys[0], "url.full");
        assert!(keys.contains(&"db.statement".to_owned()));
    }

    #[test]
    fn settings_are_checked_with_their_path() {
        let error = sanitizers(r#"{"url": {"keys": ["url.full", ""]}}"#).unwrap_err();
        assert_eq!(
            error,
            "invalid config at `sanitizers.url.keys[1]`: empty pattern"
        );
        let error = sanitizers(r#"{"url": {"secret_params": [""]}}"#).unwrap_err();
        assert!(
            error.starts_with("invalid config at `sanitizers.url.secret_params[0]`"),
            "{error}"
        );
        let error = sanitizers(r#"{"sql": {"action": "hash"}}"#).unwrap_err();
        assert!(
            error.starts_with("invalid config at `sanitizers.sql.action`"),
            "{error}"
        );
        // A disabled sanitizer's action needs no key.
        sanitizers(r#"{"sql": {"enabled": false, "action": "hash"}}"#).unwrap();
    }

    #[test]
    fn rules_follow_the_action_and_replacement() {
        let custom = sanitizers(
            r#"{"url": {"replacement": "***", "action": "drop"}, "sql": {"replacement": "<v>"}}"#,
        )
        .unwrap();
        let password = custom.rule(Fill::Password).unwrap();
        assert_eq!(password.mask, "***");
        assert!(password.drops());
        assert_eq!(custom.rule(Fill::Literal).unwrap().mask, "<v>");
        assert!(custom.rule(Fill::Remove).is_none());
        let rewrite = |fill| Rewrite {
            start: 0,
            end: 1,
            fill,
        };
        assert!(custom.dropping(&[rewrite(Fill::Literal)]).is_none());
        assert!(custom.dropping(&[rewrite(Fill::Param)]).is_some());
    }

    #[test]
    fn normalize_keeps_the_outermost_of_overlapping_rewrites() {
        let r = |start, end| Rewrite {
            start,
            end,
            fill: Fill::Param,
        };
        let mut rewrites = vec![r(10, 12), r(2, 8), r(4, 6), r(2, 3), r(8, 9)];
        normalize(&mut rewrites);
        assert_eq!(rewrites, [r(2, 8), r(8, 9), r(10, 12)]);
        assert!(overlaps(&rewrites, 7, 8));
        assert!(overlaps(&rewrites, 0, 3));
        assert!(!overlaps(&rewrites, 9, 10));
        assert!(!overlaps(&rewrites, 12, 20));
        assert!(!overlaps(&[], 0, 5));
    }
}
