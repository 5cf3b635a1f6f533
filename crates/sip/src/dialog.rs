//! Dialogs (RFC 3261 §12): identity, state, route set, and in-dialog requests.

use thiserror::Error;

use crate::header::name_addr::{Contact, NameAddr};
use crate::header::via::Via;
use crate::header::HeaderName;
use crate::message::{Request, Response};
use crate::uri::Uri;
use crate::{Method, ParseError};

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DialogError {
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error("message cannot create a dialog (no tag, no Contact, or wrong status)")]
    NotDialogForming,
    #[error("CSeq lower than the last remote one (§12.2.2): answer 500")]
    OutOfOrder,
    #[error("request does not belong to this dialog")]
    Mismatch,
}

/// §12: Call-ID plus local and remote tags.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DialogId {
    pub call_id: String,
    pub local_tag: String,
    pub remote_tag: String,
}

impl DialogId {
    /// The id a UAS sees for an incoming in-dialog request (local = To tag).
    pub fn for_incoming_request(req: &Request) -> Result<Option<Self>, ParseError> {
        let to = req.headers.to()?;
        let from = req.headers.from()?;
        Ok(match (to.tag(), from.tag()) {
            (Some(l), Some(r)) => Some(Self {
                call_id: req.headers.call_id()?.to_owned(),
                local_tag: l.to_owned(),
                remote_tag: r.to_owned(),
            }),
            _ => None,
        })
    }

    /// The id a UAC sees for a response (local = From tag).
    pub fn for_response(resp: &Response) -> Result<Option<Self>, ParseError> {
        let to = resp.headers.to()?;
        let from = resp.headers.from()?;
        Ok(match (from.tag(), to.tag()) {
            (Some(l), Some(r)) => Some(Self {
                call_id: resp.headers.call_id()?.to_owned(),
                local_tag: l.to_owned(),
                remote_tag: r.to_owned(),
            }),
            _ => None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialogState {
    /// Created by a 1xx with a to-tag.
    Early,
    Confirmed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialog {
    pub id: DialogId,
    pub state: DialogState,
    /// Last CSeq we used; in-dialog requests increment it.
    pub local_seq: u32,
    /// Last CSeq the peer used, if any.
    pub remote_seq: Option<u32>,
    /// Our URI (From of our requests), without tag.
    pub local_uri: NameAddr,
    /// The peer's URI (To of our requests), without tag.
    pub remote_uri: NameAddr,
    /// Where in-dialog requests go: the peer's Contact.
    pub remote_target: Uri,
    /// Route set in the order our requests use it.
    pub route_set: Vec<NameAddr>,
    /// Our Contact, sent in target-refresh requests.
    pub local_contact: NameAddr,
}

fn contact_uri(h: &crate::Headers) -> Result<Uri, DialogError> {
    match h.contacts()?.into_iter().next() {
        Some(Contact::Addr(a)) => Ok(a.uri),
        _ => Err(DialogError::NotDialogForming),
    }
}

fn without_tag(mut a: NameAddr) -> NameAddr {
    a.params.remove("tag");
    a
}

impl Dialog {
    /// UAC side (§12.1.2): from our INVITE and a 2xx or tagged 1xx.
    pub fn new_uac(
        req: &Request,
        resp: &Response,
        local_contact: NameAddr,
    ) -> Result<Self, DialogError> {
        if !(101..300).contains(&resp.status) {
            return Err(DialogError::NotDialogForming);
        }
        let id = DialogId::for_response(resp)?.ok_or(DialogError::NotDialogForming)?;
        let mut route_set = resp.headers.record_routes()?;
        route_set.reverse();
        Ok(Self {
            id,
            state: if resp.status < 200 {
                DialogState::Early
            } else {
                DialogState::Confirmed
            },
            local_seq: req.headers.cseq()?.seq,
            remote_seq: None,
            local_uri: without_tag(req.headers.from()?),
            remote_uri: without_tag(resp.headers.to()?),
            remote_target: contact_uri(&resp.headers)?,
            route_set,
            local_contact,
        })
    }

    /// UAS side (§12.1.1): from the request and the to-tag we put in our response.
    pub fn new_uas(
        req: &Request,
        local_tag: &str,
        local_contact: NameAddr,
        early: bool,
    ) -> Result<Self, DialogError> {
        let from = req.headers.from()?;
        let remote_tag = from.tag().ok_or(DialogError::NotDialogForming)?.to_owned();
        Ok(Self {
            id: DialogId {
                call_id: req.headers.call_id()?.to_owned(),
                local_tag: local_tag.to_owned(),
                remote_tag,
            },
            state: if early {
                DialogState::Early
            } else {
                DialogState::Confirmed
            },
            local_seq: 0,
            remote_seq: Some(req.headers.cseq()?.seq),
            local_uri: without_tag(req.headers.to()?),
            remote_uri: without_tag(from),
            remote_target: contact_uri(&req.headers)?,
            route_set: req.headers.record_routes()?,
            local_contact,
        })
    }

    /// UAC: a later response to the dialog-forming INVITE (§12.1.2, §13.2.2.4).
    pub fn on_response(&mut self, resp: &Response) -> Result<(), DialogError> {
        if let Ok(target) = contact_uri(&resp.headers) {
            self.remote_target = target;
        }
        if resp.is_success() && self.state == DialogState::Early {
            // The route set is fixed by the 2xx.
            let mut rs = resp.headers.record_routes()?;
            rs.reverse();
            self.route_set = rs;
            self.state = DialogState::Confirmed;
        }
        Ok(())
    }

    /// UAS: checks an incoming in-dialog request (§12.2.2) and applies target refresh.
    pub fn on_request(&mut self, req: &Request) -> Result<(), DialogError> {
        if DialogId::for_incoming_request(req)?.as_ref() != Some(&self.id) {
            return Err(DialogError::Mismatch);
        }
        let seq = req.headers.cseq()?.seq;
        if req.method != Method::Ack && req.method != Method::Cancel {
            if self.remote_seq.is_some_and(|r| seq <= r) {
                return Err(DialogError::OutOfOrder);
            }
            self.remote_seq = Some(seq);
        }
        if matches!(req.method, Method::Invite | Method::Update) {
            if let Ok(t) = contact_uri(&req.headers) {
                self.remote_target = t;
            }
        }
        Ok(())
    }

    /// Builds an in-dialog request (§12.2.1.1). `via` carries a fresh branch.
    /// Increments the local CSeq except for ACK and CANCEL.
    pub fn create_request(&mut self, method: Method, via: &Via) -> Request {
        if method != Method::Ack && method != Method::Cancel {
            self.local_seq = self.local_seq.wrapping_add(1);
        }
        let seq = self.local_seq;
        self.build(method, via, seq)
    }

    /// ACK for a 2xx to the INVITE with CSeq `invite_seq` (§13.2.2.4): its own branch.
    pub fn create_ack(&self, invite_seq: u32, via: &Via) -> Request {
        self.build(Method::Ack, via, invite_seq)
    }

    fn build(&self, method: Method, via: &Via, seq: u32) -> Request {
        let (uri, routes) = self.request_target();
        let mut req = Request::new(method.clone(), uri);
        let h = &mut req.headers;
        h.push(HeaderName::Via, via.to_string());
        h.push(HeaderName::MaxForwards, "70");
        for r in routes {
            h.push(HeaderName::Route, r.to_string());
        }
        let mut from = self.local_uri.clone();
        from.set_tag(&self.id.local_tag);
        let mut to = self.remote_uri.clone();
        to.set_tag(&self.id.remote_tag);
        h.push(HeaderName::From, from.to_string());
        h.push(HeaderName::To, to.to_string());
        h.push(HeaderName::CallId, self.id.call_id.clone());
        h.push(HeaderName::CSeq, format!("{seq} {method}"));
        if matches!(
            method,
            Method::Invite | Method::Update | Method::Subscribe | Method::Notify | Method::Refer
        ) {
            h.push(HeaderName::Contact, self.local_contact.to_string());
        }
        req
    }

    /// Request-URI and Route headers for loose or strict routing (§12.2.1.1).
    fn request_target(&self) -> (Uri, Vec<NameAddr>) {
        let Some(first) = self.route_set.first() else {
            return (self.remote_target.clone(), Vec::new());
        };
        let loose = first.uri.as_sip().is_some_and(|u| u.params.contains("lr"));
        if loose {
            return (self.remote_target.clone(), self.route_set.clone());
        }
        // Strict routing: first route becomes the Request-URI, remote target goes last.
        let mut uri = first.uri.clone();
        if let Some(u) = uri.as_sip_mut() {
            u.headers = None;
            u.params.remove("method");
        }
        let mut routes: Vec<NameAddr> = self.route_set.iter().skip(1).cloned().collect();
        routes.push(NameAddr::new(self.remote_target.clone()));
        (uri, routes)
    }
}
