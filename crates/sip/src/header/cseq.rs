//! CSeq (RFC 3261 §20.16).

use std::fmt;

use crate::text::trim_ws;
use crate::{Method, ParseError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CSeq {
    pub seq: u32,
    pub method: Method,
}

impl CSeq {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        const E: ParseError = ParseError::InvalidHeader("CSeq");
        let s = trim_ws(s);
        let (n, m) = s.split_once([' ', '\t']).ok_or(E)?;
        if n.is_empty() || n.len() > 10 || !n.bytes().all(|c| c.is_ascii_digit()) {
            return Err(E);
        }
        let seq: u32 = n.parse().map_err(|_| E)?;
        // §8.1.1.5: the sequence number must be below 2**31.
        if seq >= 1 << 31 {
            return Err(E);
        }
        Ok(Self {
            seq,
            method: Method::parse(trim_ws(m)).map_err(|_| E)?,
        })
    }
}

impl fmt::Display for CSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.seq, self.method)
    }
}
