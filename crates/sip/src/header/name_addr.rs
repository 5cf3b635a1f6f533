//! `name-addr` / `addr-spec` values: From, To, Contact, Route, Record-Route (RFC 3261 §20.10).

use std::fmt;

use crate::header::params::Params;
use crate::text::{self, is_token_char, trim_ws};
use crate::uri::Uri;
use crate::ParseError;

/// A URI with optional display name and header parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    pub display: Option<String>,
    pub uri: Uri,
    pub params: Params,
}

impl NameAddr {
    pub fn new(uri: impl Into<Uri>) -> Self {
        Self {
            display: None,
            uri: uri.into(),
            params: Params::new(),
        }
    }

    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let s = trim_ws(s);
        let (display, rest) = if s.starts_with('"') {
            let (d, rest) = text::take_quoted(s).ok_or(ParseError::InvalidUri)?;
            let rest = trim_ws(rest);
            if !rest.starts_with('<') {
                return Err(ParseError::InvalidUri);
            }
            (Some(d), rest)
        } else if let Some(lt) = s.find('<') {
            let (d, rest) = s.split_at(lt);
            let d = trim_ws(d);
            // Unquoted display names are tokens separated by LWS.
            if !d
                .bytes()
                .all(|c| is_token_char(c) || c == b' ' || c == b'\t')
            {
                return Err(ParseError::InvalidUri);
            }
            ((!d.is_empty()).then(|| d.to_owned()), rest)
        } else {
            // addr-spec: parameters after the URI belong to the header.
            let (uri, params) = match s.split_once(';') {
                Some((u, p)) => (u, Params::parse(p)?),
                None => (s, Params::new()),
            };
            let uri = trim_ws(uri);
            if uri.contains(['?', ',']) {
                return Err(ParseError::InvalidUri);
            }
            return Ok(Self {
                display: None,
                uri: Uri::parse(uri)?,
                params,
            });
        };
        let inner = rest.strip_prefix('<').ok_or(ParseError::InvalidUri)?;
        let (uri, after) = inner.split_once('>').ok_or(ParseError::InvalidUri)?;
        let after = trim_ws(after);
        let params = if after.is_empty() {
            Params::new()
        } else {
            Params::parse(after.strip_prefix(';').ok_or(ParseError::InvalidParam)?)?
        };
        Ok(Self {
            display,
            uri: Uri::parse(trim_ws(uri))?,
            params,
        })
    }

    pub fn tag(&self) -> Option<&str> {
        self.params.get("tag").flatten()
    }

    pub fn set_tag(&mut self, tag: &str) {
        self.params.set("tag", Some(tag));
    }
}

impl fmt::Display for NameAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(d) = &self.display {
            if !d.is_empty() && d.bytes().all(is_token_char) {
                write!(f, "{d} ")?;
            } else {
                write!(f, "{} ", text::quote(d))?;
            }
        }
        write!(f, "<{}>{}", self.uri, self.params)
    }
}

/// One Contact value (RFC 3261 §20.10), `*` only valid in REGISTER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Contact {
    Star,
    Addr(NameAddr),
}

impl Contact {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        if trim_ws(s) == "*" {
            Ok(Self::Star)
        } else {
            NameAddr::parse(s).map(Self::Addr)
        }
    }

    pub fn addr(&self) -> Option<&NameAddr> {
        match self {
            Self::Addr(a) => Some(a),
            Self::Star => None,
        }
    }

    /// `expires` parameter; `Err` when present but not a number.
    pub fn expires(&self) -> Result<Option<u32>, ParseError> {
        let Some(a) = self.addr() else {
            return Ok(None);
        };
        match a.params.get("expires") {
            None => Ok(None),
            Some(Some(v)) => Ok(Some(
                super::parse_delta(v).ok_or(ParseError::InvalidHeader("Contact"))?,
            )),
            Some(None) => Err(ParseError::InvalidHeader("Contact")),
        }
    }

    /// `+sip.instance` value without quotes (RFC 5626 §4.1), e.g. `<urn:uuid:…>`.
    pub fn instance(&self) -> Option<String> {
        self.addr()?
            .params
            .value("+sip.instance")
            .map(|v| v.into_owned())
    }

    /// `reg-id` (RFC 5626 §4.2).
    pub fn reg_id(&self) -> Option<u32> {
        self.addr()?.params.get("reg-id")??.parse().ok()
    }
}

impl fmt::Display for Contact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Star => f.write_str("*"),
            Self::Addr(a) => a.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3261_20_10_name_addr_forms() {
        let a = NameAddr::parse(r#""Bob \"B\"" <sip:bob@biloxi.com>;tag=a6c85cf"#).unwrap();
        assert_eq!(a.display.as_deref(), Some(r#"Bob "B""#));
        assert_eq!(a.tag(), Some("a6c85cf"));
        let b = NameAddr::parse("Bob Smith <sip:bob@biloxi.com;transport=ws>").unwrap();
        assert_eq!(b.display.as_deref(), Some("Bob Smith"));
        assert!(b.params.is_empty());
        // In addr-spec form the params belong to the header, not the URI.
        let c = NameAddr::parse("sip:bob@biloxi.com;tag=1").unwrap();
        assert_eq!(c.tag(), Some("1"));
        assert!(c.uri.as_sip().unwrap().params.is_empty());
        assert_eq!(c.to_string(), "<sip:bob@biloxi.com>;tag=1");
        assert!(NameAddr::parse("<sip:bob@biloxi.com").is_err());
        assert!(NameAddr::parse("\"x <sip:a@b>").is_err());
    }

    #[test]
    fn rfc5626_contact_instance_and_reg_id() {
        let c = Contact::parse(r#"<sip:x@abc.invalid;transport=ws>;+sip.ice;reg-id=1;+sip.instance="<urn:uuid:f81d4fae>";expires=600"#).unwrap();
        assert_eq!(c.instance().as_deref(), Some("<urn:uuid:f81d4fae>"));
        assert_eq!(c.reg_id(), Some(1));
        assert_eq!(c.expires(), Ok(Some(600)));
        assert_eq!(Contact::parse(" * ").unwrap(), Contact::Star);
    }
}
