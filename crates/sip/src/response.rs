//! Building responses (RFC 3261 §8.2.6) and rejecting unparseable requests (§8.2, §16.3).

use rand::Rng;

use crate::header::HeaderName;
use crate::message::{reason_phrase, Request, Response};
use crate::parse::{parse_start_line, split_head, StartLine};
use crate::text::trim_ws;
use crate::{Headers, Method, ParseError};

/// A response to `req` copying Via, From, To, Call-ID and CSeq (§8.2.6.2).
/// `to_tag` is added when To has no tag yet (never on 100, which the RFC exempts).
pub fn make_response(req: &Request, status: u16, to_tag: Option<&str>) -> Response {
    let mut resp = Response::new(status);
    copy_dialog_headers(&req.headers, &mut resp.headers, status, to_tag);
    resp
}

fn copy_dialog_headers(from: &Headers, to: &mut Headers, status: u16, tag: Option<&str>) {
    for h in from.iter() {
        match h.name {
            HeaderName::Via | HeaderName::From | HeaderName::CallId | HeaderName::CSeq => {
                to.0.push(h.clone())
            }
            // §12.1.1: dialog-establishing responses carry the Record-Route set back.
            HeaderName::RecordRoute if (101..300).contains(&status) => to.0.push(h.clone()),
            HeaderName::To => {
                let mut value = h.value.clone();
                if let Some(tag) = tag.filter(|_| status > 100) {
                    if !has_tag(&value) {
                        value.push_str(";tag=");
                        value.push_str(tag);
                    }
                }
                to.0.push(crate::Header {
                    name: HeaderName::To,
                    value,
                });
            }
            _ => {}
        }
    }
}

fn has_tag(to_value: &str) -> bool {
    crate::header::name_addr::NameAddr::parse(to_value).is_ok_and(|a| a.tag().is_some())
}

/// A fresh random tag or branch suffix (§19.3: at least 32 bits of randomness).
pub fn random_token() -> String {
    let v: u64 = rand::thread_rng().gen();
    format!("{v:016x}")
}

/// A new RFC 3261 branch (`z9hG4bK` + random).
pub fn new_branch() -> String {
    format!("{}{}", crate::header::via::BRANCH_MAGIC, random_token())
}

/// What to do with bytes that failed to parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// Send this response back on the flow the bytes came from.
    Respond(Response),
    /// Nothing sensible can be answered (a response, ACK, or no usable Via).
    Drop,
}

/// Maps a parse failure to the response RFC 3261 asks for, when the request
/// line and the headers a response must echo can still be read.
pub fn reject(input: &[u8], err: &ParseError) -> Rejection {
    let Some(head) = lenient_head(input) else {
        return Rejection::Drop;
    };
    let (status, reason) = match parse_start_line(head.start) {
        Ok(StartLine::Response(..)) => return Rejection::Drop,
        Ok(StartLine::Request(Method::Ack, _)) => return Rejection::Drop,
        Ok(StartLine::Request(..)) => bad_request(err),
        Err(ParseError::UnsupportedVersion) => (505, reason_phrase(505).to_owned()),
        Err(ParseError::UnsupportedScheme) => (416, reason_phrase(416).to_owned()),
        Err(
            ParseError::InvalidUri
            | ParseError::InvalidHost
            | ParseError::InvalidPort
            | ParseError::InvalidParam,
        ) => bad_request(&ParseError::InvalidUri),
        Err(_) => return Rejection::Drop,
    };
    if head.start.starts_with("ACK ") {
        return Rejection::Drop;
    }
    // Without a readable top Via the response cannot be routed back.
    match head.headers.top_via() {
        Ok(_) => {}
        Err(_) => return Rejection::Drop,
    }
    for name in [
        HeaderName::From,
        HeaderName::To,
        HeaderName::CallId,
        HeaderName::CSeq,
    ] {
        if !head.headers.contains(&name) {
            return Rejection::Drop;
        }
    }
    let mut resp = Response::new(status);
    resp.reason = reason;
    let tag = random_token();
    copy_dialog_headers(&head.headers, &mut resp.headers, status, Some(&tag));
    Rejection::Respond(resp)
}

fn bad_request(err: &ParseError) -> (u16, String) {
    (400, format!("Bad Request ({err})"))
}

/// 483 when a request to be forwarded has Max-Forwards 0 (§16.3 item 2).
pub fn check_max_forwards(req: &Request) -> Option<Response> {
    match req.headers.max_forwards() {
        Ok(Some(0)) => Some(make_response(req, 483, Some(&random_token()))),
        _ => None,
    }
}

struct LenientHead<'a> {
    start: &'a str,
    headers: Headers,
}

/// Like the parser's head split, but tolerates broken header lines by skipping them.
fn lenient_head(input: &[u8]) -> Option<LenientHead<'_>> {
    if let Ok(raw) = split_head(input, false) {
        return Some(LenientHead {
            start: raw.start,
            headers: raw.headers,
        });
    }
    let skip = input.iter().position(|&b| b != b'\r' && b != b'\n')?;
    let rest = input.get(skip..)?;
    let end = rest
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(rest.len());
    let head = std::str::from_utf8(rest.get(..end)?).ok()?;
    let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let start = lines.next()?;
    let mut headers = Headers::new();
    for line in lines {
        if let Some((n, v)) = line.split_once(':') {
            let name = HeaderName::parse(trim_ws(n));
            if matches!(
                name,
                HeaderName::Via
                    | HeaderName::From
                    | HeaderName::To
                    | HeaderName::CallId
                    | HeaderName::CSeq
            ) {
                headers.push(name, trim_ws(v));
            }
        }
    }
    Some(LenientHead { start, headers })
}
