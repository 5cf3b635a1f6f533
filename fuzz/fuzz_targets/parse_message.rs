#![no_main]
//! Arbitrary bytes into the parser; whatever parses must re-serialise into
//! something that parses again and serialises identically.

use libfuzzer_sys::fuzz_target;
use switchboard_sip::response::reject;
use switchboard_sip::{parse, parse_stream, Message};

fuzz_target!(|data: &[u8]| {
    let _ = parse_stream(data);
    match parse(data) {
        Ok(msg) => {
            touch_typed(&msg);
            let wire = msg.to_bytes();
            let again = parse(&wire).expect("re-serialised message must parse");
            assert_eq!(again.to_bytes(), wire, "serialisation must be stable");
        }
        Err(e) => {
            if let switchboard_sip::response::Rejection::Respond(r) = reject(data, &e) {
                let _ = r.to_bytes();
            }
        }
    }
});

fn touch_typed(m: &Message) {
    let h = m.headers();
    let _ = h.vias();
    let _ = h.contacts().map(|c| {
        for x in c {
            let _ = (x.expires(), x.instance(), x.reg_id());
        }
    });
    let _ = h.routes();
    let _ = h.record_routes();
    let _ = h.authorization();
    let _ = h.www_authenticate();
    let _ = h.session_expires();
    let _ = h.min_se();
    let _ = h.expires();
    let _ = h.supports("outbound");
}
