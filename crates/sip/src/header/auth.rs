//! WWW-Authenticate / Proxy-Authenticate challenges and Authorization /
//! Proxy-Authorization credentials (RFC 3261 §20.7, §20.27, §20.28, §20.44).

use std::fmt;

use crate::text::{self, split_top_level, trim_ws};
use crate::ParseError;

/// One `name=value` pair; `value` is unquoted, `quoted` says how to write it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthParam {
    pub name: String,
    pub value: String,
    pub quoted: bool,
}

/// Scheme plus parameters; used for both challenges and credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auth {
    pub scheme: String,
    pub params: Vec<AuthParam>,
}

impl Auth {
    pub fn digest() -> Self {
        Self {
            scheme: "Digest".to_owned(),
            params: Vec::new(),
        }
    }

    pub fn parse(s: &str) -> Result<Self, ParseError> {
        const E: ParseError = ParseError::InvalidHeader("Authorization");
        let s = trim_ws(s);
        let (scheme, rest) = match s.split_once([' ', '\t']) {
            Some((a, b)) => (a, b),
            None => (s, ""),
        };
        if !text::is_token(scheme) {
            return Err(E);
        }
        let mut params = Vec::new();
        if !trim_ws(rest).is_empty() {
            for piece in split_top_level(rest, ',') {
                let (n, v) = piece.split_once('=').ok_or(E)?;
                let (n, v) = (trim_ws(n), trim_ws(v));
                if !text::is_token(n) {
                    return Err(E);
                }
                let (value, quoted) = if v.starts_with('"') {
                    match text::take_quoted(v) {
                        Some((val, "")) => (val, true),
                        _ => return Err(E),
                    }
                } else {
                    if v.is_empty() || v.contains([' ', '\t', '"']) {
                        return Err(E);
                    }
                    (v.to_owned(), false)
                };
                params.push(AuthParam {
                    name: n.to_owned(),
                    value,
                    quoted,
                });
            }
        }
        Ok(Self {
            scheme: scheme.to_owned(),
            params,
        })
    }

    pub fn is_digest(&self) -> bool {
        self.scheme.eq_ignore_ascii_case("Digest")
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .map(|p| p.value.as_str())
    }

    /// Appends a parameter (builder style).
    pub fn with(mut self, name: &str, value: &str, quoted: bool) -> Self {
        self.params.push(AuthParam {
            name: name.to_owned(),
            value: value.to_owned(),
            quoted,
        });
        self
    }
}

impl fmt::Display for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.scheme)?;
        for (i, p) in self.params.iter().enumerate() {
            f.write_str(if i == 0 { " " } else { ", " })?;
            if p.quoted {
                write!(f, "{}={}", p.name, text::quote(&p.value))?;
            } else {
                write!(f, "{}={}", p.name, p.value)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3261_20_7_authorization_roundtrip() {
        let s = r#"Digest username="bob", realm="biloxi.com", nonce="dcd98b", uri="sip:bob@biloxi.com", qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae4", opaque="5ccc""#;
        let a = Auth::parse(s).unwrap();
        assert!(a.is_digest());
        assert_eq!(a.get("URI"), Some("sip:bob@biloxi.com"));
        assert_eq!(a.get("nc"), Some("00000001"));
        assert_eq!(a.to_string(), s);
        assert!(Auth::parse(r#"Digest realm="x"#).is_err());
        assert!(Auth::parse("Digest realm").is_err());
    }
}
