//! Cutting SIP messages off a byte stream (TCP, TLS): RFC 3261 §18.3 framing by Content-Length
//! and RFC 5626 §3.5.1 CRLF keep-alives. Pure: the transport edge owns the socket and the buffer,
//! calls [`next_frame`] on what it has buffered, and acts on the answer.

use crate::parse::framed_len;

/// What the front of a stream buffer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// A whole message of this many bytes (hand them to the transaction layer).
    Message(usize),
    /// `\r\n\r\n`: a keep-alive ping (drop 4 bytes, answer with a single CRLF pong).
    Ping,
    /// A lone `\r\n` (a pong, or filler between messages): drop 2 bytes.
    Filler,
    /// More bytes are needed.
    Incomplete,
    /// The stream cannot be framed any further: close the connection, there is no next
    /// message to resynchronise on.
    Broken,
}

/// Cuts the next frame off the front of `buf`, refusing messages (and heads still without
/// their end) longer than `max` bytes.
///
/// The answer depends only on the bytes, never on how they arrived: an edge that calls this
/// after every read, until it answers `Incomplete` or `Broken`, cuts the same frames whatever
/// the chunking of the stream.
pub fn next_frame(buf: &[u8], max: usize) -> Frame {
    if buf.starts_with(b"\r\n\r\n") {
        return Frame::Ping;
    }
    if buf.starts_with(b"\r\n") {
        // Wait for a possible second CRLF before deciding it is filler.
        return if buf.len() >= 4 || (buf.len() > 2 && buf[2] != b'\r') {
            Frame::Filler
        } else {
            Frame::Incomplete
        };
    }
    match framed_len(buf) {
        Ok(Some(n)) if n > max => Frame::Broken,
        Ok(Some(n)) if n > buf.len() => Frame::Incomplete,
        Ok(Some(n)) => Frame::Message(n),
        Err(_) => Frame::Broken,
        Ok(None) if buf.len() > max => Frame::Broken,
        Ok(None) => Frame::Incomplete,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = 64 * 1024;

    const REGISTER: &[u8] = b"REGISTER sip:a.lo SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n\
From: <sip:1@a.lo>;tag=1\r\nTo: <sip:1@a.lo>\r\nCall-ID: c\r\nCSeq: 1 REGISTER\r\n\
Content-Length: 0\r\n\r\n";

    #[test]
    fn a_message_is_cut_at_its_content_length() {
        let mut two = REGISTER.to_vec();
        two.extend_from_slice(REGISTER);
        assert_eq!(next_frame(&two, MAX), Frame::Message(REGISTER.len()));
        assert_eq!(next_frame(&REGISTER[..20], MAX), Frame::Incomplete);
    }

    #[test]
    fn double_crlf_is_a_ping_and_single_crlf_is_filler() {
        assert_eq!(next_frame(b"\r\n\r\n", MAX), Frame::Ping);
        assert_eq!(next_frame(b"\r\n", MAX), Frame::Incomplete);
        assert_eq!(next_frame(b"\r\n\r", MAX), Frame::Incomplete);
        assert_eq!(next_frame(b"\r\nREG", MAX), Frame::Filler);
    }

    #[test]
    fn oversized_or_unframeable_streams_are_broken() {
        let big = format!(
            "INVITE sip:a SIP/2.0\r\nContent-Length: {}\r\n\r\n",
            MAX * 2
        );
        assert_eq!(next_frame(big.as_bytes(), MAX), Frame::Broken);
        let endless = vec![b'a'; MAX + 1];
        assert_eq!(next_frame(&endless, MAX), Frame::Broken);
        let no_length = b"OPTIONS sip:a SIP/2.0\r\nCall-ID: c\r\n\r\n";
        assert_eq!(next_frame(no_length, MAX), Frame::Broken);
    }

    #[test]
    fn the_cap_is_the_callers() {
        let mut two = REGISTER.to_vec();
        two.extend_from_slice(REGISTER);
        assert_eq!(
            next_frame(&two, REGISTER.len()),
            Frame::Message(REGISTER.len())
        );
        assert_eq!(next_frame(&two, REGISTER.len() - 1), Frame::Broken);
    }
}
