//! Payment providers: Stripe and Square.

use super::format::{self, Format, any, base62, base64url};
use super::is_documented_example;

/// Stripe secret (`sk_`) and restricted (`rk_`) keys, live and test, and webhook signing
/// secrets (`whsec_`). Test-mode keys are masked too: they still give full access to the
/// account's test data and settings. Publishable keys (`pk_`) are meant to be public, and the
/// test keys printed in Stripe's API reference pass.
const STRIPE: &[Format] = &[Format {
    prefixes: &["sk_live_", "rk_live_", "sk_test_", "rk_test_", "whsec_"],
    alphabet: base62,
    min: 24,
    max: 247,
    valid: |token| !is_documented_example(token),
}];

/// Square access tokens (`sq0atp-`, 22 characters) and application secrets (`sq0csp-`, 43).
const SQUARE: &[Format] = &[
    Format {
        prefixes: &["sq0atp-"],
        alphabet: base64url,
        min: 22,
        max: 22,
        valid: any,
    },
    Format {
        prefixes: &["sq0csp-"],
        alphabet: base64url,
        min: 43,
        max: 43,
        valid: any,
    },
];

/// Finds Stripe keys.
pub(super) fn stripe_keys(text: &str, found: &mut dyn FnMut(usize, usize)) {
    format::scan(text, STRIPE, found);
}

/// Finds Square tokens.
pub(super) fn square_tokens(text: &str, found: &mut dyn FnMut(usize, usize)) {
    format::scan(text, SQUARE, found);
}

#[cfg(test)]
mod tests {
    use super::super::super::testing;
    use super::super::Credential;

    #[test]
    fn finds_stripe_keys() {
        let detector = Credential::StripeKey.detector();
        let live = "sk_live_51Hx8kQ2eZvKYlo2C9sT4uVwXyZ0aBcDeF";
        let restricted = "rk_test_7Gh2Jk4Lm6Np8Qr0St2Uv4Wx";
        let webhook = "whsec_Zy9xW8vU7tS6rQ5pO4nM3lK2jI1hG0fE";
        let yaml = format!("api_key: {live}");
        let header = format!("Authorization: Bearer {restricted}");
        testing::check(
            detector.as_ref(),
            &[
                (live, live),
                (restricted, restricted),
                (webhook, webhook),
                (&yaml, live),
                (&header, restricted),
            ],
            &[
                "sk_live_",
                "sk_test_",
                "sk_test_with_nothing_valid_after_it",
                "sk_live_xxxxxxxxxxxxxxxxxxxxxxxx",
                "sk_live_51Hx8kQ2eZvKYlo2C9sT4uV",
                "pk_live_51Hx8kQ2eZvKYlo2C9sT4uVwXyZ0aBcDeF",
                "disk_live_51Hx8kQ2eZvKYlo2C9sT4uVwXyZ0aBcDeF",
                "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
                "sk_test_BQokikJOvBiI2HlWgH4olfQ2",
            ],
        );
    }

    #[test]
    fn finds_square_tokens() {
        let detector = Credential::SquareToken.detector();
        let token = "sq0atp-Ab3dE_f6hIj-9lMn2pQr5t";
        let secret = "sq0csp-Uv8xYz1bCd4eFg7hIj0kLm3nOp6qRs9tUv2wXy5zA8b";
        let env = format!("SQUARE_TOKEN={token}");
        testing::check(
            detector.as_ref(),
            &[(token, token), (secret, secret), (&env, token)],
            &[
                "sq0atp-",
                "sq0atp-Ab3dE_f6hIj-9lMn2pQr",
                "sq0atp-Ab3dE_f6hIj-9lMn2pQr5tU",
                "sq0atp-xxxxxxxxxxxxxxxxxxxxxx",
                "sq0xyz-Ab3dE_f6hIj-9lMn2pQr5t",
            ],
        );
    }
}
