//! A browser stand-in: a str0m peer (full ICE, DTLS client) on its own UDP socket that sends
//! numbered synthetic Opus packets and records every RTP packet it receives.
#![allow(dead_code)] // each test file uses a different part of it

pub mod browser;
pub mod phone;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use str0m::change::SdpPendingOffer;
use str0m::format::Codec;
use str0m::media::{Direction, Frequency, Mid, Pt, TelephoneEvent};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{ExtensionValues, RtpWrite, SeqNo};
use str0m::{Event, Input, Output, Rtc};
use switchboard_media::{LegId, LegKind, MediaEvent, MediaServer, MediaServerConfig, Prefer};

use phone::Phone;
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
    /// The codec `send_audio` sends: Opus (60-byte packets) or PCMU/PCMA (160 bytes).
    pub audio: Codec,
    seq: SeqNo,
    timeout: Instant,
    buf: Vec<u8>,
}

impl Client {
    pub async fn new(tag: u8) -> Client {
        Self::with_rtc(
            tag,
            |local, now| browser::rtc(local, None, now),
            Codec::Opus,
        )
        .await
    }

    /// A browser that also has PCMU and PCMA (as Chromium: after Opus, RFC 7874) and sends
    /// PCMU. Its telephone-event is 48 kHz only, so digits to and from phones are rescaled.
    pub async fn new_g711(tag: u8) -> Client {
        Self::with_rtc(tag, g711_rtc, Codec::PCMU).await
    }

    async fn with_rtc(tag: u8, make: fn(SocketAddr, Instant) -> Rtc, audio: Codec) -> Client {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let local = socket.local_addr().unwrap();
        let now = Instant::now();
        let rtc = make(local, now);
        Client {
            audio,
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

    /// Sends one synthetic 60-byte "Opus" packet (or a 160-byte G.711 one): tag, counter,
    /// padding.
    pub fn send_audio(&mut self) {
        let n = self.sent;
        self.sent += 1;
        let (len, step) = match self.audio {
            Codec::Opus => (PAYLOAD_LEN, 960),
            _ => (160, 160),
        };
        let mut payload = vec![0u8; len];
        payload[0] = self.tag;
        payload[1..5].copy_from_slice(&n.to_be_bytes());
        let pt = self.pt(self.audio);
        let ext = ExtensionValues {
            audio_level: Some(-((n % 100) as i8)),
            voice_activity: Some(true),
            ..Default::default()
        };
        self.write_with(pt, step * n, n == 0, ext, payload);
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

    /// Sends one Opus packet (real Opus, encoded by the test) at RTP time `rtp_time`.
    pub fn send_opus(&mut self, rtp_time: u32, marker: bool, payload: Vec<u8>) {
        let pt = self.pt(Codec::Opus);
        self.sent += 1;
        self.write(pt, rtp_time, marker, payload);
    }

    /// The payload type this client receives Opus on.
    pub fn opus_pt(&self) -> u8 {
        *self.pt(Codec::Opus)
    }

    /// Runs the client's I/O for `dur`, sending an audio packet every `send_every` if given.
    pub async fn pump(&mut self, dur: Duration, send_every: Option<Duration>) {
        self.pump_with(dur, send_every, Client::send_audio).await
    }

    /// As [`Client::pump`], with `send` called every `send_every` (once connected).
    pub async fn pump_with(
        &mut self,
        dur: Duration,
        send_every: Option<Duration>,
        mut send: impl FnMut(&mut Client),
    ) {
        let end = Instant::now() + dur;
        let mut next_send = Instant::now();
        loop {
            let now = Instant::now();
            if now >= end {
                return;
            }
            if let Some(every) = send_every {
                if now >= next_send && self.connected {
                    send(self);
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

/// The browser-like config with PCMU and PCMA after Opus.
fn g711_rtc(local: SocketAddr, now: Instant) -> Rtc {
    let mut cfg = str0m::RtcConfig::new()
        .set_rtp_mode(true)
        .clear_codecs()
        .enable_opus(true, false)
        .enable_pcmu(true, false)
        .enable_pcma(true, false);
    cfg.codec_config().add_config(
        110.into(),
        None,
        Codec::Tele,
        Frequency::FORTY_EIGHT_KHZ,
        None,
        str0m::format::FormatParams::parse_line("0-16"),
    );
    let mut rtc = cfg.build(now);
    rtc.add_local_candidate(str0m::Candidate::host(local, "udp").unwrap());
    rtc
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

/// A browser that called in (answered by the server preferring `prefer`) and a phone the
/// server called, next to it. The browser is connected when this returns.
pub async fn browser_and_phone(
    server: &mut MediaServer,
    mut w: Client,
    prefer: Prefer,
) -> (Client, Phone, LegId, LegId) {
    let h = server.handle.clone();
    let offer = w.offer();
    let (leg_w, answer) = h
        .create_answerer_preferring(offer, None, prefer)
        .await
        .unwrap();
    w.accept_answer(&answer);
    let mut p = Phone::new(0x9999).await;
    let (leg_p, offer) = h
        .create_offerer_kind(Some(leg_w), LegKind::Rtp)
        .await
        .unwrap();
    p.learn(&offer);
    h.accept_answer(leg_p, p.sdp(&[0, 101], "a=sendrecv\r\n"))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut connected = false;
    while !(w.connected && connected) {
        assert!(Instant::now() < deadline, "the browser leg did not connect");
        w.pump(Duration::from_millis(20), None).await;
        while let Ok(e) = server.events.try_recv() {
            connected |= e == MediaEvent::Connected { leg: leg_w };
        }
    }
    (w, p, leg_w, leg_p)
}
