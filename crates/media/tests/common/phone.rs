//! A desk phone stand-in: a UDP socket that speaks plain RTP/AVP (RFC 3550 framing written
//! here), with its own SDP, recording every datagram it receives.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;

/// One RTP packet as the phone received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    pub pt: u8,
    pub marker: bool,
    pub seq: u16,
    pub ts: u32,
    pub ssrc: u32,
    pub payload: Vec<u8>,
}

/// RTP framing: the 12-byte fixed header, no CSRCs, no extension.
pub fn rtp(pt: u8, marker: bool, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut b = vec![0x80, (if marker { 0x80 } else { 0 }) | pt];
    b.extend_from_slice(&seq.to_be_bytes());
    b.extend_from_slice(&ts.to_be_bytes());
    b.extend_from_slice(&ssrc.to_be_bytes());
    b.extend_from_slice(payload);
    b
}

pub fn parse(b: &[u8]) -> Option<Packet> {
    if b.len() < 12 || b[0] >> 6 != 2 || (192..=223).contains(&b[1]) {
        return None;
    }
    let header = 12 + 4 * (b[0] & 0x0f) as usize;
    Some(Packet {
        pt: b[1] & 0x7f,
        marker: b[1] & 0x80 != 0,
        seq: u16::from_be_bytes([b[2], b[3]]),
        ts: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
        ssrc: u32::from_be_bytes([b[8], b[9], b[10], b[11]]),
        payload: b.get(header..)?.to_vec(),
    })
}

/// The RTP address an SDP names (`c=` and the audio `m=` port).
pub fn sdp_addr(sdp: &str) -> SocketAddr {
    let ip = sdp
        .lines()
        .find_map(|l| l.strip_prefix("c=IN IP4 "))
        .expect("a connection line");
    let port = sdp
        .lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .and_then(|m| m.split_whitespace().next())
        .expect("an audio line");
    format!("{}:{}", ip.trim(), port).parse().unwrap()
}

/// An RFC 4733 report.
pub fn tele(event: u8, end: bool, duration: u16) -> Vec<u8> {
    let [d0, d1] = duration.to_be_bytes();
    vec![event, if end { 0x80 | 10 } else { 10 }, d0, d1]
}

pub struct Phone {
    pub socket: UdpSocket,
    pub addr: SocketAddr,
    /// Where RTCP reaches it (advertised with `a=rtcp`).
    pub rtcp: UdpSocket,
    /// The server's RTP address for this phone (from the server's SDP).
    pub server: Option<SocketAddr>,
    pub ssrc: u32,
    pub seq: u16,
    pub ts: u32,
    pub received: Vec<Packet>,
    /// Datagrams that were not RTP (RTCP from the server) on either socket.
    pub rtcp_received: Vec<Vec<u8>>,
    buf: Vec<u8>,
}

impl Phone {
    pub async fn new(ssrc: u32) -> Phone {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let rtcp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        Phone {
            socket,
            addr,
            rtcp,
            server: None,
            ssrc,
            seq: 100,
            ts: 1_000_000,
            received: Vec::new(),
            rtcp_received: Vec::new(),
            buf: vec![0; 2048],
        }
    }

    /// A phone's SDP naming `addr` with the given payload types (0, 8, 101 …) and attribute
    /// lines (`a=sendrecv` …).
    pub fn sdp_at(&self, addr: SocketAddr, pts: &[u8], extra: &str) -> String {
        let fmts: Vec<String> = pts.iter().map(|p| p.to_string()).collect();
        let mut s = format!(
            "v=0\r\no=phone 7 7 IN IP4 {ip}\r\ns=call\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
             m=audio {port} RTP/AVP {fmts}\r\n",
            ip = addr.ip(),
            port = addr.port(),
            fmts = fmts.join(" ")
        );
        for pt in pts {
            match pt {
                0 => s.push_str("a=rtpmap:0 PCMU/8000\r\n"),
                8 => s.push_str("a=rtpmap:8 PCMA/8000\r\n"),
                9 => s.push_str("a=rtpmap:9 G722/8000\r\n"),
                18 => s.push_str("a=rtpmap:18 G729/8000\r\n"),
                p => s.push_str(&format!(
                    "a=rtpmap:{p} telephone-event/8000\r\na=fmtp:{p} 0-15\r\n"
                )),
            }
        }
        s.push_str(&format!(
            "a=rtcp:{}\r\na=ptime:20\r\n",
            self.rtcp.local_addr().unwrap().port()
        ));
        s.push_str(extra);
        s
    }

    /// Its SDP at its own address.
    pub fn sdp(&self, pts: &[u8], extra: &str) -> String {
        self.sdp_at(self.addr, pts, extra)
    }

    /// Notes where the server wants RTP, from its offer or answer.
    pub fn learn(&mut self, server_sdp: &str) {
        self.server = Some(sdp_addr(server_sdp));
    }

    /// Sends one RTP packet to the server, stepping seq by 1 and the timestamp by 160.
    pub async fn send(&mut self, pt: u8, marker: bool, payload: &[u8]) {
        let b = rtp(pt, marker, self.seq, self.ts, self.ssrc, payload);
        self.seq = self.seq.wrapping_add(1);
        self.ts = self.ts.wrapping_add(160);
        self.socket
            .send_to(&b, self.server.expect("server address"))
            .await
            .unwrap();
    }

    /// Sends one RFC 4733 digit at 8 kHz: five reports, then the end report three times, all
    /// with the digit's start timestamp.
    pub async fn send_digit(&mut self, event: u8, pt: u8) {
        let ts = self.ts;
        for i in 1..=8u16 {
            let end = i > 5;
            let b = rtp(
                pt,
                i == 1,
                self.seq,
                ts,
                self.ssrc,
                &tele(event, end, 160 * i.min(5)),
            );
            self.seq = self.seq.wrapping_add(1);
            self.socket.send_to(&b, self.server.unwrap()).await.unwrap();
        }
        self.ts = self.ts.wrapping_add(800);
    }

    /// Receives for `dur`.
    pub async fn listen(&mut self, dur: Duration) {
        let end = Instant::now() + dur;
        let mut rtcp_buf = vec![0u8; 2048];
        loop {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            tokio::select! {
                r = self.socket.recv_from(&mut self.buf) => {
                    let (n, _) = r.unwrap();
                    match parse(&self.buf[..n]) {
                        Some(p) => self.received.push(p),
                        None => self.rtcp_received.push(self.buf[..n].to_vec()),
                    }
                }
                r = self.rtcp.recv_from(&mut rtcp_buf) => {
                    let (n, _) = r.unwrap();
                    self.rtcp_received.push(rtcp_buf[..n].to_vec());
                }
                _ = tokio::time::sleep(left) => return,
            }
        }
    }

    /// Sends `n` packets of `pt`, one every 20 ms, each payload `frame(i)`, while listening.
    pub async fn talk(&mut self, pt: u8, n: usize, frame: impl Fn(usize) -> Vec<u8>) {
        for i in 0..n {
            self.send(pt, i == 0, &frame(i)).await;
            self.listen(Duration::from_millis(20)).await;
        }
    }

    /// Receives for `dur`, sending every `pt` packet's payload straight back (a loopback phone
    /// or an echo test), in its own stream.
    pub async fn echo(&mut self, dur: Duration, pt: u8) {
        let end = Instant::now() + dur;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            tokio::select! {
                r = self.socket.recv_from(&mut self.buf) => {
                    let (n, _) = r.unwrap();
                    if let Some(p) = parse(&self.buf[..n]) {
                        if p.pt == pt {
                            let payload = p.payload.clone();
                            self.send(pt, p.marker, &payload).await;
                        }
                        self.received.push(p);
                    }
                }
                _ = tokio::time::sleep(left) => return,
            }
        }
    }

    pub fn audio(&self, pt: u8) -> Vec<&Packet> {
        self.received.iter().filter(|p| p.pt == pt).collect()
    }
}

/// A 160-byte G.711 frame tagged with `tag` and the counter `i`.
pub fn frame(tag: u8, i: usize) -> Vec<u8> {
    let mut f = vec![tag; 160];
    f[1..5].copy_from_slice(&(i as u32).to_be_bytes());
    f
}
