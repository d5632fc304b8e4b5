//! User-defined patterns (`patterns = [{ name = "employee_id", regex = "EMP-[0-9]{6}" }]`).

use regex::Regex;

use super::{Buffers, Detector, Needs};

/// Finds the matches of a user's regular expression.
#[derive(Debug, Clone)]
pub(crate) struct Custom {
    regex: Regex,
}

impl Custom {
    /// Compiles `pattern` (regex crate syntax), explaining what is wrong when it cannot be used.
    pub(crate) fn new(pattern: &str) -> Result<Custom, String> {
        let regex = Regex::new(pattern).map_err(|error| {
            let hint = if error.to_string().contains("unicode-case") {
                "\nhint: write `(?i-u:...)` for case-insensitive matching of ASCII letters"
            } else {
                ""
            };
            format!("invalid regex: {error}{hint}")
        })?;
        if regex.is_match("") {
            return Err(format!(
                "regex {pattern:?} matches the empty string, so it would match every value"
            ));
        }
        Ok(Custom { regex })
    }
}

impl Detector for Custom {
    /// No prefilter: the regex crate extracts literals from the pattern and searches for them
    /// first on its own.
    fn needs(&self) -> Needs {
        Needs::NOTHING
    }

    fn find(&self, text: &str, _: &mut Buffers, found: &mut dyn FnMut(usize, usize)) {
        for candidate in self.regex.find_iter(text) {
            // A pattern like `\b` can match nothing at a position; there is nothing to hide.
            if !candidate.is_empty() {
                found(candidate.start(), candidate.end());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing;
    use super::*;

    #[test]
    fn finds_the_pattern() {
        let employee = Custom::new("EMP-[0-9]{6}").unwrap();
        testing::check(
            &employee,
            &[("badge EMP-004211 scanned", "EMP-004211")],
            &["EMP-42", "emp-004211", "ord-2024-000123"],
        );
    }

    #[test]
    fn explains_unusable_patterns() {
        let error = Custom::new("EMP-[0-9").unwrap_err();
        assert!(error.starts_with("invalid regex: "), "{error}");
        let error = Custom::new("(?i)emp-[0-9]{6}").unwrap_err();
        assert!(error.contains("hint: write `(?i-u:...)`"), "{error}");
        let ascii = Custom::new("(?i-u:emp-[0-9]{6})").unwrap();
        assert_eq!(testing::matches(&ascii, "Emp-004211"), ["Emp-004211"]);
        let error = Custom::new("[0-9]*").unwrap_err();
        assert!(error.contains("matches the empty string"), "{error}");
    }
}
