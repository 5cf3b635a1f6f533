//! Message parser (RFC 3261 §7, §25). Never panics: all slicing is checked.

use std::borrow::Cow;

use bytes::Bytes;

use crate::header::{parse_delta, Header, HeaderName, Headers};
use crate::message::{Message, Request, Response};
use crate::text::{is_token, is_ws, split_top_level, trim_ws};
use crate::uri::Uri;
use crate::{Method, ParseError};

/// Largest header section we accept before giving up on a stream.
pub const MAX_HEAD: usize = 64 * 1024;
/// Largest body we accept.
pub const MAX_BODY: usize = 4 * 1024 * 1024;

/// Parses one complete message from a datagram or a WebSocket message
/// (RFC 7118 §5: one SIP message per WebSocket message; Content-Length optional).
pub fn parse(input: &[u8]) -> Result<Message, ParseError> {
    parse_framed(input, false).map(|(m, _)| m)
}

/// Parses the first message in a stream buffer (TCP/TLS). Content-Length is
/// mandatory (§18.3). Returns the message and the bytes consumed, or
/// `Err(Incomplete)` when more bytes are needed.
pub fn parse_stream(input: &[u8]) -> Result<(Message, usize), ParseError> {
    parse_framed(input, true)
}

fn parse_framed(input: &[u8], stream: bool) -> Result<(Message, usize), ParseError> {
    let raw = split_head(input, stream)?;
    let body_len = body_length(
        &raw.headers,
        input.len().saturating_sub(raw.body_start),
        stream,
    )?;
    let end = raw
        .body_start
        .checked_add(body_len)
        .ok_or(ParseError::TooLarge)?;
    let body = input
        .get(raw.body_start..end)
        .ok_or(ParseError::Incomplete)?;
    let body = Bytes::copy_from_slice(body);
    let msg = match parse_start_line(raw.start)? {
        StartLine::Request(method, uri) => {
            let req = Request {
                method,
                uri,
                headers: raw.headers,
                body,
            };
            validate_request(&req)?;
            Message::Request(req)
        }
        StartLine::Response(status, reason) => {
            let resp = Response {
                status,
                reason: reason.to_owned(),
                headers: raw.headers,
                body,
            };
            validate_common(&resp.headers)?;
            Message::Response(resp)
        }
    };
    Ok((msg, end))
}

/// For stream transports: the total length of the first message as soon as its head is in
/// (the caller waits until that many bytes are buffered, or refuses a length it will not
/// buffer), `None` while the head is incomplete.
pub fn framed_len(input: &[u8]) -> Result<Option<usize>, ParseError> {
    match split_head(input, true) {
        Ok(raw) => match body_length(&raw.headers, usize::MAX, true) {
            Ok(n) => Ok(Some(raw.body_start.saturating_add(n))),
            Err(ParseError::Incomplete) => Ok(None),
            Err(e) => Err(e),
        },
        Err(ParseError::Incomplete) => Ok(None),
        Err(e) => Err(e),
    }
}

fn body_length(headers: &Headers, available: usize, stream: bool) -> Result<usize, ParseError> {
    let mut declared: Option<u32> = None;
    for v in headers.get_all(&HeaderName::ContentLength) {
        let n = parse_delta(v).ok_or(ParseError::InvalidHeader("Content-Length"))?;
        if declared.is_some_and(|d| d != n) {
            return Err(ParseError::InvalidHeader("Content-Length"));
        }
        declared = Some(n);
    }
    match declared {
        Some(n) => {
            let n = usize::try_from(n).map_err(|_| ParseError::TooLarge)?;
            if n > MAX_BODY {
                Err(ParseError::TooLarge)
            } else if n > available {
                // §18.3: on a datagram a short body is an error; on a stream wait for more.
                Err(if stream {
                    ParseError::Incomplete
                } else {
                    ParseError::ContentLength
                })
            } else {
                Ok(n)
            }
        }
        None if stream => Err(ParseError::MissingContentLength),
        None if available > MAX_BODY => Err(ParseError::TooLarge),
        None => Ok(available),
    }
}

pub(crate) struct RawHead<'a> {
    pub start: &'a str,
    pub headers: Headers,
    pub body_start: usize,
}

/// Splits off the start line and the unfolded headers without validating them.
pub(crate) fn split_head(input: &[u8], stream: bool) -> Result<RawHead<'_>, ParseError> {
    // §7.5: CRLFs before the start line are ignored (keep-alives on streams).
    let skip = input
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .ok_or(if stream {
            ParseError::Incomplete
        } else {
            ParseError::Empty
        })?;
    let rest = input.get(skip..).unwrap_or(&[]);
    let (head_len, sep_len) = match find_blank_line(rest) {
        Some(x) => x,
        None if stream && rest.len() < MAX_HEAD => return Err(ParseError::Incomplete),
        None if rest.len() >= MAX_HEAD => return Err(ParseError::TooLarge),
        // A datagram without the empty line: the whole thing is the head.
        None => {
            let trailing = rest
                .iter()
                .rev()
                .take_while(|&&b| b == b'\r' || b == b'\n')
                .count();
            (rest.len().saturating_sub(trailing), trailing)
        }
    };
    if head_len > MAX_HEAD {
        return Err(ParseError::TooLarge);
    }
    let head = rest.get(..head_len).ok_or(ParseError::Incomplete)?;
    let head = std::str::from_utf8(head).map_err(|_| ParseError::InvalidUtf8)?;
    let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let start = lines.next().ok_or(ParseError::InvalidStartLine)?;
    let mut logical: Vec<Cow<'_, str>> = Vec::with_capacity(16);
    for line in lines {
        if line.starts_with(is_ws) {
            // §7.3.1: a continuation line folds into the previous header with one SP.
            let prev = logical.last_mut().ok_or(ParseError::InvalidHeaderLine)?;
            let folded = trim_ws(line);
            if !folded.is_empty() {
                let p = prev.to_mut();
                let trimmed_len = p.trim_end_matches(is_ws).len();
                p.truncate(trimmed_len);
                p.push(' ');
                p.push_str(folded);
            }
        } else if line.is_empty() {
            return Err(ParseError::InvalidHeaderLine);
        } else {
            logical.push(Cow::Borrowed(line));
        }
    }
    let mut headers = Headers(Vec::with_capacity(logical.len() + 4));
    for line in &logical {
        let (name, value) = line.split_once(':').ok_or(ParseError::InvalidHeaderLine)?;
        let name = name.trim_end_matches(is_ws);
        if !is_token(name) {
            return Err(ParseError::InvalidHeaderLine);
        }
        let name = HeaderName::parse(name);
        let value = trim_ws(value);
        if name.is_split_list() {
            for v in split_top_level(value, ',') {
                if v.is_empty() {
                    return Err(ParseError::InvalidHeaderLine);
                }
                headers.0.push(Header {
                    name: name.clone(),
                    value: v.to_owned(),
                });
            }
        } else {
            headers.0.push(Header {
                name,
                value: value.to_owned(),
            });
        }
    }
    Ok(RawHead {
        start,
        headers,
        body_start: skip
            .saturating_add(head_len)
            .saturating_add(sep_len)
            .min(input.len()),
    })
}

/// Position of the empty line: (length of head, length of separator).
fn find_blank_line(b: &[u8]) -> Option<(usize, usize)> {
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'\n' {
            if b.get(i + 1) == Some(&b'\n') {
                return Some((i, 2));
            }
            if b.get(i + 1) == Some(&b'\r') && b.get(i + 2) == Some(&b'\n') {
                return Some((i, 3));
            }
        }
        i += 1;
    }
    None
}

pub(crate) enum StartLine<'a> {
    Request(Method, Uri),
    Response(u16, &'a str),
}

pub(crate) fn parse_start_line(line: &str) -> Result<StartLine<'_>, ParseError> {
    if line
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case("SIP/"))
    {
        let (version, rest) = line.split_once(' ').ok_or(ParseError::InvalidStartLine)?;
        check_version(version)?;
        let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
        if code.len() != 3 || !code.bytes().all(|c| c.is_ascii_digit()) {
            return Err(ParseError::InvalidStatus);
        }
        let status: u16 = code.parse().map_err(|_| ParseError::InvalidStatus)?;
        if !(100..700).contains(&status) || reason.contains(|c: char| c.is_control() && c != '\t') {
            return Err(ParseError::InvalidStatus);
        }
        return Ok(StartLine::Response(status, reason));
    }
    let mut parts = line.splitn(3, ' ');
    let method = parts.next().ok_or(ParseError::InvalidStartLine)?;
    let uri = parts.next().ok_or(ParseError::InvalidStartLine)?;
    let version = parts.next().ok_or(ParseError::InvalidStartLine)?;
    let method = Method::parse(method)?;
    check_version(version)?;
    let uri = Uri::parse(uri)?;
    // §19.1.5: headers are not allowed in a Request-URI (RFC 4475 §3.1.2.11).
    if uri.as_sip().is_some_and(|u| u.headers.is_some()) {
        return Err(ParseError::InvalidUri);
    }
    if let Uri::Other { scheme, .. } = &uri {
        if !scheme.eq_ignore_ascii_case("tel") {
            return Err(ParseError::UnsupportedScheme);
        }
    }
    Ok(StartLine::Request(method, uri))
}

fn check_version(v: &str) -> Result<(), ParseError> {
    if v.eq_ignore_ascii_case("SIP/2.0") {
        return Ok(());
    }
    let looks_like_version = v.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("SIP/"))
        && v.get(4..)
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit() || c == b'.'));
    Err(if looks_like_version {
        ParseError::UnsupportedVersion
    } else {
        ParseError::InvalidStartLine
    })
}

fn validate_common(h: &Headers) -> Result<(), ParseError> {
    // Single-valued headers must not repeat (RFC 4475 "multi01").
    for (name, label) in [
        (HeaderName::From, "From"),
        (HeaderName::To, "To"),
        (HeaderName::CallId, "Call-ID"),
        (HeaderName::CSeq, "CSeq"),
        (HeaderName::MaxForwards, "Max-Forwards"),
        (HeaderName::ContentType, "Content-Type"),
    ] {
        if h.get_all(&name).nth(1).is_some() {
            return Err(ParseError::InvalidHeader(label));
        }
    }
    h.vias()?;
    h.top_via()?;
    h.from()?;
    h.to()?;
    h.call_id()?;
    h.cseq()?;
    h.max_forwards()?;
    Ok(())
}

fn validate_request(req: &Request) -> Result<(), ParseError> {
    validate_common(&req.headers)?;
    if req.headers.cseq()?.method != req.method {
        return Err(ParseError::CSeqMethodMismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &str = "INVITE sip:bob@biloxi.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@biloxi.com>\r\n\
From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@pc33.atlanta.com>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 4\r\n\r\nv=0\n";

    #[test]
    fn rfc3261_7_parses_and_roundtrips_invite() {
        let m = parse(INVITE.as_bytes()).unwrap();
        let Message::Request(r) = &m else {
            panic!("request")
        };
        assert_eq!(r.method, Method::Invite);
        assert_eq!(&r.body[..], b"v=0\n");
        assert_eq!(r.headers.cseq().unwrap().seq, 314159);
        assert_eq!(m.to_bytes(), INVITE.as_bytes());
    }

    #[test]
    fn rfc3261_18_3_stream_framing() {
        let mut two = INVITE.as_bytes().to_vec();
        two.extend_from_slice(INVITE.as_bytes());
        let (_, used) = parse_stream(&two).unwrap();
        assert_eq!(used, INVITE.len());
        assert_eq!(framed_len(&two[..10]).unwrap(), None);
        assert_eq!(
            framed_len(&two[..INVITE.len() - 1]).unwrap(),
            Some(INVITE.len())
        );
        assert_eq!(framed_len(&two).unwrap(), Some(INVITE.len()));
        let no_cl = INVITE.replace("Content-Length: 4\r\n", "");
        assert_eq!(
            parse_stream(no_cl.as_bytes()).unwrap_err(),
            ParseError::MissingContentLength
        );
        // On a datagram the body is the rest of the packet.
        assert!(parse(no_cl.as_bytes()).is_ok());
    }

    #[test]
    fn rfc3261_18_3_datagram_short_body_is_error() {
        let bad = INVITE.replace("Content-Length: 4", "Content-Length: 40");
        assert_eq!(
            parse(bad.as_bytes()).unwrap_err(),
            ParseError::ContentLength
        );
        let extra = format!("{INVITE}garbage");
        let Message::Request(r) = parse(extra.as_bytes()).unwrap() else {
            panic!()
        };
        assert_eq!(&r.body[..], b"v=0\n");
    }

    #[test]
    fn rfc3261_7_3_3_compact_forms_and_case() {
        let s = "OPTIONS sip:x@y SIP/2.0\r\nv: SIP/2.0/UDP h;branch=z9hG4bK1\r\nf: <sip:a@b>;tag=1\r\nt: <sip:x@y>\r\ni: abc\r\ncseq: 1 OPTIONS\r\nk: path, outbound\r\nm: <sip:a@h>, <sip:b@h>\r\nl: 0\r\n\r\n";
        let Message::Request(r) = parse(s.as_bytes()).unwrap() else {
            panic!()
        };
        assert_eq!(r.headers.call_id().unwrap(), "abc");
        assert!(r.headers.supports("outbound"));
        assert_eq!(r.headers.contacts().unwrap().len(), 2);
    }
}
