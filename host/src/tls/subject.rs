//! The subject of a client certificate, as text (`CN=tenant-a,O=Acme`), read from its DER
//! with no X.509 library: the path to the subject is fixed, and only the common string types
//! of the usual attributes are named.

/// The subject of the DER certificate `der` in RFC 4514 order (the last RDN first), or `None`
/// when the certificate does not parse this far.
pub fn subject(der: &[u8]) -> Option<String> {
    let (certificate, _) = element(der, SEQUENCE)?;
    let (tbs, _) = element(certificate, SEQUENCE)?;
    let mut rest = tbs;
    // [0] version, present in every v3 certificate.
    if rest.first() == Some(&0xa0) {
        rest = element(rest, 0xa0)?.1;
    }
    // serialNumber, signature, issuer, validity, then subject.
    for tag in [INTEGER, SEQUENCE, SEQUENCE, SEQUENCE] {
        rest = element(rest, tag)?.1;
    }
    let (mut names, _) = element(rest, SEQUENCE)?;
    let mut rdns = Vec::new();
    while !names.is_empty() {
        let (set, after) = element(names, SET)?;
        names = after;
        let mut parts = Vec::new();
        let mut attributes = set;
        while !attributes.is_empty() {
            let (attribute, after) = element(attributes, SEQUENCE)?;
            attributes = after;
            let (oid, value) = element(attribute, OID)?;
            let text = value_text(value)?;
            parts.push(format!("{}={}", oid_name(oid), escape(&text)));
        }
        rdns.push(parts.join("+"));
    }
    rdns.reverse();
    Some(rdns.join(","))
}

const INTEGER: u8 = 0x02;
const OID: u8 = 0x06;
const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;

/// The content of the element at the start of `input` if its tag is `tag`, and what follows.
fn element(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&found, rest) = input.split_first()?;
    if found != tag {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let count = (first & 0x7f) as usize;
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let len = rest[..count]
            .iter()
            .fold(0usize, |len, &b| (len << 8) | b as usize);
        (len, &rest[count..])
    };
    (rest.len() >= len).then(|| rest.split_at(len))
}

/// A directory string's text (UTF8String, PrintableString, IA5String, T61String as Latin-1).
fn value_text(value: &[u8]) -> Option<String> {
    let tag = *value.first()?;
    let (content, _) = element(value, tag)?;
    match tag {
        0x0c | 0x13 | 0x16 => std::str::from_utf8(content).ok().map(str::to_owned),
        0x14 => Some(content.iter().map(|&b| b as char).collect()),
        _ => Some(content.iter().map(|b| format!("{b:02x}")).collect()),
    }
}

/// The short name of an attribute type, or its dotted OID.
fn oid_name(oid: &[u8]) -> String {
    match oid {
        [0x55, 0x04, 0x03] => "CN".into(),
        [0x55, 0x04, 0x06] => "C".into(),
        [0x55, 0x04, 0x07] => "L".into(),
        [0x55, 0x04, 0x08] => "ST".into(),
        [0x55, 0x04, 0x0a] => "O".into(),
        [0x55, 0x04, 0x0b] => "OU".into(),
        _ => dotted(oid),
    }
}

fn dotted(oid: &[u8]) -> String {
    let mut parts = Vec::new();
    let mut value = 0u64;
    for (index, &byte) in oid.iter().enumerate() {
        value = (value << 7) | u64::from(byte & 0x7f);
        if byte & 0x80 == 0 {
            if parts.is_empty() && index < oid.len() {
                let first = (value / 40).min(2);
                parts.push(first.to_string());
                parts.push((value - first * 40).to_string());
            } else {
                parts.push(value.to_string());
            }
            value = 0;
        }
    }
    parts.join(".")
}

/// RFC 4514 escaping of the characters that would change a name's structure.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn certificate(names: &[(rcgen_like::Kind, &str)]) -> Vec<u8> {
        rcgen_like::certificate(names)
    }

    /// A hand-assembled certificate: only the structure up to the subject matters here.
    mod rcgen_like {
        #[derive(Clone, Copy)]
        pub enum Kind {
            Cn,
            O,
        }

        fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
            let mut out = vec![tag];
            if content.len() < 0x80 {
                out.push(content.len() as u8);
            } else {
                out.push(0x82);
                out.extend_from_slice(&(content.len() as u16).to_be_bytes());
            }
            out.extend_from_slice(content);
            out
        }

        pub fn certificate(names: &[(Kind, &str)]) -> Vec<u8> {
            let mut subject = Vec::new();
            for (kind, value) in names {
                let oid = match kind {
                    Kind::Cn => [0x55, 0x04, 0x03],
                    Kind::O => [0x55, 0x04, 0x0a],
                };
                let attribute = [tlv(0x06, &oid), tlv(0x0c, value.as_bytes())].concat();
                subject.extend(tlv(0x31, &tlv(0x30, &attribute)));
            }
            let tbs = [
                tlv(0xa0, &tlv(0x02, &[2])),
                tlv(0x02, &[1]),
                tlv(0x30, &[]),
                tlv(0x30, &[]),
                tlv(0x30, &[]),
                tlv(0x30, &subject),
            ]
            .concat();
            tlv(0x30, &tlv(0x30, &tbs))
        }
    }

    #[test]
    fn reads_the_subject_last_rdn_first_and_escapes_it() {
        use rcgen_like::Kind::{Cn, O};
        let der = certificate(&[(O, "Acme, Inc"), (Cn, "tenant-a")]);
        assert_eq!(subject(&der).as_deref(), Some("CN=tenant-a,O=Acme\\, Inc"));
    }

    #[test]
    fn garbage_is_no_subject() {
        assert_eq!(subject(b""), None);
        assert_eq!(subject(&[0x30, 0x05, 0x30]), None);
        assert_eq!(subject(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
    }

    #[test]
    fn unknown_attribute_types_read_as_dotted_oids() {
        assert_eq!(dotted(&[0x55, 0x04, 0x05]), "2.5.4.5");
        assert_eq!(
            dotted(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d]),
            "1.2.840.113549"
        );
    }
}
