//! SIP/SIPS URIs (RFC 3261 §19.1) and other absolute URIs kept opaque.

use std::fmt;

use crate::header::params::Params;
use crate::ParseError;

/// A Request-URI or name-addr URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Uri {
    Sip(SipUri),
    /// Any other scheme (`tel:`, `urn:`, …), kept as written after the colon.
    Other {
        scheme: String,
        rest: String,
    },
}

/// `sip:` or `sips:` URI. User and password stay escaped as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipUri {
    pub secure: bool,
    pub user: Option<String>,
    pub password: Option<String>,
    /// Host as written; IPv6 references keep their brackets.
    pub host: String,
    pub port: Option<u16>,
    pub params: Params,
    /// Everything after `?`, unparsed.
    pub headers: Option<String>,
}

impl Uri {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let (scheme, rest) = s.split_once(':').ok_or(ParseError::InvalidUri)?;
        if !is_scheme(scheme) {
            return Err(ParseError::InvalidUri);
        }
        if scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips") {
            SipUri::parse_after_scheme(scheme.eq_ignore_ascii_case("sips"), rest).map(Uri::Sip)
        } else {
            if rest.is_empty()
                || rest.contains(|c: char| c.is_ascii_whitespace() || c == '<' || c == '>')
            {
                return Err(ParseError::InvalidUri);
            }
            Ok(Uri::Other {
                scheme: scheme.to_owned(),
                rest: rest.to_owned(),
            })
        }
    }

    pub fn as_sip(&self) -> Option<&SipUri> {
        match self {
            Uri::Sip(u) => Some(u),
            Uri::Other { .. } => None,
        }
    }

    pub fn as_sip_mut(&mut self) -> Option<&mut SipUri> {
        match self {
            Uri::Sip(u) => Some(u),
            Uri::Other { .. } => None,
        }
    }

    pub fn scheme(&self) -> &str {
        match self {
            Uri::Sip(u) if u.secure => "sips",
            Uri::Sip(_) => "sip",
            Uri::Other { scheme, .. } => scheme,
        }
    }
}

fn is_scheme(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic())
        && b.all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
}

impl SipUri {
    /// A bare `sip:user@host` URI.
    pub fn new(user: Option<&str>, host: &str) -> Self {
        Self {
            secure: false,
            user: user.map(str::to_owned),
            password: None,
            host: host.to_owned(),
            port: None,
            params: Params::new(),
            headers: None,
        }
    }

    pub fn parse(s: &str) -> Result<Self, ParseError> {
        match Uri::parse(s)? {
            Uri::Sip(u) => Ok(u),
            Uri::Other { .. } => Err(ParseError::UnsupportedScheme),
        }
    }

    fn parse_after_scheme(secure: bool, s: &str) -> Result<Self, ParseError> {
        if s.contains(|c: char| {
            c.is_ascii_whitespace() || c.is_ascii_control() || c == '<' || c == '>' || c == '"'
        }) {
            return Err(ParseError::InvalidUri);
        }
        let (userinfo, hostpart) = match s.split_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, s),
        };
        let (user, password) = match userinfo {
            None => (None, None),
            Some(u) => {
                let (user, pw) = match u.split_once(':') {
                    Some((a, b)) => (a, Some(b)),
                    None => (u, None),
                };
                if user.is_empty() || !valid_escapes(user) || pw.is_some_and(|p| !valid_escapes(p))
                {
                    return Err(ParseError::InvalidUri);
                }
                (Some(user.to_owned()), pw.map(str::to_owned))
            }
        };
        let (hostport, headers) = match hostpart.split_once('?') {
            Some((a, b)) => (a, Some(b)),
            None => (hostpart, None),
        };
        let (hostport, params) = match hostport.split_once(';') {
            Some((a, b)) => (a, Params::parse(b)?),
            None => (hostport, Params::new()),
        };
        let (host, port) = split_host_port(hostport)?;
        Ok(Self {
            secure,
            user,
            password,
            host: host.to_owned(),
            port,
            params,
            headers: headers.map(str::to_owned),
        })
    }

    /// `transport=` parameter, lower-cased comparison left to the caller.
    pub fn transport(&self) -> Option<&str> {
        self.params.get("transport").flatten()
    }

    /// `host[:port]` as written, useful as a map key after lower-casing.
    pub fn host_port(&self) -> String {
        match self.port {
            Some(p) => format!("{}:{}", self.host, p),
            None => self.host.clone(),
        }
    }

    /// The URI without parameters or headers, as used for AOR keys (RFC 3261 §10.3 step 5).
    pub fn aor(&self) -> String {
        let scheme = if self.secure { "sips" } else { "sip" };
        match &self.user {
            Some(u) => format!("{scheme}:{}@{}", u, self.host.to_ascii_lowercase()),
            None => format!("{scheme}:{}", self.host.to_ascii_lowercase()),
        }
    }
}

/// Splits `host[:port]`, validating the host characters and the port.
pub(crate) fn split_host_port(s: &str) -> Result<(&str, Option<u16>), ParseError> {
    let (host, port) = if s.starts_with('[') {
        let end = s.find(']').ok_or(ParseError::InvalidHost)?;
        let (h, rest) = s.split_at(end + 1);
        let inner = h.get(1..h.len() - 1).unwrap_or("");
        if inner.is_empty()
            || !inner
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
        {
            return Err(ParseError::InvalidHost);
        }
        match rest {
            "" => (h, None),
            r => (h, Some(r.strip_prefix(':').ok_or(ParseError::InvalidHost)?)),
        }
    } else {
        let (h, p) = match s.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        };
        if h.is_empty()
            || !h
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.' || c == b'_')
        {
            return Err(ParseError::InvalidHost);
        }
        (h, p)
    };
    let port = match port {
        None => None,
        Some(p) => {
            if p.is_empty() || p.len() > 5 || !p.bytes().all(|c| c.is_ascii_digit()) {
                return Err(ParseError::InvalidPort);
            }
            Some(p.parse::<u16>().map_err(|_| ParseError::InvalidPort)?)
        }
    };
    Ok((host, port))
}

fn valid_escapes(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            match (b.get(i + 1), b.get(i + 2)) {
                (Some(x), Some(y)) if x.is_ascii_hexdigit() && y.is_ascii_hexdigit() => i += 3,
                _ => return false,
            }
        } else {
            i += 1;
        }
    }
    true
}

impl fmt::Display for SipUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.secure { "sips:" } else { "sip:" })?;
        if let Some(u) = &self.user {
            f.write_str(u)?;
            if let Some(p) = &self.password {
                write!(f, ":{p}")?;
            }
            f.write_str("@")?;
        }
        f.write_str(&self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        write!(f, "{}", self.params)?;
        if let Some(h) = &self.headers {
            write!(f, "?{h}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Uri::Sip(u) => u.fmt(f),
            Uri::Other { scheme, rest } => write!(f, "{scheme}:{rest}"),
        }
    }
}

impl From<SipUri> for Uri {
    fn from(u: SipUri) -> Self {
        Uri::Sip(u)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3261_19_1_1_sip_uri_components() {
        let u = SipUri::parse(
            "sips:alice:secret@[2001:db8::10]:5061;transport=ws;ob;lr?subject=x&priority=urgent",
        )
        .unwrap();
        assert!(u.secure);
        assert_eq!(u.user.as_deref(), Some("alice"));
        assert_eq!(u.password.as_deref(), Some("secret"));
        assert_eq!(u.host, "[2001:db8::10]");
        assert_eq!(u.port, Some(5061));
        assert_eq!(u.transport(), Some("ws"));
        assert!(u.params.contains("ob"));
        assert_eq!(u.headers.as_deref(), Some("subject=x&priority=urgent"));
        assert_eq!(
            u.to_string(),
            "sips:alice:secret@[2001:db8::10]:5061;transport=ws;ob;lr?subject=x&priority=urgent"
        );
    }

    #[test]
    fn rfc3261_19_1_1_rejects_bad_ports_and_hosts() {
        assert!(SipUri::parse("sip:a@host:70000").is_err());
        assert!(SipUri::parse("sip:a@host:").is_err());
        assert!(SipUri::parse("sip:a@[::1").is_err());
        assert!(SipUri::parse("sip:a@").is_err());
        assert!(SipUri::parse("sip:a@ho st").is_err());
        assert!(SipUri::parse("sip:%zz@h").is_err());
        assert!(matches!(Uri::parse("tel:+15551234"), Ok(Uri::Other { .. })));
        assert_eq!(
            SipUri::parse("sip:1001@Example.COM;transport=ws")
                .unwrap()
                .aor(),
            "sip:1001@example.com"
        );
    }
}
