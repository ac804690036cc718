import { describe, expect, it } from 'vitest';
import { frameLabel, makeFrame } from '../../src/model/frame.js';
import { formatHotspot } from '../../src/model/hotspots.js';
import { displayPath, displayWhere } from '../../src/model/source-path.js';

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
