//! Weft reference processor: PII redaction.
//!
//! Finds personal data and credentials in span names, event names and status messages, and in the
//! attributes of spans, events (an `exception.message` quoting a customer's email is the
//! classic leak), links, resources and instrumentation scopes, down through arrays and
//! key-value lists, then masks, hashes or drops it. Only the matched part of a value changes:
//! `"no account for bob@example.com"` becomes `"no account for [REDACTED:email]"`. URLs and
//! SQL statements are also rewritten by their structure (see [Sanitizers](#sanitizers)):
//! `postgres://app:s3cr3t@db/shop` keeps everything but its password, and
//! `WHERE email = 'bob@example.com'` becomes `WHERE email = ?`.
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
//! redact_span_names = true               # default true
//! redact_status_messages = true          # default true
//! redact_event_names = true              # default true
//! redact_nested_values = true            # default true: strings inside arrays and key-value lists
//! count_attribute = "weft.redacted_count"   # default: not recorded
//!
//! # Keys whose values are redacted whole, whatever their type. Globs: `*` and `?`,
//! # ASCII case ignored. A key inside a key-value list is matched by its dotted path
//! # (`http.request.header.authorization` for the `authorization` entry of that list).
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
//! private_key = { action = "drop" }      # the credential detectors take the same settings
//! github_token = { action = "hash" }     # the same token always gives the same [HASH:...]
//! stripe_key = { replacement = "[STRIPE]" }
//! secret_assignment = { enabled = false }   # the generic `password=...` rule
//!
//! [[processors.config.patterns]]         # your own, in regex crate syntax
//! name = "employee_id"
//! regex = "EMP-[0-9]{6}"
//! action = "mask"                        # default; also "hash" or "drop", and `replacement`
//!
//! [processors.config.sanitizers]         # each: enabled (true), keys, action ("mask"), replacement
//! # keys replace the default list (globs): add the semantic-convention keys you still want
//! url = { keys = ["url.full", "http.url", "app.callback_url"], in_text = true }
//! sql = { keys = ["db.statement", "db.query.text", "app.*.query"], replacement = "?" }
//! ```
//!
//! In allow-list mode only the listed keys pass untouched and every other string value is
//! redacted whole (`[REDACTED:unlisted_key]`); numbers and booleans pass, denied keys are
//! still denied, and the detectors only scan span and event names and status messages:
//!
//! ```toml
//! [processors.config]
//! mode = "allow_list"
//! allow_keys = ["service.*", "telemetry.sdk.*", "http.request.method", "http.route", "rpc.*"]
//! unlisted_action = "mask"               # "mask" (default), "hash" or "drop"
//! ```
//!
//! # Places scanned
//!
//! | place | on by default | setting |
//! |---|---|---|
//! | attributes of spans, events, links, resources and instrumentation scopes | yes | — |
//! | span names | yes | `redact_span_names` |
//! | span status messages | yes | `redact_status_messages` |
//! | event names | yes | `redact_event_names` (the edit is contract 0.3.0's `set-event-name`) |
//! | strings inside array and key-value-list values, to the contract's 20 levels | yes | `redact_nested_values` |
//! | keys inside key-value lists, for `deny_keys`, `allow_keys` and sanitizer keys | yes, by dotted path | `redact_nested_values` |
//! | trace state, scope names and versions, schema URLs | no | — |
//!
//! The end-to-end test `tests/tests/end_to_end/redaction_matrix.rs` plants one made-up example
//! of each of the 28 detectors and of the URL sanitizer's two rewrites (the `corpus` module,
//! built for tests) in each of 10 places (span name, status message, event name; span, event,
//! link, resource and scope attributes; an array element; a key-value-list entry), and the SQL
//! example in the 7 places a statement lives, and sends them through the embedded default
//! pipeline: **307 of 307 leave redacted**, and 17 look-alikes planted in the same 10 places
//! (170 placements: commit hashes, UUIDs, trace ids, documented example keys, bare prefixes,
//! parameterised SQL, URLs without secrets, paths, versions) leave byte for byte.
//!
//! # Detectors
//!
//! | name | finds | confirmed by | on by default |
//! |---|---|---|---|
//! | `email` | `bob@example.com`, `bob%40example.com` | a letter TLD that is not a file extension (`logo@2x.png`) | yes |
//! | `credit_card` | 13–19 digits, solid or grouped with spaces or dashes | Luhn, issuer digit 2–6, card-like grouping | yes |
//! | `phone` | `+14155552671`, `+44 20 7946 0958`, `(415) 555-2671`, `020 7946 0958` | digit counts, North American area codes, one separator style | yes |
//! | `ipv4`, `ipv6` | `203.0.113.9`, `2001:db8::1` | parsing with `std::net`; loopback and unspecified pass | yes |
//! | `jwt` | `eyJ...`.`...`.`...` | three base64url segments | yes |
//! | `bearer_token` | the token of `Bearer <token>` | 8+ characters with a digit or symbol | yes |
//! | `iban` | `GB82 WEST 1234 5698 7654 32` | the country's registered length and mod-97 | yes |
//! | `ssn` | `123-45-6789` | the issuable ranges (no `000`, `666`, `9xx`, `00`, `0000`) | yes |
//! | `private_key` | a PEM block, `-----BEGIN RSA PRIVATE KEY-----` (or `EC`, `OPENSSH`, `ENCRYPTED`, `PGP ... BLOCK`...) through its `END` line, or to the end of a value cut short | `PRIVATE KEY` in the label, 16+ base64 characters of key; public keys and certificates pass | yes |
//! | `aws_access_key` | `AKIA`, `ASIA`, `ABIA`, `ACCA` + 16 characters | the base32 alphabet (`A-Z`, `2-7`), exact length; AWS's documented `...EXAMPLE` ids pass | yes |
//! | `gcp_api_key` | `AIza` + 35 characters | URL-safe base64, exact length | yes |
//! | `azure_client_secret` | `a1B8Q~...`: 3 characters, a digit, `Q~`, 31–34 characters | the alphabet (`A-Za-z0-9_~.-`), lengths | yes |
//! | `digitalocean_token` | `dop_v1_`, `doo_v1_`, `dor_v1_` + 64 characters | lowercase hex, exact length | yes |
//! | `github_token` | `ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_` + 36 characters; `github_pat_` + 22 `_` 59 | the CRC-32 checksum in the last 6 characters; the fine-grained layout | yes |
//! | `gitlab_token` | `glpat-`, `glrt-`, `glptt-`, `gldt-`, `glcbt-`, `gloas-`... + 20 or more characters | URL-safe base64 | yes |
//! | `npm_token` | `npm_` + 36 characters | the CRC-32 checksum, as GitHub's | yes |
//! | `pypi_token` | `pypi-AgEIcHlwaS5vcmc...` (also TestPyPI's) | the macaroon header naming the index, 50+ characters after it | yes |
//! | `slack_token` | `xoxb-`, `xoxp-`, `xoxa-`, `xoxr-`, `xoxe-`, `xoxs-`, `xoxc-`, `xapp-` tokens | 20+ letters, digits and `-`, with a `-` and 3+ digits | yes |
//! | `slack_webhook` | the `T.../B.../<secret>` path of `https://hooks.slack.com/services/...` (the host stays) | the two ids, a 24-character secret | yes |
//! | `twilio_key` | `SK` + 32 characters | lowercase hex, exact length | yes |
//! | `stripe_key` | `sk_live_`, `rk_live_`, `sk_test_`, `rk_test_`, `whsec_` + 24 or more characters | letters and digits; publishable `pk_` keys and the test keys printed in Stripe's docs pass | yes |
//! | `square_token` | `sq0atp-` + 22, `sq0csp-` + 43 characters | URL-safe base64, exact lengths | yes |
//! | `sendgrid_key` | `SG.` + 22 + `.` + 43 characters | URL-safe base64, exact lengths | yes |
//! | `mailgun_key` | `key-` + 32 characters; `<32 hex>-<8 hex>-<8 hex>` | the alphabets, 2+ digits in the first form | yes |
//! | `mailchimp_key` | 32 hex digits + `-us6` (the data centre) | lowercase hex, `us` and one or two digits | yes |
//! | `ai_api_key` | `sk-` + 32 or more characters: OpenAI (`sk-proj-`...), Anthropic (`sk-ant-`...) and the like | at least two of lowercase, uppercase and digits | yes |
//! | `secret_assignment` | the value after a secret-like key name: `password=hunter2!x`, `"client_secret": "..."`, `x-api-key: ...`, `Authorization: Basic ...` (the key name stays) | 6+ characters that are not a plain word, placeholder, URL, path or version; after `token`, `auth` or `signature`, 8+ that look generated | yes |
//!
//! The tokens also need characters varied enough to be generated (a third of their length in
//! distinct characters, up to 8), which turns away placeholders like
//! `glpat-xxxxxxxxxxxxxxxxxxxx`, and must stand apart from the words around them (a `%22` or
//! `%3D` before them counts as apart). Test-mode Stripe keys are masked: they still open the
//! account's test data. A known format and `secret_assignment` often match the same bytes
//! (`api_key: sk_live_...`); the format names the mask (`api_key: [REDACTED:stripe_key]`), as
//! `jwt` and `bearer_token` do before it. The generic rule reads a key as the identifier before
//! `=`, `:`, `=>` or `:=`, split into words at `_`, `-`, `.` and case changes: it ends in
//! `password`, `passwd`, `pwd`, `pass`, `passphrase`, `secret`, `credential(s)`, or is `key`
//! after `api`, `access`, `secret`, `private`, `account` and the like (`AWS_SECRET_ACCESS_KEY`,
//! `AccountKey`, `x-api-key`); or, needing a value that looks generated (two digits, mixed
//! case, or a symbol), ends in `token`, `auth`, `authorization` or `signature`, or is `sig`.
//! `token expired`, `token: expired`, `password: reset`, `max_tokens=4096` and `PWD=/srv/app`
//! pass, and so does a URL's `app:password@` (the `url` sanitizer's).
//!
//! Every detector also refuses matches glued to a longer identifier: `ord-2024-000123`,
//! `v10.4.1-beta`, UUIDs, trace ids, ISO and unix timestamps, ports and durations pass
//! untouched. The tests in each `src/detect/*.rs` and `src/detect/secrets/*.rs` file list what is
//! found and what is not.
//!
//! # Sanitizers
//!
//! A sanitizer knows the structure of one kind of value and rewrites only the parts that are
//! data, so the value keeps its shape (and its cardinality stays low):
//!
//! | sanitizer | on by default | keys by default | rewrites | settings (`sanitizers.<name>`) |
//! |---|---|---|---|---|
//! | `url` | yes | `url.full`, `url.original`, `url.path`, `url.query`, `http.url`, `http.target`, `db.connection_string`; and every `scheme://` URL inside any other scanned string | the password of `scheme://user:password@host` → `[REDACTED:url_password]`; the value of a query, fragment or `;` parameter with a secret-like name → `[REDACTED:url_param]` (`?api_key=`, `#access_token=`, `X-Amz-Signature`, `sig`, `code`, `Password=` in a connection string) | `enabled`, `keys`, `in_text`, `secret_params`, `action`, `replacement` |
//! | `sql` | yes | `db.statement`, `db.query.text` | string literals (`'...'`, `N'...'`, `$$...$$`), numbers (`42`, `-1.5`, `0x1F`) and MySQL's double-quoted strings → `?`; an `IN` list of literals → `IN (?)`; comments removed | `enabled`, `keys`, `action`, `replacement` |
//!
//! For example `https://api.example.com/v1/items?api_key=abc123&limit=10` becomes
//! `https://api.example.com/v1/items?api_key=[REDACTED:url_param]&limit=10`, and
//! `SELECT * FROM users WHERE email = 'bob@example.com' AND id IN (1, 2, 3) -- lookup`
//! becomes `SELECT * FROM users WHERE email = ? AND id IN (?)`.
//!
//! - `keys` are globs like `deny_keys`; a list given replaces the default one. A key in both
//!   lists is a URL key. Key rules come first: a denied key is redacted whole, and in
//!   allow-list mode an unlisted key is redacted whole while an allowed key is still
//!   sanitized (and only sanitized).
//! - `url.secret_params` are globs of parameter names, matched after percent-decoding with
//!   ASCII case ignored; the default is [`config::SECRET_PARAMS`] (`*token`, `*secret*`,
//!   `*password*`, `key`, `*api?key`, `sig`, `*signature`, `*credential*`, `code`, session
//!   ids, ...). `token_type`, `max_tokens` or `keyword` stay.
//! - `url.in_text` (default `true`) also sanitizes URLs found inside any scanned string (an
//!   exception message quoting a connection URL), span and event names and status messages included
//!   when they are scanned. A URL there runs to the first whitespace, quote or angle bracket.
//! - `action` and `replacement` work as for detectors: `hash` writes `[HASH:...]` for each
//!   password, parameter value or literal; `drop` removes the attribute when the sanitizer
//!   finds one. SQL comments are removed whatever the action.
//!
//! Look-alikes pass byte for byte: parameterised statements (`WHERE id = $1`, `= ?`,
//! `= :name`, `= @p1`), identifiers with digits (`table2`, `col_1`), `TRUE`, `FALSE` and
//! `NULL`, URLs without a password or secret parameter, paths and version strings. Values
//! already redacted upstream (the conventions' `REDACTED`, `****`) are left alone.
//!
//! A sanitizer's rewrites win over the detectors' matches they overlap, and the detectors
//! still scan the rest of the value. The `@` that ends a URL's userinfo is never part of a
//! match: `app:s3cr3t@db.example.com` or `user@github.com` in a URL is a user and a host,
//! not an email address (a user name that is itself an address, `ftp://bob@example.com@host`,
//! is still found). The tests in `src/sanitize/*.rs` list what is rewritten and what is not.
//!
//! # Nested values
//!
//! Strings inside array and key-value-list values are scanned as any other string is
//! (`redact_nested_values = false` turns this off, and the host then sends string attributes
//! only). The keys of a key-value list meet `deny_keys`, `allow_keys` and the sanitizers'
//! `keys` by their dotted path: the `authorization` entry of an `http.request.header` list
//! is `http.request.header.authorization`; the elements of an array share the array's path.
//! A denied path's value is redacted whole, a list or array included, and `drop` removes that
//! entry or element rather than the attribute. An allowed key passes whole, except for the
//! denied keys below it and what its sanitizer rewrites. A value with anything to redact is
//! written back whole (the contract has no edit for one node); a list more than 20 levels
//! deep, the contract's limit, is then replaced by `[REDACTED:too_deep]`.
//!
//! # Actions
//!
//! - `mask`: the match becomes `[REDACTED:<detector>]`, or the rule's `replacement`.
//! - `hash`: the match becomes `[HASH:<hex>]`, an HMAC-SHA256 of it under `hash_key`, so one
//!   user's spans still group together while no one without the key can test guesses.
//!   Different spellings hash alike: `Bob@Example.com` and `bob%40example.com`, or
//!   `4111 1111 1111 1111` and `4111-1111-1111-1111`.
//! - `drop`: the whole attribute is removed. A span or event name or a status message cannot
//!   be removed and is replaced by the rule's mask.
//!
//! # Cost
//!
//! Matching is linear in the size of the value, whatever it holds: the `regex` crate never
//! backtracks, the hand-written scanners and the key glob matcher visit each byte a bounded
//! number of times. One pass over a value's bytes tells each detector whether it can match at
//! all (no `@`, no email; fewer than 13 digits, no card), so clean values cost little, and a
//! clean value allocates nothing: strings are only built for values that change. Key rules
//! are evaluated once per distinct key per batch. The sanitizers read a value once (SQL
//! dollar quotes add one forward search for their end tag); a clean URL or parameterised
//! statement produces no edit and allocates nothing, and with every detector and `in_text`
//! off the host sends only the sanitizers' keys (by name, when their patterns have no
//! wildcard).
//!
//! The credential detectors share a second prefilter: for a value long enough for any of them
//! (and, for the generic rule, holding an `=` or `:`), one more pass a word at a time marks the
//! bytes their formats are anchored on (`_`, `-`, `=`, `:`, `~`, `A`, `S`) and classifies each
//! mark by a few bytes around it (`ghp` before an `_`, a secret-like key before an `=`); only
//! the detectors whose format is anchored in the value are called, none on a clean value.
//! Clean values have few marks: a UUID's four dashes, a SQL statement's `=`.
//!
//! # Limits
//!
//! Trace state is not scanned (W3C trace state carries vendor keys, not text). Detection is
//! pattern-based: a phone number written as ten bare digits, or an address inside free text
//! in an unusual format, can pass. Use `deny_keys` or allow-list mode for fields that must
//! never leave.
//!
//! Credentials without a recognisable format (an AWS secret access key, a Twilio auth token,
//! a Heroku or Postmark key, which is a UUID) are found only after a secret-like key name, and
//! a password made of ordinary words (`password=sunshine`) cannot be told from prose by its
//! shape and passes. The generic rule reads `key=value` and `key: value` text, JSON and
//! headers, not XML elements (`<password>...</password>`); an unquoted value ends at white
//! space or `,;|&)]}>`, and a quoted one longer than 512 bytes is read as unquoted. Tokens
//! whose provider changes their format (a longer GitHub installation token, a new GitLab
//! scheme) need a new row here.
//!
//! The URL sanitizer keeps user names (`app` in `postgres://app:...@db`; the conventions
//! would have `url.full` carry `REDACTED` there too), masks only parameters whose names are
//! in `secret_params`, and does not look for `name=value` outside a URL in free text
//! (`retry with token=abc`). A password holding a raw `/`, `?`, `#` or whitespace, which no
//! URL parser reads as one, is not found.
//!
//! The SQL sanitizer reads SQL. Other languages in `db.statement` (Redis commands, MongoDB's
//! JSON) lose only their numbers and single-quoted strings, and the detectors scan the rest.
//! A backslash escapes the next character inside a string, as MySQL reads it (`'it\'s'`):
//! a standard-SQL string ending in a backslash (`'C:\'`) runs on to the next quote, masking
//! more than it should. Double-quoted text outside the places listed above is an identifier,
//! although MySQL in its default mode reads it as a string; MySQL's `#` comments are not
//! recognized. `TRUE`, `FALSE` and `NULL` stay; a length in a type is a number like any
//! other (`varchar(255)` becomes `varchar(?)`).

pub mod config;
#[cfg(any(test, feature = "corpus"))]
pub mod corpus;

mod action;
mod detect;
mod glob;
mod keys;
mod nested;
mod processor;
mod redact;
mod sanitize;

pub use processor::PiiRedact;

weft_sdk::export_processor!(PiiRedact);
