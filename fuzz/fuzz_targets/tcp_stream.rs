#![no_main]
//! A TCP/TLS byte stream cut into frames by `switchboard_sip::stream::next_frame`, as the stream
//! edge does it: after every read, frames are cut until one is incomplete or the stream is
//! broken. The same stream is fed whole and in chunks whose split points come from the fuzz
//! data: the frames cut must not depend on the chunking. Every message frame is parsed both as
//! a stream message and as a datagram, which must agree.
//!
//! Input layout: one byte `k` (split count, `k % 16`), `k` little-endian u16 split offsets
//! (taken modulo the stream length), then the stream.

use libfuzzer_sys::fuzz_target;
use switchboard_sip::stream::{next_frame, Frame};
use switchboard_sip::{parse, parse_stream, ParseError};

/// The stream edge's cap (`transport::MAX_MESSAGE`).
const MAX_MESSAGE: usize = 64 * 1024;

#[derive(Debug, PartialEq, Eq)]
enum Cut {
    Message(Vec<u8>),
    Ping,
    Filler,
    Broken,
}

fuzz_target!(|data: &[u8]| {
    let Some((&k, rest)) = data.split_first() else {
        return;
    };
    let k = usize::from(k % 16);
    let Some(offsets) = rest.get(..2 * k) else {
        return;
    };
    let stream = &rest[2 * k..];
    let mut splits: Vec<usize> = offsets
        .chunks_exact(2)
        .map(|p| usize::from(u16::from_le_bytes([p[0], p[1]])) % (stream.len() + 1))
        .collect();
    splits.sort_unstable();

    let whole = cut(std::iter::once(stream));
    let mut chunks = Vec::with_capacity(splits.len() + 1);
    let mut at = 0;
    for s in splits {
        chunks.push(&stream[at..s]);
        at = s;
    }
    chunks.push(&stream[at..]);
    let chunked = cut(chunks.iter().copied());
    assert_eq!(whole, chunked, "framing depends on the chunking");

    for c in &whole.0 {
        if let Cut::Message(frame) = c {
            check_frame(frame);
        }
    }
});

/// The edge's reader loop over `chunks`: the frames cut and what is left buffered.
fn cut<'a>(chunks: impl Iterator<Item = &'a [u8]>) -> (Vec<Cut>, Vec<u8>) {
    let mut buf: Vec<u8> = Vec::new();
    let mut cuts = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        loop {
            match next_frame(&buf, MAX_MESSAGE) {
                Frame::Message(n) => {
                    assert!(n > 0 && n <= buf.len() && n <= MAX_MESSAGE, "bad frame {n}");
                    cuts.push(Cut::Message(buf.drain(..n).collect()));
                }
                Frame::Ping => {
                    assert!(buf.starts_with(b"\r\n\r\n"));
                    buf.drain(..4);
                    cuts.push(Cut::Ping);
                }
                Frame::Filler => {
                    assert!(buf.starts_with(b"\r\n"));
                    buf.drain(..2);
                    cuts.push(Cut::Filler);
                }
                Frame::Incomplete => {
                    assert!(buf.len() <= MAX_MESSAGE, "buffering past the cap");
                    break;
                }
                Frame::Broken => {
                    // The edge closes here; what was buffered past this point depends on the
                    // reads, so it is not compared.
                    cuts.push(Cut::Broken);
                    return (cuts, Vec::new());
                }
            }
        }
    }
    (cuts, buf)
}

/// A frame is exactly one message: as a stream it is consumed whole, and read as a datagram
/// it gives the same message.
fn check_frame(frame: &[u8]) {
    let as_stream = parse_stream(frame);
    let as_datagram = parse(frame);
    match (&as_stream, &as_datagram) {
        (Ok((m, used)), Ok(d)) => {
            assert_eq!(*used, frame.len(), "a frame is one whole message");
            assert_eq!(m, d, "stream and datagram parses differ");
            let wire = m.to_bytes();
            let again = parse_stream(&wire).expect("re-serialised message must parse");
            assert_eq!(again.1, wire.len());
        }
        (Err(ParseError::Incomplete), _) => panic!("a cut frame is incomplete"),
        (Err(_), Err(_)) => {}
        _ => panic!("stream and datagram parses disagree: {as_stream:?} vs {as_datagram:?}"),
    }
}
