import type { PageFactory } from './page.js';

export const comparePage: PageFactory = (root) => {
  root.append('compare');
  return { destroy() {} };
};
