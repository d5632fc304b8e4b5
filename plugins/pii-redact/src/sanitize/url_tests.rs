//! Tests of the URL sanitizer (`url.rs`).
use super::*;
use crate::config::SECRET_PARAMS;

fn url() -> Url {
    let params: Vec<String> = SECRET_PARAMS.iter().map(|&p| p.to_owned()).collect();
    Url::new(&params, ["[P]".to_owned(), "[Q]".to_owned()])
}

/// `text` with each rewrite applied: `[P]` for a password, `[Q]` for a parameter value.
fn apply(text: &str, rewrites: Vec<Rewrite>) -> String {
    let mut out = String::new();
    let mut copied = 0;
    for r in rewrites {
        assert!(r.start >= copied, "overlapping rewrites in {text:?}");
        out.push_str(&text[copied..r.start]);
        out.push_str(match r.fill {
            Fill::Password => "[P]",
            Fill::Param => "[Q]",
            Fill::Keep => &text[r.start..r.end],
            other => panic!("unexpected fill {other:?}"),
        });
        copied = r.end;
    }
    out.push_str(&text[copied..]);
    out
}

fn value(text: &str) -> String {
    let mut out = Vec::new();
    url().rewrite_value(text, &mut Vec::new(), &mut out);
    super::super::normalize(&mut out);
    apply(text, out)
}

fn in_text(text: &str) -> String {
    let mut out = Vec::new();
    url().rewrite_in_text(text, &mut Vec::new(), &mut out);
    super::super::normalize(&mut out);
    apply(text, out)
}

#[test]
fn masks_userinfo_passwords() {
    for (text, expected) in [
        (
            "postgres://app:s3cr3t@db:5432/shop",
            "postgres://app:[P]@db:5432/shop",
        ),
        (
            "postgresql://app:s3cr3t@db.example.com/shop?sslmode=require",
            "postgresql://app:[P]@db.example.com/shop?sslmode=require",
        ),
        ("redis://:hunter2@cache:6379/0", "redis://:[P]@cache:6379/0"),
        (
            "mongodb+srv://admin:p%40ss@cluster0.example.net/db",
            "mongodb+srv://admin:[P]@cluster0.example.net/db",
        ),
        // A raw `@` in the password: the userinfo ends at the authority's last `@`.
        ("https://u:p@ss@host/x", "https://u:[P]@host/x"),
        ("https://u:p:w@host", "https://u:[P]@host"),
        ("HTTPS://U:PW@HOST", "HTTPS://U:[P]@HOST"),
        (
            "jdbc:mysql://root:toor@db:3306/app",
            "jdbc:mysql://root:[P]@db:3306/app",
        ),
        (
            "amqp://guest:guest@[2001:db8::1]:5672/vhost",
            "amqp://guest:[P]@[2001:db8::1]:5672/vhost",
        ),
        ("//u:pw@host/path", "//u:[P]@host/path"),
    ] {
        assert_eq!(value(text), expected, "{text:?}");
    }
}

#[test]
fn masks_secret_query_and_fragment_values() {
    for (text, expected) in [
        (
            "https://api.example.com/v1/items?api_key=abc123&limit=10",
            "https://api.example.com/v1/items?api_key=[Q]&limit=10",
        ),
        (
            "https://app.example.com/cb#access_token=eyJabc.def&token_type=bearer&expires_in=3600",
            "https://app.example.com/cb#access_token=[Q]&token_type=bearer&expires_in=3600",
        ),
        (
            "https://bucket.s3.amazonaws.com/k.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEXAMPLE%2F20240101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20240101T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=0f1e2d3c",
            "https://bucket.s3.amazonaws.com/k.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=[Q]&X-Amz-Date=20240101T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=[Q]",
        ),
        (
            "https://acct.blob.core.windows.net/c/b?sv=2020-08-04&sp=r&sig=abc%2Bdef%3D",
            "https://acct.blob.core.windows.net/c/b?sv=2020-08-04&sp=r&sig=[Q]",
        ),
        (
            "https://s3.amazonaws.com/b/k?AWSAccessKeyId=AKIAEXAMPLE&Expires=1700000000&Signature=abc%3D",
            "https://s3.amazonaws.com/b/k?AWSAccessKeyId=[Q]&Expires=1700000000&Signature=[Q]",
        ),
        (
            "https://storage.googleapis.com/b/o?X-Goog-Signature=00ff",
            "https://storage.googleapis.com/b/o?X-Goog-Signature=[Q]",
        ),
        (
            "https://login.example.com/cb?code=SplxlOBeZQQYbYS6WxSbIA&state=xyz",
            "https://login.example.com/cb?code=[Q]&state=xyz",
        ),
        (
            "https://maps.example.com/api?key=AIzaSyExample&q=Paris",
            "https://maps.example.com/api?key=[Q]&q=Paris",
        ),
        // Percent-encoded names are decoded before matching; encoded values stay whole.
        (
            "https://h/p?api%5Fkey=a%26b&x=1",
            "https://h/p?api%5Fkey=[Q]&x=1",
        ),
        ("https://h/p?PASSWORD=x", "https://h/p?PASSWORD=[Q]"),
        (
            "https://h/p?client_secret=x&a",
            "https://h/p?client_secret=[Q]&a",
        ),
        ("https://h/p?token=a=b==", "https://h/p?token=[Q]"),
        // A URL nested in a parameter, unencoded.
        (
            "https://h/login?next=/cb?token=abc&x=1",
            "https://h/login?next=/cb?token=[Q]&x=1",
        ),
        (
            "https://h/go?to=https://u:pw@other/x",
            "https://h/go?to=https://u:[P]@other/x",
        ),
        // Matrix parameters in a path.
        (
            "https://shop.example/cart;jsessionid=A1B2C3/items?x=1",
            "https://shop.example/cart;jsessionid=[Q]/items?x=1",
        ),
        // Userinfo and query together.
        (
            "https://u:pw@h/p?sig=s&q=1#refresh_token=r",
            "https://u:[P]@h/p?sig=[Q]&q=1#refresh_token=[Q]",
        ),
    ] {
        assert_eq!(value(text), expected, "{text:?}");
    }
}

#[test]
fn sanitizes_paths_queries_and_connection_strings() {
    for (text, expected) in [
        // `http.target`: a path and a query.
        ("/cb?code=abc&state=xyz", "/cb?code=[Q]&state=xyz"),
        ("search?q=1&apikey=k", "search?q=1&apikey=[Q]"),
        // `url.query`: no `?`.
        (
            "q=shoes&access_token=t0k&page=2",
            "q=shoes&access_token=[Q]&page=2",
        ),
        ("Token=abc", "Token=[Q]"),
        // `db.connection_string`, as ADO.NET and JDBC write them.
        (
            "Server=db.internal;Database=shop;User Id=app;Password=s3cr3t;",
            "Server=db.internal;Database=shop;User Id=app;Password=[Q];",
        ),
        ("Data Source=x;Pwd=p", "Data Source=x;Pwd=[Q]"),
        (
            "jdbc:sqlserver://db:1433;databaseName=shop;user=sa;password=s3cr3t;",
            "jdbc:sqlserver://db:1433;databaseName=shop;user=sa;password=[Q];",
        ),
        (
            "jdbc:postgresql://db/shop?user=app&password=s3cr3t&ssl=true",
            "jdbc:postgresql://db/shop?user=app&password=[Q]&ssl=true",
        ),
    ] {
        assert_eq!(value(text), expected, "{text:?}");
    }
}

#[test]
fn leaves_urls_without_secrets_byte_for_byte() {
    for text in [
        "https://api.example.com/v1/items?limit=10&offset=20",
        "https://shop.example/reset?email=bob%40example.com&from=10.1.2.3:8080",
        "https://www.foo.bar/search?q=OpenTelemetry#SemConv",
        "https://user@github.com/org/repo.git",
        "ssh://git@github.com:22/org/repo",
        "postgres://app@db:5432/shop",
        "postgres://app:@db:5432/shop",
        "http://[::1]:8080/health",
        "http://localhost:8080/a@b",
        "https://medium.example/@author/post-1",
        "file:///var/log/app.log",
        "/usr/lib/x86_64-linux-gnu/libc.so.6",
        "C:\\Program Files\\app\\app.exe",
        "v10.4.1-beta",
        "1.2.3",
        "/api/v1/orders/ord-2024-000123",
        "/users/123/orders/9f3c2a1b",
        "q=OpenTelemetry",
        "Server=(localdb)\\v11.0;Integrated Security=true;",
        "https://h/p?keyword=x&monkey=y&tokens_used=3",
        "https://h/p?token=&sig",
        "https://h/p?=x&&;;##??",
        "https://REDACTED:REDACTED@www.example.com/?sig=REDACTED",
        "https://u:****@h/?token=***",
        "https://u:[P]@h/?token=[Q]",
        "",
        "://",
        "https://",
        "?",
        "=",
    ] {
        assert_eq!(value(text), text, "{text:?}");
        assert_eq!(in_text(text), text, "{text:?}");
    }
}

#[test]
fn finds_urls_inside_free_text() {
    for (text, expected) in [
        (
            "connect failed: postgres://app:s3cr3t@db:5432/shop (timeout)",
            "connect failed: postgres://app:[P]@db:5432/shop (timeout)",
        ),
        (
            "GET https://api.example.com/v1?api_key=abc123&limit=10 returned 403",
            "GET https://api.example.com/v1?api_key=[Q]&limit=10 returned 403",
        ),
        (
            r#"{"url":"https://u:pw@h/x?token=t","next":"https://a:b@c"}"#,
            r#"{"url":"https://u:[P]@h/x?token=[Q]","next":"https://a:[P]@c"}"#,
        ),
        (
            "two: redis://:one@a and amqp://u:two@b.",
            "two: redis://:[P]@a and amqp://u:[P]@b.",
        ),
        ("<https://u:pw@h>", "<https://u:[P]@h>"),
    ] {
        assert_eq!(in_text(text), expected, "{text:?}");
    }
    // Outside a URL, parameters and `user:pass@` shapes are left to the detectors.
    for text in [
        "retry with token=abc123 later",
        "mail bob:smith@example.com",
        "see /cb?code=abc",
        "at 10:30 user@host said hi",
        "scheme-less //u:pw@host",
    ] {
        assert_eq!(in_text(text), text, "{text:?}");
    }
}

#[test]
fn percent_decoding_tolerates_malformed_escapes() {
    let mut buffer = Vec::new();
    assert_eq!(percent_decode(b"api%5Fkey", &mut buffer), b"api_key");
    assert_eq!(percent_decode(b"a%2", &mut buffer), b"a%2");
    assert_eq!(percent_decode(b"%zz%", &mut buffer), b"%zz%");
    assert_eq!(percent_decode(b"%ff", &mut buffer), [0xff]);
    assert_eq!(
        value("https://h/?%ff%fe=x&a%=1"),
        "https://h/?%ff%fe=x&a%=1"
    );
}

#[test]
fn hostile_urls_are_sanitized_in_linear_time() {
    for text in [
        "://a:b@".repeat(20_000),
        "https://".repeat(20_000),
        "?token=x&".repeat(20_000),
        ";password=;".repeat(20_000),
        "a".repeat(100_000) + "=1",
        "@".repeat(100_000),
        format!("https://{}@h", ":".repeat(100_000)),
        format!("?{}token=1", "%".repeat(100_000)),
    ] {
        let _ = value(&text);
        let _ = in_text(&text);
    }
}
