//! Refused inputs carry Webitel's error ids and change nothing.

use crate::common::*;
use switchboard_cc::{CcError, Input};

fn refused(s: &mut Sim, input: Input) -> CcError {
    let before = s.e.session_json(1, s.wall());
    let (r, out) = s.input(input);
    assert!(out.is_empty(), "a refused input emits nothing: {out:?}");
    assert_eq!(s.e.session_json(1, s.wall()), before);
    r.unwrap_err()
}

#[test]
fn status_changes_that_change_nothing_are_refused() {
    let mut s = Sim::new(basic(&[1]));
    let e = refused(&mut s, Input::Offline { agent_id: 1 });
    assert_eq!(e.id(), "app.agent.set_logout.agent_logged_out");
    s.online(1);
    let e = refused(
        &mut s,
        Input::Online {
            agent_id: 1,
            on_demand: false,
        },
    );
    assert_eq!(e.id(), "app.agent.set_login.agent_logged");
    s.ok(Input::Pause {
        agent_id: 1,
        payload: Some("Lunch".into()),
        comment: None,
    });
    let e = refused(
        &mut s,
        Input::Pause {
            agent_id: 1,
            payload: Some("Lunch".into()),
            comment: Some("again".into()),
        },
    );
    assert_eq!(e.id(), "app.agent.set_pause.payload");
    // Another payload is a change.
    s.ok(Input::Pause {
        agent_id: 1,
        payload: Some("Break".into()),
        comment: None,
    });
}

#[test]
fn unknown_things_and_wrong_states() {
    let mut s = Sim::new(basic(&[1]));
    assert_eq!(
        refused(
            &mut s,
            Input::Online {
                agent_id: 9,
                on_demand: false
            }
        ),
        CcError::UnknownAgent(9)
    );
    let e = refused(
        &mut s,
        Input::Waiting {
            agent_id: 1,
            channel: "call".into(),
        },
    );
    assert_eq!(e.id(), "app.agent.set_waiting.not_allowed");
    let e = refused(
        &mut s,
        Input::Join {
            domain_id: DOMAIN,
            queue_id: 42,
            member_leg: "m".into(),
            number: "1".into(),
            name: String::new(),
            priority: 0,
        },
    );
    assert_eq!(e, CcError::UnknownQueue(42));
    let e = refused(
        &mut s,
        Input::Reporting {
            attempt_id: 5,
            agent_id: None,
            success: true,
            description: None,
            next_distribute_at: None,
        },
    );
    assert_eq!(e.id(), "app.attempt.reporting.not_found");
    assert_eq!(
        refused(&mut s, Input::OfferFailed { attempt_id: 5 }),
        CcError::UnknownAttempt(5)
    );

    // Reporting before the bridge, or renewal outside processing, is refused.
    let (a, _) = s.join(1, "m");
    let e = refused(
        &mut s,
        Input::Reporting {
            attempt_id: a,
            agent_id: None,
            success: true,
            description: None,
            next_distribute_at: None,
        },
    );
    assert_eq!(e, CcError::ReportingNotFound(a));
    assert_eq!(
        refused(
            &mut s,
            Input::Renewal {
                attempt_id: a,
                sec: 10
            }
        ),
        CcError::NotProcessing(a)
    );
    let e = refused(
        &mut s,
        Input::Join {
            domain_id: DOMAIN,
            queue_id: 1,
            member_leg: "m".into(),
            number: "1".into(),
            name: String::new(),
            priority: 0,
        },
    );
    assert_eq!(e, CcError::LegInQueue("m".into()));
}

#[test]
fn disabled_and_non_inbound_queues_refuse_callers() {
    let mut dir = basic(&[1]);
    dir.queues[0].enabled = false;
    let mut q2 = queue(2, None, &[]);
    q2.kind = 5;
    dir.queues.push(q2);
    let mut s = Sim::new(dir);
    for (queue_id, want) in [(1, CcError::QueueDisabled(1)), (2, CcError::NotInbound(2))] {
        let e = refused(
            &mut s,
            Input::Join {
                domain_id: DOMAIN,
                queue_id,
                member_leg: "m".into(),
                number: "1".into(),
                name: String::new(),
                priority: 0,
            },
        );
        assert_eq!(e, want);
    }
}
