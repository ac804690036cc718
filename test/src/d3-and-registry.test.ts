import { describe, expect, it } from 'vitest';
import { hierarchy } from 'd3-hierarchy';
import { Profile } from 'pprof-format';
import { EXPORTERS, EXPORT_FORMATS, exportFormat, isExportFormat } from '../../src/export/index.js';
import { type D3Node, treeToD3 } from '../../src/export/d3-hierarchy.js';
import { SondeError } from '../../src/errors.js';
import { collapsedToTree } from '../../src/import/collapsed.js';
import { cpuprofileToTree } from '../../src/import/cpuprofile.js';
import { pprofToTree } from '../../src/import/pprof.js';
import { speedscopeToTree } from '../../src/import/speedscope.js';
import { sessionTree } from './fixture-trees.js';

describe('d3 hierarchy export', () => {
  const tree = sessionTree();

  it('nests every node with value = total, self and total weights and frame details', () => {
    const root = treeToD3(tree, { rootName: 'orders' });
    expect(root).toMatchObject({ id: 0, name: 'orders', kind: 'root', value: tree.totals.wallUs });
    let count = 0;
    const walk = (n: D3Node): void => {
      count++;
      const childSum = n.children.reduce((s, c) => s + c.value, 0);
      expect(n.value).toBeCloseTo(n.self.wallUs + childSum, 6);
      expect(n.total).toEqual(tree.totalOf(n.id));
      n.children.forEach(walk);
    };
    walk(root);
    expect(count).toBe(tree.size);
    const handler = root.children[0]!.children.find((c) => c.name === 'handleOrder')!;
    expect(handler).toMatchObject({ file: '/app/src/routes/orders.js', line: 12, column: 3, kind: 'code' });
  });

  it('feeds d3.hierarchy: summing self weights gives back every total', () => {
    const h = hierarchy(treeToD3(tree, { weight: 'samples' })).sum((d) => d.self.samples);
    h.each((n) => expect(n.value).toBe(n.data.total.samples));
  });
});

describe('export registry', () => {
  const tree = sessionTree();

  it('has one entry per format, each exporting a tree its importer reads back', () => {
    expect([...EXPORT_FORMATS]).toEqual(['pprof', 'collapsed', 'speedscope', 'cpuprofile', 'd3']);
    for (const f of EXPORT_FORMATS) {
      const info = EXPORTERS[f];
      expect(info.format).toBe(f);
      expect(info.contentType).toMatch(/^(application|text)\//);
      expect(info.fileExtension).not.toMatch(/^\./);
      const out = info.export(tree, { weight: 'samples', name: 'x', sampleIntervalUs: 1000, startTimeMs: 0 });
      const samplesBack = {
        pprof: () => pprofToTree(Profile.decode(out as Uint8Array)).totals.samples,
        collapsed: () => collapsedToTree(out as string).totals.samples,
        speedscope: () => speedscopeToTree(JSON.parse(out as string)).totals.samples,
        cpuprofile: () => cpuprofileToTree(JSON.parse(out as string)).totals.samples,
        d3: () => (JSON.parse(out as string) as D3Node).total.samples,
      }[f]();
      expect(samplesBack, f).toBe(tree.totals.samples);
    }
    expect(EXPORTERS.pprof.compress).toBe('gzip');
    expect(EXPORTERS.pprof.fileExtension).toBe('pb.gz');
  });

  it('names unknown formats with SONDE_UNSUPPORTED_FORMAT', () => {
    expect(isExportFormat('speedscope')).toBe(true);
    expect(isExportFormat('json')).toBe(false);
    expect(isExportFormat(3)).toBe(false);
    expect(exportFormat('collapsed').fileExtension).toBe('folded');
    try {
      exportFormat('svg');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(SondeError);
      expect((err as SondeError).code).toBe('SONDE_UNSUPPORTED_FORMAT');
      expect((err as SondeError).message).toContain('pprof, collapsed');
    }
  });
});
