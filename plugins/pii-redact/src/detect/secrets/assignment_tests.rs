//! The generic `key = value` rule on made-up secrets and on look-alikes.

use super::super::testing;
use super::Credential;
use super::assignment::key_before;

fn check(positives: &[(&str, &str)], negatives: &[&str]) {
    let detector = Credential::SecretAssignment.detector();
    testing::check(detector.as_ref(), positives, negatives);
}

#[test]
fn finds_values_after_secret_like_keys() {
    check(
        &[
            ("retrying with password=hunter2!x", "hunter2!x"),
            (
                "api_key: sk_live_51Hx8kQ2eZvKYlo2C9sT4uVwXyZ0",
                "sk_live_51Hx8kQ2eZvKYlo2C9sT4uVwXyZ0",
            ),
            ("DB_PASSWORD=Tr0ub4dor&3", "Tr0ub4dor&3"),
            (r#"{"client_secret": "p8Kq2mZx7Lw"}"#, "p8Kq2mZx7Lw"),
            (r#"{\"password\":\"s3cr3t-Pass\"}"#, "s3cr3t-Pass"),
            ("password = 'correct-h0rse'", "correct-h0rse"),
            ("x-api-key: 7d9f2a41c0b8e6d3", "7d9f2a41c0b8e6d3"),
            (
                "AWS_SECRET_ACCESS_KEY=wJ8rXUtnFEMI/K7MDENG/bPxRfiCYZZ0KEY2",
                "wJ8rXUtnFEMI/K7MDENG/bPxRfiCYZZ0KEY2",
            ),
            (
                "GET /login?user=bob&password=Swordfish9&next=/home",
                "Swordfish9",
            ),
            ("user[password]=Hunter22&commit=Sign+in", "Hunter22"),
            ("accessToken=abc123def456 expires=3600", "abc123def456"),
            (
                "Authorization: Basic dXNlcjpwYXNzd29yZA==",
                "dXNlcjpwYXNzd29yZA==",
            ),
            ("Authorization: Token 9f8e7d6c5b4a3210", "9f8e7d6c5b4a3210"),
            (
                "Authorization: AWS4-HMAC-SHA256 SignedHeaders=host, Signature=fe5f80f77d5fa3beca038a248ff027",
                "fe5f80f77d5fa3beca038a248ff027",
            ),
            (
                "DefaultEndpointsProtocol=https;AccountName=shop;AccountKey=Zm9vYmFy+YmF6cXV4/cXV1eA==;EndpointSuffix=core.windows.net",
                "Zm9vYmFy+YmF6cXV4/cXV1eA==",
            ),
            (
                "&X-Amz-Signature=7b0a3f9e2c1d4b5a69788796a5b4c3d2",
                "7b0a3f9e2c1d4b5a69788796a5b4c3d2",
            ),
            ("SECRET_KEY => 'dj4ng0-k3y!'", "dj4ng0-k3y!"),
            ("token := \"q1w2e3r4t5\"", "q1w2e3r4t5"),
            ("The password: Tr0ub4dor was rejected.", "Tr0ub4dor"),
            ("dbPassword=SuperSecret", "SuperSecret"),
            ("pwd=hunter2.", "hunter2"),
            (
                "https://token:q1w2e3r4t5y6@git.example.com/repo",
                "q1w2e3r4t5y6",
            ),
            (
                "Credentials(token='ya29.a0AfH6SMBx-1')",
                "ya29.a0AfH6SMBx-1",
            ),
            ("password=\"unterminated2", "unterminated2"),
        ],
        &[
            "password reset email sent",
            "token expired",
            "token: expired",
            "password: reset",
            "Password: Reset required",
            "invalid password: must contain a digit",
            "auth: ok",
            "auth: oauth2-client",
            "token: v2-deprecated",
            "password=sunshine",
            "password=********",
            "password: <redacted>",
            "password: [REDACTED:email]",
            "api_key=${API_KEY}",
            "api_key: $OPENAI_API_KEY",
            "password=%(db_password)s",
            "password={password}",
            "password: null",
            "token: 12345",
            "token_count=123456789 max_tokens=4096 token_type=bearer",
            "PWD=/home/app/releases/2024-01-15",
            "secret: ./config/secrets.yaml",
            "auth: https://auth.example.com/oauth2/token",
            "token: v10.4.1-beta",
            "password == hunter2!x",
            "if password != hunter2!x",
            "Token::Bearer",
            "postgres://app:Sup3rS3cret@db:5432/shop",
            "https://shop.example/cart?sort=price2&page=12",
            "session.id=123e4567-e89b-12d3-a456-426614174000",
            "monkey=banana123",
            "key=abc123def456",
            "Authorization: Bearer",
            "Authorization: Digest username=\"bob\", realm=\"shop\"",
            "WWW-Authenticate: Bearer realm=\"example\"",
            "passwords: 3 rotated",
            "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "api_key=sk_test_4eC39HqLyjWDarjtT1zdp7dc",
            "password: !",
            "password=",
            "password",
        ],
    );
}

#[test]
fn jwt_and_bearer_values_are_found_at_the_same_place() {
    // The specific detectors name the mask (they come first); the generic rule must cover
    // the same bytes, not more.
    let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
    let text = format!("Authorization: Bearer {jwt}");
    check(&[(&text, jwt)], &[]);
}

#[test]
fn keys_are_read_back_from_the_separator() {
    let key = |text: &str| key_before(text.as_bytes(), text.rfind(['=', ':']).unwrap()).is_some();
    for secret_like in [
        "password=",
        "Password:",
        "\"password\" :",
        "'passwd'=",
        "\\\"pwd\\\":",
        "db.password=",
        "spring.datasource.password=",
        "AWS_SECRET_ACCESS_KEY=",
        "SharedAccessKey=",
        "APIKey:",
        "apiKey:",
        "x-api-key:",
        "client_secret=",
        "clientSecret:",
        "private_key:",
        "refresh_token=",
        "X-Auth-Token:",
        "authorization:",
        "sig=",
        "X-Amz-Signature=",
        "user[password]=",
        "--password=",
        "credentials:",
        "pass=",
    ] {
        assert!(key(secret_like), "{secret_like:?}");
    }
    for ordinary in [
        "key=",
        "monkey=",
        "token_count=",
        "max_tokens=",
        "passwords=",
        "bypass=",
        "password_hash=",
        "session_id=",
        "id=",
        "https:",
        "a::",
        "x ==",
        "=",
        &format!("{}password=", "a".repeat(70)),
    ] {
        assert!(!key(ordinary), "{ordinary:?}");
    }
}

#[test]
fn long_runs_of_separators_are_scanned_in_linear_time() {
    // Every separator follows a secret-like key and its value is not a secret; without the
    // cached run end each would scan the rest of the value.
    let text = "auth=h://".repeat(20_000);
    let detector = Credential::SecretAssignment.detector();
    assert!(testing::matches(detector.as_ref(), &text).len() <= 1);
    let text = format!("{}x", "password=\"".repeat(20_000));
    assert!(testing::matches(detector.as_ref(), &text).len() <= 20_000);
}
