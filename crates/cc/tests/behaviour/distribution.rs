//! Who gets which call, and when.

use crate::common::*;
use std::time::Duration;
use switchboard_cc::{Directory, Input, QueueStrategy, TeamStrategy};

#[test]
fn longest_idle_agent_first_then_the_other_then_the_third_call_waits() {
    let mut s = Sim::new(basic(&[1, 2]));
    s.online(2);
    s.advance(Duration::from_secs(1));
    s.online(1);
    s.advance(Duration::from_secs(1));

    let (a1, out) = s.join(1, "m1");
    assert_eq!(offers(&out)[0].1, 2, "agent 2 has been idle longest");
    let (a2, out) = s.join(1, "m2");
    assert_eq!(offers(&out)[0].1, 1);
    let (a3, out) = s.join(1, "m3");
    assert!(offers(&out).is_empty(), "nobody is free for the third call");

    // Agent 2 talks and hangs up; after the team's 10 s wrap-up the third call is offered.
    s.ok(Input::OfferAnswered { attempt_id: a1 });
    let out = s.ok(Input::MemberLeft { attempt_id: a1 });
    assert_eq!(channel_statuses(&out), ["wrap_time"]);
    assert!(offers(&out).is_empty(), "no offer during wrap-up");
    let out = s.advance(Duration::from_secs(9));
    assert!(offers(&out).is_empty());
    let out = s.advance(Duration::from_secs(1));
    assert_eq!(offers(&out), vec![(a3, 2, offers(&out)[0].2.clone())]);
    assert_eq!(
        channel_statuses(&out),
        ["waiting", "distribute", "offering"]
    );
    assert_ne!(a2, a3);
}

#[test]
fn paused_offline_and_break_out_agents_get_nothing() {
    let mut s = Sim::new(basic(&[1, 2, 3]));
    s.online(1);
    s.ok(Input::Pause {
        agent_id: 1,
        payload: Some("Lunch".into()),
        comment: None,
    });
    s.online(2);
    s.ok(Input::Offline { agent_id: 2 });
    let (_, out) = s.join(1, "m1");
    assert!(offers(&out).is_empty());
    let out = s.online(3);
    assert_eq!(
        offers(&out)[0].1,
        3,
        "the waiting call goes to the agent who came online"
    );
}

#[test]
fn skill_level_then_capacity_order_and_capacity_range() {
    // Queue: skill 10 at level 1 (capacity 10..=100), skill 20 at level 2.
    let dir = Directory {
        agents: vec![
            agent(1, None, &[(20, 90)]),  // level 2
            agent(2, None, &[(10, 30)]),  // level 1, capacity 30
            agent(3, None, &[(10, 60)]),  // level 1, capacity 60
            agent(4, None, &[(10, 200)]), // out of range
            agent(5, None, &[(30, 100)]), // no matching skill
        ],
        teams: vec![],
        queues: vec![queue(1, None, &[(10, 1, 10, 100), (20, 2, 0, 100)])],
    };
    let mut s = Sim::new(dir);
    for id in [1, 2, 3, 4, 5] {
        s.online(id);
    }
    let order: Vec<i64> = (0..5)
        .filter_map(|i| offers(&s.join(1, &format!("m{i}")).1).first().map(|o| o.1))
        .collect();
    assert_eq!(order, [3, 2, 1], "agents 4 and 5 do not fit the queue");
}

#[test]
fn higher_queue_priority_wins_even_over_an_older_call() {
    let mut dir = basic(&[1]);
    let mut vip = queue(2, Some(1), &[]);
    vip.priority = 10;
    dir.queues.push(vip);
    let mut s = Sim::new(dir);
    let (low, _) = s.join(1, "old");
    s.advance(Duration::from_secs(5));
    let (high, _) = s.join(2, "new");
    let out = s.online(1);
    assert_eq!(offers(&out)[0].0, high);
    assert_ne!(low, high);
}

#[test]
fn call_priority_then_fifo_or_lifo_within_a_queue() {
    let mut dir = basic(&[1]);
    dir.queues[0].strategy = QueueStrategy::Lifo;
    let mut s = Sim::new(dir);
    let (first, _) = s.join(1, "a");
    let (second, _) = s.join(1, "b");
    let (_, out) = s.input(Input::Join {
        domain_id: DOMAIN,
        queue_id: 1,
        member_leg: "vip".into(),
        number: "1".into(),
        name: String::new(),
        priority: 5,
    });
    assert!(offers(&out).is_empty());
    let out = s.online(1);
    let vip = s.e.attempt_of_leg("vip").unwrap();
    assert_eq!(offers(&out)[0].0, vip, "priority first");
    assert!(first < second);
    // Finish the vip call; lifo gives the newer of the two equal calls next.
    s.ok(Input::OfferAnswered { attempt_id: vip });
    s.ok(Input::MemberLeft { attempt_id: vip });
    let out = s.advance(Duration::from_secs(10));
    assert_eq!(offers(&out)[0].0, second);
}

#[test]
fn queue_team_limits_the_agents() {
    let mut dir = basic(&[1]);
    dir.agents.push(agent(2, Some(2), &[]));
    dir.teams.push(team(2));
    let mut s = Sim::new(dir);
    s.online(2);
    let (_, out) = s.join(1, "m");
    assert!(offers(&out).is_empty(), "agent 2 is in another team");
    let out = s.online(1);
    assert_eq!(offers(&out)[0].1, 1);
}

#[test]
fn one_offer_per_agent_at_a_time() {
    let mut s = Sim::new(basic(&[1]));
    s.online(1);
    let (_, out) = s.join(1, "a");
    assert_eq!(offers(&out).len(), 1);
    let (_, out) = s.join(1, "b");
    assert!(offers(&out).is_empty());
}

#[test]
fn team_strategies_fewest_calls_and_top_down() {
    let mut dir = basic(&[1, 2]);
    dir.teams[0].strategy = TeamStrategy::FewestCalls;
    dir.teams[0].wrap_up_time = 0;
    let mut s = Sim::new(dir);
    s.online(1);
    s.advance(Duration::from_secs(1));
    s.online(2);
    // Agent 1 (longest idle) takes one call; then both are free and agent 2 has fewer calls.
    let (a, out) = s.join(1, "a");
    assert_eq!(offers(&out)[0].1, 1);
    s.ok(Input::OfferAnswered { attempt_id: a });
    s.ok(Input::MemberLeft { attempt_id: a });
    let (_, out) = s.join(1, "b");
    assert_eq!(offers(&out)[0].1, 2);

    let mut dir = basic(&[1, 2]);
    dir.teams[0].strategy = TeamStrategy::parse("top-down");
    let mut s = Sim::new(dir);
    s.online(2);
    s.advance(Duration::from_secs(1));
    s.online(1);
    let (_, out) = s.join(1, "a");
    assert_eq!(offers(&out)[0].1, 1, "top-down ignores idle time");
}

#[test]
fn sticky_caller_gets_its_last_agent() {
    let mut dir = basic(&[1, 2]);
    dir.queues[0].sticky_agent = true;
    dir.teams[0].wrap_up_time = 0;
    let mut s = Sim::new(dir);
    s.online(1);
    s.advance(Duration::from_secs(1));
    s.online(2);
    let (r, out) = s.input(Input::Join {
        domain_id: DOMAIN,
        queue_id: 1,
        member_leg: "x1".into(),
        number: "555".into(),
        name: String::new(),
        priority: 0,
    });
    let a = match r.unwrap() {
        switchboard_cc::Reply::Joined { attempt_id } => attempt_id,
        other => panic!("{other:?}"),
    };
    assert_eq!(offers(&out)[0].1, 1);
    s.ok(Input::OfferAnswered { attempt_id: a });
    s.ok(Input::MemberLeft { attempt_id: a });
    // Agent 2 is now the longest idle, but the same number comes back to agent 1.
    let (_, out) = s.input(Input::Join {
        domain_id: DOMAIN,
        queue_id: 1,
        member_leg: "x2".into(),
        number: "555".into(),
        name: String::new(),
        priority: 0,
    });
    assert_eq!(offers(&out)[0].1, 1);
}

#[test]
fn offer_carries_the_ring_time_and_fresh_leg() {
    let mut s = Sim::new(basic(&[1]));
    s.online(1);
    let (a, out) = s.join(1, "m");
    let offer = out
        .iter()
        .find_map(|o| match o {
            switchboard_cc::Output::Offer {
                timeout,
                member_leg,
                agent_leg,
                user_id,
                queue_name,
                ..
            } => Some((
                *timeout,
                member_leg.clone(),
                agent_leg.clone(),
                *user_id,
                queue_name.clone(),
            )),
            _ => None,
        })
        .unwrap();
    assert_eq!(offer.0, Duration::from_secs(20));
    assert_eq!(offer.1, "m");
    assert_eq!(offer.2.len(), 36, "a UUID");
    assert_eq!(offer.3, 10);
    assert_eq!(offer.4, "Queue 1");
    assert_eq!(s.e.attempt_of_leg(&offer.2), Some(a));
    assert_eq!(s.e.attempt_of_leg("m"), Some(a));
}
