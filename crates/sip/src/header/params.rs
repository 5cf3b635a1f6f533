//! `;name[=value]` parameter lists used by URIs and by Via, From, To, Contact…

use std::fmt;

use crate::text::{self, split_top_level, trim_ws};
use crate::ParseError;

/// One parameter; `value` is kept as written (quotes included) so unknown
/// parameters round-trip untouched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    pub name: String,
    pub value: Option<String>,
}

/// An ordered parameter list; names compare case-insensitively.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(pub Vec<Param>);

impl Params {
    pub fn new() -> Self {
        Self(Vec::new())
    }

    /// Parses `a=1;b;c="x"` (without the leading `;`).
    pub(crate) fn parse(s: &str) -> Result<Self, ParseError> {
        let mut out = Vec::new();
        if trim_ws(s).is_empty() {
            return Ok(Self(out));
        }
        for piece in split_top_level(s, ';') {
            let (name, value) = match piece.split_once('=') {
                Some((n, v)) => (trim_ws(n), Some(trim_ws(v))),
                None => (piece, None),
            };
            if name.is_empty() || name.contains(is_param_forbidden) {
                return Err(ParseError::InvalidParam);
            }
            if let Some(v) = value {
                if v.is_empty() {
                    return Err(ParseError::InvalidParam);
                }
                if v.starts_with('"') {
                    match text::take_quoted(v) {
                        Some((_, "")) => {}
                        _ => return Err(ParseError::InvalidParam),
                    }
                } else if v.contains(|c: char| c == '"' || text::is_ws(c)) {
                    return Err(ParseError::InvalidParam);
                }
            }
            out.push(Param {
                name: name.to_owned(),
                value: value.map(str::to_owned),
            });
        }
        Ok(Self(out))
    }

    fn find(&self, name: &str) -> Option<&Param> {
        self.0.iter().find(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// `Some(None)` for a flag parameter, `Some(Some(v))` with the raw value.
    pub fn get(&self, name: &str) -> Option<Option<&str>> {
        self.find(name).map(|p| p.value.as_deref())
    }

    /// The value with quotes removed, if the parameter has one.
    pub fn value(&self, name: &str) -> Option<std::borrow::Cow<'_, str>> {
        self.find(name)
            .and_then(|p| p.value.as_deref())
            .map(text::unquote)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.find(name).is_some()
    }

    /// Replaces or appends a parameter.
    pub fn set(&mut self, name: &str, value: Option<&str>) {
        let value = value.map(str::to_owned);
        if let Some(p) = self
            .0
            .iter_mut()
            .find(|p| p.name.eq_ignore_ascii_case(name))
        {
            p.value = value;
        } else {
            self.0.push(Param {
                name: name.to_owned(),
                value,
            });
        }
    }

    pub fn remove(&mut self, name: &str) {
        self.0.retain(|p| !p.name.eq_ignore_ascii_case(name));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn is_param_forbidden(c: char) -> bool {
    matches!(
        c,
        '"' | '<' | '>' | ',' | '=' | ' ' | '\t' | ';' | '?' | '@'
    )
}

impl fmt::Display for Params {
    /// Writes each parameter with its leading `;`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.0 {
            match &p.value {
                Some(v) => write!(f, ";{}={}", p.name, v)?,
                None => write!(f, ";{}", p.name)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_values_and_quotes() {
        let p = Params::parse(r#"branch=z9hG4bK1;rport;+sip.instance="<urn:uuid:1>""#).unwrap();
        assert_eq!(p.get("BRANCH"), Some(Some("z9hG4bK1")));
        assert_eq!(p.get("rport"), Some(None));
        assert_eq!(p.value("+sip.instance").unwrap(), "<urn:uuid:1>");
        assert_eq!(
            p.to_string(),
            r#";branch=z9hG4bK1;rport;+sip.instance="<urn:uuid:1>""#
        );
        assert!(Params::parse("a=").is_err());
        assert!(Params::parse("=b").is_err());
        assert!(Params::parse("a=\"x").is_err());
    }
}
