//! RFC 4733 telephone-event: the 4-byte payload, rescaling it between clock rates (a phone's
//! 8 kHz and a browser's 48 kHz), and the generator of the digits we send.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::tone::FRAME;

/// Digit length and the pause before the next one.
pub(crate) const TONE: Duration = Duration::from_millis(100);
pub(crate) const GAP: Duration = Duration::from_millis(60);
/// RFC 4733 §2.5.1.4: the end report is sent three times.
pub(crate) const END_REPEATS: u8 = 3;
pub(crate) const VOLUME: u8 = 10;

/// One telephone-event report (RFC 4733 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Report {
    pub event: u8,
    pub end: bool,
    pub volume: u8,
    /// In units of the payload type's clock.
    pub duration: u16,
}

impl Report {
    pub(crate) fn parse(p: &[u8]) -> Option<Report> {
        let [event, flags, d0, d1, ..] = *p else {
            return None;
        };
        Some(Report {
            event,
            end: flags & 0x80 != 0,
            volume: flags & 0x3f,
            duration: u16::from_be_bytes([d0, d1]),
        })
    }

    pub(crate) fn to_bytes(self) -> [u8; 4] {
        let [d0, d1] = self.duration.to_be_bytes();
        let end = if self.end { 0x80 } else { 0 };
        [self.event, end | (self.volume & 0x3f), d0, d1]
    }
}

/// A report's payload with its duration moved from clock `from` to clock `to` (×6 from 8 kHz
/// to 48 kHz; saturating, as a long event at 48 kHz overflows 16 bits after 1.36 s).
pub(crate) fn rescale(p: &[u8], from: u32, to: u32) -> Option<[u8; 4]> {
    let mut r = Report::parse(p)?;
    let d = u64::from(r.duration) * u64::from(to) / u64::from(from.max(1));
    r.duration = u16::try_from(d).unwrap_or(u16::MAX);
    Some(r.to_bytes())
}

/// Clock ticks of `d` at `rate` Hz.
pub(crate) fn ticks(d: Duration, rate: u32) -> u16 {
    let t = d.as_micros() * u128::from(rate) / 1_000_000;
    u16::try_from(t).unwrap_or(u16::MAX)
}

/// The digits queued toward one leg and the one being sent.
pub(crate) struct DtmfTx {
    queue: VecDeque<u8>,
    current: Option<Current>,
    /// When the next report (or the next digit) is due.
    next_at: Instant,
}

struct Current {
    event: u8,
    rtp_time: u32,
    elapsed: Duration,
    end_sent: u8,
}

/// A report due now: send `report`'s bytes at `rtp_time` (the digit's start), with the marker
/// on the first report of a digit.
pub(crate) struct Tick {
    pub event: u8,
    pub end: bool,
    pub elapsed: Duration,
    pub rtp_time: u32,
    pub first: bool,
}

impl Tick {
    pub(crate) fn payload(&self, rate: u32) -> [u8; 4] {
        Report {
            event: self.event,
            end: self.end,
            volume: VOLUME,
            duration: ticks(self.elapsed, rate),
        }
        .to_bytes()
    }
}

impl DtmfTx {
    pub(crate) fn new(now: Instant) -> Self {
        DtmfTx {
            queue: VecDeque::new(),
            current: None,
            next_at: now,
        }
    }

    pub(crate) fn push(&mut self, events: impl IntoIterator<Item = u8>) {
        self.queue.extend(events);
    }

    pub(crate) fn next_at(&self) -> Instant {
        self.next_at
    }

    /// A digit is being sent (it owns the outgoing stream).
    pub(crate) fn playing(&self) -> bool {
        self.current.is_some()
    }

    /// Nothing left to send, and the pause after the last digit is over.
    pub(crate) fn finished(&self, now: Instant) -> bool {
        self.current.is_none() && self.queue.is_empty() && self.next_at <= now
    }

    /// The report due at `now`, if any; `start` is the RTP time a digit starting now gets.
    pub(crate) fn tick(&mut self, now: Instant, start: u32) -> Option<Tick> {
        if self.next_at > now {
            return None;
        }
        if self.current.is_none() {
            let event = self.queue.pop_front()?;
            self.current = Some(Current {
                event,
                rtp_time: start,
                elapsed: Duration::ZERO,
                end_sent: 0,
            });
        }
        let cur = self.current.as_mut()?;
        let first = cur.elapsed.is_zero();
        if cur.elapsed < TONE {
            cur.elapsed += FRAME;
        }
        let end = cur.elapsed >= TONE;
        if end {
            cur.end_sent += 1;
        }
        let tick = Tick {
            event: cur.event,
            end,
            elapsed: cur.elapsed,
            rtp_time: cur.rtp_time,
            first,
        };
        self.next_at = now + FRAME;
        if cur.end_sent >= END_REPEATS {
            self.current = None;
            self.next_at = now + GAP;
        }
        Some(tick)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_round_trip_and_rescale_between_clocks() {
        let r = Report {
            event: 11,
            end: true,
            volume: 10,
            duration: 800,
        };
        let b = r.to_bytes();
        assert_eq!(b, [11, 0x8a, 0x03, 0x20]);
        assert_eq!(Report::parse(&b), Some(r));
        let up = rescale(&b, 8000, 48_000).unwrap();
        assert_eq!(Report::parse(&up).unwrap().duration, 4800);
        let down = rescale(&up, 48_000, 8000).unwrap();
        assert_eq!(down, b);
        // 2 s at 48 kHz does not fit in 16 bits: saturate, do not wrap.
        let long = Report {
            duration: 16_000,
            ..r
        }
        .to_bytes();
        assert_eq!(
            Report::parse(&rescale(&long, 8000, 48_000).unwrap())
                .unwrap()
                .duration,
            u16::MAX
        );
        assert!(Report::parse(&[1, 2, 3]).is_none());
    }

    #[test]
    fn a_digit_is_five_reports_then_three_ends_then_a_gap() {
        let t0 = Instant::now();
        let mut tx = DtmfTx::new(t0);
        tx.push([5]);
        let mut now = t0;
        let mut ticks = Vec::new();
        while let Some(t) = tx.tick(now, 1234) {
            ticks.push(t);
            now += FRAME;
        }
        assert_eq!(
            ticks.len(),
            5 + 2,
            "the fifth report is the first end report"
        );
        assert!(ticks[0].first && ticks[1..].iter().all(|t| !t.first));
        assert_eq!(ticks.iter().filter(|t| t.end).count(), 3);
        assert!(ticks.iter().all(|t| t.rtp_time == 1234 && t.event == 5));
        assert_eq!(ticks.last().unwrap().payload(8000), [5, 0x8a, 0x03, 0x20]);
        assert!(!tx.playing());
        assert!(!tx.finished(now), "the gap runs");
        assert!(tx.finished(now + GAP));
    }
}
