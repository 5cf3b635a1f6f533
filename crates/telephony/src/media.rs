//! The media worker: carries the call engine's media outputs to the media engine in order, and
//! brings results and media events back to the runtime as commands.
//!
//! The media engine speaks its own leg numbers; the worker keeps the map from call-engine leg
//! ids, so the runtime only ever sees call legs. Operations run one after another, in the order
//! the call engine asked for them (a bridge must not overtake the endpoint it bridges).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use switchboard_calls::{LegId, MediaDirection};
use switchboard_media::{
    sdp_kind, Direction, LegId as MediaLeg, LegKind, MediaEvent, MediaHandle, Prefer,
    RecordControl, RecordDone, Recorder,
};
use switchboard_sip::transaction::TransactionId;
use switchboard_store::{FileRow, Store};
use tokio::sync::mpsc;

use crate::runtime::Command;

/// Which dialog a re-offer is for: the leg's incoming dialog or one of its forks.
pub(crate) type DialogRef = Option<switchboard_calls::ForkId>;

/// Which kinds of device a leg's forks ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ForkKinds {
    pub(crate) browsers: bool,
    pub(crate) phones: bool,
}

/// One media operation, named after the call engine's output.
#[derive(Debug)]
pub(crate) enum MediaOp {
    /// `g711`: a browser's offer is answered with G.711 first, because the other side is a
    /// desk phone or a trunk (then the bridge relays without transcoding).
    CreateAnswerer {
        leg: LegId,
        offer: String,
        g711: bool,
    },
    /// `near`: the leg it will be bridged to (placed on its media shard, so forwarding stays on
    /// one thread). `forks` says what the leg's forks ring: browsers get a WebRTC offer, desk
    /// phones and trunks a plain RTP/AVP one; a leg ringing both gets both, and keeps the
    /// endpoint of whichever answers.
    CreateOfferer {
        leg: LegId,
        near: Option<LegId>,
        forks: ForkKinds,
    },
    AcceptAnswer {
        leg: LegId,
        sdp: String,
    },
    /// `a` is recorded on the left channel, `b` on the right, under the call `(id, domain)`.
    Bridge {
        a: LegId,
        b: LegId,
        call: Option<(String, i64)>,
    },
    Unbridge {
        leg: LegId,
    },
    /// Tone to `tone_to`, forwarding stopped (or back).
    Hold {
        tone_to: LegId,
        on: bool,
    },
    SendDtmf {
        leg: LegId,
        digit: char,
    },
    Mute {
        leg: LegId,
        on: bool,
    },
    Close {
        leg: LegId,
    },
    /// A device's re-INVITE came without SDP: our offer for its 2xx comes back as
    /// `Command::ReinviteAnswer`.
    OfferFor {
        leg: LegId,
        tx: TransactionId,
    },
    /// A re-INVITE offer from us: the SDP comes back as `Command::Reoffer`.
    Reoffer {
        leg: LegId,
        dialog: DialogRef,
        direction: MediaDirection,
    },
    /// A re-INVITE offer from the device: the answer comes back as `Command::ReinviteAnswer`.
    AcceptOffer {
        leg: LegId,
        tx: TransactionId,
        sdp: String,
    },
}

/// Recording state of the worker: the recorder, where files go, and the file of each call.
pub(crate) struct Recording {
    pub(crate) recorder: Recorder,
    pub(crate) dir: PathBuf,
    pub(crate) store: Arc<Store>,
    /// Root call id → file id, while the call has legs.
    files: HashMap<String, i64>,
    /// Recorded leg → root call id.
    legs: HashMap<LegId, String>,
}

impl Recording {
    pub(crate) fn new(recorder: Recorder, dir: PathBuf, store: Arc<Store>) -> Self {
        Self {
            recorder,
            dir,
            store,
            files: HashMap::new(),
            legs: HashMap::new(),
        }
    }

    /// Attaches both legs of a new bridge, creating the call's file row on its first bridge.
    async fn bridge(&mut self, call: &str, domain_id: i64, legs: [(&LegId, MediaLeg); 2]) {
        // Call ids are unique (UUIDs), so they name the files.
        let path = self.dir.join(format!("{call}.ogg"));
        let file = match self.files.get(call) {
            Some(f) => *f,
            None => {
                let row = FileRow {
                    domain_id,
                    call_id: call.to_string(),
                    name: format!("{call}.ogg"),
                    mime_type: "audio/ogg".into(),
                    start_at: switchboard_store::now_ms(),
                    path: path.to_string_lossy().into_owned(),
                    ..Default::default()
                };
                match self.store.create_file(&row).await {
                    Ok(r) => {
                        self.files.insert(call.to_string(), r.id);
                        r.id
                    }
                    Err(e) => {
                        tracing::warn!(%call, "recording not registered: {e}");
                        return;
                    }
                }
            }
        };
        for (channel, (leg, ml)) in legs.into_iter().enumerate() {
            self.legs.insert(leg.clone(), call.to_string());
            self.recorder.control(RecordControl::Attach {
                key: file.to_string(),
                path: path.clone(),
                leg: ml,
                channel,
            });
        }
    }

    fn close(&mut self, leg: &LegId, ml: MediaLeg) {
        let Some(call) = self.legs.remove(leg) else {
            return;
        };
        self.recorder.control(RecordControl::Detach { leg: ml });
        if !self.legs.values().any(|c| *c == call) {
            self.files.remove(&call);
        }
    }
}

/// Stores the size and end of each finished recording.
pub(crate) fn finish_recordings(
    store: Arc<Store>,
    done: std::sync::mpsc::Receiver<RecordDone>,
    rt: tokio::runtime::Handle,
) {
    while let Ok(d) = done.recv() {
        let Ok(id) = d.key.parse::<i64>() else {
            continue;
        };
        let r = rt.block_on(store.finish_file(id, d.bytes as i64, switchboard_store::now_ms()));
        if let Err(e) = r {
            tracing::warn!(file = id, "recording not finished in the store: {e}");
        }
    }
}

pub(crate) struct MediaWorker {
    recording: Option<Recording>,
    media: MediaHandle,
    legs: HashMap<LegId, MediaLeg>,
    by_media: HashMap<MediaLeg, LegId>,
    /// Legs that are plain RTP (desk phones, trunks).
    rtp_legs: std::collections::HashSet<LegId>,
    /// The phones' endpoint of a leg ringing browsers and phones, until one answers.
    alt: HashMap<LegId, MediaLeg>,
    runtime: mpsc::Sender<Command>,
}

impl MediaWorker {
    pub(crate) fn new(
        media: MediaHandle,
        runtime: mpsc::Sender<Command>,
        recording: Option<Recording>,
    ) -> Self {
        Self {
            recording,
            media,
            legs: HashMap::new(),
            by_media: HashMap::new(),
            rtp_legs: std::collections::HashSet::new(),
            alt: HashMap::new(),
            runtime,
        }
    }

    pub(crate) async fn run(
        mut self,
        mut ops: mpsc::UnboundedReceiver<MediaOp>,
        mut events: mpsc::UnboundedReceiver<MediaEvent>,
    ) {
        loop {
            tokio::select! {
                op = ops.recv() => match op {
                    Some(op) => self.apply(op).await,
                    None => break,
                },
                Some(ev) = events.recv() => self.on_event(ev).await,
            }
        }
    }

    async fn back(&self, cmd: Command) {
        let _ = self.runtime.send(cmd).await;
    }

    fn leg(&self, leg: &LegId) -> Option<MediaLeg> {
        self.legs.get(leg).copied()
    }

    /// Makes `alt` the leg's endpoint (a phone answered a leg that rang browsers too); returns
    /// the one it replaces.
    fn swap_in(&mut self, leg: &LegId, alt: MediaLeg) -> Option<MediaLeg> {
        let old = self.legs.insert(leg.clone(), alt);
        if let Some(o) = old {
            self.by_media.remove(&o);
        }
        self.by_media.insert(alt, leg.clone());
        self.rtp_legs.insert(leg.clone());
        old
    }

    /// Maps a newly created media leg to its call leg and tells the runtime its SDP (or that
    /// there is none).
    async fn created(
        &mut self,
        leg: LegId,
        created: Result<(MediaLeg, String), switchboard_media::MediaError>,
        what: &str,
    ) {
        match created {
            Ok((ml, sdp)) => {
                if sdp_kind(&sdp) == LegKind::Rtp {
                    self.rtp_legs.insert(leg.clone());
                }
                self.legs.insert(leg.clone(), ml);
                self.by_media.insert(ml, leg.clone());
                self.back(Command::MediaReady {
                    leg,
                    sdp: Some(sdp),
                })
                .await;
            }
            Err(e) => {
                tracing::warn!(%leg, "{what} failed: {e}");
                self.back(Command::MediaReady { leg, sdp: None }).await;
            }
        }
    }

    async fn apply(&mut self, op: MediaOp) {
        // A handle of our own: the arms below also change the worker's maps.
        let media = self.media.clone();
        let m = &media;
        let result = match op {
            MediaOp::CreateAnswerer { leg, offer, g711 } => {
                let prefer = if g711 { Prefer::G711 } else { Prefer::Opus };
                let created = m.create_answerer_preferring(offer, None, prefer).await;
                self.created(leg, created, "answerer").await;
                Ok(())
            }
            MediaOp::CreateOfferer { leg, near, forks } => {
                let near_rtp = near.as_ref().is_some_and(|n| self.rtp_legs.contains(n));
                let near = near.and_then(|n| self.leg(&n));
                if forks.browsers && forks.phones {
                    // The phones' offer first: the runtime has it when the INVITEs go out.
                    match m.create_offerer_kind(near, LegKind::Rtp).await {
                        Ok((ml, sdp)) => {
                            self.alt.insert(leg.clone(), ml);
                            self.back(Command::AltOffer {
                                leg: leg.clone(),
                                sdp,
                            })
                            .await;
                        }
                        Err(e) => tracing::warn!(%leg, "offer for the phones failed: {e}"),
                    }
                }
                let created = if forks.phones && !forks.browsers {
                    m.create_offerer_kind(near, LegKind::Rtp).await
                } else if near_rtp {
                    // A phone calls a browser: G.711 first, so the bridge is a plain relay.
                    m.create_offerer_preferring(near, Prefer::G711).await
                } else {
                    m.create_offerer(near).await
                };
                self.created(leg, created, "offerer").await;
                Ok(())
            }
            MediaOp::AcceptAnswer { leg, sdp } => {
                // A leg that rang browsers and phones keeps the endpoint the answer is for.
                if let Some(alt) = self.alt.remove(&leg) {
                    let keep_alt = sdp_kind(&sdp) == LegKind::Rtp;
                    let drop = if keep_alt {
                        self.swap_in(&leg, alt)
                    } else {
                        Some(alt)
                    };
                    if let Some(d) = drop {
                        let _ = m.close(d).await;
                    }
                }
                match self.leg(&leg) {
                    Some(ml) => m.accept_answer(ml, sdp).await,
                    None => Ok(()),
                }
            }
            MediaOp::Bridge { a, b, call } => match (self.leg(&a), self.leg(&b)) {
                (Some(x), Some(y)) => {
                    let r = m.bridge(x, y).await;
                    if let (Some(rec), Some((call, domain))) = (&mut self.recording, call) {
                        rec.bridge(&call, domain, [(&a, x), (&b, y)]).await;
                    }
                    r
                }
                _ => Ok(()),
            },
            MediaOp::Unbridge { leg } => match self.leg(&leg) {
                Some(ml) => m.unbridge(ml).await,
                None => Ok(()),
            },
            MediaOp::Hold { tone_to, on } => match self.leg(&tone_to) {
                Some(ml) => m.hold(ml, on).await,
                None => Ok(()),
            },
            MediaOp::SendDtmf { leg, digit } => match self.leg(&leg) {
                Some(ml) => m.send_dtmf(ml, digit.to_string()).await,
                None => Ok(()),
            },
            MediaOp::Mute { leg, on } => match self.leg(&leg) {
                Some(ml) => m.mute(ml, on).await,
                None => Ok(()),
            },
            MediaOp::Close { leg } => match self.legs.remove(&leg) {
                Some(ml) => {
                    if let Some(alt) = self.alt.remove(&leg) {
                        let _ = m.close(alt).await;
                    }
                    self.rtp_legs.remove(&leg);
                    self.by_media.remove(&ml);
                    if let Some(rec) = &mut self.recording {
                        rec.close(&leg, ml);
                    }
                    m.close(ml).await
                }
                None => Ok(()),
            },
            MediaOp::Reoffer {
                leg,
                dialog,
                direction,
            } => {
                let dir = match direction {
                    MediaDirection::SendOnly => Direction::SendOnly,
                    MediaDirection::SendRecv => Direction::SendRecv,
                };
                let sdp = match self.leg(&leg) {
                    Some(ml) => m.reoffer(ml, dir).await.ok(),
                    None => None,
                };
                self.back(Command::Reoffer { leg, dialog, sdp }).await;
                Ok(())
            }
            MediaOp::OfferFor { leg, tx } => {
                let offer = match self.leg(&leg) {
                    Some(ml) => m.reoffer(ml, Direction::SendRecv).await.ok(),
                    None => None,
                };
                self.back(Command::ReinviteAnswer { tx, sdp: offer }).await;
                Ok(())
            }
            MediaOp::AcceptOffer { leg, tx, sdp } => {
                let answer = match self.leg(&leg) {
                    Some(ml) => m.accept_offer_on(ml, sdp).await.ok(),
                    None => None,
                };
                self.back(Command::ReinviteAnswer { tx, sdp: answer }).await;
                Ok(())
            }
        };
        if let Err(e) = result {
            tracing::debug!("media operation failed: {e}");
        }
    }

    async fn on_event(&mut self, ev: MediaEvent) {
        match ev {
            MediaEvent::Dtmf { leg, digit } => {
                if let Some(l) = self.by_media.get(&leg).cloned() {
                    self.back(Command::LegDtmf { leg: l, digit }).await;
                }
            }
            MediaEvent::Connected { leg } => {
                if let Some(l) = self.by_media.get(&leg) {
                    tracing::info!(leg = %l, "media connected");
                }
            }
            other => tracing::debug!(?other, "media event"),
        }
    }
}
