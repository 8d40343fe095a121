// The HTML report in a real headless browser (Debian's chromium; .ci/run installs it):
// the page loads from disk without console errors or any network request, and the
// screenshot of the graph is a real drawing of the placement.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { chromium } from 'playwright-core';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { registerAll } from '@qdeploy/calibrators';
import { analyzeSensitivity, calibrate, insertQdq, loadModel, openNpy, registerCalibrator, stubHistograms, transform, writeReport } from '@qdeploy/core';
import { TENSORRT_PATTERNS } from '../src/index.js';
import { repoRoot, vendored } from './helpers.js';

registerAll(registerCalibrator);
const CHROMIUM = process.env.QDEPLOY_CHROMIUM ?? '/usr/bin/chromium';

describe('HTML report in headless chromium', () => {
  it('loads from disk with no console error and no network request; the graph shows every match, the excluded one dashed', async () => {
    if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: apt-get install -y chromium (or set QDEPLOY_CHROMIUM)`);
    const { model, matches } = transform(loadModel(vendored('fmnist_resnet.onnx')), { patterns: TENSORRT_PATTERNS });
    const q = insertQdq(model, matches, { exclude: { opTypes: ['Gemm'] } });
    const x = openNpy(path.join(repoRoot(), 'examples/fashion-mnist/data/test_500_x.npy'));
    const batch = () => new ort.Tensor('float32', x.readRows(0, 16), [16, 1, 28, 28]);
    const cal = await calibrate(q, async (run) => run(batch()), { calibrator: 'percentile', inputCalibrator: null, progress: false });
    const sensitivity = await analyzeSensitivity(q, { description: 'test', batches: [{ input: batch() }], sizes: [16], samples: 16 });
    const histograms = stubHistograms(cal.states, cal.ranges ? Object.fromEntries(Object.entries(cal.ranges).map(([k, r]) => [k, r.amax])) : {});
    expect(histograms.length).toBe(q.stubs().length);
    expect(Object.keys(histograms[0]!.amax).sort()).toEqual(['entropy', 'minmax', 'mse', 'percentile']);

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qdeploy-report-'));
    const file = path.join(dir, 'report.html');
    await writeReport(file, { title: 'report test', quantized: q, summary: [['model', 'fmnist_resnet']], histograms, sensitivity });
    const html = fs.readFileSync(file, 'utf8');
    expect(html).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/); // nothing to fetch: only the SVG namespace URI

    const context = await chromium.launchPersistentContext(path.join(dir, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    try {
      const page = await context.newPage();
      const errors: string[] = [];
      const requests: string[] = [];
      page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
      page.on('pageerror', (e) => errors.push(String(e)));
      page.on('request', (r) => requests.push(r.url()));
      await page.goto(`file://${file}`, { waitUntil: 'load' });
      expect(errors).toEqual([]);
      expect(requests).toEqual([`file://${file}`]);
      const graph = page.locator('#graph');
      const box = (await graph.boundingBox())!;
      expect(box.width).toBeGreaterThan(200);
      expect(box.height).toBeGreaterThan(500);
      expect(await page.locator('#graph g.match').count()).toBe(matches.length);
      expect(await page.locator('#graph g.match.excluded').count()).toBe(1);
      expect(await page.locator('#graph g.stub').count()).toBe(q.stubs().length);
      expect(await page.locator('#sensitivity rect.only').count()).toBe(sensitivity.matches.length);
      expect(await page.locator('figure.hist').count()).toBe(histograms.length);
      const shot = await graph.screenshot({ path: path.join(dir, 'graph.png') });
      // A drawing, not a blank box: many distinct colours in the PNG's pixels.
      const { data, info } = await sharp(shot).raw().toBuffer({ resolveWithObject: true });
      const seen = new Set<number>();
      for (let i = 0; i < data.length; i += info.channels) seen.add((data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!);
      const colours = seen.size;
      expect(colours).toBeGreaterThan(50);
    } finally {
      await context.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
