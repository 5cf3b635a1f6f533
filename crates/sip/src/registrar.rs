//! Registrar bindings (RFC 3261 §10.3) with RFC 5626 outbound flows.
//!
//! Pure logic: the caller authenticates the REGISTER first, then hands it
//! here with the flow it arrived on. Requests to a binding go back over that
//! flow; the contact host (JsSIP's `*.invalid`) is never resolved.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::{Duration, Instant};

use crate::flow::FlowId;
use crate::header::name_addr::{Contact, NameAddr};
use crate::header::HeaderName;
use crate::message::{Request, Response};
use crate::response::make_response;
use crate::uri::Uri;
use crate::ParseError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistrarConfig {
    /// Shorter non-zero requests get 423 with Min-Expires (§10.3 step 7).
    pub min_expires: u32,
    /// Longer requests are shortened to this.
    pub max_expires: u32,
    /// Used when neither the contact nor the request says.
    pub default_expires: u32,
}

impl Default for RegistrarConfig {
    fn default() -> Self {
        // JsSIP's default register_expires is 600 and webitel-sdk's 90; both fit.
        Self {
            min_expires: 60,
            max_expires: 3600,
            default_expires: 600,
        }
    }
}

/// One registered contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The Contact as registered (URI plus header params such as +sip.instance).
    pub contact: NameAddr,
    /// Where requests for this binding must be sent.
    pub flow: FlowId,
    /// Source address the REGISTER came from.
    pub source: String,
    pub instance: Option<String>,
    pub reg_id: Option<u32>,
    pub call_id: String,
    pub cseq: u32,
    pub expires_at: Instant,
}

impl Binding {
    pub fn remaining(&self, now: Instant) -> u32 {
        let secs = self.expires_at.saturating_duration_since(now).as_secs();
        u32::try_from(secs).unwrap_or(u32::MAX)
    }

    fn same_key(&self, instance: Option<&str>, reg_id: Option<u32>, uri: &Uri) -> bool {
        match (instance, reg_id, &self.instance, self.reg_id) {
            // RFC 5626 §6: (instance, reg-id) identifies the flow's binding.
            (Some(i), Some(r), Some(bi), Some(br)) => i == bi && r == br,
            _ => &self.contact.uri == uri,
        }
    }
}

/// Result of processing one REGISTER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterOutcome {
    /// The final response to send (200, 400, 423 or 500).
    pub response: Response,
    /// The address-of-record, when it could be read from To.
    pub aor: Option<String>,
    /// Whether the bindings of `aor` changed.
    pub changed: bool,
}

#[derive(Debug, Default)]
pub struct Registrar {
    config: RegistrarConfig,
    bindings: HashMap<String, Vec<Binding>>,
    /// Binding expiries, earliest first, with their AOR: what `expire` and `poll_timeout` look
    /// at instead of every binding. Entries of refreshed or removed bindings go stale and are
    /// dropped when they come up.
    expiries: BinaryHeap<Reverse<(Instant, String)>>,
}

/// Whether an AOR's list (now `after`, `None` when gone) lost bindings from `before`.
fn list_changed(before: usize, after: Option<&Vec<Binding>>) -> bool {
    after.map_or(0, Vec::len) != before
}

/// The AOR key of a REGISTER: the To URI without parameters (§10.3 step 5).
pub fn aor_of(req: &Request) -> Result<String, ParseError> {
    let to = req.headers.to()?;
    match &to.uri {
        Uri::Sip(u) => Ok(u.aor()),
        Uri::Other { .. } => Err(ParseError::UnsupportedScheme),
    }
}

struct Upsert {
    contact: NameAddr,
    instance: Option<String>,
    reg_id: Option<u32>,
    expires: u32,
}

impl Registrar {
    pub fn new(config: RegistrarConfig) -> Self {
        Self {
            config,
            bindings: HashMap::new(),
            expiries: BinaryHeap::new(),
        }
    }

    pub fn config(&self) -> &RegistrarConfig {
        &self.config
    }

    /// Applies a REGISTER that arrived on `flow` from `source` and was already authorised.
    pub fn register(
        &mut self,
        req: &Request,
        flow: FlowId,
        source: &str,
        now: Instant,
        to_tag: &str,
    ) -> RegisterOutcome {
        match self.try_register(req, flow, source, now, to_tag) {
            Ok(o) => o,
            Err((status, aor)) => RegisterOutcome {
                response: make_response(req, status, Some(to_tag)),
                aor,
                changed: false,
            },
        }
    }

    fn try_register(
        &mut self,
        req: &Request,
        flow: FlowId,
        source: &str,
        now: Instant,
        to_tag: &str,
    ) -> Result<RegisterOutcome, (u16, Option<String>)> {
        let aor = aor_of(req).map_err(|_| (400, None))?;
        let bad = |_| (400, Some(aor.clone()));
        let call_id = req.headers.call_id().map_err(bad)?.to_owned();
        let cseq = req.headers.cseq().map_err(bad)?.seq;
        let header_expires = req.headers.expires().map_err(bad)?;
        let contacts = req.headers.contacts().map_err(bad)?;

        let mut changes = Vec::with_capacity(contacts.len());
        let remove_all = contacts.contains(&Contact::Star);
        if remove_all {
            // §10.3 step 6: `*` only alone and with Expires: 0.
            if contacts.len() != 1 || header_expires != Some(0) {
                return Err((400, Some(aor)));
            }
        }
        for c in &contacts {
            let Contact::Addr(addr) = c else { continue };
            let requested = c
                .expires()
                .map_err(bad)?
                .or(header_expires)
                .unwrap_or(self.config.default_expires);
            if requested != 0 && requested < self.config.min_expires {
                let mut r = make_response(req, 423, Some(to_tag));
                r.headers
                    .push(HeaderName::MinExpires, self.config.min_expires.to_string());
                return Ok(RegisterOutcome {
                    response: r,
                    aor: Some(aor),
                    changed: false,
                });
            }
            let mut contact = addr.clone();
            contact.params.remove("expires");
            changes.push(Upsert {
                instance: c.instance(),
                reg_id: c.reg_id(),
                contact,
                expires: requested.min(self.config.max_expires),
            });
        }

        // Check ordering first so a rejected request changes nothing.
        let list = self.bindings.get(&aor).map(Vec::as_slice).unwrap_or(&[]);
        let stale = |b: &Binding| b.call_id == call_id && b.cseq >= cseq;
        let conflict = if remove_all {
            list.iter().any(stale)
        } else {
            changes.iter().any(|u| {
                list.iter().any(|b| {
                    b.same_key(u.instance.as_deref(), u.reg_id, &u.contact.uri) && stale(b)
                })
            })
        };
        if conflict {
            return Err((500, Some(aor)));
        }

        let changed = remove_all || !changes.is_empty();
        let list = self.bindings.entry(aor.clone()).or_default();
        if remove_all {
            list.clear();
        }
        for u in changes {
            list.retain(|b| !b.same_key(u.instance.as_deref(), u.reg_id, &u.contact.uri));
            if u.expires > 0 {
                let expires_at = now + Duration::from_secs(u64::from(u.expires));
                self.expiries.push(Reverse((expires_at, aor.clone())));
                list.push(Binding {
                    contact: u.contact,
                    flow,
                    source: source.to_owned(),
                    instance: u.instance,
                    reg_id: u.reg_id,
                    call_id: call_id.clone(),
                    cseq,
                    expires_at,
                });
            }
        }
        if list.is_empty() {
            self.bindings.remove(&aor);
        }

        let mut r = make_response(req, 200, Some(to_tag));
        let current = self.bindings.get(&aor).map(Vec::as_slice).unwrap_or(&[]);
        for b in current {
            let mut c = b.contact.clone();
            c.params.set("expires", Some(&b.remaining(now).to_string()));
            r.headers.push(HeaderName::Contact, c.to_string());
        }
        // Also an Expires header for the binding this request refreshed, for UAs that read it.
        let mine = contacts
            .iter()
            .filter_map(Contact::addr)
            .find_map(|a| current.iter().find(|b| b.contact.uri == a.uri));
        if let Some(b) = mine {
            r.headers
                .push(HeaderName::Expires, b.remaining(now).to_string());
        }
        // RFC 5626 §6: confirm outbound support when the UA registered a flow.
        if req.headers.supports("outbound") && contacts.iter().any(|c| c.reg_id().is_some()) {
            r.headers.push(HeaderName::Require, "outbound");
        }
        Ok(RegisterOutcome {
            response: r,
            aor: Some(aor),
            changed,
        })
    }

    /// Live bindings of `aor` (as returned by [`aor_of`] or `SipUri::aor`).
    pub fn lookup(&self, aor: &str, now: Instant) -> impl Iterator<Item = &Binding> {
        self.bindings
            .get(aor)
            .into_iter()
            .flatten()
            .filter(move |b| b.expires_at > now)
    }

    /// Drops every binding that used `flow` (its connection closed). Returns the AORs touched.
    pub fn remove_flow(&mut self, flow: FlowId) -> Vec<String> {
        self.retain(|b| b.flow != flow)
    }

    /// Drops the binding of `aor` whose contact URI is `contact` (its device stopped answering).
    /// Whether there was one.
    pub fn remove_binding(&mut self, aor: &str, contact: &Uri) -> bool {
        let Some(list) = self.bindings.get_mut(aor) else {
            return false;
        };
        let before = list.len();
        list.retain(|b| &b.contact.uri != contact);
        let removed = list.len() != before;
        if list.is_empty() {
            self.bindings.remove(aor);
        }
        removed
    }

    /// Drops bindings whose time has passed. Returns the AORs touched.
    pub fn expire(&mut self, now: Instant) -> Vec<String> {
        let mut touched: Vec<String> = Vec::new();
        while let Some(Reverse((at, _))) = self.expiries.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((_, aor))) = self.expiries.pop() else {
                break;
            };
            let Some(list) = self.bindings.get_mut(&aor) else {
                continue;
            };
            let before = list.len();
            list.retain(|b| b.expires_at > now);
            if list.is_empty() {
                self.bindings.remove(&aor);
            }
            if list_changed(before, self.bindings.get(&aor)) && !touched.contains(&aor) {
                touched.push(aor);
            }
        }
        touched
    }

    fn retain(&mut self, keep: impl Fn(&Binding) -> bool) -> Vec<String> {
        let mut touched = Vec::new();
        self.bindings.retain(|aor, list| {
            let before = list.len();
            list.retain(&keep);
            if list.len() != before {
                touched.push(aor.clone());
            }
            !list.is_empty()
        });
        touched
    }

    /// Earliest binding expiry, for the caller's timer (possibly early: a stale entry costs
    /// one `expire` that finds nothing).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.expiries.peek().map(|Reverse((at, _))| *at)
    }

    /// Number of AORs with bindings.
    pub fn len(&self) -> usize {
        self.bindings.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bindings.is_empty()
    }
}
