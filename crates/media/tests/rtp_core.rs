//! The sans-IO core with RTP legs, no sockets: datagrams carry the local port they arrived on
//! or leave from, time is ours to advance.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::phone::{frame, parse, rtp};
use switchboard_media::{Datagram, LegKind, MediaConfig, MediaCore, MediaError, MediaEvent};

const SERVER: &str = "192.0.2.1";
const PHONE_A: &str = "198.51.100.7:40000";
const PHONE_B: &str = "198.51.100.8:50000";

fn core() -> MediaCore {
    let mut core = MediaCore::new(MediaConfig {
        candidate_addr: format!("{SERVER}:9000").parse().unwrap(),
        ice_lite: true,
        shard: 0,
        shards: 1,
    });
    core.add_rtp_port(format!("{SERVER}:20000").parse().unwrap());
    core.add_rtp_port(format!("{SERVER}:20002").parse().unwrap());
    core
}

fn phone_sdp(addr: &str, pts: &str) -> String {
    let a: SocketAddr = addr.parse().unwrap();
    format!(
        "v=0\r\no=p 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP {pts}\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n",
        ip = a.ip(),
        port = a.port()
    )
}

fn transmits(core: &mut MediaCore) -> Vec<Datagram> {
    std::iter::from_fn(|| core.poll_transmit()).collect()
}

#[test]
fn rtp_legs_take_the_ports_handed_in_and_their_datagrams_name_them() {
    let mut core = core();
    let t0 = Instant::now();
    let (a, answer) = core
        .create_answerer(&phone_sdp(PHONE_A, "0 101"), t0)
        .unwrap();
    assert!(answer.contains("m=audio 20000 RTP/AVP 0 101"), "{answer}");
    let (b, offer) = core.create_offerer_kind(LegKind::Rtp, t0).unwrap();
    assert!(offer.contains("m=audio 20002 RTP/AVP 0 8 101"), "{offer}");
    assert!(matches!(
        core.create_offerer_kind(LegKind::Rtp, t0),
        Err(MediaError::NoPorts)
    ));
    core.accept_answer(b, &phone_sdp(PHONE_B, "8 101"), t0)
        .unwrap();
    core.bridge(a, b).unwrap();
    let events: Vec<_> = std::iter::from_fn(|| core.poll_event()).collect();
    assert!(events.contains(&MediaEvent::Connected { leg: a }));
    assert!(events.contains(&MediaEvent::Connected { leg: b }));

    // A PCMU packet from phone A on port 20000 leaves port 20002 toward B as PCMA.
    let to_a: SocketAddr = format!("{SERVER}:20000").parse().unwrap();
    let packet = rtp(0, true, 7, 160, 0xaaaa, &frame(b'A', 0));
    core.handle_receive(PHONE_A.parse().unwrap(), to_a, &packet, t0);
    let out = transmits(&mut core);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].local_port, Some(20002));
    assert_eq!(out[0].destination, PHONE_B.parse().unwrap());
    let p = parse(&out[0].contents).unwrap();
    assert_eq!(p.pt, 8);
    assert!(p.marker);
    let want: Vec<u8> = frame(b'A', 0)
        .into_iter()
        .map(switchboard_media::g711::ulaw_to_alaw)
        .collect();
    assert_eq!(p.payload, want);
    assert!(matches!(
        core.poll_event(),
        Some(MediaEvent::MediaStarted { leg }) if leg == a
    ));
}

#[test]
fn rtp_legs_report_on_rtcp_every_five_seconds_and_count_the_phones_reports() {
    let mut core = core();
    let t0 = Instant::now();
    let (a, _) = core
        .create_answerer(&phone_sdp(PHONE_A, "0 101"), t0)
        .unwrap();
    let rtp_port: SocketAddr = format!("{SERVER}:20000").parse().unwrap();
    let rtcp_port: SocketAddr = format!("{SERVER}:20001").parse().unwrap();
    core.send_dtmf(a, "3", t0).unwrap();

    let mut reports = Vec::new();
    let mut now = t0;
    while now < t0 + Duration::from_secs(13) {
        now += Duration::from_millis(20);
        core.handle_timeout(now);
        for d in transmits(&mut core) {
            if d.local_port == Some(20001) {
                reports.push((now, d));
            }
        }
    }
    // The first after 2.5 s (RFC 3550 §6.2), then every 5 s.
    assert_eq!(
        reports.len(),
        3,
        "{:?}",
        reports.iter().map(|r| r.0 - t0).collect::<Vec<_>>()
    );
    let first = &reports[0];
    assert!(first.0 - t0 >= Duration::from_millis(2500));
    assert!(reports[1].0 - first.0 >= Duration::from_secs(5));
    let sr = &first.1;
    assert_eq!(
        sr.destination,
        "198.51.100.7:40001".parse().unwrap(),
        "RTP port + 1"
    );
    assert_eq!(sr.contents[1], 200, "a sender report: the digit was sent");
    assert_eq!(
        u32::from_be_bytes(sr.contents[20..24].try_into().unwrap()),
        7,
        "packets"
    );

    // The phone's receiver reports are counted (also muxed on the RTP port, from where its
    // RTP comes); reports from elsewhere are not.
    let rr = [0x80, 201, 0, 1, 0, 0, 0xaa, 0xaa];
    core.handle_receive("198.51.100.7:40001".parse().unwrap(), rtcp_port, &rr, now);
    core.handle_receive("203.0.113.9:4000".parse().unwrap(), rtcp_port, &rr, now);
    let audio = rtp(0, true, 1, 0, 0xaaaa, &frame(b'A', 0));
    core.handle_receive(PHONE_A.parse().unwrap(), rtp_port, &audio, now);
    core.handle_receive(PHONE_A.parse().unwrap(), rtp_port, &rr, now);
    let stats = core.stats(a).unwrap();
    assert_eq!((stats.rtcp_in, stats.rtcp_out, stats.rtp_in), (2, 3, 1));

    // Closing sends a BYE and frees the pair for the I/O edge to close.
    core.close(a, now).unwrap();
    let bye = transmits(&mut core);
    assert_eq!(bye.len(), 1);
    assert_eq!(bye[0].contents[1], 203);
    assert_eq!(core.poll_freed_port(), Some(20000));
    assert_eq!(core.poll_freed_port(), None);
    assert_eq!(core.leg_count(), 0);
}
