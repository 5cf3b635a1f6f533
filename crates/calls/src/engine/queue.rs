//! Queue calls: a caller parked in a contact-center queue, agent legs offered for it, and the
//! notes the contact center learns from. An offer is no fate partner: when the agent's leg
//! fails the caller keeps waiting for the next agent; once answered the pair shares fate.

use super::{End, Engine, Leg, QueueRole, Sip};
use crate::cause::HangupCause;
use crate::error::CallError;
use crate::types::{ContactRef, Direction, LegId, Output, Party, QueueNote, QueueTag};
use serde_json::{json, Value};
use std::time::Duration;

impl Leg {
    /// `call.queue` of an agent's leg: strings except `attempt_id` (CC-NOTES 1.6).
    pub(super) fn queue_tag(&self) -> Option<Value> {
        let Some(QueueRole::Agent { tag, .. }) = &self.queue else {
            return None;
        };
        Some(json!({
            "attempt_id": tag.attempt_id,
            "queue_id": tag.queue_id.to_string(),
            "queue_name": tag.queue_name,
            "queue_type": tag.queue_type,
            "member_id": "",
            "reporting": tag.has_reporting.to_string(),
        }))
    }

    fn waiting_member(&self) -> bool {
        self.live() && matches!(self.queue, Some(QueueRole::Member { agent: None, .. }))
    }
}

impl Engine {
    /// The dialled number is a queue: the caller is answered, hears the waiting tone and the
    /// contact center is told.
    pub(super) fn park_in_queue(&mut self, member: &LegId, queue_id: i64, name: String) {
        let Some(l) = self.legs.get_mut(member).filter(|l| l.live()) else {
            return;
        };
        let domain_id = l.owner.domain_id;
        l.to = Party::number(domain_id, l.destination.clone());
        l.to.name = name.clone();
        l.queue = Some(QueueRole::Member {
            offer: None,
            agent: None,
        });
        l.changed_ms = self.now_ms;
        let caller = if l.sip == Sip::Incoming {
            l.from.clone()
        } else {
            l.owner.clone()
        };
        let answered = l.answered();
        if !answered {
            if l.sip == Sip::Incoming && l.local_sdp.is_some() {
                self.answer_incoming(member);
            } else {
                l.answer_when_ready = true;
            }
        }
        self.stop_timer(member);
        self.out.push_back(Output::Tone {
            leg: member.clone(),
            on: true,
        });
        self.out.push_back(Output::Queue(QueueNote::Joined {
            member: member.clone(),
            domain_id,
            queue_id,
            number: caller.extension,
            name: caller.name,
        }));
        self.history(member);
    }

    pub(super) fn queue_offer(
        &mut self,
        member: LegId,
        agent_leg: LegId,
        agent: Party,
        contacts: Vec<ContactRef>,
        timeout: Duration,
        tag: QueueTag,
    ) -> Result<(), CallError> {
        if self.legs.contains_key(&agent_leg) {
            return Err(CallError::LegExists(agent_leg));
        }
        let m = self.live_leg(&member)?;
        let offering = matches!(m.queue, Some(QueueRole::Member { offer: Some(_), .. }));
        if !m.waiting_member() || offering {
            return Err(self.invalid(&member, "take a queue offer"));
        }
        let call = m.call.clone();
        let caller = if m.sip == Sip::Incoming {
            m.from.clone()
        } else {
            m.owner.clone()
        };
        let destination = m.destination.clone();
        if contacts.is_empty() {
            // Nowhere to ring: a missed offer at once, the caller keeps waiting.
            self.out
                .push_back(Output::Queue(QueueNote::OfferFailed { member, agent_leg }));
            return Ok(());
        }
        let parent = Some(LegId(call.0.clone()));
        let mut l = self.blank_leg(
            agent_leg.clone(),
            call.clone(),
            parent,
            Sip::Outgoing,
            agent,
        );
        l.direction = Direction::Inbound;
        l.from = caller;
        l.to = l.owner.clone();
        l.destination = destination;
        l.sip_id = agent_leg.0.clone();
        l.ring_timeout = Some(timeout);
        l.queue = Some(QueueRole::Agent {
            member: member.clone(),
            tag,
        });
        self.insert_call(call, l);
        self.set_forks(&agent_leg, contacts);
        if let Some(QueueRole::Member { offer, .. }) =
            &mut self.legs.get_mut(&member).expect("live").queue
        {
            *offer = Some(agent_leg.clone());
        }
        self.out.push_back(Output::CreateOfferer {
            leg: agent_leg.clone(),
            near: Some(member),
        });
        self.history(&agent_leg);
        Ok(())
    }

    pub(super) fn dial_member(
        &mut self,
        leg: LegId,
        member: Party,
        display: Party,
        contacts: Vec<ContactRef>,
        timeout: Duration,
    ) -> Result<(), CallError> {
        if self.legs.contains_key(&leg) {
            return Err(CallError::LegExists(leg));
        }
        let call = crate::types::CallId(leg.0.clone());
        let destination = member.extension.clone();
        let mut l = self.blank_leg(leg.clone(), call.clone(), None, Sip::Outgoing, member);
        l.direction = Direction::Outbound;
        l.from = display;
        l.to = l.owner.clone();
        l.destination = destination;
        l.sip_id = leg.0.clone();
        l.ring_timeout = Some(timeout);
        l.queue = Some(QueueRole::Dialing);
        self.insert_call(call, l);
        if contacts.is_empty() {
            self.end_leg(&leg, HangupCause::UserNotRegistered, None, End::Remote);
            return Ok(());
        }
        self.set_forks(&leg, contacts);
        self.out.push_back(Output::CreateOfferer {
            leg: leg.clone(),
            near: None,
        });
        self.history(&leg);
        Ok(())
    }

    /// A queue call's outgoing leg answered: an agent picking up or a dialled member.
    pub(super) fn queue_leg_answered(&mut self, leg: &LegId) {
        match self.legs.get(leg).and_then(|l| l.queue.as_ref()) {
            Some(QueueRole::Agent { .. }) => self.agent_answered(leg),
            Some(QueueRole::Dialing) => {
                let l = self.legs.get_mut(leg).expect("live");
                l.queue = Some(QueueRole::Member {
                    offer: None,
                    agent: None,
                });
                self.out.push_back(Output::Tone {
                    leg: leg.clone(),
                    on: true,
                });
                self.out.push_back(Output::Queue(QueueNote::MemberAnswered {
                    member: leg.clone(),
                }));
            }
            _ => {}
        }
    }

    /// An agent's leg answered: bridge it with its member, if the member still waits for it.
    fn agent_answered(&mut self, agent_leg: &LegId) {
        let Some(QueueRole::Agent { member, .. }) =
            self.legs.get(agent_leg).and_then(|l| l.queue.clone())
        else {
            return;
        };
        let offered = self.legs.get(&member).is_some_and(|m| {
            m.waiting_member()
                && matches!(&m.queue, Some(QueueRole::Member { offer: Some(o), .. }) if o == agent_leg)
        });
        if !offered {
            // The caller left while the agent picked up.
            self.end_leg(agent_leg, HangupCause::OriginatorCancel, None, End::Local);
            return;
        }
        let m = self.legs.get_mut(&member).expect("live");
        m.queue = Some(QueueRole::Member {
            offer: None,
            agent: Some(agent_leg.clone()),
        });
        m.peer = Some(agent_leg.clone());
        self.legs.get_mut(agent_leg).expect("live").peer = Some(member.clone());
        self.out.push_back(Output::Tone {
            leg: member.clone(),
            on: false,
        });
        self.out.push_back(Output::Queue(QueueNote::OfferAnswered {
            member: member.clone(),
            agent_leg: agent_leg.clone(),
        }));
        self.connect(&member, agent_leg);
    }

    pub(super) fn queue_leave(
        &mut self,
        member: &LegId,
        destination: Option<String>,
        cause: Option<HangupCause>,
    ) -> Result<(), CallError> {
        let m = self.live_leg(member)?;
        if !m.waiting_member() {
            return Err(self.invalid(member, "leave a queue"));
        }
        let offer = match &m.queue {
            Some(QueueRole::Member { offer, .. }) => offer.clone(),
            _ => None,
        };
        let (call, domain_id) = (m.call.clone(), m.owner.domain_id);
        self.legs.get_mut(member).expect("live").queue = None;
        if let Some(o) = offer {
            self.end_leg(&o, HangupCause::OriginatorCancel, None, End::Local);
        }
        self.out.push_back(Output::Tone {
            leg: member.clone(),
            on: false,
        });
        match destination {
            Some(destination) => {
                let new_leg = self.new_leg_id();
                self.lookup(
                    call,
                    domain_id,
                    destination.clone(),
                    super::Purpose::Dial {
                        anchor: member.clone(),
                        new_leg,
                        destination,
                        transfer_from: None,
                    },
                );
            }
            None => {
                let cause = cause.unwrap_or(HangupCause::NormalClearing);
                self.end_leg(member, cause, None, End::Local);
            }
        }
        Ok(())
    }

    /// A leg ended: what it means for its queue call. Called from `end_leg` before the fate
    /// partner is ended.
    pub(super) fn queue_leg_ended(&mut self, leg: &LegId) {
        let Some(role) = self.legs.get_mut(leg).and_then(|l| l.queue.take()) else {
            return;
        };
        match role {
            QueueRole::Dialing => {
                let l = &self.legs[leg];
                let (cause, sip_code) = (
                    l.cause.clone().unwrap_or(HangupCause::NormalClearing),
                    l.sip_code,
                );
                self.out.push_back(Output::Queue(QueueNote::DialFailed {
                    member: leg.clone(),
                    cause,
                    sip_code,
                }));
            }
            QueueRole::Member { offer, agent: None } => {
                if let Some(o) = offer {
                    self.end_leg(&o, HangupCause::OriginatorCancel, None, End::Local);
                }
                self.out.push_back(Output::Queue(QueueNote::MemberLeft {
                    member: leg.clone(),
                }));
            }
            QueueRole::Member {
                agent: Some(agent_leg),
                ..
            } => {
                self.out.push_back(Output::Queue(QueueNote::Ended {
                    member: leg.clone(),
                    agent_leg,
                }));
            }
            QueueRole::Agent { member, .. } => {
                let Some(m) = self.legs.get_mut(&member).filter(|m| m.live()) else {
                    return;
                };
                match &mut m.queue {
                    Some(QueueRole::Member { offer, agent: None })
                        if offer.as_ref() == Some(leg) =>
                    {
                        *offer = None;
                        self.out.push_back(Output::Queue(QueueNote::OfferFailed {
                            member,
                            agent_leg: leg.clone(),
                        }));
                    }
                    Some(QueueRole::Member { agent: Some(a), .. }) if a == leg => {
                        // The agent hung up or transferred the caller: the attempt is over
                        // for the contact center, whatever the caller does next.
                        m.queue = None;
                        self.out.push_back(Output::Queue(QueueNote::Ended {
                            member,
                            agent_leg: leg.clone(),
                        }));
                    }
                    _ => {}
                }
            }
        }
    }

    /// The conversation a queued leg belongs to (tests and the runtime's bookkeeping).
    pub fn queued(&self, leg: &LegId) -> bool {
        self.legs.get(leg).is_some_and(Leg::waiting_member)
    }
}
