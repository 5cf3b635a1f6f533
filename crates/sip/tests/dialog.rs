//! Dialog creation and in-dialog requests (RFC 3261 §12, §13.2.2.4) and
//! response construction (§8.2.6).

use switchboard_sip::dialog::{Dialog, DialogError, DialogState};
use switchboard_sip::header::name_addr::NameAddr;
use switchboard_sip::header::via::Via;
use switchboard_sip::response::{check_max_forwards, make_response, new_branch};
use switchboard_sip::{parse, HeaderName, Message, Method, Request, SipUri, Uri};

fn req(s: &str) -> Request {
    match parse(s.as_bytes()).unwrap() {
        Message::Request(r) => r,
        _ => panic!(),
    }
}

const INVITE: &str = "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/WSS abc.invalid;branch=z9hG4bKnashds8\r\n\
Max-Forwards: 70\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n\
To: Bob <sip:bob@biloxi.example.com>\r\n\
Call-ID: 3848276298220188511@atlanta.example.com\r\n\
CSeq: 1 INVITE\r\n\
Record-Route: <sip:p2.example.com;lr>, <sip:p1.example.com;lr>\r\n\
Contact: <sip:alice@abc.invalid;transport=ws;ob>\r\n\
Content-Length: 0\r\n\r\n";

fn contact(host: &str) -> NameAddr {
    NameAddr::new(SipUri::new(Some("b2bua"), host))
}

fn via() -> Via {
    Via::new("WSS", "sb.example.com", None, &new_branch())
}

#[test]
fn rfc3261_8_2_6_response_copies_headers_and_adds_to_tag() {
    let r = req(INVITE);
    let resp = make_response(&r, 180, Some("xyz"));
    for h in [
        HeaderName::Via,
        HeaderName::From,
        HeaderName::CallId,
        HeaderName::CSeq,
    ] {
        assert_eq!(resp.headers.get(&h), r.headers.get(&h));
    }
    assert_eq!(resp.headers.to().unwrap().tag(), Some("xyz"));
    assert!(make_response(&r, 100, Some("xyz"))
        .headers
        .to()
        .unwrap()
        .tag()
        .is_none());
    assert_eq!(resp.headers.record_routes().unwrap().len(), 2);
    assert!(make_response(&r, 486, Some("xyz"))
        .headers
        .record_routes()
        .unwrap()
        .is_empty());
}

#[test]
fn rfc3261_16_3_max_forwards_zero_gets_483() {
    let r = req(&INVITE.replace("Max-Forwards: 70", "Max-Forwards: 0"));
    assert_eq!(check_max_forwards(&r).map(|r| r.status), Some(483));
    assert!(check_max_forwards(&req(INVITE)).is_none());
}

#[test]
fn rfc3261_12_1_1_uas_dialog_and_in_dialog_bye() {
    let r = req(INVITE);
    let mut d = Dialog::new_uas(&r, "b2b-tag", contact("sb.example.com"), false).unwrap();
    assert_eq!(d.id.remote_tag, "9fxced76sl");
    assert_eq!(d.remote_seq, Some(1));
    assert_eq!(
        d.remote_target.to_string(),
        "sip:alice@abc.invalid;transport=ws;ob"
    );
    let bye = d.create_request(Method::Bye, &via());
    // Loose routing: Request-URI is the remote target, Route is the Record-Route as received.
    assert_eq!(bye.uri, d.remote_target);
    let routes: Vec<_> = bye.headers.get_all(&HeaderName::Route).collect();
    assert_eq!(
        routes,
        ["<sip:p2.example.com;lr>", "<sip:p1.example.com;lr>"]
    );
    assert_eq!(bye.headers.from().unwrap().tag(), Some("b2b-tag"));
    assert_eq!(bye.headers.to().unwrap().tag(), Some("9fxced76sl"));
    assert_eq!(bye.headers.cseq().unwrap().seq, 1);
    assert!(!bye.headers.contains(&HeaderName::Contact));
    // And it is a valid message.
    assert!(parse(&bye.to_bytes()).is_ok());
}

#[test]
fn rfc3261_12_2_2_remote_cseq_must_increase_and_update_refreshes_target() {
    let r = req(INVITE);
    let mut d = Dialog::new_uas(&r, "b2b-tag", contact("sb.example.com"), false).unwrap();
    let update = INVITE
        .replace("INVITE sip", "UPDATE sip")
        .replace("CSeq: 1 INVITE", "CSeq: 2 UPDATE")
        .replace(
            "To: Bob <sip:bob@biloxi.example.com>",
            "To: Bob <sip:bob@biloxi.example.com>;tag=b2b-tag",
        )
        .replace("alice@abc.invalid", "alice@new.invalid");
    d.on_request(&req(&update)).unwrap();
    assert_eq!(d.remote_seq, Some(2));
    assert_eq!(d.remote_target.as_sip().unwrap().host, "new.invalid");
    assert_eq!(d.on_request(&req(&update)), Err(DialogError::OutOfOrder));
}

#[test]
fn rfc3261_12_1_2_uac_dialog_from_183_then_2xx_and_ack() {
    let invite = req(INVITE);
    let mut early = make_response(&invite, 183, Some("bobtag"));
    early
        .headers
        .push(HeaderName::Contact, "<sip:bob@192.0.2.4>");
    let mut d = Dialog::new_uac(&invite, &early, contact("abc.invalid")).unwrap();
    assert_eq!(d.state, DialogState::Early);
    assert_eq!(d.id.local_tag, "9fxced76sl");
    // Route set reversed for the UAC.
    assert_eq!(d.route_set[0].to_string(), "<sip:p1.example.com;lr>");
    let mut ok = make_response(&invite, 200, Some("bobtag"));
    ok.headers.push(HeaderName::Contact, "<sip:bob@192.0.2.5>");
    d.on_response(&ok).unwrap();
    assert_eq!(d.state, DialogState::Confirmed);
    assert_eq!(d.remote_target.to_string(), "sip:bob@192.0.2.5");
    let ack = d.create_ack(1, &via());
    assert_eq!(ack.headers.cseq().unwrap().to_string(), "1 ACK");
    assert_eq!(ack.uri.to_string(), "sip:bob@192.0.2.5");
    let reinvite = d.create_request(Method::Invite, &via());
    assert_eq!(reinvite.headers.cseq().unwrap().seq, 2);
    assert!(reinvite.headers.contains(&HeaderName::Contact));
    let info = d.create_request(Method::Info, &via());
    assert_eq!(info.headers.cseq().unwrap().seq, 3);
    assert_ne!(
        reinvite.headers.top_via().unwrap().branch(),
        info.headers.top_via().unwrap().branch()
    );
}

#[test]
fn rfc3261_12_2_1_1_strict_route_puts_remote_target_last() {
    let invite = req(&INVITE.replace(
        "Record-Route: <sip:p2.example.com;lr>, <sip:p1.example.com;lr>",
        "Record-Route: <sip:strict.example.com>",
    ));
    let d0 = Dialog::new_uas(&invite, "t", contact("sb"), false).unwrap();
    let mut d = d0.clone();
    let bye = d.create_request(Method::Bye, &via());
    assert_eq!(bye.uri, Uri::Sip(SipUri::new(None, "strict.example.com")));
    let routes: Vec<_> = bye.headers.get_all(&HeaderName::Route).collect();
    assert_eq!(routes, ["<sip:alice@abc.invalid;transport=ws;ob>"]);
}

#[test]
fn rfc3261_12_1_dialog_needs_tags_and_contact() {
    let invite = req(INVITE);
    let no_tag = make_response(&invite, 180, None);
    assert_eq!(
        Dialog::new_uac(&invite, &no_tag, contact("x")).unwrap_err(),
        DialogError::NotDialogForming
    );
    let no_contact = make_response(&invite, 200, Some("t"));
    assert!(Dialog::new_uac(&invite, &no_contact, contact("x")).is_err());
}
