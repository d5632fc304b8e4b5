//! The Weft processor: what it reads from a batch, and the edits that redact it.

use weft_sdk::{
    AttributeSelection, AttributeView, Batch, Edits, Interest, Processor, Range, SpanFields,
    Target, Value, ValueRef,
};

use crate::action::{Hasher, Outcome, Rule};
use crate::config::{Action, Config, DetectorConfig, Detectors, Mode};
use crate::detect::{Builtin, Custom};
use crate::keys::{KeyClass, KeyPolicy};
use crate::nested::{Rules, redact_nested};
use crate::redact::{Redactor, Scratch};
use crate::sanitize::{Sanitizer, Sanitizers};

/// The shortest `hash_key` accepted. A short key can be brute-forced, and with it every hashed
/// email or card number can be confirmed by guessing.
const MIN_HASH_KEY_BYTES: usize = 16;

/// The mask of a denied key's value.
const DENIED_MASK: &str = "[REDACTED:denied_key]";

/// The mask of an unlisted key's value in allow-list mode.
const UNLISTED_MASK: &str = "[REDACTED:unlisted_key]";

/// The PII redaction processor. Build it with [`Processor::init`] (from the JSON config the
/// host passes) or [`PiiRedact::from_config`].
pub struct PiiRedact {
    /// The enabled detectors and patterns.
    redactor: Redactor,
    /// `deny_keys`, `allow_keys` and their actions.
    keys: KeyPolicy,
    /// Whether span names are scanned.
    span_names: bool,
    /// Whether status messages are scanned.
    status_messages: bool,
    /// Whether event names are scanned.
    event_names: bool,
    /// Whether arrays and key-value lists are scanned.
    nested_values: bool,
    /// Where to record how many values of a span were redacted.
    count_attribute: Option<String>,
    /// Buffers reused from value to value.
    scratch: Scratch,
    /// The dotted path of a nested value's node, reused from value to value.
    path: String,
    /// The [`KeyClass`] of each entry of the current batch's key table, so each distinct key
    /// is matched against the globs once per batch rather than once per attribute.
    key_classes: Vec<KeyClass>,
    /// The [`Sanitizer`] of each entry of the current batch's key table, likewise.
    key_sanitizers: Vec<Sanitizer>,
}

impl PiiRedact {
    /// Builds the processor from a parsed config, checking what serde cannot: regexes compile,
    /// `hash` has a key, names and key patterns are usable. Errors name the offending field.
    pub fn from_config(config: &Config) -> Result<PiiRedact, String> {
        let hasher = hasher(config)?;
        let count_attribute = match &config.count_attribute {
            Some(key) if key.is_empty() => {
                return Err("invalid config at `count_attribute`: must not be empty".to_owned());
            }
            other => other.clone(),
        };
        let mut redactor = redactor(config, hasher.as_ref())?;
        redactor.set_sanitizers(Sanitizers::new(&config.sanitizers, hasher.as_ref())?);
        Ok(PiiRedact {
            redactor,
            keys: key_policy(config, hasher.as_ref())?,
            span_names: config.redact_span_names,
            status_messages: config.redact_status_messages,
            event_names: config.redact_event_names,
            nested_values: config.redact_nested_values,
            count_attribute,
            scratch: Scratch::default(),
            path: String::new(),
            key_classes: Vec::new(),
            key_sanitizers: Vec::new(),
        })
    }

    /// Redacts the attributes in `range` of `target`, recording the edits; returns how many
    /// values were changed or removed.
    fn redact_attributes(
        &mut self,
        batch: &Batch,
        range: Range,
        target: Target,
        edits: &mut Edits,
    ) -> usize {
        let mut redacted = 0;
        for view in attribute_views(batch, range) {
            let key = batch.key(view);
            let sanitizer = self.key_sanitizer(batch, view);
            let outcome = match (self.key_class(batch, view), batch.value(&view.value)) {
                (KeyClass::Denied, value) => self.keys.deny_rule.whole(value),
                (class, ValueRef::Nested(nodes, _)) if self.nested_values => {
                    let rules = Rules {
                        redactor: &self.redactor,
                        keys: &self.keys,
                    };
                    let scratch = &mut self.scratch;
                    if let Some((value, changed)) =
                        redact_nested(&rules, scratch, &mut self.path, (key, class), nodes, batch)
                    {
                        edits.set_attribute(target, key, value);
                        redacted += changed;
                    }
                    continue;
                }
                (KeyClass::Unlisted, value @ ValueRef::Str(_)) => self
                    .keys
                    .unlisted_rule()
                    .map_or(Outcome::Keep, |rule| rule.whole(value)),
                (KeyClass::Scan, ValueRef::Str(text)) => {
                    self.redactor
                        .redact_as(text, sanitizer, true, &mut self.scratch)
                }
                // An allowed key passes untouched, except for what its sanitizer rewrites.
                (KeyClass::Allowed, ValueRef::Str(text)) if sanitizer != Sanitizer::None => self
                    .redactor
                    .redact_as(text, sanitizer, false, &mut self.scratch),
                // Other allowed keys, and values that are not strings.
                _ => Outcome::Keep,
            };
            match outcome {
                Outcome::Keep => continue,
                Outcome::Replace(text) => edits.set_attribute(target, key, Value::Str(text)),
                Outcome::Drop(_) => edits.remove_attribute(target, key),
            }
            redacted += 1;
        }
        redacted
    }

    /// The redacted form of a span or event name or a status message, if anything matched. Text cannot be
    /// removed, so a `drop` rule replaces all of it with its mask.
    fn redact_text(&mut self, text: &str) -> Option<String> {
        match self.redactor.redact(text, &mut self.scratch) {
            Outcome::Keep => None,
            Outcome::Replace(text) => Some(text),
            Outcome::Drop(rule) => Some(rule.mask.clone()),
        }
    }

    /// Classifies every key of `batch` once, before its attributes are visited.
    fn classify_keys(&mut self, batch: &Batch) {
        self.key_classes.clear();
        if !self.keys.is_empty() {
            let keys = &self.keys;
            self.key_classes
                .extend(batch.keys.iter().map(|key| keys.classify(key)));
        }
        self.key_sanitizers.clear();
        let sanitizers = self.redactor.sanitizers();
        if sanitizers.has_keys() {
            self.key_sanitizers
                .extend(batch.keys.iter().map(|key| sanitizers.for_key(key)));
        }
    }

    /// The sanitizer the key of `view` selects.
    fn key_sanitizer(&self, batch: &Batch, view: &AttributeView) -> Sanitizer {
        let sanitizers = self.redactor.sanitizers();
        if !sanitizers.has_keys() {
            return Sanitizer::None;
        }
        match self.key_sanitizers.get(view.key as usize) {
            Some(&sanitizer) => sanitizer,
            None => sanitizers.for_key(batch.key(view)),
        }
    }

    /// The class of the key of `view`.
    fn key_class(&self, batch: &Batch, view: &AttributeView) -> KeyClass {
        if self.keys.is_empty() {
            return KeyClass::Scan;
        }
        match self.key_classes.get(view.key as usize) {
            Some(&class) => class,
            None => self.keys.classify(batch.key(view)),
        }
    }
}

impl Processor for PiiRedact {
    fn init(config: &str) -> Result<Self, String> {
        PiiRedact::from_config(&weft_sdk::parse_config(config)?)
    }

    /// Only what the config needs crosses into the plugin: string attributes (or every
    /// attribute, when denied keys must be caught whatever their type or arrays and key-value
    /// lists are scanned) of spans, events, links, resources and scopes; names and status
    /// messages only when they are scanned. With nothing scanning free text, only the
    /// sanitizers' keys (by name, when their patterns are plain keys).
    fn interest(&self) -> Interest {
        let mut interest = Interest::nothing();
        let scans = !self.redactor.is_empty() || !self.keys.is_empty();
        let selection = if self.keys.needs_all_values() || (scans && self.nested_values) {
            AttributeSelection::All
        } else if scans {
            AttributeSelection::Strings
        } else {
            self.redactor.sanitizers().key_selection()
        };
        if selection != AttributeSelection::None {
            interest.span_fields = interest.span_fields | SpanFields::EVENTS | SpanFields::LINKS;
            interest.span_attributes = selection.clone();
            interest.event_attributes = selection.clone();
            interest.link_attributes = selection.clone();
            interest.resource_attributes = selection.clone();
            interest.scope_attributes = selection;
        }
        if !self.redactor.is_empty() {
            if self.span_names {
                interest.span_fields = interest.span_fields | SpanFields::NAME;
            }
            if self.status_messages {
                interest.span_fields = interest.span_fields | SpanFields::STATUS;
            }
            if self.event_names {
                interest.span_fields = interest.span_fields | SpanFields::EVENTS;
            }
        }
        interest
    }

    fn process(&mut self, batch: &Batch, edits: &mut Edits) -> Result<(), String> {
        self.classify_keys(batch);
        let mut total = 0;
        for (index, resource) in batch.resources.iter().enumerate() {
            let target = Target::Resource(index as u32);
            total += self.redact_attributes(batch, resource.attributes, target, edits);
        }
        for (index, scope) in batch.scopes.iter().enumerate() {
            let target = Target::Scope(index as u32);
            total += self.redact_attributes(batch, scope.attributes, target, edits);
        }
        for (index, span) in batch.spans.iter().enumerate() {
            let span_index = index as u32;
            let mut redacted =
                self.redact_attributes(batch, span.attributes, Target::Span(span_index), edits);
            // Event and link targets count from 0 within their span, not across the batch.
            for (event, view) in batch.events(span.events).iter().enumerate() {
                let target = Target::Event((span_index, event as u32));
                redacted += self.redact_attributes(batch, view.attributes, target, edits);
                if self.event_names
                    && let Some(name) = self.redact_text(batch.text(view.name))
                {
                    edits.set_event_name(index, event, name);
                    redacted += 1;
                }
            }
            for (link, attributes) in batch
                .links(span.links)
                .iter()
                .map(|l| l.attributes)
                .enumerate()
            {
                let target = Target::Link((span_index, link as u32));
                redacted += self.redact_attributes(batch, attributes, target, edits);
            }
            if self.span_names
                && let Some(name) = self.redact_text(batch.text(span.name))
            {
                edits.set_name(index, name);
                redacted += 1;
            }
            if self.status_messages
                && let Some(message) = self.redact_text(batch.text(span.status.message))
            {
                edits.set_status(index, span.status.code, message);
                redacted += 1;
            }
            if redacted > 0
                && let Some(key) = &self.count_attribute
            {
                edits.set_span_attribute(index, key.as_str(), redacted as i64);
            }
            total += redacted;
        }
        if total > 0 {
            weft_sdk::log::counter_add("pii_redact.values_redacted", total as u64);
        }
        Ok(())
    }
}

/// The attribute views in `range`. Unlike [`Batch::attributes`], this keeps each attribute's
/// index into the key table, which [`PiiRedact::key_class`] looks up.
fn attribute_views(batch: &Batch, range: Range) -> &[AttributeView] {
    let len = batch.attributes.len();
    let start = (range.start as usize).min(len);
    let end = start.saturating_add(range.len as usize).min(len);
    &batch.attributes[start..end]
}

/// The keyed hasher, when `hash_key` is set.
fn hasher(config: &Config) -> Result<Option<Hasher>, String> {
    if !(8..=64).contains(&config.hash_length) {
        return Err(format!(
            "invalid config at `hash_length`: must be between 8 and 64, got {}",
            config.hash_length
        ));
    }
    let Some(key) = &config.hash_key else {
        return Ok(None);
    };
    if key.expose().len() < MIN_HASH_KEY_BYTES {
        return Err(format!(
            "invalid config at `hash_key`: must be at least {MIN_HASH_KEY_BYTES} bytes; \
             use a long random secret"
        ));
    }
    Hasher::new(key.expose().as_bytes(), config.hash_length).map(Some)
}

/// The enabled built-in detectors, then the custom patterns, with their rules.
fn redactor(config: &Config, hasher: Option<&Hasher>) -> Result<Redactor, String> {
    let mut redactor = Redactor::default();
    for builtin in Builtin::ALL {
        let settings = settings(&config.detectors, builtin);
        if !settings.enabled {
            continue;
        }
        let name = builtin.name();
        let mask = settings
            .replacement
            .clone()
            .unwrap_or_else(|| format!("[REDACTED:{name}]"));
        let path = format!("detectors.{name}.action");
        redactor.push(
            builtin.detector(),
            Rule::new(settings.action, mask, hasher, &path)?,
        );
    }
    for (index, pattern) in config.patterns.iter().enumerate() {
        let path = format!("patterns[{index}]");
        let name = &pattern.name;
        let valid_name = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
        if !valid_name {
            return Err(format!(
                "invalid config at `{path}.name`: {name:?} must be non-empty letters, digits, \
                 `_`, `-` or `.`"
            ));
        }
        let taken = Builtin::ALL.iter().any(|b| b.name() == name)
            || config.patterns[..index].iter().any(|p| &p.name == name);
        if taken {
            return Err(format!(
                "invalid config at `{path}.name`: the name {name:?} is already used"
            ));
        }
        let detector = Custom::new(&pattern.regex).map_err(|error| {
            format!("invalid config at `{path}.regex` (pattern {name:?}): {error}")
        })?;
        let mask = pattern
            .replacement
            .clone()
            .unwrap_or_else(|| format!("[REDACTED:{name}]"));
        let rule = Rule::new(pattern.action, mask, hasher, &format!("{path}.action"))?;
        redactor.push(Box::new(detector), rule);
    }
    Ok(redactor)
}

/// The settings of one built-in detector.
fn settings(detectors: &Detectors, builtin: Builtin) -> &DetectorConfig {
    match builtin {
        Builtin::Email => &detectors.email,
        Builtin::CreditCard => &detectors.credit_card,
        Builtin::Phone => &detectors.phone,
        Builtin::Ipv4 => &detectors.ipv4,
        Builtin::Ipv6 => &detectors.ipv6,
        Builtin::Jwt => &detectors.jwt,
        Builtin::BearerToken => &detectors.bearer_token,
        Builtin::Iban => &detectors.iban,
        Builtin::Ssn => &detectors.ssn,
        Builtin::Credential(credential) => credential.settings(detectors),
    }
}

/// The key rules.
fn key_policy(config: &Config, hasher: Option<&Hasher>) -> Result<KeyPolicy, String> {
    for (field, patterns) in [
        ("deny_keys", &config.deny_keys),
        ("allow_keys", &config.allow_keys),
    ] {
        if let Some(index) = patterns.iter().position(String::is_empty) {
            return Err(format!(
                "invalid config at `{field}[{index}]`: empty key pattern"
            ));
        }
    }
    // With no denied key the action never runs, so it must not demand a hash key.
    let deny_action = if config.deny_keys.is_empty() {
        Action::Mask
    } else {
        config.deny_action
    };
    let deny_rule = Rule::new(deny_action, DENIED_MASK.to_owned(), hasher, "deny_action")?;
    let allow = match config.mode {
        Mode::Detect if !config.allow_keys.is_empty() => {
            return Err(
                "invalid config at `allow_keys`: only used with mode = \"allow_list\"; \
                        set `mode` or remove the list"
                    .to_owned(),
            );
        }
        Mode::Detect => None,
        Mode::AllowList if config.allow_keys.is_empty() => {
            return Err(
                "invalid config at `allow_keys`: mode \"allow_list\" needs at least \
                        one allowed key pattern"
                    .to_owned(),
            );
        }
        Mode::AllowList => {
            let rule = Rule::new(
                config.unlisted_action,
                UNLISTED_MASK.to_owned(),
                hasher,
                "unlisted_action",
            )?;
            Some((config.allow_keys.as_slice(), rule))
        }
    };
    Ok(KeyPolicy::new(&config.deny_keys, deny_rule, allow))
}
