import { h } from '../util/dom.js';

/** Form controls the pages share. */

/** A segmented control (radio group look). `onPick` gets the chosen value. */
export function segmented<T extends string>(label: string, options: readonly { value: T; label: string; title?: string }[], current: T, onPick: (v: T) => void): HTMLElement {
  const group = h('div', { class: 'segmented', role: 'group', 'aria-label': label });
  for (const o of options) {
    group.append(
      h(
        'button',
        { type: 'button', class: 'seg', 'data-value': o.value, 'aria-pressed': o.value === current ? 'true' : 'false', title: o.title, onclick: () => onPick(o.value) },
        o.label,
      ),
    );
  }
  return group;
}

/** Marks the pressed button of a segmented control. */
export function setSegmented(group: HTMLElement, value: string): void {
  for (const b of group.querySelectorAll<HTMLButtonElement>('button.seg')) b.setAttribute('aria-pressed', b.dataset['value'] === value ? 'true' : 'false');
}

/** A labelled select. */
export function select(label: string, name: string, options: readonly { value: string; label: string }[], current: string, onPick: (v: string) => void): HTMLElement {
  const sel = h('select', { name, 'aria-label': label });
  for (const o of options) sel.append(h('option', { value: o.value, selected: o.value === current }, o.label));
  sel.addEventListener('change', () => onPick(sel.value));
  return h('label', { class: 'inline-field' }, h('span', { class: 'inline-label' }, label), sel);
}

/** The search box: `/` focuses it, Esc clears it. Reports each change (debounced a little). */
export function searchBox(current: string, onChange: (q: string) => void): { element: HTMLElement; input: HTMLInputElement; summary: HTMLElement } {
  const input = h('input', {
    type: 'search',
    class: 'search',
    name: 'q',
    value: current,
    placeholder: 'Search functions',
    'aria-label': 'Search functions (press / to focus)',
    autocomplete: 'off',
    spellcheck: 'false',
  });
  const summary = h('span', { class: 'search-summary', 'aria-live': 'polite' });
  let timer = 0;
  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = window.setTimeout(() => onChange(input.value), 120);
  });
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter') {
      clearTimeout(timer);
      onChange(input.value);
    }
  });
  const element = h('div', { class: 'search-wrap' }, h('kbd', { class: 'search-key', 'aria-hidden': 'true' }, '/'), input, summary);
  return { element, input, summary };
}
