import type { CallTree } from '../../src/model/call-tree.js';
import { CallTreeBuilder } from '../../src/model/call-tree-builder.js';
import { SYNTHETIC } from '../../src/model/frame.js';
import { pruneTree } from '../../src/model/prune.js';
import { serializeTree } from '../../src/model/serialized.js';
import type { RequestRecord } from '../../src/protocol/messages.js';
import type { RequestState } from './request-state.js';

/** Per-request trees are capped so one pathological request cannot blow the message size limit. */
export const MAX_REQUEST_TREE_NODES = 5000;

/** A finished request's tree: its own stacks, plus its waiting and held-up time as synthetic frames. */
export function buildRequestTree(r: RequestState): CallTree {
  const b = new CallTreeBuilder();
  for (const s of r.own) b.addStack(s.stack.length > 0 ? s.stack : [SYNTHETIC.program], { samples: 1, wallUs: s.wallUs, cpuUs: s.cpuUs });
  if (r.waitingSamples > 0) b.addStack([SYNTHETIC.waiting], { samples: r.waitingSamples, wallUs: r.waitingUs, cpuUs: 0 });
  if (r.blockedSamples > 0) b.addStack([SYNTHETIC.otherWork], { samples: r.blockedSamples, wallUs: r.blockedUs, cpuUs: 0 });
  const tree = b.build();
  return tree.size > MAX_REQUEST_TREE_NODES ? pruneTree(tree, { maxNodes: MAX_REQUEST_TREE_NODES }) : tree;
}

/** The protocol's record of a finished request, with its tree serialised for the wire. */
export function buildRequestRecord(r: RequestState, tree: CallTree): RequestRecord {
  let cpuUs = 0;
  for (const s of r.own) cpuUs += s.cpuUs;
  const record: RequestRecord = {
    id: r.id,
    type: r.type,
    startedAt: Math.round(r.startUs / 1000),
    durationMs: Math.round((r.endUs - r.startUs) / 10) / 100,
    outcome: r.outcome,
    samples: r.own.length,
    cpuUs: Math.round(cpuUs),
    waitingUs: Math.round(r.waitingUs),
    blockedUs: Math.round(r.blockedUs),
    tree: serializeTree(tree),
  };
  if (r.status !== undefined) record.status = r.status;
  return record;
}
