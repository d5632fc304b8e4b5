//! Key rules: which attributes are redacted whole because of their key, before any detector
//! looks at their value.

use crate::action::Rule;
use crate::glob::Glob;

/// What the key rules say about an attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyClass {
    /// No rule applies: detectors scan the value.
    Scan,
    /// The key is on the allow list: the value passes untouched.
    Allowed,
    /// The key is denied: the value is redacted whole, whatever its type.
    Denied,
    /// Allow-list mode and the key is not listed: a string value is redacted whole.
    Unlisted,
}

/// The compiled `deny_keys`, `allow_keys` and their actions.
#[derive(Debug)]
pub(crate) struct KeyPolicy {
    deny: Vec<Glob>,
    /// Applies to the values of denied keys.
    pub(crate) deny_rule: Rule,
    /// `Some` in allow-list mode.
    allow: Option<AllowList>,
}

/// The allow list of allow-list mode.
#[derive(Debug)]
struct AllowList {
    keys: Vec<Glob>,
    /// Applies to the string values of keys not on the list.
    unlisted_rule: Rule,
}

impl KeyPolicy {
    /// A policy with these denied key patterns and, in allow-list mode, these allowed ones.
    pub(crate) fn new(deny: &[String], deny_rule: Rule, allow: Option<(&[String], Rule)>) -> Self {
        let globs = |patterns: &[String]| patterns.iter().map(|p| Glob::new(p)).collect();
        KeyPolicy {
            deny: globs(deny),
            deny_rule,
            allow: allow.map(|(keys, unlisted_rule)| AllowList {
                keys: globs(keys),
                unlisted_rule,
            }),
        }
    }

    /// Whether no key rule is configured, so every attribute is [`KeyClass::Scan`].
    pub(crate) fn is_empty(&self) -> bool {
        self.deny.is_empty() && self.allow.is_none()
    }

    /// Whether the rules need values of every type, not only strings: a denied key's value is
    /// redacted whatever its type (`user.pin = 1234`).
    pub(crate) fn needs_all_values(&self) -> bool {
        !self.deny.is_empty()
    }

    /// Classifies `key`. A denied key stays denied even when it is also on the allow list.
    pub(crate) fn classify(&self, key: &str) -> KeyClass {
        if self.deny.iter().any(|glob| glob.matches(key)) {
            return KeyClass::Denied;
        }
        match &self.allow {
            None => KeyClass::Scan,
            Some(allow) if allow.keys.iter().any(|glob| glob.matches(key)) => KeyClass::Allowed,
            Some(_) => KeyClass::Unlisted,
        }
    }

    /// The rule for the string values of unlisted keys (allow-list mode only).
    pub(crate) fn unlisted_rule(&self) -> Option<&Rule> {
        self.allow.as_ref().map(|allow| &allow.unlisted_rule)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Action;

    fn rule() -> Rule {
        Rule::new(Action::Mask, "[x]".into(), None, "test").unwrap()
    }

    #[test]
    fn deny_wins_over_allow() {
        let deny = ["*.password".to_owned(), "*secret*".to_owned()];
        let allow = ["http.*".to_owned(), "db.*".to_owned()];
        let policy = KeyPolicy::new(&deny, rule(), Some((&allow, rule())));
        assert_eq!(policy.classify("db.password"), KeyClass::Denied);
        assert_eq!(policy.classify("http.client_secret"), KeyClass::Denied);
        assert_eq!(policy.classify("http.route"), KeyClass::Allowed);
        assert_eq!(policy.classify("user.email"), KeyClass::Unlisted);
    }

    #[test]
    fn without_an_allow_list_other_keys_are_scanned() {
        let policy = KeyPolicy::new(&["*.password".to_owned()], rule(), None);
        assert_eq!(policy.classify("db.password"), KeyClass::Denied);
        assert_eq!(policy.classify("user.email"), KeyClass::Scan);
        assert!(!policy.is_empty() && policy.needs_all_values());
        assert!(KeyPolicy::new(&[], rule(), None).is_empty());
    }
}
