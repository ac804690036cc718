/**
 * Child process of hub-scale.ts: opens N fake agents to the hub, then reports on stdout (one JSON line
 * per event) when all are welcomed and, for each session, the epoch ms at which each agent got `start`.
 * Plain type-strippable TypeScript: run with Node 24 (or 22 with --experimental-strip-types).
 *   node24 test/operator/hub/scale-clients.ts ws://127.0.0.1:PORT/v1/agents 10000
 */
import type { FakeAgent as FakeAgentType } from '../../harness/fake-agent.js';

// Node's type stripping needs the real file name; tsc (without allowImportingTsExtensions) does not take it.
const { FakeAgent } = (await import(new URL('../../harness/fake-agent.ts', import.meta.url).href)) as typeof import('../../harness/fake-agent.js');
type FakeAgent = FakeAgentType;

const [url, countText] = process.argv.slice(2);
const count = Number(countText);
const agents: FakeAgent[] = [];
const starts = new Map<string, number[]>();

async function main(): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      const a = await FakeAgent.connect({ url: url!, token: 'bench', pod: { name: `pod-${i}`, namespace: 'bench', uid: '' }, labels: { app: 'bench', shard: String(i % 10) } }, 60_000);
      a.ws.on('message', (data) => {
        const text = String(data);
        if (!text.startsWith('{"type":"start"')) return;
        const at = Date.now();
        const session = (JSON.parse(text) as { session: string }).session;
        let list = starts.get(session);
        if (!list) starts.set(session, (list = []));
        list.push(at);
        if (list.length === expected.get(session)) process.stdout.write(JSON.stringify({ event: 'starts', session, at: list }) + '\n');
      });
      agents.push(a);
    }
  };
  await Promise.all(Array.from({ length: 50 }, worker));
  process.stdout.write(JSON.stringify({ event: 'connected', count: agents.length }) + '\n');
}

/** The parent tells how many starts to expect per session: `expect <session> <n>` on stdin. */
const expected = new Map<string, number>();
process.stdin.setEncoding('utf8');
let buffered = '';
process.stdin.on('data', (chunk: string) => {
  buffered += chunk;
  let nl: number;
  while ((nl = buffered.indexOf('\n')) >= 0) {
    const [cmd, session, n] = buffered.slice(0, nl).split(' ');
    buffered = buffered.slice(nl + 1);
    if (cmd === 'expect') expected.set(session!, Number(n));
    if (cmd === 'exit') process.exit(0);
  }
});
main().catch((err) => {
  process.stderr.write(String(err) + '\n');
  process.exit(1);
});
