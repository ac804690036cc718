import type { InfoResponse } from '../api/types.js';
import type { Route } from '../router.js';

/** A mounted page: the router calls `update` when only the URL's parameters changed. */
export interface Page {
  update?(route: Route): void;
  destroy(): void;
}

/** What every page may use. */
export interface AppContext {
  /** The operator's mode and version; undefined when it could not be read. */
  info(): Promise<InfoResponse | undefined>;
}

export type PageFactory = (root: HTMLElement, route: Route, ctx: AppContext) => Page;
