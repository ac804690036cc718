// The benchmark's app: a fastify service whose handler does realistic work — builds and serialises a
// JSON order, a little CPU (totals, a sort, a checksum), and an await for a simulated database call.
// Measures its own CPU per request between the parent's 'mark' and 'report' (IPC), so the figure is
// the server's cost, not the load generator's.
import Fastify from 'fastify';
import { setTimeout as sleep } from 'node:timers/promises';

const LINES = Number(process.env.SONDE_BENCH_LINES ?? 40);
const app = Fastify({ logger: false });
const CATALOGUE = Array.from({ length: 200 }, (_, i) => ({ sku: `SKU-${1000 + i}`, name: `Item ${i}`, price: 1 + ((i * 37) % 500) / 10 }));

function buildOrder(id) {
  const lines = [];
  for (let i = 0; i < LINES; i++) {
    const item = CATALOGUE[(id * 7 + i * 13) % CATALOGUE.length];
    lines.push({ sku: item.sku, name: item.name, qty: 1 + ((id + i) % 5), unit: item.price });
  }
  lines.sort((a, b) => b.qty * b.unit - a.qty * a.unit);
  let total = 0;
  let checksum = 0;
  for (const l of lines) {
    total += l.qty * l.unit;
    for (let k = 0; k < l.sku.length; k++) checksum = (checksum * 31 + l.sku.charCodeAt(k)) | 0;
  }
  return { id, customer: { id: id % 977, name: `Customer ${id % 977}` }, lines, total: Math.round(total * 100) / 100, checksum };
}

app.get('/api/orders/:id', async function getOrder(request) {
  const id = Number(request.params.id) || 0;
  await sleep(1); // the database
  const order = buildOrder(id);
  // A round trip through JSON, as a cache or a downstream call would do.
  return JSON.parse(JSON.stringify(order));
});

await app.listen({ port: 0, host: '127.0.0.1' });
let served = 0;
app.server.on('request', (req, res) => res.on('finish', () => served++));
let cpu0 = process.cpuUsage();
let n0 = 0;
process.on('message', (m) => {
  if (m === 'mark') {
    cpu0 = process.cpuUsage();
    n0 = served;
  } else if (m === 'report') {
    const cpu = process.cpuUsage(cpu0);
    // System time apart: what a signal-driven sampler costs in the kernel shows there.
    process.send({ type: 'report', cpuUs: cpu.user + cpu.system, systemUs: cpu.system, requests: served - n0 });
  } else if (m === 'exit') {
    app.close().then(() => process.exit(0));
  }
});
process.send({ type: 'ready', port: app.server.address().port, node: process.version });
