import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The demo's sample shop: a plain node:http app with three routes whose hot paths differ, so their
 * profiles look different in the UI. Each hot function is deliberately long (well past V8's inlining
 * budget) so its samples are charged to it rather than to its caller.
 *
 *   GET  /api/orders/:id  awaits an inventory check, builds the order as JSON, prices it line by line
 *                         (priceOrder); one order in ten is a bulk order, the slow tail
 *   GET  /api/search?q=   scans a catalogue with regular expressions and sorts the hits (rankSearchResults)
 *   POST /api/checkout    awaits a fake database round trip, then seals the receipt (sealReceipt)
 *
 * Run it with the agent: `node --import sonde/agent sample-app.js`. It prints `listening PORT` once ready.
 * PORT (default 0: any free port) and HOST (default 127.0.0.1) come from the environment.
 */

interface LineItem {
  sku: string;
  quantity: number;
  unitCents: number;
  category: string;
}

const CATEGORIES = ['books', 'garden', 'kitchen', 'toys', 'tools', 'audio'];
const WORDS = ['amber', 'basil', 'cedar', 'delta', 'ember', 'fjord', 'grove', 'heron', 'indigo', 'juniper', 'kelp', 'lumen', 'maple', 'nectar', 'onyx', 'pebble'];

/** A deterministic pseudo-random generator, so every run shows the same shape. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

const CATALOGUE = (() => {
  const next = rng(42);
  const items: { sku: string; title: string; priceCents: number; category: string; rating: number }[] = [];
  for (let i = 0; i < 4000; i++) {
    const title = `${WORDS[Math.floor(next() * WORDS.length)]} ${WORDS[Math.floor(next() * WORDS.length)]} ${WORDS[Math.floor(next() * WORDS.length)]} ${i}`;
    items.push({ sku: `SKU-${i.toString(36).toUpperCase()}`, title, priceCents: 100 + Math.floor(next() * 20000), category: CATEGORIES[i % CATEGORIES.length]!, rating: Math.round(next() * 50) / 10 });
  }
  return items;
})();

/** Prices an order: discounts, taxes and rounding per line, repeated as a pricing engine would for quotes. */
function priceOrder(items: LineItem[], region: string): { subtotal: number; tax: number; discount: number; total: number; quotes: number } {
  let subtotal = 0;
  let tax = 0;
  let discount = 0;
  let quotes = 0;
  const taxRate = region === 'eu' ? 0.2 : region === 'uk' ? 0.175 : 0.0825;
  for (let round = 0; round < 8000; round++) {
    subtotal = 0;
    tax = 0;
    discount = 0;
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      let line = item.unitCents * item.quantity;
      if (item.quantity >= 3) line = line * 0.95;
      if (item.category === 'books') line = line * 0.98;
      else if (item.category === 'toys' && round % 2 === 0) line = line * 0.97;
      const lineDiscount = Math.floor(line * 0.01 * ((round + i) % 5));
      discount += lineDiscount;
      line -= lineDiscount;
      const lineTax = Math.round(line * taxRate * 100) / 100;
      tax += lineTax;
      subtotal += line;
      quotes += Math.sqrt(line + lineTax) > 0 ? 1 : 0;
    }
    if (subtotal > 1_000_000) discount += Math.floor(subtotal * 0.001);
    if (region === 'eu' && subtotal < 1000) tax += 50;
  }
  return { subtotal: Math.round(subtotal), tax: Math.round(tax), discount, total: Math.round(subtotal + tax), quotes };
}

/** Scores catalogue entries against a query with regular expressions, then sorts the hits by score. */
function rankSearchResults(query: string, limit: number): { sku: string; title: string; score: number }[] {
  const terms = query.toLowerCase().split(/\s+/).filter(Boolean);
  const patterns = terms.map((t) => new RegExp(`\\b${t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\w*`, 'gi'));
  const hits: { sku: string; title: string; score: number }[] = [];
  for (let pass = 0; pass < 3; pass++) {
    hits.length = 0;
    for (let i = 0; i < CATALOGUE.length; i++) {
      const item = CATALOGUE[i]!;
      let score = 0;
      for (let p = 0; p < patterns.length; p++) {
        const re = patterns[p]!;
        re.lastIndex = 0;
        const found = item.title.match(re);
        if (found) score += found.length * 10 + (item.title.toLowerCase().startsWith(terms[p]!) ? 5 : 0);
      }
      if (/\d{3}$/.test(item.title)) score += 1;
      if (item.category === 'books' && /amber|cedar/.test(item.title)) score += 2;
      if (score > 0) hits.push({ sku: item.sku, title: item.title, score: score + item.rating / 10 });
    }
    hits.sort((a, b) => b.score - a.score || (a.title < b.title ? -1 : a.title > b.title ? 1 : 0));
  }
  return hits.slice(0, limit);
}

/** Seals a receipt with a hand-rolled hash chain (FNV-1a over many rounds): CPU work in JavaScript. */
function sealReceipt(orderId: string, totalCents: number): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  const text = `${orderId}:${totalCents}:receipt`;
  for (let round = 0; round < 6000; round++) {
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      h1 ^= c;
      h1 = Math.imul(h1, 0x01000193) >>> 0;
      h2 ^= (c + round) & 0xff;
      h2 = Math.imul(h2, 0x01000193) >>> 0;
    }
    h1 ^= h2 >>> 7;
    h2 ^= h1 << 3;
    if ((round & 255) === 0) h2 = (h2 + round) >>> 0;
  }
  return (h1 >>> 0).toString(16).padStart(8, '0') + (h2 >>> 0).toString(16).padStart(8, '0');
}

/** A fake database round trip: the time shows in the profile as waiting, not as CPU. */
function fakeDatabase(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function buildOrder(id: string): { id: string; region: string; items: LineItem[] } {
  const next = rng(Number.parseInt(id, 10) || id.length);
  const items: LineItem[] = [];
  // One order id in ten is a bulk order with many lines: the slow tail that "slow vs typical" shows.
  const bulk = (Number.parseInt(id, 10) || 0) % 10 === 7;
  const n = bulk ? 160 + Math.floor(next() * 40) : 20 + Math.floor(next() * 20);
  for (let i = 0; i < n; i++) items.push({ sku: `SKU-${Math.floor(next() * 4000).toString(36).toUpperCase()}`, quantity: 1 + Math.floor(next() * 5), unitCents: 100 + Math.floor(next() * 9000), category: CATEGORIES[Math.floor(next() * CATEGORIES.length)]! });
  return { id, region: ['eu', 'uk', 'us'][Math.floor(next() * 3)]!, items };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      data += chunk;
      if (data.length > 65536) req.destroy(new Error('body too large'));
    });
    req.on('end', () => resolve(data));
    req.on('error', reject);
  });
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const orders = /^\/api\/orders\/([^/]+)$/.exec(url.pathname);
  if (req.method === 'GET' && orders) {
    const order = buildOrder(orders[1]!);
    await fakeDatabase(order.items.length > 100 ? 6 : 1); // the inventory check: waiting, not CPU
    const json = JSON.parse(JSON.stringify(order)) as typeof order;
    return send(res, 200, { order: json.id, region: json.region, lines: json.items.length, price: priceOrder(json.items, json.region) });
  }
  if (req.method === 'GET' && url.pathname === '/api/search') {
    return send(res, 200, { results: rankSearchResults(url.searchParams.get('q') ?? 'amber', 20) });
  }
  if (req.method === 'POST' && url.pathname === '/api/checkout') {
    const body = JSON.parse((await readBody(req)) || '{}') as { order?: string; total?: number };
    await fakeDatabase(5 + Math.floor(Math.random() * 10));
    return send(res, 201, { order: body.order ?? 'unknown', receipt: sealReceipt(body.order ?? 'unknown', body.total ?? 0) });
  }
  if (req.method === 'GET' && url.pathname === '/healthz') return send(res, 200, { status: 'ok' });
  send(res, 404, { error: 'not found' });
}

/** A running sample shop. */
export interface SampleApp {
  readonly port: number;
  close(): Promise<void>;
}

/** Starts the shop on `host:port` (port 0: any free one); resolves once it listens. */
export function startSampleApp(options: { port: number; host: string }): Promise<SampleApp> {
  const server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => send(res, 500, { error: err.message }));
  });
  server.keepAliveTimeout = 5000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      resolve({
        port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}

/** Run as a script (the demo's child processes): PORT and HOST from the environment, read here, once. */
async function main(env: NodeJS.ProcessEnv): Promise<void> {
  const app = await startSampleApp({ port: Number(env.PORT ?? 0), host: env.HOST ?? '127.0.0.1' });
  process.stdout.write(`listening ${app.port}\n`);
  const stop = (): void => {
    void app.close();
    setTimeout(() => process.exit(0), 200).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

// Imported by `sonde sample-app` it only exports; run directly (`node sample-app.js`) it serves.
if (process.argv[1] && resolvePath(process.argv[1]) === fileURLToPath(import.meta.url)) void main(process.env);
