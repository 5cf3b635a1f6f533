use crate::harness::*;
use switchboard_calls::{CallCommand, EventKind, Input, LegId, Output, Target};

fn originate(h: &mut H, auto_answer: bool) -> (LegId, Vec<Output>) {
    let a = h.e.new_leg_id();
    h.name(&a, "A");
    let outs = h.cmd(CallCommand::Originate {
        leg: a.clone(),
        from: alice(),
        destination: "2021".into(),
        auto_answer,
    });
    (a, outs)
}

#[test]
fn originate_rings_own_phone_with_auto_answer_then_destination() {
    let mut h = H::new();
    let (a, outs) = originate(&mut h, true);
    assert_eq!(h.show(&outs), ["History A ringing", "Resolve 1001"]);
    let lookup = resolve_of(&outs).unwrap().0;
    let outs = h.feed(Input::DestinationResolved {
        lookup,
        target: Target::User {
            user: alice(),
            contacts: contacts(1),
        },
    });
    assert_eq!(h.actions(&outs), ["CreateOfferer A"]);
    let outs = h.media_ready(&a, "offer-a");
    assert_eq!(
        h.show(&outs),
        ["Invite A#0 c0", "Event A ringing", "History A ringing"]
    );
    let Output::Invite {
        auto_answer,
        headers,
        from,
        to,
        sip_call_id,
        ..
    } = &outs[0]
    else {
        unreachable!()
    };
    assert!(auto_answer);
    assert!(headers.contains(&("X-Webitel-Uuid".into(), a.0.clone())));
    assert_eq!(sip_call_id, &a.0);
    assert_eq!(
        (from.extension.as_str(), to.extension.as_str()),
        ("2021", "1001"),
        "Alice's phone shows whom it is calling"
    );
    let ev = event(&outs, &a, EventKind::Ringing).unwrap();
    assert_eq!(ev.data["params"]["autoAnswer"], true);
    assert_eq!(ev.data["direction"], "outbound");
    assert_eq!(ev.data["destination"], "2021");
    assert_eq!(ev.data["sip_id"], a.0.as_str());

    // Alice's phone picks up; now Bob is called.
    let outs = h.answer(&a, 0);
    assert_eq!(
        h.show(&outs),
        [
            "AcceptAnswer A answer-0",
            "Event A active",
            "History A active",
            "Resolve 2021"
        ]
    );
    let lookup = resolve_of(&outs).unwrap().0;
    let b = h.resolve_to(lookup, bob(), 1, "B");
    let outs = h.media_ready(&b, "offer-b");
    let ev = event(&outs, &b, EventKind::Ringing).unwrap();
    assert_eq!(ev.data["from"]["number"], "1001");
    assert_eq!(ev.data["direction"], "inbound");
    assert!(
        ev.data.get("params").is_none(),
        "Bob's leg is not auto-answered"
    );
    let outs = h.answer(&b, 0);
    assert_eq!(h.actions(&outs), ["AcceptAnswer B answer-0", "Bridge A B"]);
    assert_eq!(
        h.events(&outs),
        ["Event B active", "Event B bridge", "Event A bridge"]
    );
}

#[test]
fn originate_without_auto_answer_has_no_params() {
    let mut h = H::new();
    let (a, outs) = originate(&mut h, false);
    let lookup = resolve_of(&outs).unwrap().0;
    h.feed(Input::DestinationResolved {
        lookup,
        target: Target::User {
            user: alice(),
            contacts: contacts(2),
        },
    });
    let outs = h.media_ready(&a, "offer-a");
    assert_eq!(h.actions(&outs), ["Invite A#0 c0", "Invite A#1 c1"]);
    assert!(event(&outs, &a, EventKind::Ringing)
        .unwrap()
        .data
        .get("params")
        .is_none());
}

#[test]
fn originate_when_caller_offline_ends_without_events() {
    let mut h = H::new();
    let (a, outs) = originate(&mut h, true);
    let lookup = resolve_of(&outs).unwrap().0;
    let outs = h.feed(Input::DestinationResolved {
        lookup,
        target: Target::Offline,
    });
    assert_eq!(h.show(&outs), ["History A hangup"]);
    assert_eq!(
        last_history(&outs, &a).hangup_cause.as_deref(),
        Some("USER_NOT_REGISTERED")
    );
    assert_eq!(h.e.calls_in_memory(), 0);
}

#[test]
fn originate_destination_failures_hang_up_the_callers_phone() {
    for (what, cause) in [("busy", "USER_BUSY"), ("unknown", "UNALLOCATED_NUMBER")] {
        let mut h = H::new();
        let (a, outs) = originate(&mut h, true);
        let lookup = resolve_of(&outs).unwrap().0;
        h.feed(Input::DestinationResolved {
            lookup,
            target: Target::User {
                user: alice(),
                contacts: contacts(1),
            },
        });
        h.media_ready(&a, "offer-a");
        let outs = h.answer(&a, 0);
        let lookup = resolve_of(&outs).unwrap().0;
        let outs = if what == "busy" {
            let b = h.resolve_to(lookup, bob(), 1, "B");
            h.media_ready(&b, "offer-b");
            h.fail(&b, 0, 486)
        } else {
            h.feed(Input::DestinationResolved {
                lookup,
                target: Target::NotFound,
            })
        };
        assert!(h.actions(&outs).contains(&"Bye A#0".to_owned()), "{what}");
        let rec = last_history(&outs, &a);
        assert_eq!(rec.hangup_cause.as_deref(), Some(cause), "{what}");
        assert_eq!(h.e.calls_in_memory(), 0);
    }
}

#[test]
fn originate_cancelled_while_own_phone_rings() {
    let mut h = H::new();
    let (a, outs) = originate(&mut h, false);
    let lookup = resolve_of(&outs).unwrap().0;
    h.feed(Input::DestinationResolved {
        lookup,
        target: Target::User {
            user: alice(),
            contacts: contacts(1),
        },
    });
    h.media_ready(&a, "offer-a");
    let outs = h.cmd(CallCommand::Hangup {
        leg: a.clone(),
        cause: None,
    });
    assert_eq!(h.actions(&outs), ["Cancel A#0", "Close A"]);
    assert_eq!(
        last_history(&outs, &a).hangup_cause.as_deref(),
        Some("ORIGINATOR_CANCEL")
    );
}
