//! Matching waiting calls with free agents.
//!
//! Every queue keeps two ordered sets: its free eligible agents (by skill level, capacity,
//! then the team strategy) and its waiting calls (by priority, then fifo/lifo). A state change
//! only inserts into or removes from these sets, and a distribution round looks at the head
//! of each of the domain's (few) queues, so the cost of an event does not grow with the
//! number of agents or waiting calls.

use crate::engine::Engine;
use crate::state::{Agent, Attempt, Fit, FreeKey, Queue, WaitKey};
use crate::types::{AgentConf, QueueConf, QueueStrategy, TeamStrategy};

pub(crate) fn wait_key(q: &Queue, a: &Attempt) -> WaitKey {
    let order = match q.conf.strategy {
        QueueStrategy::Lifo => -a.seq,
        QueueStrategy::Fifo | QueueStrategy::StrictFifo => a.seq,
    };
    (-i64::from(a.priority), order, a.id)
}

/// The keys are fixed while the agent is free (every input to them changes only while it is
/// busy), so the stored key finds the entry again.
pub(crate) fn free_key(strategy: TeamStrategy, a: &Agent, fit: &Fit) -> FreeKey {
    let (k1, k2) = match strategy {
        TeamStrategy::LongestIdle => (a.idle_since, 0),
        TeamStrategy::RoundRobin => (a.last_offer, 0),
        TeamStrategy::TopDown => (0, 0),
        TeamStrategy::FewestCalls => (a.calls, a.idle_since),
        TeamStrategy::LeastTalkTime => (a.talk_ms, a.idle_since),
        TeamStrategy::Random => (a.rand_key, 0),
        TeamStrategy::SkillCapacity => (0, a.idle_since),
    };
    (fit.lvl, -fit.capacity, k1, k2, a.conf.id)
}

/// Whether (and how well) an agent may take a queue's calls: in the queue's team if it has
/// one, and with an enabled skill inside an enabled queue skill's capacity range (the lowest
/// level wins, then the highest capacity). A queue without skills takes anyone.
pub(crate) fn fit(agent: &AgentConf, q: &QueueConf) -> Option<Fit> {
    if q.team_id.is_some() && agent.team_id != q.team_id {
        return None;
    }
    let mut skills = q.skills.iter().filter(|s| s.enabled).peekable();
    if skills.peek().is_none() {
        return Some(Fit {
            queue_id: q.id,
            lvl: 0,
            capacity: 0,
        });
    }
    skills
        .flat_map(|qs| {
            agent
                .skills
                .iter()
                .filter(move |s| {
                    s.enabled
                        && s.skill_id == qs.skill_id
                        && qs.min_capacity <= s.capacity
                        && s.capacity <= qs.max_capacity
                })
                .map(move |s| (qs.lvl, -s.capacity))
        })
        .min()
        .map(|(lvl, neg)| Fit {
            queue_id: q.id,
            lvl,
            capacity: -neg,
        })
}

impl Engine {
    /// Takes the agent out of every free set, and puts it back in where it fits if it is free.
    pub(crate) fn refresh_free(&mut self, agent_id: i64) {
        let Some(a) = self.agents.get_mut(&agent_id) else {
            return;
        };
        for (qid, key) in a.free_keys.drain(..) {
            if let Some(q) = self.queues.get_mut(&qid) {
                q.free.remove(&key);
            }
        }
        if !a.is_free() {
            return;
        }
        for f in &a.fits {
            if let Some(q) = self.queues.get_mut(&f.queue_id) {
                let key = free_key(q.strategy, a, f);
                q.free.insert(key);
                a.free_keys.push((f.queue_id, key));
            }
        }
    }

    /// Offers calls until no waiting call of the domain has a free agent. Across queues the
    /// higher queue priority wins, then the call's priority, then the older call.
    pub(crate) fn distribute(&mut self, domain_id: i64) {
        loop {
            let Some(d) = self.domains.get(&domain_id) else {
                return;
            };
            let mut best: Option<((i64, i64, i64), i64, i64)> = None;
            let mut best_prio = None;
            for qid in &d.queues {
                let Some(q) = self.queues.get(qid) else {
                    continue;
                };
                if best_prio.is_some_and(|p| q.conf.priority < p) {
                    break;
                }
                if !q.distributes() || q.waiting.is_empty() || q.free.is_empty() {
                    continue;
                }
                let Some((att, agent)) = self.find_pair(q) else {
                    continue;
                };
                let a = &self.attempts[&att];
                let rank = (-i64::from(q.conf.priority), -i64::from(a.priority), a.seq);
                if best.is_none_or(|(r, _, _)| rank < r) {
                    best = Some((rank, att, agent));
                    best_prio = Some(q.conf.priority);
                }
            }
            let Some((_, att, agent)) = best else {
                return;
            };
            self.offer(att, agent);
        }
    }

    /// The first waiting call of the queue that has a free agent, and that agent. An agent
    /// that missed the call is skipped while an eligible online agent has not tried it yet;
    /// a sticky caller gets its last agent when that one is free.
    fn find_pair(&self, q: &Queue) -> Option<(i64, i64)> {
        let heads = match q.conf.strategy {
            QueueStrategy::StrictFifo => 1,
            _ => usize::MAX,
        };
        let now = self.now();
        for &(_, _, id) in q.waiting.iter().take(heads) {
            let Some(a) = self.attempts.get(&id) else {
                continue;
            };
            if q.conf.sticky_agent {
                let last = self
                    .sticky
                    .get(&q.conf.id)
                    .and_then(|m| m.get(a.number.as_str()))
                    .filter(|(_, until)| *until > now)
                    .map(|(agent, _)| *agent);
                if let Some(agent) = last {
                    let free_here = self
                        .agents
                        .get(&agent)
                        .is_some_and(|g| g.free_keys.iter().any(|(qid, _)| *qid == q.conf.id));
                    if free_here && !a.missed_by.contains(&agent) {
                        return Some((id, agent));
                    }
                }
            }
            let mut tried = None;
            for key in &q.free {
                let agent = key.4;
                if !a.missed_by.contains(&agent) {
                    return Some((id, agent));
                }
                tried.get_or_insert(agent);
            }
            if let Some(agent) = tried {
                if self.untried_online(q, a) == 0 {
                    return Some((id, agent));
                }
            }
        }
        None
    }

    /// Eligible online agents that have not missed this call.
    fn untried_online(&self, q: &Queue, a: &Attempt) -> usize {
        let missed_online = a
            .missed_by
            .iter()
            .filter(|g| {
                q.eligible.contains_key(g) && self.agents.get(g).is_some_and(|x| x.is_online())
            })
            .count();
        q.online.saturating_sub(missed_online)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{AgentSkill, QueueSkill};

    fn agent(skills: &[(i64, i32, bool)], team: Option<i64>) -> AgentConf {
        AgentConf {
            id: 1,
            user_id: 1,
            name: String::new(),
            extension: String::new(),
            team_id: team,
            skills: skills
                .iter()
                .map(|&(skill_id, capacity, enabled)| AgentSkill {
                    skill_id,
                    capacity,
                    enabled,
                })
                .collect(),
            status: String::new(),
            status_payload: None,
            last_status_change: 0,
        }
    }

    fn queue(skills: &[(i64, i32, i32, i32, bool)], team: Option<i64>) -> QueueConf {
        QueueConf {
            id: 7,
            name: String::new(),
            kind: 1,
            enabled: true,
            priority: 0,
            strategy: QueueStrategy::Fifo,
            team_id: team,
            skills: skills
                .iter()
                .map(
                    |&(skill_id, lvl, min_capacity, max_capacity, enabled)| QueueSkill {
                        skill_id,
                        lvl,
                        min_capacity,
                        max_capacity,
                        enabled,
                    },
                )
                .collect(),
            processing: false,
            processing_sec: 0,
            processing_renewal_sec: 0,
            max_wait_time: 0,
            sticky_agent: false,
            sticky_agent_sec: 0,
            variables: Default::default(),
            dialer: Default::default(),
        }
    }

    #[test]
    fn best_level_then_capacity_among_matching_skills() {
        let q = queue(&[(1, 2, 0, 100, true), (2, 1, 10, 50, true)], None);
        let f = fit(&agent(&[(1, 90, true), (2, 40, true)], None), &q).unwrap();
        assert_eq!((f.lvl, f.capacity), (1, 40));
        // Skill 2 out of range: only level 2 remains.
        let f = fit(&agent(&[(1, 90, true), (2, 60, true)], None), &q).unwrap();
        assert_eq!((f.lvl, f.capacity), (2, 90));
        // Disabled agent skill does not count.
        assert_eq!(fit(&agent(&[(1, 90, false)], None), &q), None);
    }

    #[test]
    fn team_and_skill_less_queues() {
        let any = queue(&[(1, 1, 0, 100, false)], None);
        assert!(
            fit(&agent(&[], None), &any).is_some(),
            "only disabled skills: anyone"
        );
        let team = queue(&[], Some(3));
        assert!(fit(&agent(&[], Some(3)), &team).is_some());
        assert_eq!(fit(&agent(&[], Some(4)), &team), None);
        assert_eq!(fit(&agent(&[], None), &team), None);
    }

    #[test]
    fn webitel_strategy_names() {
        assert_eq!(TeamStrategy::parse("round-robin"), TeamStrategy::RoundRobin);
        assert_eq!(
            TeamStrategy::parse("skill-capacity"),
            TeamStrategy::SkillCapacity
        );
        assert_eq!(TeamStrategy::parse("whatever"), TeamStrategy::LongestIdle);
        assert_eq!(
            QueueStrategy::parse("strict_fifo"),
            QueueStrategy::StrictFifo
        );
    }
}
