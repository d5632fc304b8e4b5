//! Source hosting, CI and package registries: GitHub, GitLab, npm and PyPI tokens.

use super::format::{self, Format, any, base62, base64url};

/// GitHub tokens of the 2021 format: a prefix by kind (personal `ghp_`, OAuth `gho_`, user to
/// server `ghu_`, server to server `ghs_`, refresh `ghr_`), 30 random base62 characters and a
/// 6-character checksum ([`has_checksum`]).
const GITHUB: &[Format] = &[
    Format {
        prefixes: &["ghp_", "gho_", "ghu_", "ghs_", "ghr_"],
        alphabet: base62,
        min: 36,
        max: 36,
        valid: has_checksum,
    },
    // Fine-grained personal access tokens: 22 characters, `_`, 59 characters.
    Format {
        prefixes: &["github_pat_"],
        alphabet: |b| base62(b) || b == b'_',
        min: 82,
        max: 82,
        valid: |token| {
            let body = &token["github_pat_".len()..];
            body[22] == b'_' && body.iter().filter(|&&b| b == b'_').count() == 1
        },
    },
];

/// GitLab tokens: personal, project and group access (`glpat-`), OAuth application secrets
/// (`gloas-`), deploy (`gldt-`), runner authentication and registration (`glrt-`, `glrtr-`),
/// CI/CD job (`glcbt-`), pipeline trigger (`glptt-`), feed (`glft-`), incoming mail
/// (`glimt-`), agent (`glagent-`), SCIM (`glsoat-`) and feature-flag client (`glffct-`) tokens,
/// each with 20 or more characters.
const GITLAB: &[Format] = &[Format {
    prefixes: &[
        "glpat-", "gloas-", "gldt-", "glrt-", "glrtr-", "glcbt-", "glptt-", "glft-", "glimt-",
        "glagent-", "glsoat-", "glffct-",
    ],
    alphabet: base64url,
    min: 20,
    max: 255,
    valid: any,
}];

/// npm access tokens: `npm_`, then 30 random base62 characters and the same checksum as
/// GitHub's.
const NPM: &[Format] = &[Format {
    prefixes: &["npm_"],
    alphabet: base62,
    min: 36,
    max: 36,
    valid: has_checksum,
}];

/// PyPI API tokens are macaroons: `pypi-`, then the base64 of a header naming the index
/// (`pypi.org` or `test.pypi.org`), then the rest of the macaroon.
const PYPI: &[Format] = &[Format {
    prefixes: &["pypi-AgEIcHlwaS5vcmc", "pypi-AgENdGVzdC5weXBpLm9yZw"],
    alphabet: base64url,
    min: 50,
    max: 1000,
    valid: any,
}];

/// Finds GitHub tokens.
pub(super) fn github_tokens(text: &str, found: &mut dyn FnMut(usize, usize)) {
    format::scan(text, GITHUB, found);
}

/// Finds GitLab tokens.
pub(super) fn gitlab_tokens(text: &str, found: &mut dyn FnMut(usize, usize)) {
    format::scan(text, GITLAB, found);
}

/// Finds npm tokens.
pub(super) fn npm_tokens(text: &str, found: &mut dyn FnMut(usize, usize)) {
    format::scan(text, NPM, found);
}

/// Finds PyPI tokens.
pub(super) fn pypi_tokens(text: &str, found: &mut dyn FnMut(usize, usize)) {
    format::scan(text, PYPI, found);
}

/// Whether the last 6 characters of a 4-character prefix and 36-character body are the CRC-32
/// of the 30 before them, in base62 (digits, then uppercase, then lowercase letters),
/// most significant first and padded with `0`. One made-up token in about 56 billion passes.
fn has_checksum(token: &[u8]) -> bool {
    let (random, checksum) = token[4..].split_at(30);
    checksum == base62_checksum(crc32(random))
}

/// `value` as 6 base62 digits (62^6 > 2^32).
fn base62_checksum(mut value: u32) -> [u8; 6] {
    const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut digits = [b'0'; 6];
    for digit in digits.iter_mut().rev() {
        *digit = DIGITS[(value % 62) as usize];
        value /= 62;
    }
    digits
}

/// The CRC-32 (IEEE 802.3, as in zlib and PNG) of `bytes`.
fn crc32(bytes: &[u8]) -> u32 {
    /// The remainders of each byte value, computed at compile time.
    const TABLE: [u32; 256] = {
        let mut table = [0; 256];
        let mut n = 0;
        while n < 256 {
            let mut crc = n as u32;
            let mut bit = 0;
            while bit < 8 {
                crc = if crc & 1 == 1 {
                    0xEDB8_8320 ^ (crc >> 1)
                } else {
                    crc >> 1
                };
                bit += 1;
            }
            table[n] = crc;
            n += 1;
        }
        table
    };
    !bytes.iter().fold(!0u32, |crc, &byte| {
        TABLE[((crc ^ u32::from(byte)) & 0xff) as usize] ^ (crc >> 8)
    })
}

#[cfg(test)]
mod tests {
    use super::super::super::testing;
    use super::super::Credential;
    use super::*;

    /// A made-up token in the 2021 format, with a correct checksum.
    fn checksummed(prefix: &str, random: &str) -> String {
        assert_eq!(random.len(), 30);
        let checksum = base62_checksum(crc32(random.as_bytes()));
        format!(
            "{prefix}{random}{}",
            std::str::from_utf8(&checksum).unwrap()
        )
    }

    #[test]
    fn the_checksum_is_the_standard_crc32_in_base62() {
        // The standard CRC-32 check value.
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
        assert_eq!(&base62_checksum(0), b"000000");
        assert_eq!(&base62_checksum(61), b"00000z");
        assert_eq!(&base62_checksum(62), b"000010");
        assert_eq!(&base62_checksum(u32::MAX), b"4gfFC3");
    }

    #[test]
    fn finds_github_tokens() {
        let detector = Credential::GithubToken.detector();
        let personal = checksummed("ghp_", "Ab3dEf6hIj9lMn2pQr5tUv8xYz1bCd");
        let app = checksummed("ghs_", "0123456789abcdefghijABCDEFGHIJ");
        let fine_grained = format!(
            "github_pat_{}_{}",
            "11ABCDEFG0abcdefghijkl", "Mn0pQr1sTu2vWx3yZa4bCd5eFg6hIj7kLm8nOp9qRs0tUv1wXy2zAb3cDe4"
        );
        let header = format!("Authorization: token {personal}");
        let remote = format!("https://x-access-token:{app}@github.com/acme/shop.git");
        let mut wrong = personal.clone().into_bytes();
        wrong[39] = if wrong[39] == b'A' { b'B' } else { b'A' };
        let wrong = String::from_utf8(wrong).unwrap();
        testing::check(
            detector.as_ref(),
            &[
                (&personal, &personal),
                (&header, &personal),
                (&remote, &app),
                (&fine_grained, &fine_grained),
            ],
            &[
                "ghp_",
                "ghp_ alone",
                &wrong,
                &format!("x{personal}"),
                &format!("{personal}9"),
                &checksummed("ghx_", "Ab3dEf6hIj9lMn2pQr5tUv8xYz1bCd"),
                &checksummed("ghp_", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
                "github_pat_",
                &fine_grained.replace("l_M", "lxM"),
            ],
        );
    }

    #[test]
    fn finds_gitlab_tokens() {
        let detector = Credential::GitlabToken.detector();
        testing::check(
            detector.as_ref(),
            &[
                ("glpat-Ab3dE_f6hIj-9lMn2pQr", "glpat-Ab3dE_f6hIj-9lMn2pQr"),
                (
                    "PRIVATE-TOKEN: glpat-Zy9xW8vU7tS6rQ5pO4nM",
                    "glpat-Zy9xW8vU7tS6rQ5pO4nM",
                ),
                (
                    "runner token glrt-t1_Ab3dEf6hIj9lMn2pQr5tU",
                    "glrt-t1_Ab3dEf6hIj9lMn2pQr5tU",
                ),
            ],
            &[
                "glpat-",
                "glpat-xxxxxxxxxxxxxxxxxxxx",
                "glpat-Ab3dEf6hIj9lMn2p",
                "xglpat-Ab3dE_f6hIj-9lMn2pQr",
                "glxyz-Ab3dE_f6hIj-9lMn2pQr",
            ],
        );
    }

    #[test]
    fn finds_npm_tokens() {
        let detector = Credential::NpmToken.detector();
        let token = checksummed("npm_", "Zy9xW8vU7tS6rQ5pO4nM3lK2jI1hG0");
        let npmrc = format!("//registry.npmjs.org/:_authToken={token}");
        let mut wrong = token.clone().into_bytes();
        wrong[10] = if wrong[10] == b'a' { b'b' } else { b'a' };
        testing::check(
            detector.as_ref(),
            &[(&token, &token), (&npmrc, &token)],
            &[
                "npm_",
                &String::from_utf8(wrong).unwrap(),
                "npm_install_dependencies_for_workspace_root",
            ],
        );
    }

    #[test]
    fn finds_pypi_tokens() {
        let detector = Credential::PypiToken.detector();
        let token = format!("pypi-AgEIcHlwaS5vcmc{}", "CJDk3YjE0-ZTk4_LTQ1".repeat(4));
        let test_index = format!("pypi-AgENdGVzdC5weXBpLm9yZw{}", "aB3_cD4-eF5gH6".repeat(5));
        let pypirc = format!("password = {token}");
        testing::check(
            detector.as_ref(),
            &[
                (&token, &token),
                (&test_index, &test_index),
                (&pypirc, &token),
            ],
            &[
                "pypi-",
                "pypi-AgEIcHlwaS5vcmc",
                &format!("pypi-AgEIcHlwaS5vcmc{}", "CJDk3YjE0".repeat(4)),
                &format!("pypi-{}", "CJDk3YjE0-ZTk4_LTQ1".repeat(4)),
            ],
        );
    }
}
