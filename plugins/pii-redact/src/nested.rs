//! Redacting inside arrays and key-value lists.
//!
//! Every string of a nested value is scanned as a top-level string value is, and each key of
//! a key-value list meets the key rules by its dotted path: the `authorization` entry of an
//! `http.request.header` list is `http.request.header.authorization`, so
//! `deny_keys = ["*.authorization"]` reaches it. The elements of an array share the array's
//! path. A denied path's value is redacted whole (a list or array under it too), an allowed
//! path's passes untouched (except for what its sanitizer rewrites and for denied keys
//! further down), and the sanitizers select by path as well.
//!
//! A clean value costs one walk and no allocation beyond the path; a value with a change is
//! written back whole, as the contract has no edit for one node of a value.

use weft_sdk::{Batch, NodeView, Value, ValueNode, ValueRef};

use crate::action::Outcome;
use crate::keys::{KeyClass, KeyPolicy};
use crate::redact::{Redactor, Scratch};
use crate::sanitize::Sanitizer;

/// The deepest a node of a value written back may sit (the root is at depth 0): the
/// contract's nesting limit. A value is written back only when something in it changed; a
/// list or array deeper than this is then replaced by [`TOO_DEEP_MASK`].
const MAX_DEPTH: usize = 20;

/// What replaces a list or array that sits deeper than [`MAX_DEPTH`] in a rewritten value.
const TOO_DEEP_MASK: &str = "[REDACTED:too_deep]";

/// What the rules do to one node.
enum Change {
    /// Its text becomes this string.
    Text(String),
    /// It leaves its array or key-value list.
    Remove,
}

/// The rules a walk applies.
pub(crate) struct Rules<'a> {
    pub(crate) redactor: &'a Redactor,
    pub(crate) keys: &'a KeyPolicy,
}

/// Redacts the nested value `nodes` (node 0 is the root) of attribute `key`, whose key rules
/// say `class`. Returns the value to write back and how many nodes changed, or `None` when
/// nothing did. `path` is a buffer reused from value to value.
pub(crate) fn redact_nested(
    rules: &Rules<'_>,
    scratch: &mut Scratch,
    path: &mut String,
    (key, class): (&str, KeyClass),
    nodes: &[NodeView],
    batch: &Batch,
) -> Option<(Value, usize)> {
    path.clear();
    path.push_str(key);
    let mut walk = Walk {
        rules,
        scratch,
        path,
        nodes,
        batch,
        changes: Vec::new(),
    };
    walk.node(0, class, 0);
    if walk.changes.is_empty() {
        return None;
    }
    let mut changes = walk.changes;
    changes.sort_unstable_by_key(|(index, _)| *index);
    let count = changes.len();
    let mut out = Vec::with_capacity(nodes.len());
    Rebuild {
        nodes,
        batch,
        changes: &changes,
    }
    .copy(0, 0, &mut out);
    Some((Value::Nested(out), count))
}

/// One walk over a nested value, collecting the changes its rules make.
struct Walk<'w, 'a> {
    rules: &'w Rules<'a>,
    scratch: &'w mut Scratch,
    /// The dotted path of the node being visited.
    path: &'w mut String,
    nodes: &'w [NodeView],
    batch: &'w Batch,
    changes: Vec<(u32, Change)>,
}

impl<'w, 'a> Walk<'w, 'a> {
    /// Visits node `index`, whose path has the key rules' verdict `class`. The host sends
    /// trees whose children come after their parent; anything else is not followed, and the
    /// depth is bounded besides.
    fn node(&mut self, index: u32, class: KeyClass, depth: usize) {
        if depth > u8::MAX as usize {
            return;
        }
        let (nodes, batch) = (self.nodes, self.batch);
        let Some(node) = nodes.get(index as usize) else {
            return;
        };
        match node {
            NodeView::Str(slice) => {
                let outcome = self.string(batch.text(*slice), class);
                self.record(index, outcome);
            }
            NodeView::Array(children) => {
                for &child in children.iter().filter(|&&child| child > index) {
                    self.node(child, class, depth + 1);
                }
            }
            NodeView::Kvlist(entries) => {
                for &(key, child) in entries.iter().filter(|(_, child)| *child > index) {
                    let len = self.path.len();
                    self.path.push('.');
                    self.path.push_str(batch.text(key));
                    match self.classify(class) {
                        KeyClass::Denied => {
                            let keys: &'a KeyPolicy = self.rules.keys;
                            let outcome = keys.deny_rule.whole(self.value(child));
                            self.record(child, outcome);
                        }
                        child_class => self.node(child, child_class, depth + 1),
                    }
                    self.path.truncate(len);
                }
            }
            // Scalars and bytes: only a denied path touches them, handled by its parent.
            _ => {}
        }
    }

    /// What the rules do to a string under a path whose verdict is `class`.
    fn string(&mut self, text: &str, class: KeyClass) -> Outcome<'a> {
        let (redactor, keys): (&'a Redactor, &'a KeyPolicy) =
            (self.rules.redactor, self.rules.keys);
        match class {
            KeyClass::Scan => {
                let sanitizer = self.sanitizer();
                redactor.redact_as(text, sanitizer, true, self.scratch)
            }
            KeyClass::Unlisted => keys
                .unlisted_rule()
                .map_or(Outcome::Keep, |rule| rule.whole(ValueRef::Str(text))),
            KeyClass::Allowed => match self.sanitizer() {
                Sanitizer::None => Outcome::Keep,
                sanitizer => redactor.redact_as(text, sanitizer, false, self.scratch),
            },
            KeyClass::Denied => keys.deny_rule.whole(ValueRef::Str(text)),
        }
    }

    /// The key rules' verdict on the current path, under a parent whose verdict is `parent`:
    /// below an allowed key only a denied path changes anything.
    fn classify(&self, parent: KeyClass) -> KeyClass {
        let keys = self.rules.keys;
        if keys.is_empty() {
            return KeyClass::Scan;
        }
        match keys.classify(self.path) {
            KeyClass::Denied => KeyClass::Denied,
            _ if parent == KeyClass::Allowed => KeyClass::Allowed,
            class => class,
        }
    }

    /// The sanitizer the current path selects.
    fn sanitizer(&self) -> Sanitizer {
        let sanitizers = self.rules.redactor.sanitizers();
        if sanitizers.has_keys() {
            sanitizers.for_key(self.path)
        } else {
            Sanitizer::None
        }
    }

    /// Node `index` as a value a rule can take whole.
    fn value(&self, index: u32) -> ValueRef<'w> {
        match self.nodes.get(index as usize) {
            None | Some(NodeView::Empty) => ValueRef::Empty,
            Some(NodeView::Str(s)) => ValueRef::Str(self.batch.text(*s)),
            Some(NodeView::Boolean(b)) => ValueRef::Bool(*b),
            Some(NodeView::Int(i)) => ValueRef::Int(*i),
            Some(NodeView::Double(d)) => ValueRef::Double(*d),
            Some(NodeView::Bytes(s)) => ValueRef::Bytes(self.batch.bytes(*s)),
            Some(NodeView::Array(_) | NodeView::Kvlist(_)) => {
                ValueRef::Nested(self.nodes, self.batch)
            }
        }
    }

    fn record(&mut self, index: u32, outcome: Outcome<'a>) {
        let change = match outcome {
            Outcome::Keep => return,
            Outcome::Replace(text) => Change::Text(text),
            Outcome::Drop(_) => Change::Remove,
        };
        self.changes.push((index, change));
    }
}

/// Writing a nested value back with its changes.
struct Rebuild<'r> {
    nodes: &'r [NodeView],
    batch: &'r Batch,
    /// Sorted by node index.
    changes: &'r [(u32, Change)],
}

impl Rebuild<'_> {
    fn change(&self, index: u32) -> Option<&Change> {
        self.changes
            .binary_search_by_key(&index, |(i, _)| *i)
            .ok()
            .map(|at| &self.changes[at].1)
    }

    fn removed(&self, index: u32) -> bool {
        matches!(self.change(index), Some(Change::Remove))
    }

    /// Appends node `index` (at `depth`) and what it holds to `out`, children after their
    /// parent; returns where it went.
    fn copy(&self, index: u32, depth: usize, out: &mut Vec<ValueNode>) -> u32 {
        let at = out.len();
        out.push(ValueNode::Empty);
        let node = match (self.change(index), self.nodes.get(index as usize)) {
            (Some(Change::Text(text)), _) => ValueNode::Str(text.clone()),
            (_, None | Some(NodeView::Empty)) | (Some(Change::Remove), _) => ValueNode::Empty,
            (None, Some(NodeView::Str(s))) => ValueNode::Str(self.batch.text(*s).to_owned()),
            (None, Some(NodeView::Boolean(b))) => ValueNode::Boolean(*b),
            (None, Some(NodeView::Int(i))) => ValueNode::Int(*i),
            (None, Some(NodeView::Double(d))) => ValueNode::Double(*d),
            (None, Some(NodeView::Bytes(s))) => ValueNode::Bytes(self.batch.bytes(*s).to_vec()),
            (None, Some(NodeView::Array(_) | NodeView::Kvlist(_))) if depth >= MAX_DEPTH => {
                ValueNode::Str(TOO_DEEP_MASK.to_owned())
            }
            (None, Some(NodeView::Array(children))) => {
                let kept: Vec<u32> = children
                    .iter()
                    .filter(|&&child| child > index && !self.removed(child))
                    .map(|&child| self.copy(child, depth + 1, out))
                    .collect();
                ValueNode::Array(kept)
            }
            (None, Some(NodeView::Kvlist(entries))) => {
                let kept: Vec<(String, u32)> = entries
                    .iter()
                    .filter(|&&(_, child)| child > index && !self.removed(child))
                    .map(|&(key, child)| {
                        let key = self.batch.text(key).to_owned();
                        (key, self.copy(child, depth + 1, out))
                    })
                    .collect();
                ValueNode::Kvlist(kept)
            }
        };
        out[at] = node;
        at as u32
    }
}
