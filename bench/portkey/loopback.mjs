// Keeps this Node.js process on loopback: every TCP server it starts listens on 127.0.0.1 whatever address it
// asked for, and every TCP or TLS connection it opens to another host fails (with ELOOPBACKONLY) before a
// name is looked up or a packet sent. bench/portkey/serve.mjs imports it before the Portkey gateway, which
// listens on all interfaces and forwards to whatever host a request names; the benchmarks' traffic must stay
// on 127.0.0.1. Unix sockets are left alone.

import net from 'node:net';

const LOOPBACK = '127.0.0.1';

// 127.0.0.0/8, ::1 and localhost (which the hosts file maps to them).
export function isLoopbackHost(host) {
  if (host === undefined || host === null || host === '') return true; // Node's default: localhost
  const h = String(host)
    .toLowerCase()
    .replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || /^::ffff:127\./.test(h);
}

const isPort = (x) => typeof x === 'number' || (typeof x === 'string' && /^\d+$/.test(x));

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function listenOnLoopback(...args) {
  if (isPort(args[0])) {
    // listen(port[, host][, backlog][, callback])
    if (typeof args[1] === 'string' || args[1] === undefined || args[1] === null) args[1] = LOOPBACK;
    else args.splice(1, 0, LOOPBACK);
  } else if (
    args[0] &&
    typeof args[0] === 'object' &&
    args[0].path === undefined &&
    args[0].fd === undefined &&
    args[0].handle === undefined &&
    args[0]._handle === undefined
  ) {
    // listen(options[, callback])
    args[0] = { ...args[0], host: LOOPBACK };
  } else if (args.length === 0 || typeof args[0] === 'function') {
    // listen([callback]): a random port on every interface otherwise
    args.unshift(0, LOOPBACK);
  }
  return listen.apply(this, args);
};

const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function connectToLoopback(...args) {
  // net.connect() passes one normalized [options, callback] array; a direct call, (options[, cb]),
  // (port[, host][, cb]) or (path[, cb]).
  let options = args[0];
  if (Array.isArray(options)) options = options[0];
  else if (isPort(options)) options = { port: options, host: typeof args[1] === 'string' ? args[1] : undefined };
  else if (typeof options === 'string') options = { path: options };
  if (options && options.path === undefined && !isLoopbackHost(options.host)) {
    const err = new Error(`loopback only: refused a connection to ${options.host}:${options.port}`);
    err.code = 'ELOOPBACKONLY';
    process.nextTick(() => this.destroy(err));
    return this;
  }
  return connect.apply(this, args);
};
