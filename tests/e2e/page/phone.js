// The page side of the browser tests: a webitel-sdk Client driven through `window.phone`.
// Everything the tests assert on is recorded in `phone.log` (client events, call events).
'use strict';
(function () {
  const log = [];
  const calls = new Map();
  let client = null;
  let agent = null;

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
  let metered = null;
  function meter(stream) {
    if (!ctx) ctx = new AudioContext();
    // One meter at a time: the latest call's remote audio (an ended call's would add silence).
    if (metered) {
      metered.src.disconnect();
      metered.proc.disconnect();
      metered.proc.onaudioprocess = null;
    }
    const src = ctx.createMediaStreamSource(stream);
    const proc = ctx.createScriptProcessor(1024, 1, 1);
    metered = { src, proc };
    const mute = ctx.createGain();
    mute.gain.value = 0;
    proc.onaudioprocess = (e) => {
      const d = e.inputBuffer.getChannelData(0);
      let sum = 0;
      let crossings = 0;
      for (let i = 0; i < d.length; i++) {
        sum += d[i] * d[i];
        if (i > 0 && (d[i - 1] < 0) !== (d[i] < 0)) crossings++;
      }
      // `hz`: a zero-crossing estimate of the block's frequency (good for a pure tone).
      const hz = (crossings / 2) * (ctx.sampleRate / d.length);
      levels.push({ at: Date.now(), rms: Math.sqrt(sum / d.length), hz });
      if (levels.length > 5000) levels.splice(0, 1000);
    };
    src.connect(proc);
    proc.connect(mute);
    mute.connect(ctx.destination);
    ctx.resume().catch(() => {});
  }

  // Opt-in (`phone.opusOnly(true)`): the page's offers and answers keep only Opus (and
  // telephone-event) in their audio m-lines, as a browser sharing no codec with a G.711 desk
  // phone would, so the server has to transcode. The SDK and JsSIP stay unchanged: this wraps
  // the browser's createOffer/createAnswer.
  let opusOnly = false;
  function keepOpus(sdp) {
    const lines = sdp.split('\r\n');
    const drop = new Set();
    for (const l of lines) {
      const m = l.match(/^a=rtpmap:(\d+) ([^/]+)\//);
      if (m && !/^(opus|telephone-event)$/i.test(m[2])) drop.add(m[1]);
    }
    const out = [];
    let audio = false;
    for (const l of lines) {
      if (l.startsWith('m=')) audio = l.startsWith('m=audio');
      if (audio && l.startsWith('m=audio')) {
        const f = l.split(' ');
        out.push([...f.slice(0, 3), ...f.slice(3).filter((pt) => !drop.has(pt))].join(' '));
        continue;
      }
      const pt = audio && l.match(/^a=(?:rtpmap|fmtp|rtcp-fb):(\d+)[ ]/);
      if (pt && drop.has(pt[1])) continue;
      out.push(l);
    }
    return out.join('\r\n');
  }
  for (const name of ['createOffer', 'createAnswer']) {
    const inner = RTCPeerConnection.prototype[name];
    RTCPeerConnection.prototype[name] = async function (...args) {
      const d = await inner.apply(this, args);
      if (!opusOnly || !d || !d.sdp) return d;
      return { type: d.type, sdp: keepOpus(d.sdp) };
    };
  }

  window.phone = {
    log,
    /** Offers and answers keep only Opus from now on (see `keepOpus`). */
    opusOnly(on) {
      opusOnly = Boolean(on);
    },
    /** The local and remote SDP of call `id`'s peer connection. */
    sdp(id) {
      const pc = peer(calls.get(id));
      return pc ? {
        local: pc.localDescription && pc.localDescription.sdp,
        remote: pc.remoteDescription && pc.remoteDescription.sdp,
      } : null;
    },
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
    /**
     * Opens the user's contact-center session as an agent workspace does (CC-NOTES 1.8):
     * `agentSession()`, then status and task subscriptions; every event lands in the log.
     */
    async agentStart() {
      agent = await client.agentSession();
      client.subscribeTask((status, task) => record('task', {
        status,
        id: task ? task.id : null,
        queue: task && task.queue ? task.queue.name || task.queue.queue_name || null : null,
        number: task ? task.displayNumber : null,
      }));
      await client.subscribeAgentsStatus((e) => record('agent_status', { status: e.status }), { agent_id: agent.agentId });
      return { agentId: agent.agentId, status: agent.status, channels: agent.channels.length };
    },
    /** An Agent action (`online`, `pause`, `offline`, `waiting`): `{ok}` or `{error}` with its id. */
    async agentDo(action, ...args) {
      try {
        const r = await agent[action](...args);
        return { ok: true, result: r && r.constructor && r.constructor.name === 'PauseNotAllowedError' ? 'not_allowed' : null };
      } catch (e) {
        return { error: (e && (e.id || e.message)) || String(e) };
      }
    },
    agentState() {
      if (!agent) return null;
      const ch = agent.channel;
      return {
        status: agent.status,
        channel: ch ? ch.state : null,
        tasks: [...agent.task.values()].map((t) => ({ id: t.id, state: t.state, queue: t.queue ? t.queue.name : null, allowReporting: t.allowReporting })),
      };
    },
    /** The task the SDK paired with call `id` (`call.task`) and its `call.queue`. */
    callTask(id) {
      const c = calls.get(id) || (client ? client.allCall().find((x) => x.id === id) : null);
      return c && c.task ? { attempt: c.task.id, queue: c.queue || null } : null;
    },
    /** `task.reporting(...)` on the agent's task `attemptId`: `{ok}` or `{error}`. */
    async report(attemptId, success, description) {
      try {
        await agent.task.get(attemptId).reporting({ success, description });
        return { ok: true };
      } catch (e) {
        return { error: (e && (e.id || e.message)) || String(e) };
      }
    },
    /** Sends a raw socket request, as a buggy client might (string ids etc.). */
    async raw(action, data) {
      try {
        return { ok: await client.request(action, data) };
      } catch (e) {
        return { error: (e && (e.id || e.message)) || String(e) };
      }
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
    /**
     * The call's inbound audio in one look: bytes, packets, `totalAudioEnergy`, `audioLevel`
     * and the codec it arrives in (null without a peer connection).
     */
    async inboundStats(id) {
      const pc = peer(calls.get(id));
      if (!pc) return null;
      const stats = await pc.getStats();
      const out = { bytes: 0, packets: 0, energy: 0, level: 0, codec: '' };
      stats.forEach((s) => {
        if (s.type !== 'inbound-rtp' || s.kind !== 'audio') return;
        out.bytes += s.bytesReceived || 0;
        out.packets += s.packetsReceived || 0;
        out.energy += s.totalAudioEnergy || 0;
        out.level = Math.max(out.level, s.audioLevel || 0);
        const c = s.codecId && stats.get(s.codecId);
        if (c) out.codec = `${c.mimeType}/${c.clockRate}`;
      });
      return out;
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
