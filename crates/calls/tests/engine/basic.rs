use crate::harness::*;
use switchboard_calls::{CallCommand, ForkId, HangupCause, Input};

#[test]
fn basic_call_walks_the_documented_sequence() {
    let mut h = H::new();
    let (a, lookup, outs) = h.dial(alice(), "2021");
    assert_eq!(
        h.show(&outs),
        [
            "CreateAnswerer A",
            "Event A ringing",
            "History A ringing",
            "Resolve 2021"
        ]
    );
    assert!(h.media_ready(&a, "answer-a").is_empty());
    let b = h.resolve_to(lookup, bob(), 2, "B");
    let outs = h.media_ready(&b, "offer-b");
    assert_eq!(
        h.show(&outs),
        [
            "Invite B#0 c0",
            "Invite B#1 c1",
            "Event B ringing",
            "History B ringing"
        ]
    );
    let outs = h.feed(Input::ForkRinging {
        leg: b.clone(),
        fork: ForkId(0),
    });
    assert_eq!(h.show(&outs), ["Ring A"]);
    let outs = h.feed(Input::ForkRinging {
        leg: b.clone(),
        fork: ForkId(1),
    });
    assert!(outs.is_empty(), "180 goes to the caller once");
    let outs = h.answer(&b, 1);
    assert_eq!(
        h.show(&outs),
        [
            "Cancel B#0 elsewhere",
            "AcceptAnswer B answer-1",
            "Event B active",
            "History B active",
            "Bridge A B",
            "Event B bridge",
            "History B bridge",
            "Answer A answer-a",
            "Event A active",
            "Event A bridge",
            "History A bridge",
        ]
    );
    let outs = h.feed(Input::LegHungUp { leg: a.clone() });
    assert_eq!(
        h.show(&outs),
        [
            "Close A",
            "Event A hangup",
            "History A hangup",
            "Bye B#1",
            "Close B",
            "Event B hangup",
            "History B hangup",
        ]
    );
    assert_eq!(h.e.calls_in_memory(), 0, "a finished call is forgotten");
}

#[test]
fn first_answer_wins_other_forks_cancelled() {
    let mut h = H::new();
    let c = h.ringing(3);
    let outs = h.answer(&c.b, 1);
    let acts = h.actions(&outs);
    assert_in_order(
        &acts,
        &[
            "Cancel B#0 elsewhere",
            "Cancel B#2 elsewhere",
            "AcceptAnswer B answer-1",
            "Bridge A B",
            "Answer A answer-a",
        ],
    );
    assert!(!acts.iter().any(|l| l.starts_with("Cancel B#1")));
    // The cancelled forks' 487s change nothing.
    for f in [0, 2] {
        assert!(h.fail(&c.b, f, 487).is_empty());
    }
}

#[test]
fn second_answer_from_another_fork_gets_bye() {
    let mut h = H::new();
    let c = h.ringing(2);
    h.answer(&c.b, 0);
    let outs = h.answer(&c.b, 1);
    assert_eq!(h.show(&outs), ["Bye B#1"]);
    // The call itself goes on.
    assert_eq!(h.e.active_call(&c.a, h.wall).unwrap().state, "bridge");
}

#[test]
fn answer_crossing_cancel_gets_bye() {
    let mut h = H::new();
    let c = h.ringing(1);
    let outs = h.feed(Input::LegCancelled { leg: c.a.clone() });
    assert_in_order(&h.actions(&outs), &["Reject A 487", "Cancel B#0"]);
    // The callee's 200 OK crossed our CANCEL, after the call was forgotten.
    let outs = h.answer(&c.b, 0);
    assert_eq!(h.show(&outs), ["Bye B#0"]);
}

#[test]
fn failed_fork_does_not_end_leg_while_others_ring() {
    let mut h = H::new();
    let c = h.ringing(2);
    assert!(h.fail(&c.b, 0, 408).is_empty());
    let outs = h.answer(&c.b, 1);
    assert!(h.actions(&outs).contains(&"Answer A answer-a".to_owned()));
}

#[test]
fn answer_waits_for_caller_media() {
    let mut h = H::new();
    let (a, lookup, _) = h.dial(alice(), "2021");
    let b = h.resolve_to(lookup, bob(), 1, "B");
    h.media_ready(&b, "offer-b");
    let outs = h.answer(&b, 0);
    assert!(!h.actions(&outs).iter().any(|l| l.starts_with("Answer A")));
    assert!(h.events(&outs).iter().all(|l| !l.starts_with("Event A")));
    let outs = h.media_ready(&a, "late-answer-a");
    assert_eq!(
        h.show(&outs),
        [
            "Answer A late-answer-a",
            "Event A active",
            "Event A bridge",
            "History A bridge"
        ]
    );
}

#[test]
fn bye_from_either_side_ends_the_other_leg() {
    for callee_hangs_up in [true, false] {
        let mut h = H::new();
        let c = h.talking();
        let (gone, other, bye) = if callee_hangs_up {
            (&c.b, &c.a, "Bye A")
        } else {
            (&c.a, &c.b, "Bye B#0")
        };
        let outs = h.feed(Input::LegHungUp { leg: gone.clone() });
        let acts = h.actions(&outs);
        assert_eq!(acts.iter().filter(|l| l.starts_with("Bye")).count(), 1);
        assert!(acts.contains(&bye.to_owned()), "{acts:?}");
        for leg in [gone, other] {
            let rec = last_history(&outs, leg);
            assert_eq!(rec.hangup_cause.as_deref(), Some("NORMAL_CLEARING"));
            assert_eq!(rec.sip_code, Some(200));
        }
    }
}

#[test]
fn bye_from_callee_ends_caller_leg() {
    let mut h = H::new();
    let c = h.talking();
    let outs = h.feed(Input::LegHungUp { leg: c.b.clone() });
    assert_eq!(
        h.actions(&outs),
        ["Close B", "Bye A", "Close A"],
        "the callee's BYE is answered by the runtime; the caller gets ours"
    );
}

#[test]
fn hangup_command_ends_the_call_from_either_side() {
    for (side, cause) in [("A", None), ("B", Some(HangupCause::NormalClearing))] {
        let mut h = H::new();
        let c = h.talking();
        let leg = if side == "A" {
            c.a.clone()
        } else {
            c.b.clone()
        };
        let outs = h.cmd(CallCommand::Hangup { leg, cause });
        let acts = h.actions(&outs);
        assert!(acts.contains(&"Bye A".to_owned()), "{side}: {acts:?}");
        assert!(acts.contains(&"Bye B#0".to_owned()), "{side}: {acts:?}");
        assert_eq!(h.e.live_legs(), 0);
    }
}

#[test]
fn display_header_names_the_caller_for_the_callee() {
    let mut h = H::new();
    let a = h.e.new_leg_id();
    let outs = h.feed(Input::IncomingCall {
        leg: a.clone(),
        from: alice(),
        destination: "2021".into(),
        sip_call_id: "x".into(),
        offer_sdp: "o".into(),
        display: Some("Support line".into()),
    });
    let lookup = resolve_of(&outs).unwrap().0;
    let b = h.resolve_to(lookup, bob(), 1, "B");
    let outs = h.media_ready(&b, "offer-b");
    let ev = event(&outs, &b, switchboard_calls::EventKind::Ringing).unwrap();
    assert_eq!(ev.data["from"]["name"], "Support line");
    assert_eq!(ev.data["from"]["number"], "1001");
}

#[test]
fn duplicate_leg_id_is_refused() {
    let mut h = H::new();
    let (a, _, _) = h.dial(alice(), "2021");
    let err = h
        .try_feed(Input::IncomingCall {
            leg: a.clone(),
            from: alice(),
            destination: "2021".into(),
            sip_call_id: "x".into(),
            offer_sdp: "o".into(),
            display: None,
        })
        .unwrap_err();
    assert_eq!(err, switchboard_calls::CallError::LegExists(a));
}

#[test]
fn the_called_leg_is_created_next_to_the_leg_it_will_be_bridged_to() {
    let mut h = H::new();
    let (a, lookup, _) = h.dial(alice(), "2021");
    let outs = h.feed(Input::DestinationResolved {
        lookup,
        target: switchboard_calls::Target::User {
            user: bob(),
            contacts: contacts(1),
        },
    });
    assert_eq!(
        offerer_near(&outs),
        Some(Some(a)),
        "media of a call shares a shard"
    );

    // A blind transfer: Carol's leg goes next to the party that stays (A).
    let c = h.talking();
    let outs = h.cmd(CallCommand::BlindTransfer {
        leg: c.b.clone(),
        destination: "3031".into(),
    });
    let lookup = resolve_of(&outs).unwrap().0;
    let outs = h.feed(Input::DestinationResolved {
        lookup,
        target: switchboard_calls::Target::User {
            user: carol(),
            contacts: contacts(1),
        },
    });
    assert_eq!(offerer_near(&outs), Some(Some(c.a)));
}
