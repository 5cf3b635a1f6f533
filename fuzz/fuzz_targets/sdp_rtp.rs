#![no_main]
//! SDP as the plain RTP leg reads it: the media crate's `sdp_kind`, `sdp_is_hold` and the
//! audio-line parser (through its fuzzing entry, which asserts the invariants), fed the raw
//! input and, when the input is a SIP message carrying `application/sdp`, its body.

use libfuzzer_sys::fuzz_target;
use switchboard_media::fuzz_remote_sdp;
use switchboard_sip::parse;

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = parse(data) {
        let is_sdp = msg
            .headers()
            .content_type()
            .is_some_and(|t| t.eq_ignore_ascii_case("application/sdp"));
        if is_sdp {
            fuzz_remote_sdp(&String::from_utf8_lossy(msg.body()));
        }
    }
    fuzz_remote_sdp(&String::from_utf8_lossy(data));
});
