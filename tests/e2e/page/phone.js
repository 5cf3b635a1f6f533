// The page side of the browser tests: a webitel-sdk Client driven through `window.phone`.
// Everything the tests assert on is recorded in `phone.log` (client events, call events).
'use strict';
(function () {
  const log = [];
  const calls = new Map();
  let client = null;

  function record(kind, data) {
    log.push({ kind, at: Date.now(), ...data });
  }

  // The JsSIP RTCSession's RTCPeerConnection behind an SDK call.
  /** The JsSIP session paired with an SDK call. */
  function session(call) {
    return call && call.sip ? call.sip.session || null : null;
  }

  function peer(call) {
    const s = session(call);
    return s ? s.connection : null;
  }

  /** Sum of `field` over the call's inbound audio RTP stats (-1 without a peer connection). */
  async function inbound(id, field) {
    const pc = peer(calls.get(id));
    if (!pc) return -1;
    let sum = 0;
    (await pc.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'audio') sum += s[field] || 0;
    });
    return sum;
  }

  function attachAudio(call) {
    const pc = peer(call);
    if (!pc) return;
    const stream = new MediaStream();
    for (const r of pc.getReceivers()) if (r.track) stream.addTrack(r.track);
    const audio = document.getElementById('remote');
    audio.srcObject = stream;
    audio.play().catch(() => {});
    meter(stream);
  }

  // Loudness of the remote audio in ~21 ms blocks, so tests can tell the hold tone's long
  // bursts from the fake microphone's short beeps.
  const levels = [];
  let ctx = null;
  function meter(stream) {
    if (!ctx) ctx = new AudioContext();
    const src = ctx.createMediaStreamSource(stream);
    const proc = ctx.createScriptProcessor(1024, 1, 1);
    const mute = ctx.createGain();
    mute.gain.value = 0;
    proc.onaudioprocess = (e) => {
      const d = e.inputBuffer.getChannelData(0);
      let sum = 0;
      for (let i = 0; i < d.length; i++) sum += d[i] * d[i];
      levels.push({ at: Date.now(), rms: Math.sqrt(sum / d.length) });
      if (levels.length > 5000) levels.splice(0, 1000);
    };
    src.connect(proc);
    proc.connect(mute);
    mute.connect(ctx.destination);
    ctx.resume().catch(() => {});
  }

  window.phone = {
    log,
    async start({ endpoint, token }) {
      client = new WebitelSDK.Client({ endpoint, token, registerWebDevice: true });
      client.on('phone_registered', (v) => record('phone_registered', { value: v }));
      client.on('call_receive', (call) => record('call_receive', { id: call.id, sipId: call.sipId || '' }));
      await client.connect();
      await client.auth();
      await client.subscribeCall((action, call) => {
        calls.set(call.id, call);
        record('call', { action, id: call.id, direction: call.direction, cause: call.hangupCause || '' });
        if (action === 'dtmf') record('dtmf', { id: call.id, digits: call.digits.join('') });
        if (action === 'active' || action === 'bridge') attachAudio(call);
      });
      return client.connectionInfo.sock_id;
    },
    registered() {
      return Boolean(client && client.phone && client.phone.isRegistered && client.phone.isRegistered());
    },
    async call(destination) {
      // The JsSIP outcome of this INVITE (status and cause of a failure), for the tests.
      const ua = client.phone && client.phone.ua;
      if (ua) {
        ua.once('newRTCSession', ({ session }) => {
          session.on('failed', (e) => record('sip_failed', {
            sipId: session.id, cause: e.cause, status: (e.message && e.message.status_code) || 0,
          }));
          session.on('ended', (e) => record('sip_ended', { sipId: session.id, cause: e.cause }));
        });
      }
      await client.call({ destination, disableStun: true });
    },
    /** The JsSIP session paired with a call: whether it has ended (e.g. CANCELed). */
    sipSession(id) {
      const s = session(calls.get(id));
      return s ? { ended: s.isEnded(), status: s.status } : null;
    },
    /**
     * Records the in-dialog UPDATE and re-INVITE requests this call's JsSIP session sends and the
     * status each got back (`sip_request` / `sip_response` in the log): session refreshes.
     */
    watchRefreshes(id) {
      const s = session(calls.get(id));
      if (!s) return false;
      const send = s.sendRequest;
      s.sendRequest = function (method, options) {
        if (method === 'UPDATE' || method === 'INVITE') {
          record('sip_request', { id, method });
          const eh = options && options.eventHandlers;
          if (eh) {
            for (const k of ['onSuccessResponse', 'onErrorResponse']) {
              const inner = eh[k];
              eh[k] = (r) => {
                record('sip_response', { id, method, status: r ? r.status_code : 0 });
                if (inner) inner(r);
              };
            }
          }
        }
        return send.call(this, method, options);
      };
      return true;
    },
    /** JsSIP's RFC 4028 state for a call: whether it refreshes, and the interval. */
    sessionTimer(id) {
      const s = session(calls.get(id));
      const t = s && s._sessionTimers;
      return t ? { running: t.running, refresher: t.refresher, expires: t.currentExpires } : null;
    },
    /** The SDK's own call store (`client.allCall()`): what a reloaded page knows. */
    allCalls() {
      return client ? client.allCall().map((c) => ({ id: c.id, state: c.state, direction: c.direction })) : [];
    },
    callIds() {
      return [...calls.keys()];
    },
    state(id) {
      const c = calls.get(id);
      return c ? { state: c.state, cause: c.hangupCause || '', direction: c.direction } : null;
    },
    answer(id) {
      const c = calls.get(id);
      // The SDK's answer() promise never settles (TESTING.md); the call events tell the outcome.
      c.answer({ disableStun: true }).catch((e) => record('error', { what: 'answer', message: String(e) }));
    },
    async hangup(id, cause) {
      await calls.get(id).hangup(cause);
    },
    inboundBytes(id) {
      return inbound(id, 'bytesReceived');
    },
    digits(id) {
      const c = calls.get(id);
      return c ? c.digits.join('') : null;
    },
    async hold(id) {
      await calls.get(id).hold();
    },
    async unHold(id) {
      await calls.get(id).unHold();
    },
    async sendDTMF(id, digit) {
      await calls.get(id).sendDTMF(digit);
    },
    async blindTransfer(id, destination) {
      await calls.get(id).blindTransfer(destination);
    },
    async mute(id, on) {
      await calls.get(id).mute(on);
    },
    /** What the SDK learnt from the peer's in-call INFO (`remoteAudioMuted` and friends). */
    remoteMedia(id) {
      const c = calls.get(id);
      return c ? { audioMuted: c.remoteAudioMuted, videoMuted: c.remoteVideoMuted, hold: c.remoteHold } : null;
    },
    /** `totalAudioEnergy` of the call's inbound audio (it grows only while sound is played). */
    inboundEnergy(id) {
      return inbound(id, 'totalAudioEnergy');
    },
    /** Remote-audio levels since `from` (ms). */
    levels(from) {
      return levels.filter((l) => l.at >= from);
    },
    actions(id) {
      return log.filter((e) => e.kind === 'call' && e.id === id).map((e) => e.action);
    },
    async stop() {
      if (client) await client.destroy();
    },
  };
})();
