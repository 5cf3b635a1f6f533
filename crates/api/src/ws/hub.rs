//! Event routing to sockets. `EventHub` is the seam: the in-process `LocalHub` delivers to the
//! sockets of this node; a NATS-backed hub would publish `HubEvent`s to the bus and deliver what
//! it receives from there to its own local sockets in the same way.

use super::protocol::EventFrame;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, RwLock};
use tokio::sync::{mpsc, Notify};

/// Event classes a socket must subscribe to before it receives them (b.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic {
    /// `call`, after `subscribe_call`.
    Call,
    /// `user_state`, after `subscribe_users_status`.
    UserState,
    /// `agent_status` and `channel`, after `cc_agent_subscribe_status`.
    Agent,
    /// `chat`, after `subscribe_chat`.
    Chat,
    /// `notification`: always delivered.
    Notification,
    /// `cc_queue_board` (live queues and agents), after a `cc_queue_board` request.
    Board,
}

impl Topic {
    fn bit(self) -> u8 {
        match self {
            Topic::Call => 1,
            Topic::UserState => 2,
            Topic::Agent => 4,
            Topic::Chat => 8,
            Topic::Notification => 16,
            Topic::Board => 32,
        }
    }
}

/// Who inside the event's domain may receive it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Every subscribed socket of the domain.
    Domain,
    /// The subscribed sockets of these users.
    Users(Vec<i64>),
    /// One socket, by its `sock_id`.
    Socket(String),
}

/// An event as it travels between nodes: never delivered outside `domain_id`.
#[derive(Debug, Clone)]
pub struct HubEvent {
    pub domain_id: i64,
    pub topic: Topic,
    pub target: Target,
    /// The event name (`call`, `user_state`, …).
    pub event: String,
    pub data: Value,
    /// The envelope's top-level `user_id`, when the event is about a user.
    pub user_id: Option<i64>,
}

/// What a connection's writer receives.
#[derive(Debug)]
pub enum Outbound {
    /// A reply, already serialised.
    Text(String),
    /// An event shared with other sockets; the writer stamps its own `seq`.
    Event(Arc<EventFrame>),
}

/// A connected, authenticated socket as the hub sees it.
#[derive(Debug)]
pub struct Member {
    pub sock_id: String,
    pub domain_id: i64,
    pub user_id: i64,
    pub tx: mpsc::Sender<Outbound>,
    /// Woken when the socket must be closed (its queue overflowed).
    pub kill: Arc<Notify>,
    topics: AtomicU8,
}

impl Member {
    pub fn new(
        sock_id: String,
        domain_id: i64,
        user_id: i64,
        tx: mpsc::Sender<Outbound>,
        kill: Arc<Notify>,
    ) -> Self {
        Self {
            sock_id,
            domain_id,
            user_id,
            tx,
            kill,
            topics: AtomicU8::new(Topic::Notification.bit()),
        }
    }

    fn wants(&self, topic: Topic) -> bool {
        self.topics.load(Ordering::Relaxed) & topic.bit() != 0
    }

    /// Queues without waiting: a socket that cannot keep up is closed rather than allowed to
    /// hold up the sender or anyone else.
    pub fn offer(&self, out: Outbound) -> bool {
        match self.tx.try_send(out) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::warn!(sock_id = %self.sock_id, "websocket send queue full; closing");
                self.kill.notify_one();
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}

/// Routes events to sockets. Implementations must not block: they are called on async tasks.
pub trait EventHub: Send + Sync + 'static {
    /// Adds an authenticated socket. Returns true when it is its user's first socket in the
    /// domain (the user came online).
    fn join(&self, member: Arc<Member>) -> bool;
    /// Removes a socket. Returns true when it was its user's last one (the user went offline).
    fn leave(&self, domain_id: i64, sock_id: &str) -> bool;
    /// Turns delivery of a topic to a socket on or off.
    fn subscribe(&self, domain_id: i64, sock_id: &str, topic: Topic, on: bool);
    /// Delivers an event to every entitled socket.
    fn publish(&self, event: HubEvent);
    /// Sockets this hub holds locally.
    fn local_sockets(&self) -> usize;
}

#[derive(Default)]
struct DomainSockets {
    sockets: HashMap<String, Arc<Member>>,
    /// Open sockets per user: presence.
    users: HashMap<i64, u32>,
}

/// The in-process hub: sockets of this node, grouped by domain.
#[derive(Default)]
pub struct LocalHub {
    domains: RwLock<HashMap<i64, DomainSockets>>,
}

impl LocalHub {
    pub fn new() -> Self {
        Self::default()
    }
}

impl EventHub for LocalHub {
    fn join(&self, member: Arc<Member>) -> bool {
        let mut domains = self.domains.write().unwrap_or_else(|e| e.into_inner());
        let d = domains.entry(member.domain_id).or_default();
        let count = d.users.entry(member.user_id).or_insert(0);
        *count += 1;
        let first = *count == 1;
        d.sockets.insert(member.sock_id.clone(), member);
        first
    }

    fn leave(&self, domain_id: i64, sock_id: &str) -> bool {
        let mut domains = self.domains.write().unwrap_or_else(|e| e.into_inner());
        let Some(d) = domains.get_mut(&domain_id) else {
            return false;
        };
        let Some(m) = d.sockets.remove(sock_id) else {
            return false;
        };
        let mut last = false;
        if let Some(count) = d.users.get_mut(&m.user_id) {
            *count -= 1;
            if *count == 0 {
                d.users.remove(&m.user_id);
                last = true;
            }
        }
        if d.sockets.is_empty() {
            domains.remove(&domain_id);
        }
        last
    }

    fn subscribe(&self, domain_id: i64, sock_id: &str, topic: Topic, on: bool) {
        let domains = self.domains.read().unwrap_or_else(|e| e.into_inner());
        if let Some(m) = domains.get(&domain_id).and_then(|d| d.sockets.get(sock_id)) {
            if on {
                m.topics.fetch_or(topic.bit(), Ordering::Relaxed);
            } else {
                m.topics.fetch_and(!topic.bit(), Ordering::Relaxed);
            }
        }
    }

    fn publish(&self, ev: HubEvent) {
        let frame = Arc::new(EventFrame::new(&ev.event, &ev.data, ev.user_id, None));
        let domains = self.domains.read().unwrap_or_else(|e| e.into_inner());
        let Some(d) = domains.get(&ev.domain_id) else {
            return;
        };
        let deliver = |m: &Arc<Member>| {
            if m.wants(ev.topic) {
                m.offer(Outbound::Event(frame.clone()));
            }
        };
        match &ev.target {
            Target::Domain => d.sockets.values().for_each(deliver),
            Target::Users(ids) => d
                .sockets
                .values()
                .filter(|m| ids.contains(&m.user_id))
                .for_each(deliver),
            Target::Socket(id) => {
                if let Some(m) = d.sockets.get(id) {
                    deliver(m);
                }
            }
        }
    }

    fn local_sockets(&self) -> usize {
        let domains = self.domains.read().unwrap_or_else(|e| e.into_inner());
        domains.values().map(|d| d.sockets.len()).sum()
    }
}

/// The `user_state` event for a user who came online or went offline (b.7: `state.id` is a
/// string, the envelope carries the numeric `user_id`).
pub fn presence_event(domain_id: i64, user_id: i64, online: bool) -> HubEvent {
    let mut state = serde_json::json!({
        "id": user_id.to_string(),
        "app": "web",
        "status": if online { "online" } else { "offline" },
        "timestamp": switchboard_store::now_ms(),
        "domain_id": domain_id,
    });
    if online {
        state["open"] = Value::from(1);
    }
    HubEvent {
        domain_id,
        topic: Topic::UserState,
        target: Target::Domain,
        event: "user_state".into(),
        data: serde_json::json!({ "state": state }),
        user_id: Some(user_id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(hub: &LocalHub, sock: &str, domain: i64, user: i64) -> mpsc::Receiver<Outbound> {
        let (tx, rx) = mpsc::channel(2);
        let m = Member::new(sock.into(), domain, user, tx, Arc::new(Notify::new()));
        hub.join(Arc::new(m));
        rx
    }

    fn event(domain: i64, topic: Topic, target: Target) -> HubEvent {
        HubEvent {
            domain_id: domain,
            topic,
            target,
            event: "x".into(),
            data: Value::Null,
            user_id: None,
        }
    }

    #[test]
    fn delivers_only_within_the_domain_and_to_subscribers() {
        let hub = LocalHub::new();
        let mut a = member(&hub, "a", 1, 10);
        let mut b = member(&hub, "b", 2, 20);
        let mut c = member(&hub, "c", 1, 11);
        hub.subscribe(1, "a", Topic::UserState, true);
        hub.subscribe(2, "b", Topic::UserState, true);
        hub.publish(event(1, Topic::UserState, Target::Domain));
        assert!(a.try_recv().is_ok());
        assert!(b.try_recv().is_err(), "other domain");
        assert!(c.try_recv().is_err(), "not subscribed");
        hub.subscribe(1, "c", Topic::Call, true);
        hub.publish(event(1, Topic::Call, Target::Users(vec![11])));
        assert!(c.try_recv().is_ok());
        assert!(a.try_recv().is_err());
        hub.publish(event(1, Topic::Notification, Target::Socket("a".into())));
        assert!(a.try_recv().is_ok());
        assert!(c.try_recv().is_err());
    }

    #[test]
    fn presence_counts_sockets_per_user() {
        let hub = LocalHub::new();
        let (tx, _rx) = mpsc::channel(1);
        let kill = Arc::new(Notify::new());
        let m = |s: &str| Arc::new(Member::new(s.into(), 1, 5, tx.clone(), kill.clone()));
        assert!(hub.join(m("s1")));
        assert!(!hub.join(m("s2")));
        assert!(!hub.leave(1, "s1"));
        assert!(!hub.leave(1, "nope"));
        assert!(hub.leave(1, "s2"));
        assert_eq!(hub.local_sockets(), 0);
    }

    #[test]
    fn a_full_queue_kills_the_socket() {
        let hub = LocalHub::new();
        let (tx, _rx) = mpsc::channel(1);
        let kill = Arc::new(Notify::new());
        hub.join(Arc::new(Member::new("s".into(), 1, 5, tx, kill.clone())));
        hub.subscribe(1, "s", Topic::Call, true);
        hub.publish(event(1, Topic::Call, Target::Domain));
        hub.publish(event(1, Topic::Call, Target::Domain));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            tokio::time::timeout(std::time::Duration::from_secs(1), kill.notified())
                .await
                .expect("killed");
        });
    }
}
