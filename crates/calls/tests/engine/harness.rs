//! A tiny driver: feeds inputs at a simulated time and renders outputs as short lines
//! ("Reject A 486", "Event B ringing") so scenarios can assert whole sequences.

use std::collections::HashMap;
use std::time::{Duration, Instant};
use switchboard_calls::{
    CallCommand, CallError, Config, ContactRef, Engine, EventKind, ForkId, HistoryRecord, IdSource,
    Input, LegId, LookupId, MediaDirection, Output, Party, QueueNote, Target,
};

pub const DOMAIN: i64 = 1;
pub const T0_MS: i64 = 1_718_000_000_000;
pub const RING_TIMEOUT: Duration = Duration::from_secs(30);

pub fn alice() -> Party {
    Party::user(10, DOMAIN, "1001", "Alice")
}
pub fn bob() -> Party {
    Party::user(20, DOMAIN, "2021", "Bob")
}
pub fn carol() -> Party {
    Party::user(30, DOMAIN, "3031", "Carol")
}

pub fn contacts(n: usize) -> Vec<ContactRef> {
    (0..n).map(|i| ContactRef::new(format!("c{i}"))).collect()
}

pub struct H {
    pub e: Engine,
    pub now: Instant,
    pub wall: i64,
    names: HashMap<LegId, String>,
}

/// A call set up by the helpers: `a` the caller's leg, `b` the callee's.
pub struct Call {
    pub a: LegId,
    pub b: LegId,
}

impl H {
    pub fn new() -> Self {
        H {
            e: Engine::new(Config {
                app_id: "node-1".into(),
                ring_timeout: RING_TIMEOUT,
                ids: IdSource::Seeded(7),
            }),
            now: Instant::now(),
            wall: T0_MS,
            names: HashMap::new(),
        }
    }

    pub fn name(&mut self, leg: &LegId, name: &str) {
        self.names.insert(leg.clone(), name.to_owned());
    }

    pub fn try_feed(&mut self, input: Input) -> Result<Vec<Output>, CallError> {
        self.e.handle(input, self.now, self.wall)?;
        Ok(self.drain())
    }

    pub fn feed(&mut self, input: Input) -> Vec<Output> {
        let dbg = format!("{input:?}");
        self.try_feed(input)
            .unwrap_or_else(|e| panic!("input {dbg} refused: {e}"))
    }

    pub fn cmd(&mut self, cmd: CallCommand) -> Vec<Output> {
        self.feed(Input::Command(cmd))
    }

    pub fn drain(&mut self) -> Vec<Output> {
        std::iter::from_fn(|| self.e.poll_output()).collect()
    }

    /// Moves the clock; fires the engine's timers if due.
    pub fn advance(&mut self, d: Duration) -> Vec<Output> {
        self.now += d;
        self.wall += d.as_millis() as i64;
        match self.e.poll_timeout() {
            Some(at) if at <= self.now => self.feed(Input::Timeout),
            _ => Vec::new(),
        }
    }

    /// `from` dials `dest` from a browser: the caller's leg "A" and its lookup.
    pub fn dial(&mut self, from: Party, dest: &str) -> (LegId, LookupId, Vec<Output>) {
        let a = self.e.new_leg_id();
        self.name(&a, "A");
        let outs = self.feed(Input::IncomingCall {
            leg: a.clone(),
            from,
            destination: dest.into(),
            sip_call_id: "jssip-call-id-a".into(),
            offer_sdp: "offer-a".into(),
            display: None,
        });
        let lookup = resolve_of(&outs).expect("a Resolve").0;
        (a, lookup, outs)
    }

    /// Resolves `lookup` to `user` with `n` contacts and returns the new leg (named `name`).
    pub fn resolve_to(&mut self, lookup: LookupId, user: Party, n: usize, name: &str) -> LegId {
        let outs = self.feed(Input::DestinationResolved {
            lookup,
            target: Target::User {
                user,
                contacts: contacts(n),
            },
        });
        let leg = offerer_of(&outs).expect("a CreateOfferer");
        self.name(&leg, name);
        leg
    }

    pub fn media_ready(&mut self, leg: &LegId, sdp: &str) -> Vec<Output> {
        self.feed(Input::MediaReady {
            leg: leg.clone(),
            local_sdp: sdp.into(),
        })
    }

    /// Alice calls Bob, who has `n` registrations; every fork has been INVITEd.
    pub fn ringing(&mut self, n: usize) -> Call {
        let (a, lookup, _) = self.dial(alice(), "2021");
        self.media_ready(&a, "answer-a");
        let b = self.resolve_to(lookup, bob(), n, "B");
        self.media_ready(&b, "offer-b");
        Call { a, b }
    }

    /// Alice and Bob talking (Bob answered on fork 0).
    pub fn talking(&mut self) -> Call {
        let c = self.ringing(1);
        self.feed(Input::ForkRinging {
            leg: c.b.clone(),
            fork: ForkId(0),
        });
        self.answer(&c.b, 0);
        c
    }

    pub fn answer(&mut self, leg: &LegId, fork: u32) -> Vec<Output> {
        self.feed(Input::ForkAnswered {
            leg: leg.clone(),
            fork: ForkId(fork),
            answer_sdp: format!("answer-{fork}"),
        })
    }

    pub fn fail(&mut self, leg: &LegId, fork: u32, code: u16) -> Vec<Output> {
        self.feed(Input::ForkFailed {
            leg: leg.clone(),
            fork: ForkId(fork),
            sip_code: code,
        })
    }

    fn n(&self, leg: &LegId) -> String {
        self.names
            .get(leg)
            .cloned()
            .unwrap_or_else(|| format!("?{}", &leg.0[..8]))
    }

    /// One short line per output.
    pub fn show(&self, outs: &[Output]) -> Vec<String> {
        outs.iter().map(|o| self.line(o)).collect()
    }

    /// Only the SIP and media lines (no events, history or lookups).
    pub fn actions(&self, outs: &[Output]) -> Vec<String> {
        outs.iter()
            .filter(|o| !matches!(o, Output::Event(_) | Output::History(_)))
            .map(|o| self.line(o))
            .collect()
    }

    /// Only the event lines.
    pub fn events(&self, outs: &[Output]) -> Vec<String> {
        outs.iter()
            .filter(|o| matches!(o, Output::Event(_)))
            .map(|o| self.line(o))
            .collect()
    }

    pub fn line(&self, o: &Output) -> String {
        let fk = |leg: &LegId, f: &ForkId| format!("{}#{}", self.n(leg), f.0);
        match o {
            Output::Ring { leg } => format!("Ring {}", self.n(leg)),
            Output::Answer { leg, sdp } => format!("Answer {} {sdp}", self.n(leg)),
            Output::Reject { leg, sip_code, .. } => format!("Reject {} {sip_code}", self.n(leg)),
            Output::Invite {
                leg, fork, contact, ..
            } => {
                format!("Invite {} {}", fk(leg, fork), contact.id)
            }
            Output::Cancel {
                leg,
                fork,
                completed_elsewhere,
            } => format!(
                "Cancel {}{}",
                fk(leg, fork),
                if *completed_elsewhere {
                    " elsewhere"
                } else {
                    ""
                }
            ),
            Output::Bye { leg, fork } => match fork {
                Some(f) => format!("Bye {}", fk(leg, f)),
                None => format!("Bye {}", self.n(leg)),
            },
            Output::ReInvite { leg, direction, .. } => format!(
                "ReInvite {} {}",
                self.n(leg),
                match direction {
                    MediaDirection::SendOnly => "sendonly",
                    MediaDirection::SendRecv => "sendrecv",
                }
            ),
            Output::CreateAnswerer { leg, .. } => format!("CreateAnswerer {}", self.n(leg)),
            Output::CreateOfferer { leg, near: None } => format!("CreateOfferer {}", self.n(leg)),
            Output::CreateOfferer {
                leg,
                near: Some(near),
            } => format!("CreateOfferer {} near {}", self.n(leg), self.n(near)),
            Output::AcceptAnswer { leg, sdp } => format!("AcceptAnswer {} {sdp}", self.n(leg)),
            Output::Bridge { a, b } => format!("Bridge {} {}", self.n(a), self.n(b)),
            Output::Unbridge { leg } => format!("Unbridge {}", self.n(leg)),
            Output::Hold { leg, peer } => format!(
                "Hold {} tone→{}",
                self.n(leg),
                peer.as_ref().map_or("-".into(), |p| self.n(p))
            ),
            Output::Unhold { leg, .. } => format!("Unhold {}", self.n(leg)),
            Output::SendDtmf { leg, digit } => format!("SendDtmf {} {digit}", self.n(leg)),
            Output::Mute { leg, on } => format!("Mute {} {on}", self.n(leg)),
            Output::NotifyMute {
                leg,
                fork,
                on,
                hold,
            } => format!(
                "NotifyMute {} {on}{}",
                match fork {
                    Some(f) => fk(leg, f),
                    None => self.n(leg),
                },
                if *hold { " hold" } else { "" }
            ),
            Output::Close { leg } => format!("Close {}", self.n(leg)),
            Output::Resolve { destination, .. } => format!("Resolve {destination}"),
            Output::Event(e) => format!("Event {} {}", self.n(&e.id), e.kind.as_str()),
            Output::History(h) => format!("History {} {}", self.n(&h.id), h.state),
            Output::Tone { leg, on } => format!("Tone {} {on}", self.n(leg)),
            Output::Queue(q) => match q {
                QueueNote::Joined {
                    member, queue_id, ..
                } => {
                    format!("Queue joined {} {queue_id}", self.n(member))
                }
                QueueNote::OfferAnswered { agent_leg, .. } => {
                    format!("Queue answered {}", self.n(agent_leg))
                }
                QueueNote::OfferFailed { agent_leg, .. } => {
                    format!("Queue failed {}", self.n(agent_leg))
                }
                QueueNote::MemberLeft { member } => format!("Queue left {}", self.n(member)),
                QueueNote::Ended { agent_leg, .. } => format!("Queue ended {}", self.n(agent_leg)),
                QueueNote::MemberAnswered { member } => {
                    format!("Queue member answered {}", self.n(member))
                }
                QueueNote::DialFailed { member, cause, .. } => {
                    format!("Queue dial failed {} {}", self.n(member), cause.as_str())
                }
            },
        }
    }
}

pub fn resolve_of(outs: &[Output]) -> Option<(LookupId, String)> {
    outs.iter().find_map(|o| match o {
        Output::Resolve {
            lookup,
            destination,
            ..
        } => Some((*lookup, destination.clone())),
        _ => None,
    })
}

pub fn offerer_of(outs: &[Output]) -> Option<LegId> {
    outs.iter().find_map(|o| match o {
        Output::CreateOfferer { leg, .. } => Some(leg.clone()),
        _ => None,
    })
}

/// The `near` of the first `CreateOfferer`: the leg the new one will be bridged to.
pub fn offerer_near(outs: &[Output]) -> Option<Option<LegId>> {
    outs.iter().find_map(|o| match o {
        Output::CreateOfferer { near, .. } => Some(near.clone()),
        _ => None,
    })
}

pub fn event<'a>(
    outs: &'a [Output],
    leg: &LegId,
    kind: EventKind,
) -> Option<&'a switchboard_calls::CallEvent> {
    outs.iter().find_map(|o| match o {
        Output::Event(e) if &e.id == leg && e.kind == kind => Some(e),
        _ => None,
    })
}

pub fn histories<'a>(outs: &'a [Output], leg: &LegId) -> Vec<&'a HistoryRecord> {
    outs.iter()
        .filter_map(|o| match o {
            Output::History(h) if &h.id == leg => Some(&**h),
            _ => None,
        })
        .collect()
}

pub fn last_history<'a>(outs: &'a [Output], leg: &LegId) -> &'a HistoryRecord {
    histories(outs, leg)
        .pop()
        .unwrap_or_else(|| panic!("no history for {leg}"))
}

/// Whether `want` appears in `got` in order (not necessarily adjacent).
pub fn in_order(got: &[String], want: &[&str]) -> bool {
    let mut it = got.iter();
    want.iter().all(|w| it.any(|g| g == w))
}

#[track_caller]
pub fn assert_in_order(got: &[String], want: &[&str]) {
    assert!(
        in_order(got, want),
        "expected in order {want:#?}\n got {got:#?}"
    );
}
