// Streaming timing client for bench/run: sends `count` streamed chat requests one after another on one
// keep-alive connection and records, per request, the time to the response head, to the first SSE data
// event, to the end of the stream, and the gaps between socket reads that carried data events.
// Works on the raw socket so that nothing (no HTTP client library) batches or delays the reads.

import net from 'node:net';

const now = () => Number(process.hrtime.bigint()) / 1000;  // microseconds

function countDataEvents(text) {
  let n = 0;
  for (let i = text.indexOf('data:'); i !== -1; i = text.indexOf('data:', i + 5)) n++;
  return n;
}

// Resolves [{ headUs, firstEventUs, totalUs, events, reads, gapsUs: [] }], one per request.
export async function measureStreams({ port, path, headers, body, count, timeoutMs = 30000 }) {
  const socket = net.connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  await new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const head =
    `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\ncontent-type: application/json\r\n` +
    Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('') +
    `content-length: ${Buffer.byteLength(body)}\r\n\r\n`;
  const results = [];
  try {
    for (let i = 0; i < count; i++) results.push(await oneStream(socket, head + body, timeoutMs));
  } finally {
    socket.destroy();
  }
  return results;
}

function oneStream(socket, payload, timeoutMs) {
  return new Promise((resolve, reject) => {
    const r = { headUs: null, firstEventUs: null, totalUs: null, events: 0, reads: 0, gapsUs: [] };
    let text = '';
    let lastEventAt = null;
    let t0 = 0;
    const timer = setTimeout(() => finish(new Error('stream timed out')), timeoutMs);
    const onData = (chunk) => {
      const t = now();
      const s = chunk.toString('latin1');
      text += s;
      if (r.headUs === null) r.headUs = t - t0;
      const n = countDataEvents(s);
      if (n > 0) {
        r.events += n;
        r.reads++;
        if (r.firstEventUs === null) r.firstEventUs = t - t0;
        if (lastEventAt !== null) r.gapsUs.push(t - lastEventAt);
        lastEventAt = t;
      }
      if (!text.startsWith('HTTP/1.1 200')) {
        if (text.includes('\r\n\r\n')) finish(new Error(`unexpected response: ${text.slice(0, 300)}`));
        return;
      }
      if (text.endsWith('\r\n0\r\n\r\n')) {
        r.totalUs = t - t0;
        finish(null);
      }
    };
    const onError = (e) => finish(e);
    const onClose = () => finish(new Error('connection closed mid-stream'));
    function finish(err) {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
      if (err) reject(err);
      else resolve(r);
    }
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
    t0 = now();
    socket.write(payload);
  });
}
