//! Proves the claim that a clean batch allocates nothing once the processor is warm: strings
//! are only built for values that change.
//!
//! The test binary counts the allocations of the current thread with a wrapper around the
//! system allocator. Implementing `GlobalAlloc` needs `unsafe`, which the workspace denies;
//! it is allowed here, in a test, and nowhere in the plugin.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use weft_plugin_pii_redact::PiiRedact;
use weft_sdk::Processor;
use weft_sdk::testing::{BatchBuilder, EventSpec, run};

/// The system allocator, counting allocations per thread.
struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to the system allocator; counting touches only a
// const-initialised thread-local `Cell`, which does not allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// How many allocations `f` makes on this thread.
fn allocations(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

#[test]
fn clean_batches_allocate_nothing_once_warm() {
    let config = r#"{
        "redact_span_names": true,
        "redact_status_messages": true,
        "deny_keys": ["*.password", "*secret*"],
        "patterns": [{"name": "employee_id", "regex": "EMP-[0-9]{6}"}]
    }"#;
    let mut processor = PiiRedact::init(config).unwrap_or_else(|e| panic!("{e}"));
    let clean = BatchBuilder::new()
        .resource_attribute("service.name", "checkout")
        .span_with("GET /api/v1/orders/{id}", |span| {
            span.status_message = "upstream timed out after 1500ms".into();
            span.events.push(EventSpec {
                name: "exception".into(),
                time_unix_nano: 1,
                attributes: vec![("exception.message".into(), "connection reset".into())],
            });
        })
        .attribute("url.path", "/api/v1/orders/ord-2024-000123")
        .attribute("created_at", "2024-01-15T10:30:00.123Z")
        .attribute("request.id", "123e4567-e89b-12d3-a456-426614174000")
        .attribute("server.address", "localhost:8080")
        .attribute("phone.like", "2024-01-15 10:30")
        .attribute("card.like", "4111 1111 1111 1112")
        .attribute("http.response.status_code", 200i64)
        // The sanitizers' keys, and a URL inside text, with nothing to rewrite.
        .attribute(
            "db.statement",
            "SELECT * FROM orders WHERE id = $1 LIMIT $2",
        )
        .attribute("url.full", "https://api.example.com/v1/items?limit=10#top")
        .attribute("url.original", "https://user@github.com/org/repo.git")
        .attribute("http.target", "/search?q=shoes&page=2")
        .attribute(
            "message",
            "see https://docs.example.com/errors?code_id=E1 for more",
        )
        .build();
    // The first batch warms the buffers and the regex caches.
    assert!(run(&mut processor, &clean).unwrap().is_empty());
    let count = allocations(|| {
        assert!(run(&mut processor, &clean).unwrap().is_empty());
    });
    assert_eq!(count, 0, "a clean batch allocated {count} times");

    let dirty = BatchBuilder::new()
        .span("a")
        .attribute("user.email", "bob@example.com")
        .build();
    let count = allocations(|| {
        assert_eq!(run(&mut processor, &dirty).unwrap().len(), 1);
    });
    assert!(count > 0, "a redaction builds its new value");
}
