//! Messaging providers: Slack tokens and incoming webhooks, Twilio API keys.

use super::format::{self, Format, any, base62, hex_lower};
use super::{ends_apart, looks_random};

/// Slack tokens: bot (`xoxb-`), user (`xoxp-`), workspace and legacy app (`xoxa-`), refresh
/// (`xoxr-`), configuration and rotated (`xoxe-`), session and client (`xoxs-`, `xoxc-`) and
/// app-level (`xapp-`) tokens. The body is groups of letters and digits joined by `-`, led by
/// numeric ids, so it has a `-` and digits.
const SLACK: &[Format] = &[Format {
    prefixes: &[
        "xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxe-", "xoxs-", "xoxc-", "xapp-",
    ],
    alphabet: |b| b.is_ascii_alphanumeric() || b == b'-',
    min: 20,
    max: 255,
    valid: |token| {
        let body = &token[5..];
        body.contains(&b'-') && body.iter().filter(|b| b.is_ascii_digit()).count() >= 3
    },
}];

/// Twilio API key SIDs: `SK`, then 32 lowercase hex digits. (Account SIDs, `AC...`, name an
/// account and are not secret.)
const TWILIO: &[Format] = &[Format {
    prefixes: &["SK"],
    alphabet: hex_lower,
    min: 32,
    max: 32,
    valid: any,
}];

/// The host and path before the secret part of a Slack incoming webhook URL.
const WEBHOOK_PATH: &str = "hooks.slack.com/services/";

/// Finds Slack tokens.
pub(super) fn slack_tokens(text: &str, found: &mut dyn FnMut(usize, usize)) {
    format::scan(text, SLACK, found);
}

/// Finds Twilio API keys.
pub(super) fn twilio_keys(text: &str, found: &mut dyn FnMut(usize, usize)) {
    format::scan(text, TWILIO, found);
}

/// Finds the secret part of Slack incoming webhook URLs,
/// `https://hooks.slack.com/services/T.../B.../<24 characters>`: the workspace id, the
/// webhook id and the secret, which together let anyone post to the channel. The host stays.
pub(super) fn slack_webhooks(text: &str, found: &mut dyn FnMut(usize, usize)) {
    let bytes = text.as_bytes();
    for (at, _) in text.match_indices(WEBHOOK_PATH) {
        let start = at + WEBHOOK_PATH.len();
        if let Some(end) = webhook_secret_end(bytes, start) {
            found(start, end);
        }
    }
}

/// Where the `T.../B.../secret` path starting at `start` ends, if it has that shape.
fn webhook_secret_end(bytes: &[u8], start: usize) -> Option<usize> {
    let id = |from: usize, first: u8| {
        let len = bytes[from..]
            .iter()
            .take(21)
            .take_while(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
            .count();
        (bytes.get(from) == Some(&first)
            && (9..=20).contains(&len)
            && bytes.get(from + len) == Some(&b'/'))
        .then_some(from + len + 1)
    };
    let webhook = id(start, b'T').and_then(|next| id(next, b'B'))?;
    let len = bytes[webhook..]
        .iter()
        .take(25)
        .take_while(|&&b| base62(b))
        .count();
    let end = webhook + len;
    (len == 24 && ends_apart(bytes, end) && looks_random(&bytes[webhook..end])).then_some(end)
}

#[cfg(test)]
mod tests {
    use super::super::super::testing;
    use super::super::Credential;

    #[test]
    fn finds_slack_tokens() {
        let detector = Credential::SlackToken.detector();
        let bot = "xoxb-2413057982-5718230946518-Zq8wRt3yUi6oPa1sDf4gHj7k";
        let user = format!(
            "xoxp-2413057982-3518230946-5718230946518-{}",
            "0f1e2d3c".repeat(4)
        );
        let app = format!("xapp-1-A05BC7DEF9G-5718230946518-{}", "9a8b7c6d".repeat(8));
        let config = format!(r#"{{"bot_token": "{bot}"}}"#);
        testing::check(
            detector.as_ref(),
            &[(bot, bot), (&user, &user), (&app, &app), (&config, bot)],
            &[
                "xoxb-",
                "xoxb-your-slack-bot-token-goes-here",
                "xoxb-0000000000-0000000000-000000000000",
                "xoxb-123-abc",
                "xoxz-2413057982-5718230946518-Zq8wRt3yUi6oPa1sDf4gHj7k",
                "axoxb-2413057982-5718230946518-Zq8wRt3yUi6oPa1sDf4gHj7k",
            ],
        );
    }

    #[test]
    fn finds_slack_webhook_secrets() {
        let detector = Credential::SlackWebhook.detector();
        let path = "T04AB7CD9EF/B05GH1JK3LM/Zq8wRt3yUi6oPa1sDf4gHj7k";
        let url = format!("https://hooks.slack.com/services/{path}");
        let message = format!("posting to {url}: 200 OK");
        testing::check(
            detector.as_ref(),
            &[(&url, path), (&message, path)],
            &[
                "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
                "https://hooks.slack.com/services/T04AB7CD9EF/B05GH1JK3LM/short",
                "https://hooks.slack.com/services/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X",
                "https://hooks.slack.com/services/",
                "https://hooks.slack.com/services/T04AB7CD9EF/",
                "https://api.slack.com/messaging/webhooks#posting_with_webhooks_and_more_text",
            ],
        );
    }

    #[test]
    fn finds_twilio_api_keys() {
        let detector = Credential::TwilioKey.detector();
        let key = format!("SK{}", "0f1e2d3c4b5a6978".repeat(2));
        let basic = format!("api key {key}:secret");
        testing::check(
            detector.as_ref(),
            &[(&key, &key), (&basic, &key)],
            &[
                "SK",
                &format!("SK{}", "0F1E2D3C4B5A6978".repeat(2)),
                &format!("SK{}", "0f1e2d3c4b5a6978"),
                &format!("SKU{}", "0f1e2d3c4b5a6978".repeat(2)),
                &format!("AC{}", "0f1e2d3c4b5a6978".repeat(2)),
                &format!("TASK{}", "0f1e2d3c4b5a6978".repeat(2)),
            ],
        );
    }
}
