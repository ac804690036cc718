import type { SessionView } from '../api/types.js';
import { href } from '../router.js';
import { h } from '../util/dom.js';
import { formatAge, formatSelector } from '../util/format.js';
import { phaseBadge, podsSummary, progressBar } from './session-bits.js';
import { nothingProfiled, overshootNote, typeWarning } from './session-notes.js';

/** The head of a session's page: name, phase, progress and what was asked for. Re-rendered on live updates. */
export function sessionHeader(s: SessionView): HTMLElement {
  // A failed session's outcome is its Complete condition (NothingProfiled, InvalidSpec, SamplerFailed …).
  const complete = s.status.conditions?.find((c) => c.type === 'Complete' && c.status === 'True' && c.message);
  const failed = complete ?? s.status.conditions?.find((c) => c.status === 'False' && c.message) ?? (s.status.phase === 'Failed' ? s.status.conditions?.[0] : undefined);
  const nothing = nothingProfiled(s);
  return h(
    'div',
    { class: 'session-head' },
    h('div', { class: 'crumb-up' }, h('a', { href: href('/sessions') }, '← Sessions')),
    h('div', { class: 'title-row' }, h('h1', {}, s.name), phaseBadge(s.status.phase), progressBar(s)),
    h(
      'dl',
      { class: 'meta' },
      ...meta([
        ['Request type', h('span', { class: 'mono' }, s.spec.request)],
        ['Namespace', s.namespace],
        ['Pods', `${formatSelector(s.spec.selector)} — ${podsSummary(s)}`],
        ['Sampling', samplingText(s)],
        ['Age', h('span', { title: s.createdAt }, formatAge(s.createdAt))],
      ]),
    ),
    nothing && failed
      ? h('p', { class: 'banner banner-error banner-nothing', role: 'alert' }, h('strong', {}, 'Nothing profiled. '), failed.message.replace(/^.*?nothing profiled: /, ''))
      : s.status.phase === 'Failed' && failed
        ? h('p', { class: 'banner banner-error', role: 'alert' }, `${failed.reason}: ${failed.message}`)
        : null,
    typeWarning(s),
    overshootNote(s),
  );
}

function meta(rows: [string, string | Node][]): Node[] {
  return rows.map(([k, v]) => h('div', { class: 'meta-item' }, h('dt', {}, k), h('dd', {}, v)));
}

/** The interval the samples were taken at (the status's, when an agent could not take the one asked), and the deadline. */
export function samplingText(s: Pick<SessionView, 'spec' | 'status'>): string {
  const used = s.status.sampleInterval;
  const asked = s.spec.sampleInterval;
  if (used === undefined || sameInterval(used, asked)) return `every ${asked}, up to ${s.spec.duration}`;
  return `every ${used} (asked ${asked}), up to ${s.spec.duration}`;
}

/** `10ms` and `10.0ms` and `0.01s` alike. */
function sameInterval(a: string, b: string): boolean {
  const ms = (t: string): number => {
    const m = /^(\d+(?:\.\d+)?)(ms|s)$/.exec(t.trim());
    return m ? Number(m[1]) * (m[2] === 's' ? 1000 : 1) : NaN;
  };
  return Math.abs(ms(a) - ms(b)) < 0.05;
}
