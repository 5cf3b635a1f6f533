//! Loading a domain's configuration over live state, and the live queue board.

use crate::distribute::{fit, wait_key};
use crate::engine::Engine;
use crate::state::{AState, ChanState, Queue, Status};
use crate::types::{Directory, TeamStrategy};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

impl Engine {
    /// Replaces a domain's configuration. Live state of agents and queues that still exist is
    /// kept (statuses, channels, waiting calls); removed agents go offline (a conversation in
    /// progress finishes first); waiting calls of removed queues leave with `cancel`.
    pub fn set_directory(&mut self, domain_id: i64, dir: Directory, now: Instant, wall_ms: i64) {
        self.clock(now, wall_ms);
        let d = self.domains.entry(domain_id).or_default();
        d.teams = dir.teams.into_iter().map(|t| (t.id, t)).collect();

        let keep: BTreeSet<i64> = dir.queues.iter().map(|q| q.id).collect();
        let mut gone: Vec<i64> = self
            .queues
            .values()
            .filter(|q| q.domain_id == domain_id && !keep.contains(&q.conf.id))
            .map(|q| q.conf.id)
            .collect();
        gone.sort_unstable();
        for id in gone {
            self.remove_queue(id);
        }
        for conf in dir.queues {
            match self.queues.get_mut(&conf.id) {
                Some(q) if q.domain_id == domain_id => q.conf = conf,
                _ => {
                    let q = Queue {
                        domain_id,
                        strategy: TeamStrategy::LongestIdle,
                        eligible: BTreeMap::new(),
                        free: BTreeSet::new(),
                        waiting: BTreeSet::new(),
                        online: 0,
                        live: BTreeSet::new(),
                        conf,
                    };
                    self.queues.insert(q.conf.id, q);
                }
            }
        }

        let keep: BTreeSet<i64> = dir.agents.iter().map(|a| a.id).collect();
        let gone: Vec<i64> = self
            .domains
            .get(&domain_id)
            .map(|d| {
                d.agents
                    .iter()
                    .copied()
                    .filter(|id| !keep.contains(id))
                    .collect()
            })
            .unwrap_or_default();
        for id in gone {
            self.retire_agent(id);
        }
        for conf in dir.agents {
            let id = conf.id;
            let user = conf.user_id;
            match self.agents.get_mut(&id) {
                Some(a) => {
                    self.users.remove(&(a.domain_id, a.conf.user_id));
                    a.conf = conf;
                    a.present = true;
                }
                None => {
                    let a = self.new_agent(domain_id, conf);
                    self.agents.insert(id, a);
                }
            }
            self.users.insert((domain_id, user), id);
            if let Some(d) = self.domains.get_mut(&domain_id) {
                d.agents.insert(id);
            }
        }
        self.rebuild(domain_id);
        self.sync_dialers();
        self.dirty.insert(domain_id);
        self.settle();
    }

    /// A removed agent: offline now, forgotten once its call channel is idle.
    fn retire_agent(&mut self, agent_id: i64) {
        let Some(a) = self.agents.get(&agent_id) else {
            return;
        };
        if !a.present {
            return;
        }
        if a.status != Status::Offline {
            self.set_status(agent_id, Status::Offline, None, None);
        }
        let Some(a) = self.agents.get_mut(&agent_id) else {
            return;
        };
        a.present = false;
        let key = (a.domain_id, a.conf.user_id);
        let idle = a.call.state == ChanState::Waiting;
        if self.users.get(&key) == Some(&agent_id) {
            self.users.remove(&key);
        }
        if idle {
            self.drop_agent(agent_id);
        } else {
            self.refresh_free(agent_id);
        }
    }

    /// Recomputes who fits which queue of the domain, and every queue's sets.
    fn rebuild(&mut self, domain_id: i64) {
        let mut qids: Vec<(i32, i64)> = self
            .queues
            .values()
            .filter(|q| q.domain_id == domain_id)
            .map(|q| (q.conf.priority, q.conf.id))
            .collect();
        qids.sort_unstable_by_key(|&(p, id)| (std::cmp::Reverse(p), id));
        let qids: Vec<i64> = qids.into_iter().map(|(_, id)| id).collect();
        let Some(d) = self.domains.get_mut(&domain_id) else {
            return;
        };
        d.queues = qids.clone();
        let agent_ids: Vec<i64> = d.agents.iter().copied().collect();
        for qid in &qids {
            let strategy = self
                .queues
                .get(qid)
                .and_then(|q| q.conf.team_id)
                .and_then(|t| d.teams.get(&t))
                .map(|t| t.strategy)
                .unwrap_or_default();
            let Some(q) = self.queues.get_mut(qid) else {
                continue;
            };
            q.strategy = strategy;
            q.eligible.clear();
            q.free.clear();
            q.online = 0;
            let waiting: BTreeSet<_> = q
                .live
                .iter()
                .filter_map(|id| self.attempts.get(id))
                .filter(|a| a.state == AState::Waiting)
                .map(|a| wait_key(q, a))
                .collect();
            q.waiting = waiting;
        }
        for agent_id in agent_ids {
            let Some(a) = self.agents.get(&agent_id) else {
                continue;
            };
            let fits: Vec<_> = if a.present {
                qids.iter()
                    .filter_map(|qid| self.queues.get(qid))
                    .filter_map(|q| fit(&a.conf, &q.conf))
                    .collect()
            } else {
                Vec::new()
            };
            let online = a.is_online();
            for f in &fits {
                if let Some(q) = self.queues.get_mut(&f.queue_id) {
                    q.eligible.insert(agent_id, *f);
                    if online {
                        q.online += 1;
                    }
                }
            }
            if let Some(a) = self.agents.get_mut(&agent_id) {
                a.fits = fits;
                a.free_keys.clear();
            }
            self.refresh_free(agent_id);
        }
    }

    /// The live board of a domain (or one queue of it): per queue the calls waiting for an
    /// agent and its agents by status and call-channel state. `waiting` counts free agents
    /// (online with an idle call channel).
    pub fn board(&self, domain_id: i64, queue_id: Option<i64>, wall_ms: i64) -> Value {
        let queues: Vec<Value> = self
            .domains
            .get(&domain_id)
            .map(|d| d.queues.as_slice())
            .unwrap_or_default()
            .iter()
            .filter(|id| queue_id.is_none_or(|q| q == **id))
            .filter_map(|id| self.queues.get(id))
            .map(|q| self.board_queue(q, wall_ms))
            .collect();
        json!({"domain_id": domain_id, "queues": queues})
    }

    fn board_queue(&self, q: &Queue, wall_ms: i64) -> Value {
        let mut waiting: Vec<(&crate::state::Attempt, i64)> = q
            .live
            .iter()
            .filter_map(|id| self.attempts.get(id))
            .filter(|a| matches!(a.state, AState::Waiting | AState::Offering))
            .map(|a| (a, a.seq))
            .collect();
        waiting.sort_by_key(|(a, seq)| (-i64::from(a.priority), *seq));
        let waiting: Vec<Value> = waiting
            .into_iter()
            .map(|(a, _)| {
                json!({"attempt_id": a.id, "leg": a.member_leg, "number": a.number,
                       "name": a.name, "state": a.state.as_str(),
                       "wait_sec": (wall_ms - a.joined_at).max(0) / 1000})
            })
            .collect();
        let mut counts: BTreeMap<&str, u64> = [
            "online",
            "pause",
            "offline",
            "break_out",
            "offering",
            "bridged",
            "processing",
            "wrap_time",
            "missed",
            "waiting",
        ]
        .into_iter()
        .map(|k| (k, 0))
        .collect();
        let mut items = Vec::with_capacity(q.eligible.len());
        for id in q.eligible.keys() {
            let Some(a) = self.agents.get(id) else {
                continue;
            };
            *counts.entry(a.status.as_str()).or_default() += 1;
            let state = a.call.state;
            if state != ChanState::Waiting || a.is_free() {
                *counts.entry(state.as_str()).or_default() += 1;
            }
            items.push(json!({"agent_id": id, "name": a.conf.name,
                              "status": a.status.as_str(), "state": state.as_str()}));
        }
        let mut agents = serde_json::Map::new();
        for (k, v) in counts {
            agents.insert(k.into(), v.into());
        }
        agents.insert("items".into(), items.into());
        let mut v = json!({"queue_id": q.conf.id, "name": q.conf.name, "priority": q.conf.priority,
               "enabled": q.conf.enabled, "waiting": waiting, "agents": agents});
        if let Some(d) = self.dial_board(q.conf.id) {
            v["dialer"] = d;
        }
        v
    }
}
