//! Weft reference processor: attribute enrichment.
//!
//! Adds, changes, copies, renames and deletes span attributes, with the insert / update /
//! upsert semantics of the OpenTelemetry Collector's attributes processor, optionally only on
//! spans that match conditions, and derives values: route templates from high-cardinality
//! paths, and values extracted from other attributes by a pattern.
//!
//! ```toml
//! [[processors]]
//! name = "enrich"
//! plugin = "builtin:enrich"
//! [processors.config]
//! actions = [
//!   { action = "upsert", key = "deployment.environment", value = "prod" },
//!   { action = "insert", key = "team", value = "payments", when = { service = "checkout" } },
//!   { action = "copy", key = "service.version", from_resource = "service.version" },
//!   { action = "rename", key = "user.id", from_attribute = "enduser.id" },
//!   { action = "normalize_route", key = "http.route", from_attribute = "url.path" },
//!   { action = "extract", key = "tenant", from_attribute = "url.path", pattern = "^/t/(?P<value>[a-z0-9-]+)/" },
//!   { action = "delete", key = "http.request.header.cookie" },
//!   { action = "update", key = "db.statement", value = "[omitted]", when = { kind = "client", span_name = "SELECT*" } },
//! ]
//! ```
//!
//! Actions run in order on every span, and each sees the results of the ones before it (a
//! `rename` followed by an `update` of the new key works). The processor reads only the
//! attributes its actions and conditions name.

mod config;
mod route;

use regex::Regex;
use weft_sdk::{
    AttributeSelection, Batch, Edits, Interest, Processor, Span, SpanFields, SpanKind, Value,
    ValueRef,
};

use config::{ActionConfig, ActionKind, Condition, Config};
pub use route::normalize_route;

/// A validated action.
struct Action {
    kind: ActionKind,
    key: String,
    value: Option<Value>,
    source: Source,
    pattern: Option<Regex>,
    when: Condition,
    kind_filter: Option<SpanKind>,
}

impl Action {
    /// An `upsert` (of its fixed value) with no `when`: it sets the same value on every span.
    fn is_unconditional_upsert(&self) -> bool {
        let Condition {
            service,
            kind,
            span_name,
            attribute,
        } = &self.when;
        matches!(self.kind, ActionKind::Upsert)
            && self.value.is_some()
            && service.is_none()
            && kind.is_none()
            && span_name.is_none()
            && attribute.is_none()
    }
}

/// Where a derived action reads its input.
enum Source {
    None,
    Span(String),
    Resource(String),
}

/// The enrichment processor.
pub struct Enrich {
    actions: Vec<Action>,
    /// Changes made to the current span so far: later actions read these first.
    overlay: Vec<(String, Option<Value>)>,
    /// How many actions, from the first, are unconditional upserts: each is one edit for the
    /// whole batch (see [`Enrich::process`]).
    leading_upserts: usize,
}

impl Processor for Enrich {
    fn init(config: &str) -> Result<Self, String> {
        let config: Config = weft_sdk::parse_config(config)?;
        let actions = config
            .actions
            .into_iter()
            .enumerate()
            .map(|(i, a)| validate(a).map_err(|e| format!("invalid config at `actions[{i}]`: {e}")))
            .collect::<Result<Vec<Action>, _>>()?;
        let leading_upserts = actions
            .iter()
            .take_while(|action| action.is_unconditional_upsert())
            .count();
        Ok(Enrich {
            actions,
            overlay: Vec::new(),
            leading_upserts,
        })
    }

    fn interest(&self) -> Interest {
        let mut interest = Interest::nothing();
        let mut span_keys = Vec::new();
        let mut resource_keys = Vec::new();
        for action in &self.actions {
            if matches!(action.kind, ActionKind::Insert | ActionKind::Update) {
                span_keys.push(action.key.clone());
            }
            match &action.source {
                Source::Span(key) => span_keys.push(key.clone()),
                Source::Resource(key) => resource_keys.push(key.clone()),
                Source::None => {}
            }
            if action.when.service.is_some() {
                resource_keys.push("service.name".to_owned());
            }
            if let Some(attribute) = &action.when.attribute {
                span_keys.push(attribute.key.clone());
            }
            if action.when.span_name.is_some() {
                interest.span_fields = interest.span_fields | SpanFields::NAME;
            }
            if action.when.kind.is_some() {
                interest.span_fields = interest.span_fields | SpanFields::KIND;
            }
        }
        span_keys.sort();
        span_keys.dedup();
        resource_keys.sort();
        resource_keys.dedup();
        if !span_keys.is_empty() {
            interest.span_attributes = AttributeSelection::Keys(span_keys);
        }
        if !resource_keys.is_empty() {
            interest.resource_attributes = AttributeSelection::Keys(resource_keys);
        }
        interest
    }

    fn process(&mut self, batch: &Batch, edits: &mut Edits) -> Result<(), String> {
        // Leading upserts of a fixed value, with no condition, set the same attribute on every
        // span: one edit for the whole batch instead of one per span. Every span's edits keep
        // their order (these come first either way), and the overlay, seeded once, still shows
        // the values to the actions after them.
        let fixed = self.leading_upserts;
        self.overlay.clear();
        for action in &self.actions[..fixed] {
            if let Some(value) = &action.value
                && !batch.spans.is_empty()
            {
                edits.set_spans_attribute(0..batch.spans.len(), action.key.as_str(), value.clone());
            }
            self.overlay
                .push((action.key.clone(), action.value.clone()));
        }
        let seeded = self.overlay.len();
        for (index, span) in batch.spans.iter().enumerate() {
            self.overlay.truncate(seeded);
            for action in &self.actions[fixed..] {
                if !matches(action, batch, span, &self.overlay) {
                    continue;
                }
                apply(action, batch, span, index, &mut self.overlay, edits);
            }
        }
        Ok(())
    }
}

fn validate(config: ActionConfig) -> Result<Action, String> {
    let needs_value = matches!(
        config.action,
        ActionKind::Insert | ActionKind::Update | ActionKind::Upsert
    );
    if needs_value != config.value.is_some() {
        return Err(if needs_value {
            format!("`{:?}` needs a `value`", config.action).to_lowercase()
        } else {
            "`value` is only for insert, update and upsert".to_owned()
        });
    }
    if config.key.is_empty() {
        return Err("`key` must not be empty".into());
    }
    let source = match (config.action, config.from_attribute, config.from_resource) {
        (ActionKind::Copy, Some(_), Some(_)) => {
            return Err("give `from_attribute` or `from_resource`, not both".into());
        }
        (ActionKind::Copy, Some(key), None) => Source::Span(key),
        (ActionKind::Copy, None, Some(key)) => Source::Resource(key),
        (ActionKind::Copy, None, None) => {
            return Err("`copy` needs `from_attribute` or `from_resource`".into());
        }
        (ActionKind::Rename | ActionKind::Extract, Some(key), None) => Source::Span(key),
        (ActionKind::Rename | ActionKind::Extract, None, _) => {
            return Err("this action needs `from_attribute`".into());
        }
        (ActionKind::NormalizeRoute, from, None) => {
            Source::Span(from.unwrap_or_else(|| "url.path".to_owned()))
        }
        (_, None, None) => Source::None,
        _ => return Err("`from_attribute` / `from_resource` do not apply to this action".into()),
    };
    let pattern = match (config.action, config.pattern) {
        (ActionKind::Extract, Some(pattern)) => {
            let regex = Regex::new(&pattern).map_err(|e| format!("invalid `pattern`: {e}"))?;
            if regex.captures_len() < 2 {
                return Err("`pattern` needs a capture group (or a group named `value`)".into());
            }
            Some(regex)
        }
        (ActionKind::Extract, None) => return Err("`extract` needs a `pattern`".into()),
        (_, Some(_)) => return Err("`pattern` is only for extract".into()),
        (_, None) => None,
    };
    let kind_filter = match config.when.kind.as_deref() {
        None => None,
        Some(kind) => Some(parse_kind(kind).ok_or_else(|| {
            format!("unknown span kind {kind:?} in `when.kind`; use internal, server, client, producer, consumer or unspecified")
        })?),
    };
    Ok(Action {
        kind: config.action,
        key: config.key,
        value: config.value.as_ref().map(Value::from),
        source,
        pattern,
        when: config.when,
        kind_filter,
    })
}

fn parse_kind(kind: &str) -> Option<SpanKind> {
    Some(match kind {
        "unspecified" => SpanKind::Unspecified,
        "internal" => SpanKind::Internal,
        "server" => SpanKind::Server,
        "client" => SpanKind::Client,
        "producer" => SpanKind::Producer,
        "consumer" => SpanKind::Consumer,
        _ => return None,
    })
}

/// The current string value of span attribute `key`, overlay first.
fn current<'a>(
    batch: &'a Batch,
    span: &Span,
    overlay: &'a [(String, Option<Value>)],
    key: &str,
) -> Option<Current<'a>> {
    if let Some((_, value)) = overlay.iter().rev().find(|(k, _)| k == key) {
        return value.as_ref().map(Current::Written);
    }
    batch.attribute(span.attributes, key).map(Current::Read)
}

/// A value read from the batch, or written earlier in this span's actions.
enum Current<'a> {
    Read(ValueRef<'a>),
    Written(&'a Value),
}

impl Current<'_> {
    fn as_str(&self) -> Option<&str> {
        match self {
            Current::Read(v) => v.as_str(),
            Current::Written(Value::Str(s)) => Some(s),
            Current::Written(_) => None,
        }
    }

    fn to_value(&self) -> Value {
        match self {
            Current::Read(v) => v.to_value(),
            Current::Written(v) => (*v).clone(),
        }
    }
}

fn matches(
    action: &Action,
    batch: &Batch,
    span: &Span,
    overlay: &[(String, Option<Value>)],
) -> bool {
    let when = &action.when;
    if let Some(service) = &when.service
        && batch.service_name(span) != Some(service.as_str())
    {
        return false;
    }
    if let Some(kind) = action.kind_filter
        && span.kind != kind
    {
        return false;
    }
    if let Some(pattern) = &when.span_name {
        let name = batch.text(span.name);
        let matched = match pattern.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix),
            None => name == pattern,
        };
        if !matched {
            return false;
        }
    }
    if let Some(attribute) = &when.attribute {
        let value = current(batch, span, overlay, &attribute.key);
        let matched = match (&value, &attribute.value) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(v), Some(expected)) => v.as_str() == Some(expected.as_str()),
        };
        if !matched {
            return false;
        }
    }
    true
}

fn apply(
    action: &Action,
    batch: &Batch,
    span: &Span,
    index: usize,
    overlay: &mut Vec<(String, Option<Value>)>,
    edits: &mut Edits,
) {
    let present = || current(batch, span, overlay, &action.key).is_some();
    let new_value = match action.kind {
        ActionKind::Insert if present() => None,
        ActionKind::Update if !present() => None,
        ActionKind::Insert | ActionKind::Update | ActionKind::Upsert => action.value.clone(),
        ActionKind::Delete => {
            // Removing an absent key is a no-op for the host, so the processor need not read
            // the key to delete it; skip only what an earlier action already removed.
            let removed = overlay
                .iter()
                .rev()
                .find(|(k, _)| *k == action.key)
                .is_some_and(|(_, v)| v.is_none());
            if !removed {
                edits.remove_span_attribute(index, action.key.as_str());
                overlay.push((action.key.clone(), None));
            }
            None
        }
        ActionKind::Copy => match &action.source {
            Source::Resource(key) => resource_value(batch, span, key),
            Source::Span(key) => current(batch, span, overlay, key).map(|v| v.to_value()),
            Source::None => None,
        },
        ActionKind::Rename => {
            let Source::Span(from) = &action.source else {
                return;
            };
            let value = current(batch, span, overlay, from).map(|v| v.to_value());
            if value.is_some() && *from != action.key {
                edits.remove_span_attribute(index, from.as_str());
                overlay.push((from.clone(), None));
            }
            value
        }
        ActionKind::NormalizeRoute => {
            let Source::Span(from) = &action.source else {
                return;
            };
            current(batch, span, overlay, from)
                .and_then(|v| v.as_str().map(|p| Value::Str(normalize_route(p))))
        }
        ActionKind::Extract => {
            let (Source::Span(from), Some(pattern)) = (&action.source, &action.pattern) else {
                return;
            };
            current(batch, span, overlay, from).and_then(|v| {
                let captures = pattern.captures(v.as_str()?)?;
                let group = captures.name("value").or_else(|| captures.get(1))?;
                Some(Value::Str(group.as_str().to_owned()))
            })
        }
    };
    if let Some(value) = new_value {
        edits.set_span_attribute(index, action.key.as_str(), value.clone());
        overlay.push((action.key.clone(), Some(value)));
    }
}

fn resource_value(batch: &Batch, span: &Span, key: &str) -> Option<Value> {
    let scope = batch.scopes.get(span.scope as usize)?;
    let resource = batch.resources.get(scope.resource as usize)?;
    batch
        .attribute(resource.attributes, key)
        .map(|v| v.to_value())
}

weft_sdk::export_processor!(Enrich);

#[cfg(test)]
mod tests;
