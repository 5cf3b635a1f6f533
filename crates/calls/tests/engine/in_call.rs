use crate::harness::*;
use std::time::Duration;
use switchboard_calls::{CallCommand, EventKind, Input, Target};

#[test]
fn hold_reinvites_and_emits_hold_then_active() {
    let mut h = H::new();
    let c = h.talking();
    let outs = h.cmd(CallCommand::Hold { leg: c.a.clone() });
    assert_eq!(
        h.show(&outs),
        [
            "Hold A tone→B",
            "ReInvite A sendonly",
            "Event A hold",
            "History A hold"
        ]
    );
    assert_eq!(h.e.active_call(&c.a, h.wall).unwrap().state, "hold");
    assert!(
        h.cmd(CallCommand::Hold { leg: c.a.clone() }).is_empty(),
        "holding twice is a no-op"
    );
    h.advance(Duration::from_secs(7));
    let outs = h.cmd(CallCommand::Unhold { leg: c.a.clone() });
    assert_eq!(
        h.show(&outs),
        [
            "Unhold A",
            "ReInvite A sendrecv",
            "Event A active",
            "History A bridge"
        ]
    );
    assert_eq!(last_history(&outs, &c.a).hold_sec, 7);
}

#[test]
fn hold_on_the_callee_side_reinvites_its_winning_fork() {
    let mut h = H::new();
    let c = h.ringing(2);
    h.answer(&c.b, 1);
    let outs = h.cmd(CallCommand::Hold { leg: c.b.clone() });
    let reinvite = outs
        .iter()
        .find_map(|o| match o {
            switchboard_calls::Output::ReInvite { fork, .. } => Some(*fork),
            _ => None,
        })
        .unwrap();
    assert_eq!(reinvite, Some(switchboard_calls::ForkId(1)));
}

#[test]
fn hold_time_is_counted_even_when_hung_up_on_hold() {
    let mut h = H::new();
    let c = h.talking();
    h.advance(Duration::from_secs(2));
    h.cmd(CallCommand::Hold { leg: c.b.clone() });
    h.advance(Duration::from_secs(5));
    let outs = h.feed(Input::LegHungUp { leg: c.b.clone() });
    let rec = last_history(&outs, &c.b);
    assert_eq!((rec.hold_sec, rec.bill_sec), (5, 7));
}

#[test]
fn dtmf_command_goes_to_the_peer_with_an_event() {
    let mut h = H::new();
    let c = h.talking();
    let mut lines = Vec::new();
    for d in "1234#".chars() {
        let outs = h.cmd(CallCommand::Dtmf {
            leg: c.a.clone(),
            digit: d,
        });
        lines.extend(h.show(&outs));
    }
    assert_eq!(lines.len(), 10);
    assert_eq!(lines[0], "SendDtmf B 1");
    assert_eq!(lines[1], "Event B dtmf");
    assert_eq!(lines[8], "SendDtmf B #");
}

#[test]
fn dtmf_from_a_device_is_an_event_and_is_relayed() {
    let mut h = H::new();
    let c = h.talking();
    let outs = h.feed(Input::LegDtmf {
        leg: c.b.clone(),
        digit: '5',
    });
    assert_eq!(
        h.show(&outs),
        ["Event B dtmf", "SendDtmf A 5", "Event A dtmf"]
    );
    assert_eq!(
        event(&outs, &c.a, EventKind::Dtmf).unwrap().data,
        serde_json::json!({"digit":"5"})
    );
}

#[test]
fn mute_instructs_media_once() {
    let mut h = H::new();
    let c = h.talking();
    let outs = h.cmd(CallCommand::Mute {
        leg: c.a.clone(),
        on: true,
    });
    assert_eq!(h.show(&outs), ["Mute A true", "NotifyMute B#0 true"]);
    assert!(h
        .cmd(CallCommand::Mute {
            leg: c.a.clone(),
            on: true
        })
        .is_empty());
    assert!(h.e.active_call(&c.a, h.wall).unwrap().muted);
    let outs = h.cmd(CallCommand::Mute {
        leg: c.a.clone(),
        on: false,
    });
    assert_eq!(h.show(&outs), ["Mute A false", "NotifyMute B#0 false"]);
    // The callee's mute reaches the caller's incoming dialog.
    let outs = h.cmd(CallCommand::Mute {
        leg: c.b.clone(),
        on: true,
    });
    assert_eq!(h.show(&outs), ["Mute B true", "NotifyMute A true"]);
}

#[test]
fn mute_while_holding_says_hold_and_unbridged_mute_tells_nobody() {
    let mut h = H::new();
    let c = h.talking();
    h.cmd(CallCommand::Hold { leg: c.a.clone() });
    let outs = h.cmd(CallCommand::Mute {
        leg: c.a.clone(),
        on: true,
    });
    assert_eq!(h.show(&outs), ["Mute A true", "NotifyMute B#0 true hold"]);
    // B transfers A away: while A waits unbridged, its mute has no one to tell.
    h.cmd(CallCommand::BlindTransfer {
        leg: c.b.clone(),
        destination: "3031".into(),
    });
    let outs = h.cmd(CallCommand::Mute {
        leg: c.a.clone(),
        on: false,
    });
    assert_eq!(h.show(&outs), ["Mute A false"]);
}

#[test]
fn blind_transfer_connects_remaining_party() {
    let mut h = H::new();
    let c = h.talking();
    // Bob (B) transfers Alice (A) to Carol.
    let outs = h.cmd(CallCommand::BlindTransfer {
        leg: c.b.clone(),
        destination: "3031".into(),
    });
    assert_eq!(
        h.actions(&outs),
        ["Unbridge A", "Bye B#0", "Close B", "Resolve 3031"]
    );
    let b = last_history(&outs, &c.b);
    assert_eq!(b.hangup_cause.as_deref(), Some("BLIND_TRANSFER"));
    let c_leg = b.transfer_to.clone().expect("transfer_to");
    assert_eq!(
        event(&outs, &c.b, EventKind::Hangup).unwrap().data["cause"],
        "BLIND_TRANSFER"
    );
    assert_eq!(h.e.active_call(&c.a, h.wall).unwrap().state, "active");

    let lookup = resolve_of(&outs).unwrap().0;
    let cl = h.resolve_to(lookup, carol(), 1, "C");
    assert_eq!(cl, c_leg, "the new leg is the one B's history points to");
    let outs = h.media_ready(&cl, "offer-c");
    assert_eq!(h.actions(&outs), ["Invite C#0 c0"]);
    let ringing = event(&outs, &cl, EventKind::Ringing).unwrap();
    assert_eq!(ringing.data["from"]["number"], "1001", "Carol sees Alice");
    assert_eq!(ringing.data["parent_id"], c.a.0.as_str());
    let outs = h.answer(&cl, 0);
    assert_eq!(h.actions(&outs), ["AcceptAnswer C answer-0", "Bridge A C"]);
    assert_eq!(
        h.events(&outs),
        ["Event C active", "Event C bridge", "Event A bridge"]
    );
    assert_eq!(
        event(&outs, &c.a, EventKind::Bridge).unwrap().data["bridged_id"],
        cl.0.as_str()
    );
    let crec = last_history(&outs, &cl);
    assert_eq!(crec.transfer_from.as_ref(), Some(&c.b));
    assert_eq!(last_history(&outs, &c.a).bridged_id.as_ref(), Some(&cl));
    // Alice hangs up: Carol's leg ends too.
    let outs = h.feed(Input::LegHungUp { leg: c.a.clone() });
    assert_eq!(h.actions(&outs), ["Close A", "Bye C#0", "Close C"]);
    assert_eq!(h.e.calls_in_memory(), 0);
}

#[test]
fn caller_can_transfer_the_callee() {
    let mut h = H::new();
    let c = h.talking();
    let outs = h.cmd(CallCommand::BlindTransfer {
        leg: c.a.clone(),
        destination: "3031".into(),
    });
    assert_eq!(
        h.actions(&outs),
        ["Unbridge B", "Bye A", "Close A", "Resolve 3031"]
    );
    let lookup = resolve_of(&outs).unwrap().0;
    let cl = h.resolve_to(lookup, carol(), 1, "C");
    let outs = h.media_ready(&cl, "offer-c");
    let ringing = event(&outs, &cl, EventKind::Ringing).unwrap();
    assert_eq!(ringing.data["from"]["number"], "2021", "Carol sees Bob");
    let outs = h.answer(&cl, 0);
    assert!(h.actions(&outs).contains(&"Bridge B C".to_owned()));
}

#[test]
fn blind_transfer_failures_end_the_remaining_party() {
    // (what the transfer target does, cause the remaining party ends with)
    let table = [
        ("not found", "UNALLOCATED_NUMBER"),
        ("offline", "USER_NOT_REGISTERED"),
        ("busy", "USER_BUSY"),
        ("no answer", "NO_ANSWER"),
    ];
    for (what, cause) in table {
        let mut h = H::new();
        let c = h.talking();
        let outs = h.cmd(CallCommand::BlindTransfer {
            leg: c.b.clone(),
            destination: "3031".into(),
        });
        let lookup = resolve_of(&outs).unwrap().0;
        let outs = match what {
            "not found" => h.feed(Input::DestinationResolved {
                lookup,
                target: Target::NotFound,
            }),
            "offline" => h.feed(Input::DestinationResolved {
                lookup,
                target: Target::Offline,
            }),
            _ => {
                let cl = h.resolve_to(lookup, carol(), 1, "C");
                h.media_ready(&cl, "offer-c");
                if what == "busy" {
                    h.fail(&cl, 0, 486)
                } else {
                    h.advance(RING_TIMEOUT)
                }
            }
        };
        assert!(h.actions(&outs).contains(&"Bye A".to_owned()), "{what}");
        assert_eq!(
            last_history(&outs, &c.a).hangup_cause.as_deref(),
            Some(cause),
            "{what}"
        );
        assert_eq!(h.e.calls_in_memory(), 0, "{what}");
    }
}

#[test]
fn attended_transfer_bridges_the_two_parties() {
    let mut h = H::new();
    // Alice talks to Bob, puts him on hold, calls Carol, then bridges Bob to Carol.
    let first = h.talking();
    h.cmd(CallCommand::Hold {
        leg: first.a.clone(),
    });
    let (a2, lookup, _) = h.dial(alice(), "3031");
    h.name(&first.a, "A1");
    h.name(&a2, "A2");
    h.media_ready(&a2, "answer-a2");
    let c2 = h.resolve_to(lookup, carol(), 1, "C");
    h.media_ready(&c2, "offer-c");
    h.answer(&c2, 0);

    let outs = h.cmd(CallCommand::Bridge {
        leg: first.a.clone(),
        other: a2.clone(),
    });
    assert_eq!(
        h.actions(&outs),
        [
            "Unhold A1",
            "Unbridge B",
            "Unbridge C",
            "Bye A1",
            "Close A1",
            "Bye A2",
            "Close A2",
            "Bridge B C"
        ]
    );
    for leg in [&first.a, &a2] {
        assert_eq!(
            last_history(&outs, leg).hangup_cause.as_deref(),
            Some("ATTENDED_TRANSFER")
        );
    }
    assert_eq!(
        last_history(&outs, &first.a).transfer_to.as_ref(),
        Some(&c2)
    );
    assert_eq!(last_history(&outs, &c2).transfer_from.as_ref(), Some(&a2));
    assert_eq!(
        event(&outs, &first.b, EventKind::Bridge).unwrap().data["to"]["name"],
        "Carol"
    );
    assert_eq!(
        event(&outs, &c2, EventKind::Bridge).unwrap().data["to"]["name"],
        "Bob"
    );
    // Bob and Carol now share fate across the two calls.
    let outs = h.feed(Input::LegHungUp {
        leg: first.b.clone(),
    });
    assert_eq!(h.actions(&outs), ["Close B", "Bye C#0", "Close C"]);
    assert_eq!(h.e.live_legs(), 0);
    assert_eq!(h.e.calls_in_memory(), 0);
}

#[test]
fn attended_transfer_needs_two_bridged_legs() {
    let mut h = H::new();
    let c = h.talking();
    let ringing = h.ringing(1);
    for (leg, other) in [(&c.a, &c.a), (&c.a, &c.b), (&c.a, &ringing.a)] {
        let err = h
            .try_feed(Input::Command(CallCommand::Bridge {
                leg: leg.clone(),
                other: other.clone(),
            }))
            .unwrap_err();
        assert!(
            matches!(err, switchboard_calls::CallError::InvalidState { .. }),
            "{err}"
        );
    }
    assert!(h.drain().is_empty());
}
