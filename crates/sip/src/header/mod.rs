//! Header names, the ordered header list, and typed accessors.

pub mod auth;
pub mod cseq;
pub mod name_addr;
pub mod params;
pub mod session_timer;
pub mod via;

use std::fmt;

use crate::text::{split_top_level, trim_ws};
use crate::ParseError;
use auth::Auth;
use cseq::CSeq;
use name_addr::{Contact, NameAddr};
use session_timer::SessionExpires;
use via::Via;

macro_rules! header_names {
    ($( $variant:ident => $canon:literal $(, $compact:literal)? ;)*) => {
        /// A header name. Known names compare by variant (compact forms map to them);
        /// unknown names keep their spelling and compare case-insensitively.
        #[derive(Debug, Clone, Eq)]
        pub enum HeaderName {
            $( $variant, )*
            Other(String),
        }

        impl HeaderName {
            pub fn parse(s: &str) -> Self {
                $(
                    if s.eq_ignore_ascii_case($canon) $(|| s.eq_ignore_ascii_case($compact))? {
                        return Self::$variant;
                    }
                )*
                Self::Other(s.to_owned())
            }

            /// The long form; we always serialise known headers in long form.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $canon, )*
                    Self::Other(s) => s,
                }
            }
        }
    };
}

header_names! {
    Via => "Via", "v";
    From => "From", "f";
    To => "To", "t";
    CallId => "Call-ID", "i";
    CSeq => "CSeq";
    MaxForwards => "Max-Forwards";
    Contact => "Contact", "m";
    Expires => "Expires";
    MinExpires => "Min-Expires";
    Route => "Route";
    RecordRoute => "Record-Route";
    Path => "Path";
    Authorization => "Authorization";
    ProxyAuthorization => "Proxy-Authorization";
    WwwAuthenticate => "WWW-Authenticate";
    ProxyAuthenticate => "Proxy-Authenticate";
    ContentType => "Content-Type", "c";
    ContentLength => "Content-Length", "l";
    ContentEncoding => "Content-Encoding", "e";
    SessionExpires => "Session-Expires", "x";
    MinSe => "Min-SE";
    Supported => "Supported", "k";
    Require => "Require";
    ProxyRequire => "Proxy-Require";
    Unsupported => "Unsupported";
    Allow => "Allow";
    Accept => "Accept";
    Subject => "Subject", "s";
    Event => "Event", "o";
    ReferTo => "Refer-To", "r";
    ReferredBy => "Referred-By", "b";
    AllowEvents => "Allow-Events", "u";
    UserAgent => "User-Agent";
    Server => "Server";
    Date => "Date";
    Timestamp => "Timestamp";
    RetryAfter => "Retry-After";
    Warning => "Warning";
}

impl PartialEq for HeaderName {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Other(a), Self::Other(b)) => a.eq_ignore_ascii_case(b),
            (a, b) => std::mem::discriminant(a) == std::mem::discriminant(b),
        }
    }
}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl HeaderName {
    /// Headers whose grammar is a comma-separated list we split into one entry per value.
    pub(crate) fn is_split_list(&self) -> bool {
        matches!(
            self,
            Self::Via | Self::Contact | Self::Route | Self::RecordRoute | Self::Path
        )
    }
}

/// One header line (or one value of a split list). The value is kept as
/// received (unfolded, trimmed), so unknown headers round-trip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub name: HeaderName,
    pub value: String,
}

/// Ordered list of headers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(pub Vec<Header>);

/// `delta-seconds`, saturating at u32::MAX as RFC 3261 §20.19 asks for huge values.
pub(crate) fn parse_delta(s: &str) -> Option<u32> {
    let s = trim_ws(s);
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some(
        s.parse::<u64>()
            .map_or(u32::MAX, |v| v.min(u64::from(u32::MAX)) as u32),
    )
}

impl Headers {
    pub fn new() -> Self {
        Self(Vec::new())
    }

    pub fn iter(&self) -> impl Iterator<Item = &Header> {
        self.0.iter()
    }

    /// First value of `name`.
    pub fn get(&self, name: &HeaderName) -> Option<&str> {
        self.0
            .iter()
            .find(|h| &h.name == name)
            .map(|h| h.value.as_str())
    }

    /// All values of `name` in order.
    pub fn get_all<'a>(&'a self, name: &'a HeaderName) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |h| &h.name == name)
            .map(|h| h.value.as_str())
    }

    pub fn contains(&self, name: &HeaderName) -> bool {
        self.0.iter().any(|h| &h.name == name)
    }

    pub fn push(&mut self, name: HeaderName, value: impl Into<String>) {
        self.0.push(Header {
            name,
            value: value.into(),
        });
    }

    /// Inserts before the first header of the same name (e.g. a new top Via).
    pub fn push_front(&mut self, name: HeaderName, value: impl Into<String>) {
        let pos = self.0.iter().position(|h| h.name == name).unwrap_or(0);
        self.0.insert(
            pos,
            Header {
                name,
                value: value.into(),
            },
        );
    }

    /// Replaces all values of `name` with one value, keeping the first position.
    pub fn set(&mut self, name: HeaderName, value: impl Into<String>) {
        let value = value.into();
        match self.0.iter().position(|h| h.name == name) {
            Some(pos) => {
                self.0.retain(|h| h.name != name);
                self.0.insert(pos.min(self.0.len()), Header { name, value });
            }
            None => self.0.push(Header { name, value }),
        }
    }

    pub fn remove(&mut self, name: &HeaderName) {
        self.0.retain(|h| &h.name != name);
    }

    /// Removes and returns the first value of `name`.
    pub fn remove_first(&mut self, name: &HeaderName) -> Option<String> {
        let pos = self.0.iter().position(|h| &h.name == name)?;
        Some(self.0.remove(pos).value)
    }

    fn required(&self, name: HeaderName, label: &'static str) -> Result<&str, ParseError> {
        self.get(&name).ok_or(ParseError::MissingHeader(label))
    }

    pub fn top_via(&self) -> Result<Via, ParseError> {
        Via::parse(self.required(HeaderName::Via, "Via")?)
    }

    pub fn vias(&self) -> Result<Vec<Via>, ParseError> {
        self.get_all(&HeaderName::Via).map(Via::parse).collect()
    }

    pub fn from(&self) -> Result<NameAddr, ParseError> {
        NameAddr::parse(self.required(HeaderName::From, "From")?)
    }

    pub fn to(&self) -> Result<NameAddr, ParseError> {
        NameAddr::parse(self.required(HeaderName::To, "To")?)
    }

    pub fn call_id(&self) -> Result<&str, ParseError> {
        let v = trim_ws(self.required(HeaderName::CallId, "Call-ID")?);
        if v.is_empty() || v.contains([' ', '\t']) {
            return Err(ParseError::InvalidHeader("Call-ID"));
        }
        Ok(v)
    }

    pub fn cseq(&self) -> Result<CSeq, ParseError> {
        CSeq::parse(self.required(HeaderName::CSeq, "CSeq")?)
    }

    pub fn max_forwards(&self) -> Result<Option<u32>, ParseError> {
        self.delta(HeaderName::MaxForwards, "Max-Forwards")
    }

    pub fn expires(&self) -> Result<Option<u32>, ParseError> {
        self.delta(HeaderName::Expires, "Expires")
    }

    pub fn min_expires(&self) -> Result<Option<u32>, ParseError> {
        self.delta(HeaderName::MinExpires, "Min-Expires")
    }

    pub fn content_length(&self) -> Result<Option<u32>, ParseError> {
        self.delta(HeaderName::ContentLength, "Content-Length")
    }

    fn delta(&self, name: HeaderName, label: &'static str) -> Result<Option<u32>, ParseError> {
        self.get(&name)
            .map(|v| parse_delta(v).ok_or(ParseError::InvalidHeader(label)))
            .transpose()
    }

    pub fn contacts(&self) -> Result<Vec<Contact>, ParseError> {
        self.get_all(&HeaderName::Contact)
            .map(Contact::parse)
            .collect()
    }

    pub fn routes(&self) -> Result<Vec<NameAddr>, ParseError> {
        self.get_all(&HeaderName::Route)
            .map(NameAddr::parse)
            .collect()
    }

    pub fn record_routes(&self) -> Result<Vec<NameAddr>, ParseError> {
        self.get_all(&HeaderName::RecordRoute)
            .map(NameAddr::parse)
            .collect()
    }

    pub fn authorization(&self) -> Result<Vec<Auth>, ParseError> {
        self.get_all(&HeaderName::Authorization)
            .map(Auth::parse)
            .collect()
    }

    pub fn proxy_authorization(&self) -> Result<Vec<Auth>, ParseError> {
        self.get_all(&HeaderName::ProxyAuthorization)
            .map(Auth::parse)
            .collect()
    }

    pub fn www_authenticate(&self) -> Result<Vec<Auth>, ParseError> {
        self.get_all(&HeaderName::WwwAuthenticate)
            .map(Auth::parse)
            .collect()
    }

    pub fn proxy_authenticate(&self) -> Result<Vec<Auth>, ParseError> {
        self.get_all(&HeaderName::ProxyAuthenticate)
            .map(Auth::parse)
            .collect()
    }

    /// Media type without parameters, e.g. `application/sdp`.
    pub fn content_type(&self) -> Option<&str> {
        self.get(&HeaderName::ContentType)
            .map(|v| trim_ws(v.split(';').next().unwrap_or("")))
    }

    pub fn session_expires(&self) -> Result<Option<SessionExpires>, ParseError> {
        self.get(&HeaderName::SessionExpires)
            .map(SessionExpires::parse)
            .transpose()
    }

    pub fn min_se(&self) -> Result<Option<u32>, ParseError> {
        self.get(&HeaderName::MinSe)
            .map(session_timer::parse_min_se)
            .transpose()
    }

    /// Tokens of a comma-list header across all its lines (Supported, Require, Allow…).
    pub fn tokens<'a>(&'a self, name: &'a HeaderName) -> impl Iterator<Item = &'a str> + 'a {
        self.get_all(name)
            .flat_map(|v| split_top_level(v, ','))
            .filter(|t| !t.is_empty())
    }

    pub fn supports(&self, option: &str) -> bool {
        self.tokens(&HeaderName::Supported)
            .any(|t| t.eq_ignore_ascii_case(option))
    }

    pub fn requires(&self, option: &str) -> bool {
        self.tokens(&HeaderName::Require)
            .any(|t| t.eq_ignore_ascii_case(option))
    }

    pub fn allows(&self, method: &str) -> bool {
        self.tokens(&HeaderName::Allow).any(|t| t == method)
    }
}
