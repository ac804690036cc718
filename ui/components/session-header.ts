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
        ['Sampling', `every ${s.spec.sampleInterval}, up to ${s.spec.duration}`],
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
