//! AI providers' `sk-` keys.

use super::format::{self, Format, base64url};

/// Keys of OpenAI (`sk-`, `sk-proj-`, `sk-svcacct-`, `sk-admin-`), Anthropic (`sk-ant-`) and
/// the providers that copied the scheme: `sk-`, then 32 or more URL-safe base64 characters.
/// `sk-` is a short prefix, so the body must mix at least two of lowercase letters,
/// uppercase letters and digits: a long kebab-case name after `sk-` is not a key.
const AI: &[Format] = &[Format {
    prefixes: &["sk-"],
    alphabet: base64url,
    min: 32,
    max: 300,
    valid: |token| {
        let body = &token[3..];
        let has = |class: fn(&u8) -> bool| body.iter().any(class);
        let classes = [
            has(u8::is_ascii_lowercase),
            has(u8::is_ascii_uppercase),
            has(u8::is_ascii_digit),
        ];
        classes.iter().filter(|&&present| present).count() >= 2
    },
}];

/// Finds AI providers' keys.
pub(super) fn ai_api_keys(text: &str, found: &mut dyn FnMut(usize, usize)) {
    format::scan(text, AI, found);
}

#[cfg(test)]
mod tests {
    use super::super::super::testing;
    use super::super::Credential;

    #[test]
    fn finds_ai_provider_keys() {
        let detector = Credential::AiApiKey.detector();
        let legacy = "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";
        let project = format!("sk-proj-{}", "Ab3_dEf6-hIj9lMn2pQr5tUv8".repeat(6));
        let anthropic = format!(
            "sk-ant-api03-{}AA",
            "Zy9xW8vU7tS6rQ5pO4nM-3lK2jI1hG0_".repeat(3)
        );
        let hex = format!("sk-{}", "0f1e2d3c4b5a6978".repeat(2));
        let header = format!("Authorization: Bearer {project}");
        let env = format!("OPENAI_API_KEY={legacy}");
        testing::check(
            detector.as_ref(),
            &[
                (legacy, legacy),
                (&project, &project),
                (&anthropic, &anthropic),
                (&hex, &hex),
                (&header, &project),
                (&env, legacy),
            ],
            &[
                "sk-",
                "sk-proj-",
                "sk-this-is-not-a-key-but-a-long-kebab-case-name",
                "sk-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                "sk-Ab3dEf6hIj9lMn2pQr5tUv8xYz1bCd4",
                "task-Ab3dEf6hIj9lMn2pQr5tT3BlbkFJUv8xYz1bCd4eFg7hIj0k",
                "risk-Ab3dEf6hIj9lMn2pQr5tT3BlbkFJUv8xYz1bCd4eFg7hIj0k",
            ],
        );
    }
}
