//! A virtual clock around the engine, and small builders for directories.

use serde_json::Value;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use switchboard_cc::{
    AgentConf, AgentSkill, CcError, Config, Directory, Engine, EventKind, IdSource, Input, Output,
    QueueConf, QueueSkill, QueueStrategy, Reply, TeamConf, TeamStrategy,
};

pub const DOMAIN: i64 = 1;
pub const WALL0: i64 = 1_718_000_000_000;

pub struct Sim {
    pub e: Engine,
    pub t0: Instant,
    pub now: Instant,
}

impl Sim {
    pub fn new(dir: Directory) -> Self {
        let t0 = Instant::now();
        let mut e = Engine::new(Config {
            app_id: "cc-test".into(),
            ids: IdSource::Seeded(7),
            first_attempt_id: 100,
        });
        e.set_directory(DOMAIN, dir, t0, WALL0);
        while e.poll_output().is_some() {}
        Sim { e, t0, now: t0 }
    }

    pub fn wall(&self) -> i64 {
        WALL0 + self.now.duration_since(self.t0).as_millis() as i64
    }

    pub fn drain(&mut self) -> Vec<Output> {
        std::iter::from_fn(|| self.e.poll_output()).collect()
    }

    /// Applies an input at the current time and returns its outputs.
    pub fn input(&mut self, input: Input) -> (Result<Reply, CcError>, Vec<Output>) {
        let r = self.e.handle(input, self.now, self.wall());
        (r, self.drain())
    }

    pub fn ok(&mut self, input: Input) -> Vec<Output> {
        let (r, out) = self.input(input.clone());
        r.unwrap_or_else(|e| panic!("{input:?}: {e}"));
        out
    }

    /// Moves the clock, firing every timer on the way at its own time.
    pub fn advance(&mut self, d: Duration) -> Vec<Output> {
        let end = self.now + d;
        let mut out = Vec::new();
        while let Some(at) = self.e.poll_timeout() {
            if at > end {
                break;
            }
            self.now = self.now.max(at);
            out.extend(self.ok(Input::Timeout));
        }
        self.now = end;
        out
    }

    pub fn set_directory(&mut self, dir: Directory) -> Vec<Output> {
        self.e.set_directory(DOMAIN, dir, self.now, self.wall());
        self.drain()
    }

    pub fn online(&mut self, agent_id: i64) -> Vec<Output> {
        self.ok(Input::Online {
            agent_id,
            on_demand: false,
        })
    }

    /// A caller joins queue `queue_id`; returns the attempt id and the outputs.
    pub fn join(&mut self, queue_id: i64, leg: &str) -> (i64, Vec<Output>) {
        let (r, out) = self.input(Input::Join {
            domain_id: DOMAIN,
            queue_id,
            member_leg: leg.into(),
            number: format!("+38044{leg}"),
            name: format!("Caller {leg}"),
            priority: 0,
        });
        match r {
            Ok(Reply::Joined { attempt_id }) => (attempt_id, out),
            other => panic!("join {leg}: {other:?}"),
        }
    }
}

/// `(attempt_id, agent_id, agent_leg)` of every `Offer`.
pub fn offers(out: &[Output]) -> Vec<(i64, i64, String)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Offer {
                attempt_id,
                agent_id,
                agent_leg,
                ..
            } => Some((*attempt_id, *agent_id, agent_leg.clone())),
            _ => None,
        })
        .collect()
}

pub fn cancels(out: &[Output]) -> Vec<(i64, String)> {
    out.iter()
        .filter_map(|o| match o {
            Output::CancelOffer {
                attempt_id,
                agent_leg,
            } => Some((*attempt_id, agent_leg.clone())),
            _ => None,
        })
        .collect()
}

/// `(user_id, data)` of every event of `kind`.
pub fn events(out: &[Output], kind: EventKind) -> Vec<(i64, Value)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Event {
                user_id,
                kind: k,
                data,
                ..
            } if *k == kind => Some((*user_id, data.clone())),
            _ => None,
        })
        .collect()
}

/// The `status` of every channel event, in order.
pub fn channel_statuses(out: &[Output]) -> Vec<String> {
    events(out, EventKind::Channel)
        .into_iter()
        .map(|(_, d)| d["status"].as_str().unwrap_or("").to_string())
        .collect()
}

pub fn channel_event<'a>(out: &'a [Output], status: &str) -> Option<&'a Value> {
    out.iter().find_map(|o| match o {
        Output::Event {
            kind: EventKind::Channel,
            data,
            ..
        } if data["status"] == status => Some(data),
        _ => None,
    })
}

pub fn last_record(out: &[Output], id: i64) -> Option<switchboard_cc::AttemptRecord> {
    out.iter().rev().find_map(|o| match o {
        Output::Attempt(r) if r.id == id => Some(r.clone()),
        _ => None,
    })
}

pub fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().expect("object").keys().cloned().collect();
    k.sort();
    k
}

pub fn sorted(mut k: Vec<&str>) -> Vec<String> {
    k.sort();
    k.into_iter().map(String::from).collect()
}

pub fn agent(id: i64, team: Option<i64>, skills: &[(i64, i32)]) -> AgentConf {
    AgentConf {
        id,
        user_id: id * 10,
        name: format!("Agent {id}"),
        extension: format!("{}", 1000 + id),
        team_id: team,
        skills: skills
            .iter()
            .map(|&(skill_id, capacity)| AgentSkill {
                skill_id,
                capacity,
                enabled: true,
            })
            .collect(),
        status: "offline".into(),
        status_payload: None,
        last_status_change: WALL0 - 60_000,
    }
}

pub fn team(id: i64) -> TeamConf {
    TeamConf {
        id,
        name: format!("Team {id}"),
        strategy: TeamStrategy::LongestIdle,
        max_no_answer: 3,
        no_answer_delay_time: 5,
        wrap_up_time: 10,
        call_timeout: 20,
    }
}

pub fn queue(id: i64, team: Option<i64>, skills: &[(i64, i32, i32, i32)]) -> QueueConf {
    QueueConf {
        id,
        name: format!("Queue {id}"),
        kind: 1,
        enabled: true,
        priority: 0,
        strategy: QueueStrategy::Fifo,
        team_id: team,
        skills: skills
            .iter()
            .map(|&(skill_id, lvl, min_capacity, max_capacity)| QueueSkill {
                skill_id,
                lvl,
                min_capacity,
                max_capacity,
                enabled: true,
            })
            .collect(),
        processing: false,
        processing_sec: 0,
        processing_renewal_sec: 0,
        max_wait_time: 300,
        sticky_agent: false,
        sticky_agent_sec: 0,
        variables: BTreeMap::new(),
        dialer: Default::default(),
    }
}

/// Team 1, queue 1 (team 1, no skills), and agents `ids` in team 1.
pub fn basic(ids: &[i64]) -> Directory {
    Directory {
        agents: ids.iter().map(|&id| agent(id, Some(1), &[])).collect(),
        teams: vec![team(1)],
        queues: vec![queue(1, Some(1), &[])],
    }
}
