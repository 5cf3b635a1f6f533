//! Session-Expires and Min-SE (RFC 4028 §4, §5).

use std::fmt;

use crate::header::params::Params;
use crate::text::trim_ws;
use crate::ParseError;

/// `Session-Expires: delta[;refresher=uac|uas]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionExpires {
    pub delta: u32,
    pub params: Params,
}

impl SessionExpires {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let (delta, params) = delta_with_params(s, "Session-Expires")?;
        Ok(Self { delta, params })
    }

    /// `refresher` parameter (`uac` / `uas`).
    pub fn refresher(&self) -> Option<&str> {
        self.params.get("refresher").flatten()
    }
}

impl fmt::Display for SessionExpires {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.delta, self.params)
    }
}

/// `Min-SE: delta` (parameters ignored).
pub fn parse_min_se(s: &str) -> Result<u32, ParseError> {
    delta_with_params(s, "Min-SE").map(|(d, _)| d)
}

fn delta_with_params(s: &str, name: &'static str) -> Result<(u32, Params), ParseError> {
    let (d, p) = match s.split_once(';') {
        Some((d, p)) => (d, Params::parse(p)?),
        None => (s, Params::new()),
    };
    let delta = super::parse_delta(trim_ws(d)).ok_or(ParseError::InvalidHeader(name))?;
    Ok((delta, p))
}
