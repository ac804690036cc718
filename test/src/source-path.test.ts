import { describe, expect, it } from 'vitest';
import { frameLabel, makeFrame } from '../../src/model/frame.js';
import { formatHotspot } from '../../src/model/hotspots.js';
import { displayPath, displayWhere, exportPath, relativeToRoot } from '../../src/model/source-path.js';

describe('one rule for paths', () => {
  it('shows the last two segments when the root is unknown, URLs and paths alike', () => {
    expect(displayPath('/app/src/orders.js')).toBe('src/orders.js');
    expect(displayPath('file:///app/src/orders.mjs')).toBe('src/orders.mjs');
    expect(displayPath('node:events')).toBe('node:events');
    expect(displayPath('orders.js')).toBe('orders.js');
  });

  it('shows paths relative to the root where it is known', () => {
    expect(displayPath('/app/src/api/orders.js', '/app')).toBe('src/api/orders.js');
    expect(displayPath('/app/src/api/orders.js', '/app/')).toBe('src/api/orders.js');
    expect(displayPath('/usr/lib/x/y.js', '/app')).toBe('x/y.js');
    expect(displayWhere('/app/a/b.js', 3, '/app')).toBe('a/b.js:3');
    expect(displayWhere('', 3)).toBe('');
  });

  it('labels, status hotspots and tooltips say the same for a file:// frame', () => {
    const f = makeFrame('priceOrder', 'file:///srv/shop/orders.mjs', 24);
    expect(frameLabel(f)).toBe('priceOrder shop/orders.mjs:24');
    expect(formatHotspot(f)).toBe(frameLabel(f));
    expect(`${f.name} ${displayWhere(f.file, f.line)}`).toBe(frameLabel(f));
  });
});

describe('paths relative to the roots of the agents that reported them', () => {
  it('takes the longest root that contains the file, at a segment boundary', () => {
    const roots = ['/app', '/app/packages/api', '/srv/shop'];
    expect(displayPath('/app/packages/api/src/server.js', roots)).toBe('src/server.js');
    expect(displayPath('/app/tools/build.js', roots)).toBe('tools/build.js');
    expect(displayPath('/srv/shop/node_modules/express/lib/router.js', roots)).toBe('node_modules/express/lib/router.js');
    expect(displayPath('file:///srv/shop/src/orders.mjs', roots)).toBe('src/orders.mjs');
    // ESM frames are URLs: escaped characters are decoded before they are compared with a path.
    expect(displayPath('file:///srv/my%20shop/src/orders.mjs', ['/srv/my shop'])).toBe('src/orders.mjs');
    expect(displayPath('file:///srv/shop/src/100%.mjs', roots)).toBe('src/100%.mjs');
    // `/app` does not contain `/application`: the fallback, not a path cut mid-name.
    expect(displayPath('/application/lib/x.js', roots)).toBe('lib/x.js');
    expect(relativeToRoot('/application/lib/x.js', roots)).toBeUndefined();
    expect(relativeToRoot('/app', roots)).toBeUndefined();
  });

  it('leaves node: internals and files outside every root to the fallback', () => {
    expect(displayPath('node:internal/timers', ['/app'])).toBe('node:internal/timers');
    expect(displayWhere('/usr/lib/python3.11/json/decoder.py', 337, ['/srv/app'])).toBe('json/decoder.py:337');
    expect(displayPath('/app/src/a.js', [])).toBe('src/a.js');
  });

  it('exports keep what lies outside every root as reported, and cut what lies inside', () => {
    expect(exportPath('/srv/shop/src/server.js', ['/srv/shop'])).toBe('src/server.js');
    expect(exportPath('/srv/shop/src/server.js', '/srv/shop/')).toBe('src/server.js');
    expect(exportPath('/usr/lib/node/x.js', ['/srv/shop'])).toBe('/usr/lib/node/x.js');
    expect(exportPath('node:events', ['/srv/shop'])).toBe('node:events');
    expect(exportPath('/srv/shop/src/server.js')).toBe('/srv/shop/src/server.js');
  });

  it('labels and status hotspots follow the roots they are given', () => {
    const f = makeFrame('priceOrder', '/srv/shop/releases/42/src/orders.js', 24);
    expect(frameLabel(f)).toBe('priceOrder src/orders.js:24');
    expect(frameLabel(f, ['/srv/shop/releases/42'])).toBe('priceOrder src/orders.js:24');
    expect(frameLabel(makeFrame('load', '/srv/shop/releases/42/src/db/pool.js', 7), ['/srv/shop/releases/42'])).toBe('load src/db/pool.js:7');
    expect(formatHotspot(makeFrame('load', '/srv/shop/releases/42/src/db/pool.js', 7), '/srv/shop/releases/42')).toBe('load src/db/pool.js:7');
  });
});
