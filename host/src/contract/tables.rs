//! The tables of a view, as the view builder fills them: in order of its walk, each item
//! complete, into record lists or packed rows (both layouts implement [`Tables`]).

use super::bindings::{AttributeView, Batch, Event, Link, Resource, Scope, Span};

/// What an attribute row belongs to (its `owner-kind` byte).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Owner {
    /// `owner` indexes the resource table.
    Resource = 0,
    /// `owner` indexes the scope table.
    Scope = 1,
    /// `owner` indexes the span table.
    Span = 2,
    /// `owner` indexes the event table.
    Event = 3,
    /// `owner` indexes the link table.
    Link = 4,
}

/// How many items of each table a view holds: known before it is built for every table but
/// `attributes` (which depends on the values), counted up while it is built.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub resources: u32,
    pub scopes: u32,
    pub spans: u32,
    pub events: u32,
    pub links: u32,
    pub attributes: u32,
}

/// Where a view's items go as [`ViewBuilder`] walks a request, in the order of the walk:
/// the record lists of the `Batch` ([`Records`]), or the rows of the packed layout
/// ([`PackedRows`]). Each item arrives complete, with its ranges into the tables.
pub trait Tables {
    /// The next resource.
    fn resource(&mut self, batch: &mut Batch, resource: Resource);
    /// The next scope.
    fn scope(&mut self, batch: &mut Batch, scope: Scope);
    /// The next span.
    fn span(&mut self, batch: &mut Batch, span: Span);
    /// The next event; it belongs to span `span` (the index the span will have).
    fn event(&mut self, batch: &mut Batch, event: Event, span: u32);
    /// The next link; it belongs to span `span`.
    fn link(&mut self, batch: &mut Batch, link: Link, span: u32);
    /// The next attribute; it belongs to item `index` of the `owner` table.
    fn attribute(&mut self, batch: &mut Batch, attribute: AttributeView, owner: Owner, index: u32);
}

/// Items as records, in the `Batch`'s lists.
pub struct Records;

impl Tables for Records {
    fn resource(&mut self, batch: &mut Batch, resource: Resource) {
        batch.resources.push(resource);
    }

    fn scope(&mut self, batch: &mut Batch, scope: Scope) {
        batch.scopes.push(scope);
    }

    fn span(&mut self, batch: &mut Batch, span: Span) {
        batch.spans.push(span);
    }

    fn event(&mut self, batch: &mut Batch, event: Event, _span: u32) {
        batch.events.push(event);
    }

    fn link(&mut self, batch: &mut Batch, link: Link, _span: u32) {
        batch.links.push(link);
    }

    fn attribute(&mut self, batch: &mut Batch, attribute: AttributeView, _: Owner, _: u32) {
        batch.attributes.push(attribute);
    }
}
