import { emptyState } from '../components/states.js';
import { h } from '../util/dom.js';
import type { PageFactory } from './page.js';

/** A link to a page that does not exist: say so and offer the way back. */
export const notFoundPage: PageFactory = (root, route) => {
  root.append(
    emptyState(
      'No such page',
      `There is nothing at ${route.page === 'not-found' ? route.path : ''}.`,
      h('a', { href: '#/sessions', class: 'btn' }, 'Go to sessions'),
    ),
  );
  return { destroy() {} };
};
