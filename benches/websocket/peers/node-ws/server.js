// node `ws` echo peer for benches/websocket, single process (one event loop; zlib runs on
// libuv's thread pool, inside the same process, so its CPU is counted too).
// GET /websocket/echo upgrades; every message is sent back as it came (text as text, binary as
// binary). With `deflate`, permessage-deflate is on with threshold 0 (every message is
// compressed), server_no_context_takeover and client_no_context_takeover (as prefork-server
// always answers), zlib level 6 and 15-bit windows (zlib's and flate2's default, as ours).
// GET / answers 200 "ok" (readiness). bufferutil (native masking) is loaded when installed.
// usage: node server.js PORT [WORKERS (ignored: one process)] [deflate|plain]
'use strict';
const http = require('http');
const { WebSocketServer } = require('ws');

const port = parseInt(process.argv[2] || '8080', 10);
const deflate = (process.argv[4] || 'plain') === 'deflate';

const server = http.createServer((req, res) => {
  res.writeHead(req.url === '/' ? 200 : 404, { 'content-type': 'text/plain' });
  res.end('ok');
});
const wss = new WebSocketServer({
  server,
  path: '/websocket/echo',
  maxPayload: 64 * 1024 * 1024,
  perMessageDeflate: deflate
    ? {
        threshold: 0,
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        zlibDeflateOptions: { level: 6 },
      }
    : false,
});
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => {});
});
server.listen(port, '127.0.0.1', () => {
  let bu = 'no';
  try { require.resolve('bufferutil'); bu = 'yes'; } catch (e) { /* optional */ }
  console.error(`peer-node-ws listening on 127.0.0.1:${port}, deflate ${deflate}, bufferutil ${bu}, ws ${require('ws/package.json').version}, node ${process.version}, pid ${process.pid}`);
});
process.on('SIGTERM', () => process.exit(0));
