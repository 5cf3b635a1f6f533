//! A browser stand-in: a str0m peer (full ICE, DTLS client) on its own UDP socket that sends
//! numbered synthetic Opus packets and records every RTP packet it receives.
#![allow(dead_code)] // each test file uses a different part of it

pub mod browser;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use str0m::change::SdpPendingOffer;
use str0m::format::Codec;
use str0m::media::{Direction, Frequency, Mid, Pt, TelephoneEvent};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{ExtensionValues, RtpWrite, SeqNo};
use str0m::{Event, Input, Output, Rtc};
use switchboard_media::{LegId, MediaEvent, MediaServer, MediaServerConfig};
use tokio::net::UdpSocket;

pub const PAYLOAD_LEN: usize = 60;

/// One RTP packet as the client received it.
#[derive(Debug, Clone)]
pub struct Rx {
    pub pt: u8,
    pub ssrc: u32,
    pub seq: u64,
    pub rtp_time: u32,
    pub marker: bool,
    /// RFC 6464 level (-dBov) the packet carried, if any.
    pub audio_level: Option<i8>,
    pub payload: Vec<u8>,
}

pub struct Client {
    pub rtc: Rtc,
    socket: UdpSocket,
    pub local: SocketAddr,
    pub mid: Option<Mid>,
    pending: Option<SdpPendingOffer>,
    pub received: Vec<Rx>,
    pub connected: bool,
    /// Tag byte at the start of every payload this client sends.
    pub tag: u8,
    pub sent: u32,
    /// SSRC of our own send stream (known once we wrote to it).
    pub tx_ssrc: u32,
    seq: SeqNo,
    timeout: Instant,
    buf: Vec<u8>,
}

impl Client {
    pub async fn new(tag: u8) -> Client {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let local = socket.local_addr().unwrap();
        let now = Instant::now();
        let rtc = browser::rtc(local, None, now);
        Client {
            rtc,
            socket,
            local,
            mid: None,
            pending: None,
            received: Vec::new(),
            connected: false,
            tag,
            sent: 0,
            tx_ssrc: 0,
            seq: 1000.into(),
            timeout: now,
            buf: vec![0; 2048],
        }
    }

    /// Our offer, as a browser calling in would send it.
    pub fn offer(&mut self) -> String {
        let (mid, pending, offer) = browser::offer(&mut self.rtc);
        self.mid = Some(mid);
        self.pending = Some(pending);
        self.drain();
        offer
    }

    pub fn accept_answer(&mut self, sdp: &str) {
        browser::accept_answer(&mut self.rtc, self.pending.take().unwrap(), sdp);
        self.drain();
    }

    /// Answers an offer (the server calling this browser, or a re-offer).
    pub fn answer(&mut self, sdp: &str) -> String {
        let answer = browser::answer(&mut self.rtc, sdp);
        self.drain();
        answer
    }

    /// A re-offer changing our direction (the browser putting the call on hold).
    pub fn reoffer(&mut self, dir: Direction) -> String {
        let mid = self.mid.unwrap();
        let mut api = self.rtc.sdp_api();
        api.set_direction(mid, dir);
        let (offer, pending) = api.apply().unwrap();
        self.pending = Some(pending);
        self.drain();
        offer.to_sdp_string()
    }

    fn pt(&self, codec: Codec) -> Pt {
        browser::pt(&self.rtc, codec)
    }

    pub fn tele_pt(&self) -> u8 {
        *self.pt(Codec::Tele)
    }

    fn drain(&mut self) {
        loop {
            match self.rtc.poll_output().unwrap() {
                Output::Timeout(t) => {
                    self.timeout = t;
                    return;
                }
                Output::Transmit(t) => {
                    let _ = self.socket.try_send_to(&t.contents, t.destination);
                }
                Output::Event(e) => match e {
                    Event::Connected => self.connected = true,
                    Event::MediaAdded(m) if self.mid.is_none() => self.mid = Some(m.mid),
                    Event::RtpPacket(p) => self.received.push(Rx {
                        pt: *p.header.payload_type,
                        ssrc: *p.header.ssrc,
                        seq: *p.seq_no,
                        rtp_time: p.header.timestamp,
                        marker: p.header.marker,
                        audio_level: p.header.ext_vals.audio_level,
                        payload: p.payload.to_vec(),
                    }),
                    _ => {}
                },
            }
        }
    }

    fn write(&mut self, pt: Pt, rtp_time: u32, marker: bool, payload: Vec<u8>) {
        self.write_with(pt, rtp_time, marker, ExtensionValues::default(), payload)
    }

    fn write_with(
        &mut self,
        pt: Pt,
        rtp_time: u32,
        marker: bool,
        ext: ExtensionValues,
        payload: Vec<u8>,
    ) {
        let now = Instant::now();
        let mid = self.mid.unwrap();
        let seq = self.seq;
        self.seq = (*seq + 1).into();
        let mut api = self.rtc.direct_api();
        let stream = api.stream_tx_by_mid(mid, None).unwrap();
        self.tx_ssrc = *stream.ssrc();
        stream.write_rtp(
            RtpWrite::new(pt, seq, rtp_time, now, Arc::<[u8]>::from(payload))
                .marker(marker)
                .ext_vals(ext),
        );
        self.drain();
        self.rtc.handle_input(Input::Timeout(now)).unwrap();
        self.drain();
    }

    /// Sends one synthetic 60-byte "Opus" packet: tag, counter, padding.
    pub fn send_audio(&mut self) {
        let n = self.sent;
        self.sent += 1;
        let mut payload = vec![0u8; PAYLOAD_LEN];
        payload[0] = self.tag;
        payload[1..5].copy_from_slice(&n.to_be_bytes());
        let pt = self.pt(Codec::Opus);
        let ext = ExtensionValues {
            audio_level: Some(-((n % 100) as i8)),
            voice_activity: Some(true),
            ..Default::default()
        };
        self.write_with(pt, 960 * n, n == 0, ext, payload);
    }

    /// Sends one RFC 4733 digit as a browser does: a few reports, then three end reports.
    pub fn send_dtmf(&mut self, event: u8, rtp_time: u32) {
        let pt = self.pt(Codec::Tele);
        for i in 1..=8u32 {
            let end = i > 5;
            let report = TelephoneEvent {
                event,
                end,
                volume: 10,
                duration: Duration::from_millis(20 * i.min(5) as u64),
            };
            let bytes = report.to_bytes(Frequency::FORTY_EIGHT_KHZ).unwrap();
            self.write(pt, rtp_time, i == 1, bytes.to_vec());
        }
    }

    /// Runs the client's I/O for `dur`, sending an audio packet every `send_every` if given.
    pub async fn pump(&mut self, dur: Duration, send_every: Option<Duration>) {
        let end = Instant::now() + dur;
        let mut next_send = Instant::now();
        loop {
            let now = Instant::now();
            if now >= end {
                return;
            }
            if let Some(every) = send_every {
                if now >= next_send && self.connected {
                    self.send_audio();
                    next_send += every;
                }
            }
            if self.timeout <= now {
                self.rtc.handle_input(Input::Timeout(now)).unwrap();
                self.drain();
            }
            let mut wake = self.timeout.min(end);
            if send_every.is_some() {
                wake = wake.min(next_send);
            }
            let sleep = tokio::time::sleep_until(wake.into());
            tokio::select! {
                r = self.socket.recv_from(&mut self.buf) => {
                    let (n, src) = r.unwrap();
                    let now = Instant::now();
                    if let Ok(recv) = Receive::new(Protocol::Udp, src, self.local, &self.buf[..n]) {
                        self.rtc.handle_input(Input::Receive(now, recv)).unwrap();
                        self.drain();
                    }
                }
                _ = sleep => {}
            }
        }
    }

    /// Sends raw bytes from this client's socket.
    pub async fn socket_send(&self, bytes: &[u8], to: SocketAddr) -> std::io::Result<usize> {
        self.socket.send_to(bytes, to).await
    }

    pub fn payloads_from(&self, tag: u8) -> Vec<&Rx> {
        self.received
            .iter()
            .filter(|r| r.payload.first() == Some(&tag))
            .collect()
    }
}

/// A running server with two connected browser legs: `a` called in (server answered), `b` was
/// called by the server (server offered), as in a B2BUA call.
pub struct Call {
    pub server: MediaServer,
    pub a: Client,
    pub b: Client,
    pub leg_a: LegId,
    pub leg_b: LegId,
    pub events: Vec<MediaEvent>,
}

/// A media server with two shards, as on a two-core machine.
pub async fn two_shards() -> MediaServer {
    MediaServer::start(MediaServerConfig {
        shards: 2,
        ..Default::default()
    })
    .await
    .unwrap()
}

/// Where a test call's legs go on the two shards.
enum Placement {
    /// `a` on shard 0, `b` created next to it.
    Near,
    /// An idle leg on shard 0 first, so the call (`b` next to `a`) lands on shard 1.
    SecondShard,
    /// `b` placed by load, so on the other shard than `a`.
    Across,
}

impl Call {
    pub async fn connect() -> Call {
        Self::setup(Placement::Near).await
    }

    /// As `connect`, on shard 1.
    pub async fn connect_on_second_shard() -> Call {
        Self::setup(Placement::SecondShard).await
    }

    /// As `connect`, with `a` and `b` on different shards.
    pub async fn connect_across_shards() -> Call {
        Self::setup(Placement::Across).await
    }

    async fn setup(placement: Placement) -> Call {
        let mut server = two_shards().await;
        let h = server.handle.clone();
        if matches!(placement, Placement::SecondShard) {
            h.create_offerer(None).await.unwrap();
        }
        let mut a = Client::new(b'A').await;
        let offer = a.offer();
        let (leg_a, answer) = h.create_answerer(offer, None).await.unwrap();
        a.accept_answer(&answer);

        let mut b = Client::new(b'B').await;
        let near = (!matches!(placement, Placement::Across)).then_some(leg_a);
        let (leg_b, offer) = h.create_offerer(near).await.unwrap();
        let answer = b.answer(&offer);
        h.accept_answer(leg_b, answer).await.unwrap();

        let deadline = Instant::now() + Duration::from_secs(5);
        let mut events = Vec::new();
        while !(a.connected && b.connected) || connected_legs(&events) < 2 {
            assert!(Instant::now() < deadline, "legs did not connect");
            tokio::join!(
                a.pump(Duration::from_millis(20), None),
                b.pump(Duration::from_millis(20), None)
            );
            while let Ok(e) = server.events.try_recv() {
                events.push(e);
            }
        }
        Call {
            server,
            a,
            b,
            leg_a,
            leg_b,
            events,
        }
    }

    /// Both clients send audio every 20 ms for `dur` and receive what comes.
    pub async fn talk(&mut self, dur: Duration, a_sends: bool, b_sends: bool) {
        let every = Duration::from_millis(20);
        tokio::join!(
            self.a.pump(dur, a_sends.then_some(every)),
            self.b.pump(dur, b_sends.then_some(every))
        );
        self.collect_events();
    }

    pub fn collect_events(&mut self) {
        while let Ok(e) = self.server.events.try_recv() {
            self.events.push(e);
        }
    }

    pub fn handle(&self) -> &switchboard_media::MediaHandle {
        &self.server.handle
    }
}

fn connected_legs(events: &[MediaEvent]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, MediaEvent::Connected { .. }))
        .count()
}

/// Checks that packets carry consecutive sequence numbers.
pub fn assert_sequence_continuous(rx: &[&Rx]) {
    for w in rx.windows(2) {
        assert_eq!(w[1].seq, w[0].seq + 1, "sequence gap");
    }
}
