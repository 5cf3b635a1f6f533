//! The Via header (RFC 3261 §20.42, §18.2.1 received/rport per RFC 3581).

use std::fmt;

use crate::header::params::Params;
use crate::text::{is_token, trim_ws};
use crate::uri::split_host_port;
use crate::ParseError;

/// The magic cookie that marks RFC 3261 branch ids (§8.1.1.7).
pub const BRANCH_MAGIC: &str = "z9hG4bK";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    /// Transport token as written: UDP, TCP, TLS, WS, WSS, SCTP…
    pub transport: String,
    pub host: String,
    pub port: Option<u16>,
    pub params: Params,
}

impl Via {
    pub fn new(transport: &str, host: &str, port: Option<u16>, branch: &str) -> Self {
        let mut params = Params::new();
        params.set("branch", Some(branch));
        Self {
            transport: transport.to_owned(),
            host: host.to_owned(),
            port,
            params,
        }
    }

    pub fn parse(s: &str) -> Result<Self, ParseError> {
        const E: ParseError = ParseError::InvalidHeader("Via");
        let mut parts = s.splitn(3, '/');
        let name = trim_ws(parts.next().ok_or(E)?);
        let version = trim_ws(parts.next().ok_or(E)?);
        let rest = trim_ws(parts.next().ok_or(E)?);
        if !name.eq_ignore_ascii_case("SIP") || version != "2.0" {
            return Err(E);
        }
        let split = rest.find([' ', '\t']).ok_or(E)?;
        let (transport, rest) = rest.split_at(split);
        if !is_token(transport) {
            return Err(E);
        }
        let (sent_by, params) = match rest.split_once(';') {
            Some((a, b)) => (a, Params::parse(b)?),
            None => (rest, Params::new()),
        };
        // LWS is allowed around the port colon; drop it before splitting.
        let sent_by: String = sent_by
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        let (host, port) = split_host_port(&sent_by)?;
        Ok(Self {
            transport: transport.to_owned(),
            host: host.to_owned(),
            port,
            params,
        })
    }

    pub fn branch(&self) -> Option<&str> {
        self.params.get("branch").flatten()
    }

    pub fn received(&self) -> Option<&str> {
        self.params.get("received").flatten()
    }

    /// `None` if absent, `Some(None)` if requested (bare `rport`), `Some(Some(p))` if filled.
    pub fn rport(&self) -> Option<Option<u16>> {
        self.params
            .get("rport")
            .map(|v| v.and_then(|p| p.parse().ok()))
    }

    /// `host[:port]`, lower-cased, as compared by §17.2.3 matching.
    pub fn sent_by(&self) -> String {
        let host = self.host.to_ascii_lowercase();
        match self.port {
            Some(p) => format!("{host}:{p}"),
            None => host,
        }
    }

    /// Whether the transport is stream- or message-reliable (no retransmissions).
    pub fn is_reliable(&self) -> bool {
        !self.transport.eq_ignore_ascii_case("UDP")
    }
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SIP/2.0/{} {}", self.transport, self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        write!(f, "{}", self.params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3261_20_42_via_with_lws_and_rport() {
        let v = Via::parse(
            "SIP  /   2.0 /UDP  192.0.2.2 : 5060 ;branch=z9hG4bK390;rport;received=10.0.0.1",
        )
        .unwrap();
        assert_eq!(v.transport, "UDP");
        assert_eq!(v.sent_by(), "192.0.2.2:5060");
        assert_eq!(v.branch(), Some("z9hG4bK390"));
        assert_eq!(v.rport(), Some(None));
        assert_eq!(v.received(), Some("10.0.0.1"));
        let w = Via::parse("SIP/2.0/WSS abc.invalid;branch=z9hG4bK1").unwrap();
        assert!(w.is_reliable());
        assert_eq!(w.to_string(), "SIP/2.0/WSS abc.invalid;branch=z9hG4bK1");
        assert!(Via::parse("SIP/3.0/UDP h").is_err());
        assert!(Via::parse("SIP/2.0/UDP").is_err());
    }
}
