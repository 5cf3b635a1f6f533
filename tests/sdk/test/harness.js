// The SDK suite's helpers: the shared server harness (../../lib/server.js), a Node WebSocket for
// webitel-sdk, and a raw socket for protocol edge cases.
'use strict';
const crypto = require('node:crypto');

globalThis.WebSocket = require('ws');

const { startServer, provisionUser } = require('../../lib/server');

// A raw WebSocket that collects every parsed frame, for protocol edge cases the SDK never sends.
function rawSocket(url) {
  const ws = new WebSocket(url);
  const frames = [];
  const arrived = [];
  const waiters = [];
  ws.on('message', (data) => {
    const msg = JSON.parse(data.toString());
    arrived.push(msg);
    frames.push(msg);
    for (const w of [...waiters]) {
      if (w.pred(msg)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(msg);
      }
    }
  });
  const closed = new Promise((resolve) => ws.on('close', (code) => resolve(code)));
  return {
    ws,
    frames,
    arrived,
    closed,
    open: () => new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); }),
    send: (obj) => ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj)),
    next(pred, ms = 3000) {
      const found = frames.find(pred);
      if (found) { frames.splice(frames.indexOf(found), 1); return Promise.resolve(found); }
      return new Promise((resolve, reject) => {
        const w = {
          pred,
          resolve: (m) => { clearTimeout(t); frames.splice(frames.indexOf(m), 1); resolve(m); },
        };
        const t = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error('no matching frame in time'));
        }, ms);
        waiters.push(w);
      });
    },
    reply: function (seqNo, ms) { return this.next((m) => m.seq_reply === seqNo, ms); },
  };
}

const md5 = (s) => crypto.createHash('md5').update(s).digest('hex');

module.exports = { startServer, provisionUser, rawSocket, md5 };
