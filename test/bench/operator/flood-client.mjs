// Child of flood.mjs: opens raw TCP sockets to the agents' endpoint, does the WebSocket upgrade by hand
// and then misbehaves as told, so the operator meets exactly the bytes an attacker would send.
//   node flood-client.mjs PORT COUNT MODE      MODE: idle | partial | oversized
// idle: upgrade, then silence. partial: a frame announcing 60 KiB, all but its last bytes sent.
// oversized: a frame announcing 8 MiB, then 1 MiB of it. Prints one JSON line of counts.
import { connect } from 'node:net';
import { randomBytes } from 'node:crypto';

const [port, count, mode] = [Number(process.argv[2]), Number(process.argv[3]), process.argv[4]];

function frameHeader(length) {
  const mask = randomBytes(4);
  let head;
  if (length < 126) head = Buffer.from([0x81, 0x80 | length]);
  else if (length < 65536) head = Buffer.from([0x81, 0x80 | 126, length >> 8, length & 0xff]);
  else {
    head = Buffer.alloc(10);
    head[0] = 0x81;
    head[1] = 0x80 | 127;
    head.writeBigUInt64BE(BigInt(length), 2);
  }
  return Buffer.concat([head, mask]);
}

const counts = { upgraded: 0, refused503: 0, refused401: 0, otherStatus: 0, closedByServer: 0, errors: 0 };
const sockets = [];

function one() {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    sockets.push(s);
    let head = '';
    let upgraded = false;
    s.on('error', () => {
      counts.errors++;
      resolve();
    });
    s.on('close', () => {
      if (upgraded) counts.closedByServer++;
      resolve();
    });
    s.on('data', (d) => {
      if (upgraded) return;
      head += d.toString('latin1');
      if (!head.includes('\r\n')) return;
      const status = Number(head.split(' ')[1]);
      if (status === 101) {
        upgraded = true;
        counts.upgraded++;
        if (mode === 'partial') {
          const n = 60 * 1024;
          s.write(Buffer.concat([frameHeader(n), Buffer.alloc(n - 16, 0x61)]));
        } else if (mode === 'oversized') {
          s.write(Buffer.concat([frameHeader(8 * 1024 * 1024), Buffer.alloc(1024 * 1024, 0x61)]));
        }
        resolve();
      } else {
        if (status === 503) counts.refused503++;
        else if (status === 401) counts.refused401++;
        else counts.otherStatus++;
        resolve();
      }
    });
    s.write(
      'GET /v1/agents HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
  });
}

// In waves of 200, so the listen backlog is not what refuses them.
for (let i = 0; i < count; i += 200) await Promise.all(Array.from({ length: Math.min(200, count - i) }, one));
process.send?.({ type: 'opened', counts });
process.on('message', (m) => {
  if (m === 'report') process.send?.({ type: 'report', counts });
  if (m === 'close') {
    for (const s of sockets) s.destroy();
    setTimeout(() => process.exit(0), 100);
  }
});
