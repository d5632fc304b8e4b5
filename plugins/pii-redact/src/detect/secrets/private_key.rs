//! PEM private-key blocks: `-----BEGIN RSA PRIVATE KEY-----`, `... OPENSSH PRIVATE KEY...`,
//! `... ENCRYPTED PRIVATE KEY...`, `... PGP PRIVATE KEY BLOCK...` and the like.
//!
//! The whole block is masked, from its `BEGIN` line through its `END` line, whatever separates
//! the lines (newlines, spaces, or the `\n` escapes of a key quoted in JSON). A block without
//! an `END` line (a value cut at a length limit) is masked to the end of the value. Public keys,
//! certificates and boundary lines with no key material between them pass.

/// The start of every PEM boundary line.
const BEGIN: &str = "-----BEGIN ";

/// The start of the closing boundary line.
const END: &str = "-----END ";

/// What every PEM boundary line ends with.
const DASHES: &[u8] = b"-----";

/// The longest label accepted between `BEGIN ` and the dashes (`ENCRYPTED PRIVATE KEY`,
/// `PGP PRIVATE KEY BLOCK` and the like are much shorter).
const MAX_LABEL: usize = 40;

/// The fewest base64 characters between the boundary lines: a `BEGIN` line alone, quoted in
/// prose or an error message, holds no key.
pub(super) const MIN_BODY: usize = 16;

/// Finds private-key blocks.
pub(super) fn blocks(text: &str, found: &mut dyn FnMut(usize, usize)) {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(offset) = text[from..].find(BEGIN) {
        let start = from + offset;
        let label = start + BEGIN.len();
        let label_len = bytes[label..]
            .iter()
            .take(MAX_LABEL + 1)
            .take_while(|&&b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b' ')
            .count();
        let private = bytes[label..label + label_len]
            .windows(b"PRIVATE KEY".len())
            .any(|window| window == b"PRIVATE KEY");
        if !private || label_len > MAX_LABEL || !bytes[label + label_len..].starts_with(DASHES) {
            from = label;
            continue;
        }
        let body = label + label_len + DASHES.len();
        let end = match text[body..].find(END) {
            Some(offset) => {
                let closing = body + offset + END.len();
                // The END line's label, then its dashes; without them, the rest of the value.
                bytes[closing..]
                    .iter()
                    .take(MAX_LABEL + 1)
                    .position(|&b| b == b'-')
                    .map(|dash| closing + dash)
                    .filter(|&dash| bytes[dash..].starts_with(DASHES))
                    .map_or(bytes.len(), |dash| dash + DASHES.len())
            }
            None => bytes.len(),
        };
        let material = bytes[body..end]
            .iter()
            .filter(|&&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
            .take(MIN_BODY)
            .count();
        if material == MIN_BODY {
            found(start, end);
        }
        from = end;
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::testing;
    use super::super::Credential;

    /// A made-up body: base64-looking lines, not a key.
    const BODY: &str = "MIIEowIBAAKCAQEAx4Zq8wRt3yUi6oPa1sDf4gHj7kLm2nBv5cXz9aQw\nRt3yUi6oPa1sDf4gHj7kLm2nBv5cXz9aQwMIIEowIBAAKCAQEAx4Zq8w==";

    #[test]
    fn masks_whole_private_key_blocks() {
        let detector = Credential::PrivateKey.detector();
        let rsa = format!("-----BEGIN RSA PRIVATE KEY-----\n{BODY}\n-----END RSA PRIVATE KEY-----");
        let pkcs8 = format!("-----BEGIN PRIVATE KEY-----\n{BODY}\n-----END PRIVATE KEY-----");
        let in_log = format!("loaded key {pkcs8} from vault");
        let json_escaped = format!(
            r#"{{"private_key": "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n"}}"#,
            BODY.replace('\n', "\\n")
        );
        let json_block = &json_escaped[17..json_escaped.len() - 4];
        let openssh =
            format!("-----BEGIN OPENSSH PRIVATE KEY----- {BODY} -----END OPENSSH PRIVATE KEY-----");
        let truncated = format!("-----BEGIN EC PRIVATE KEY-----\n{}", &BODY[..40]);
        let unterminated_end = format!("-----BEGIN PRIVATE KEY-----\n{BODY}\n-----END PRIV");
        testing::check(
            detector.as_ref(),
            &[
                (&rsa, &rsa),
                (&in_log, &pkcs8),
                (&json_escaped, json_block),
                (&openssh, &openssh),
                (&truncated, &truncated),
                (&unterminated_end, &unterminated_end),
            ],
            &[
                "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----",
                "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUW\n-----END CERTIFICATE-----",
                "-----BEGIN PRIVATE KEY",
                "-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----",
                "expected -----BEGIN PRIVATE KEY----- at line 1 of key.pem",
                "BEGIN PRIVATE KEY and END PRIVATE KEY are the boundary lines",
                "-----BEGIN private key-----\nabc\n-----END private key-----",
            ],
        );
    }
}
