//! Weft reference processor: PII redaction.
//!
//! Finds personal data and credentials in span attributes, event attributes (an
//! `exception.message` quoting a customer's email is the classic leak), link attributes and
//! resource attributes, and optionally in span names and status messages, then masks, hashes
//! or drops it. Only the matched part of a value changes:
//! `"no account for bob@example.com"` becomes `"no account for [REDACTED:email]"`.
//!
//! # Configuration
//!
//! Every field is optional: `config = {}` runs every detector with the `mask` action. A
//! complete example:
//!
//! ```toml
//! [[processors]]
//! name = "redact"
//! plugin = "weft_plugin_pii_redact.wasm"
//! # If the redactor fails on a batch (a trap, the CPU deadline), drop the batch rather than
//! # export it unredacted.
//! on_error = "drop"
//!
//! [processors.config]
//! mode = "detect"                        # or "allow_list" (see below)
//! hash_key = "a-long-random-secret-of-32-bytes"   # required by the "hash" action, >= 16 bytes
//! hash_length = 16                       # hex characters kept in [HASH:...] (8 to 64)
//! redact_span_names = true               # default false
//! redact_status_messages = true          # default false
//! count_attribute = "weft.redacted_count"   # default: not recorded
//!
//! # Keys whose values are redacted whole, whatever their type. Globs: `*` and `?`,
//! # ASCII case ignored.
//! deny_keys = ["*.password", "http.request.header.authorization", "*secret*"]
//! deny_action = "drop"                   # "mask" (default), "hash" or "drop"
//!
//! [processors.config.detectors]         # each: enabled (true), action ("mask"), replacement
//! email = { action = "hash" }            # the same address always gives the same [HASH:...]
//! credit_card = { replacement = "[CARD]" }
//! phone = { action = "mask" }
//! ipv4 = { action = "hash" }
//! ipv6 = { action = "hash" }
//! jwt = { action = "mask" }
//! bearer_token = { action = "mask" }
//! iban = { action = "mask" }
//! ssn = { action = "drop" }
//!
//! [[processors.config.patterns]]         # your own, in regex crate syntax
//! name = "employee_id"
//! regex = "EMP-[0-9]{6}"
//! action = "mask"                        # default; also "hash" or "drop", and `replacement`
//! ```
//!
//! In allow-list mode only the listed keys pass untouched and every other string value is
//! redacted whole (`[REDACTED:unlisted_key]`); numbers and booleans pass, denied keys are
//! still denied, and the detectors only scan span names and status messages:
//!
//! ```toml
//! [processors.config]
//! mode = "allow_list"
//! allow_keys = ["service.*", "telemetry.sdk.*", "http.request.method", "http.route", "rpc.*"]
//! unlisted_action = "mask"               # "mask" (default), "hash" or "drop"
//! ```
//!
//! # Detectors
//!
//! | name | finds | confirmed by |
//! |---|---|---|
//! | `email` | `bob@example.com`, `bob%40example.com` | a letter TLD that is not a file extension (`logo@2x.png`) |
//! | `credit_card` | 13–19 digits, solid or grouped with spaces or dashes | Luhn, issuer digit 2–6, card-like grouping |
//! | `phone` | `+14155552671`, `+44 20 7946 0958`, `(415) 555-2671`, `020 7946 0958` | digit counts, North American area codes, one separator style |
//! | `ipv4`, `ipv6` | `203.0.113.9`, `2001:db8::1` | parsing with `std::net`; loopback and unspecified pass |
//! | `jwt` | `eyJ...`.`...`.`...` | three base64url segments |
//! | `bearer_token` | the token of `Bearer <token>` | 8+ characters with a digit or symbol |
//! | `iban` | `GB82 WEST 1234 5698 7654 32` | the country's registered length and mod-97 |
//! | `ssn` | `123-45-6789` | the issuable ranges (no `000`, `666`, `9xx`, `00`, `0000`) |
//!
//! Every detector also refuses matches glued to a longer identifier: `ord-2024-000123`,
//! `v10.4.1-beta`, UUIDs, trace ids, ISO and unix timestamps, ports and durations pass
//! untouched. The tests in each `src/detect/*.rs` file list what is found and what is not.
//!
//! # Actions
//!
//! - `mask`: the match becomes `[REDACTED:<detector>]`, or the rule's `replacement`.
//! - `hash`: the match becomes `[HASH:<hex>]`, an HMAC-SHA256 of it under `hash_key`, so one
//!   user's spans still group together while no one without the key can test guesses.
//!   Different spellings hash alike: `Bob@Example.com` and `bob%40example.com`, or
//!   `4111 1111 1111 1111` and `4111-1111-1111-1111`.
//! - `drop`: the whole attribute is removed. A span name or status message cannot be removed
//!   and is replaced by the rule's mask.
//!
//! # Cost
//!
//! Matching is linear in the size of the value, whatever it holds: the `regex` crate never
//! backtracks, the hand-written scanners and the key glob matcher visit each byte a bounded
//! number of times. One pass over a value's bytes tells each detector whether it can match at
//! all (no `@`, no email; fewer than 13 digits, no card), so clean values cost little, and a
//! clean value allocates nothing: strings are only built for values that change. Key rules
//! are evaluated once per distinct key per batch.
//!
//! # Limits
//!
//! Arrays and maps are not scanned (the host sends string attributes only, unless denied keys
//! need every type), nor are event names, scope attributes or trace state. Detection is
//! pattern-based: a phone number written as ten bare digits, or an address inside free text
//! in an unusual format, can pass. Use `deny_keys` or allow-list mode for fields that must
//! never leave.

pub mod config;

mod action;
mod detect;
mod glob;
mod keys;
mod processor;
mod redact;

pub use processor::PiiRedact;

weft_sdk::export_processor!(PiiRedact);
