use crate::harness::*;
use std::time::Duration;
use switchboard_calls::{CallCommand, CallError, ForkId, HangupCause, Input, LegId, Target};

#[test]
fn caller_cancel_sends_cancel_to_every_fork_and_487() {
    let mut h = H::new();
    let c = h.ringing(3);
    h.feed(Input::ForkRinging {
        leg: c.b.clone(),
        fork: ForkId(2),
    });
    let outs = h.feed(Input::LegCancelled { leg: c.a.clone() });
    assert_eq!(
        h.actions(&outs),
        [
            "Reject A 487",
            "Close A",
            "Cancel B#0",
            "Cancel B#1",
            "Cancel B#2",
            "Close B"
        ]
    );
    for (leg, cause) in [(&c.a, "ORIGINATOR_CANCEL"), (&c.b, "ORIGINATOR_CANCEL")] {
        assert_eq!(
            last_history(&outs, leg).hangup_cause.as_deref(),
            Some(cause)
        );
    }
    assert_eq!(last_history(&outs, &c.a).sip_code, Some(487));
    // The forks' 487s arrive after the call is gone.
    for f in 0..3 {
        assert!(h.fail(&c.b, f, 487).is_empty());
    }
}

#[test]
fn no_answer_times_out_with_480() {
    let mut h = H::new();
    let c = h.ringing(2);
    assert!(h
        .advance(RING_TIMEOUT - Duration::from_millis(1))
        .is_empty());
    let outs = h.advance(Duration::from_millis(1));
    assert_eq!(
        h.actions(&outs),
        [
            "Cancel B#0",
            "Cancel B#1",
            "Close B",
            "Reject A 480",
            "Close A"
        ]
    );
    assert_eq!(
        last_history(&outs, &c.b).hangup_cause.as_deref(),
        Some("NO_ANSWER")
    );
    assert_eq!(
        last_history(&outs, &c.a).hangup_cause.as_deref(),
        Some("NO_ANSWER")
    );
    assert_eq!(h.e.poll_timeout(), None);
}

#[test]
fn answered_call_is_not_timed_out() {
    let mut h = H::new();
    let c = h.talking();
    assert_eq!(h.e.poll_timeout(), None, "the ring timer stops on answer");
    assert!(h.advance(RING_TIMEOUT * 3).is_empty());
    assert_eq!(h.e.active_call(&c.a, h.wall).unwrap().state, "bridge");
}

#[test]
fn reject_with_user_busy_gives_486() {
    let mut h = H::new();
    let c = h.ringing(2);
    let outs = h.cmd(CallCommand::Hangup {
        leg: c.b.clone(),
        cause: Some(HangupCause::UserBusy),
    });
    assert_eq!(
        h.actions(&outs),
        [
            "Cancel B#0",
            "Cancel B#1",
            "Close B",
            "Reject A 486",
            "Close A"
        ]
    );
    let b = last_history(&outs, &c.b);
    assert_eq!(
        (b.hangup_cause.as_deref(), b.sip_code),
        (Some("USER_BUSY"), Some(486))
    );
}

#[test]
fn hangup_without_cause_uses_the_sdk_defaults() {
    // (hang up which leg, answered?, expected cause, expected reject to the caller)
    let table = [
        ("B", false, "USER_BUSY", Some("Reject A 486")),
        ("A", false, "ORIGINATOR_CANCEL", Some("Reject A 487")),
        ("B", true, "NORMAL_CLEARING", None),
        ("A", true, "NORMAL_CLEARING", None),
    ];
    for (side, answered, cause, reject) in table {
        let mut h = H::new();
        let c = if answered { h.talking() } else { h.ringing(1) };
        let leg = if side == "A" {
            c.a.clone()
        } else {
            c.b.clone()
        };
        let outs = h.cmd(CallCommand::Hangup {
            leg: leg.clone(),
            cause: None,
        });
        assert_eq!(
            last_history(&outs, &leg).hangup_cause.as_deref(),
            Some(cause),
            "{side} answered={answered}"
        );
        if let Some(r) = reject {
            assert!(h.actions(&outs).contains(&r.to_owned()), "{side}");
        }
    }
}

#[test]
fn unknown_extension_404() {
    let mut h = H::new();
    let (a, lookup, _) = h.dial(alice(), "9999");
    let outs = h.feed(Input::DestinationResolved {
        lookup,
        target: Target::NotFound,
    });
    assert_eq!(h.actions(&outs), ["Reject A 404", "Close A"]);
    let rec = last_history(&outs, &a);
    assert_eq!(rec.hangup_cause.as_deref(), Some("UNALLOCATED_NUMBER"));
    assert_eq!(rec.sip_code, Some(404));
    let ev = event(&outs, &a, switchboard_calls::EventKind::Hangup).unwrap();
    assert_eq!(ev.data["cause"], "UNALLOCATED_NUMBER");
    assert_eq!(ev.data["sip"], 404);
}

#[test]
fn offline_user_480() {
    for target in [
        Target::Offline,
        Target::User {
            user: bob(),
            contacts: vec![],
        },
    ] {
        let mut h = H::new();
        let (a, lookup, _) = h.dial(alice(), "2021");
        let outs = h.feed(Input::DestinationResolved { lookup, target });
        assert_eq!(h.actions(&outs), ["Reject A 480", "Close A"]);
        assert_eq!(
            last_history(&outs, &a).hangup_cause.as_deref(),
            Some("USER_NOT_REGISTERED")
        );
    }
}

#[test]
fn all_forks_failing_reports_the_best_failure() {
    // fork final responses → response to the caller, cause
    let table: [(&[u16], u16, &str); 6] = [
        (&[486], 486, "USER_BUSY"),
        (&[486, 486], 486, "USER_BUSY"),
        (&[408, 486], 486, "USER_BUSY"),
        (&[480, 408], 480, "NO_USER_RESPONSE"),
        (&[486, 603], 603, "CALL_REJECTED"),
        (&[503, 500], 503, "NORMAL_TEMPORARY_FAILURE"),
    ];
    for (codes, want, cause) in table {
        let mut h = H::new();
        let c = h.ringing(codes.len());
        let mut outs = Vec::new();
        for (i, code) in codes.iter().enumerate() {
            outs = h.fail(&c.b, i as u32, *code);
        }
        let acts = h.actions(&outs);
        assert_eq!(
            acts,
            [
                "Close B".to_owned(),
                format!("Reject A {want}"),
                "Close A".to_owned()
            ],
            "{codes:?}"
        );
        assert_eq!(
            last_history(&outs, &c.b).hangup_cause.as_deref(),
            Some(cause)
        );
    }
}

#[test]
fn media_failure_rejects_with_488() {
    let mut h = H::new();
    let (a, _, _) = h.dial(alice(), "2021");
    let outs = h.feed(Input::MediaFailed { leg: a.clone() });
    assert_eq!(h.actions(&outs), ["Reject A 488", "Close A"]);
}

#[test]
fn callee_media_failure_fails_the_call() {
    let mut h = H::new();
    let (a, lookup, _) = h.dial(alice(), "2021");
    h.media_ready(&a, "answer-a");
    let b = h.resolve_to(lookup, bob(), 1, "B");
    let outs = h.feed(Input::MediaFailed { leg: b.clone() });
    assert_eq!(h.actions(&outs), ["Close B", "Reject A 488", "Close A"]);
}

#[test]
fn cancel_during_lookup_ignores_the_late_answer() {
    let mut h = H::new();
    let (a, lookup, _) = h.dial(alice(), "2021");
    let outs = h.feed(Input::LegCancelled { leg: a });
    assert_eq!(h.actions(&outs), ["Reject A 487", "Close A"]);
    let late = h.try_feed(Input::DestinationResolved {
        lookup,
        target: Target::NotFound,
    });
    assert_eq!(late, Err(CallError::UnknownLookup(lookup)));
}

#[test]
fn shutdown_ends_every_leg_with_system_shutdown() {
    let mut h = H::new();
    let talking = h.talking();
    let ringing = h.ringing(1);
    let outs = h.feed(Input::Shutdown);
    let acts = h.actions(&outs);
    for want in ["Bye A", "Bye B#0", "Reject A 503", "Cancel B#0"] {
        assert!(acts.contains(&want.to_owned()), "{want} in {acts:?}");
    }
    for leg in [&talking.a, &talking.b, &ringing.a, &ringing.b] {
        assert_eq!(
            last_history(&outs, leg).hangup_cause.as_deref(),
            Some("SYSTEM_SHUTDOWN")
        );
    }
    assert_eq!(h.e.live_legs(), 0);
    assert_eq!(h.e.calls_in_memory(), 0);
}

#[test]
fn commands_on_wrong_legs_are_refused() {
    let mut h = H::new();
    let c = h.ringing(1);
    let ghost = LegId::from("00000000-0000-4000-8000-000000000000");
    let table = [
        (
            CallCommand::Hangup {
                leg: ghost.clone(),
                cause: None,
            },
            "unknown",
        ),
        (CallCommand::Hold { leg: c.b.clone() }, "state"),
        (
            CallCommand::Dtmf {
                leg: c.a.clone(),
                digit: '1',
            },
            "state",
        ),
        (
            CallCommand::BlindTransfer {
                leg: c.a.clone(),
                destination: "3031".into(),
            },
            "state",
        ),
        (
            CallCommand::Mute {
                leg: ghost.clone(),
                on: true,
            },
            "unknown",
        ),
    ];
    for (cmd, kind) in table {
        let dbg = format!("{cmd:?}");
        let err = h.try_feed(Input::Command(cmd)).unwrap_err();
        match kind {
            "unknown" => assert!(matches!(err, CallError::UnknownLeg(_)), "{dbg}: {err}"),
            _ => assert!(
                matches!(
                    err,
                    CallError::InvalidState {
                        state: "ringing",
                        ..
                    }
                ),
                "{dbg}: {err}"
            ),
        }
    }
    assert!(h.drain().is_empty(), "refused commands change nothing");
}

#[test]
fn stale_sip_inputs_for_a_forgotten_call() {
    let mut h = H::new();
    let c = h.ringing(2);
    h.feed(Input::LegCancelled { leg: c.a.clone() });
    assert_eq!(h.e.calls_in_memory(), 0);
    let b = c.b.clone();
    // (input, expected outputs or error)
    let table: Vec<(Input, Result<Vec<&str>, ()>)> = vec![
        (
            Input::ForkRinging {
                leg: b.clone(),
                fork: ForkId(0),
            },
            Ok(vec![]),
        ),
        (
            Input::ForkFailed {
                leg: b.clone(),
                fork: ForkId(1),
                sip_code: 487,
            },
            Ok(vec![]),
        ),
        (
            Input::ForkAnswered {
                leg: b.clone(),
                fork: ForkId(0),
                answer_sdp: "late".into(),
            },
            Ok(vec!["Bye B#0"]),
        ),
        (Input::LegHungUp { leg: b.clone() }, Err(())),
        (
            Input::MediaReady {
                leg: b.clone(),
                local_sdp: "late".into(),
            },
            Err(()),
        ),
        (
            Input::LegDtmf {
                leg: b.clone(),
                digit: '1',
            },
            Err(()),
        ),
    ];
    for (input, want) in table {
        let dbg = format!("{input:?}");
        match (h.try_feed(input), want) {
            (Ok(outs), Ok(lines)) => assert_eq!(h.show(&outs), lines, "{dbg}"),
            (Err(e), Err(())) => assert_eq!(e, CallError::UnknownLeg(b.clone()), "{dbg}"),
            (got, _) => panic!("{dbg}: {got:?}"),
        }
    }
}
