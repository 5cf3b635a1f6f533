//! Call transfer by REFER (RFC 3515, RFC 5589): the target in `Refer-To`, the dialog a
//! `Replaces` (RFC 3891) embedded in it names, and the `message/sipfrag` bodies of the NOTIFYs
//! that report how the transfer went.

use crate::error::ParseError;
use crate::header::name_addr::NameAddr;
use crate::uri::{SipUri, Uri};

/// A dialog named by `Replaces: call-id;to-tag=…;from-tag=…[;early-only]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replaces {
    pub call_id: String,
    pub to_tag: String,
    pub from_tag: String,
    pub early_only: bool,
}

impl Replaces {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let mut parts = s.split(';').map(str::trim);
        let call_id = parts.next().filter(|c| !c.is_empty());
        let (mut to_tag, mut from_tag, mut early_only) = (None, None, false);
        for p in parts {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            match k.trim().to_ascii_lowercase().as_str() {
                "to-tag" => to_tag = Some(v.trim().to_owned()),
                "from-tag" => from_tag = Some(v.trim().to_owned()),
                "early-only" => early_only = true,
                _ => {}
            }
        }
        match (call_id, to_tag, from_tag) {
            (Some(c), Some(t), Some(f)) => Ok(Self {
                call_id: c.to_owned(),
                to_tag: t,
                from_tag: f,
                early_only,
            }),
            _ => Err(ParseError::InvalidHeader("Replaces")),
        }
    }

    /// Whether this names the dialog `call_id` with tags `a` and `b`, whichever side each is
    /// (the transferor copies the tags as it sees them).
    pub fn names(&self, call_id: &str, a: &str, b: &str) -> bool {
        self.call_id == call_id
            && ((self.to_tag == a && self.from_tag == b)
                || (self.to_tag == b && self.from_tag == a))
    }
}

/// What a REFER asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferTarget {
    /// The party to connect, without the URI's header part.
    pub uri: SipUri,
    /// Attended transfer: the dialog the target replaces.
    pub replaces: Option<Replaces>,
}

/// Parses a `Refer-To` value; URI headers (`?Replaces=…&…`) are percent-decoded.
pub fn parse_refer_to(value: &str) -> Result<ReferTarget, ParseError> {
    let addr = NameAddr::parse(value)?;
    let Uri::Sip(mut uri) = addr.uri else {
        return Err(ParseError::InvalidHeader("Refer-To"));
    };
    let mut replaces = None;
    if let Some(h) = uri.headers.take() {
        for pair in h.split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            if k.eq_ignore_ascii_case("replaces") {
                let decoded = percent_decode(v).ok_or(ParseError::InvalidHeader("Refer-To"))?;
                replaces = Some(Replaces::parse(&decoded)?);
            }
        }
    }
    Ok(ReferTarget { uri, replaces })
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The body of a transfer NOTIFY: the status line of the call to the target (RFC 3515 §2.4.5).
pub fn sipfrag(status: u16) -> String {
    format!(
        "SIP/2.0 {status} {}\r\n",
        crate::message::reason_phrase(status)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3515_blind_refer_to() {
        let t = parse_refer_to("<sip:2002@my-company.lo>").unwrap();
        assert_eq!(t.uri.user.as_deref(), Some("2002"));
        assert_eq!(t.replaces, None);
        let bare = parse_refer_to("sip:2003@my-company.lo;transport=udp").unwrap();
        assert_eq!(bare.uri.user.as_deref(), Some("2003"));
    }

    #[test]
    fn rfc5589_attended_refer_to_carries_an_escaped_replaces() {
        let t = parse_refer_to(
            "<sip:2002@my-company.lo?Replaces=abc%40host%3Bto-tag%3D111%3Bfrom-tag%3D222>",
        )
        .unwrap();
        let r = t.replaces.expect("replaces");
        assert_eq!(r.call_id, "abc@host");
        assert!(r.names("abc@host", "111", "222"));
        assert!(r.names("abc@host", "222", "111"));
        assert!(!r.names("abc@host", "111", "333"));
        assert_eq!(t.uri.headers, None);
        assert_eq!(t.uri.user.as_deref(), Some("2002"));
    }

    #[test]
    fn broken_targets_are_refused() {
        assert!(parse_refer_to("<tel:+123>").is_err());
        assert!(parse_refer_to("<sip:a@b?Replaces=x%3Bto-tag%3D1>").is_err());
        assert!(parse_refer_to("<sip:a@b?Replaces=x%zz>").is_err());
    }

    #[test]
    fn sipfrag_is_a_status_line() {
        assert_eq!(sipfrag(100), "SIP/2.0 100 Trying\r\n");
        assert_eq!(sipfrag(200), "SIP/2.0 200 OK\r\n");
    }
}
