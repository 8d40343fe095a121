import type { SensitivityReport } from '../analyze/analyze.js';
import type { TuneStep } from '../analyze/tune.js';
import type { StubHistogram } from './histograms.js';
import { escapeXml } from './xml.js';

const METHOD_COLOURS: Record<string, string> = { minmax: '#d62728', percentile: '#2ca02c', entropy: '#9467bd', mse: '#1f77b4' };

function fmt(x: number, digits = 3): string {
  return Number.isFinite(x) ? x.toPrecision(digits) : String(x);
}

/** One stub's histogram (log-scaled bars) with a line at each method's amax. */
export function histogramSvg(h: StubHistogram): string {
  const W = 320, H = 120, pad = 4;
  const bw = (W - 2 * pad) / h.counts.length;
  const top = Math.log1p(Math.max(1, ...h.counts));
  const bars = h.counts
    .map((c, i) => {
      const bh = (Math.log1p(c) / top) * (H - 30);
      return c ? `<rect x="${(pad + i * bw).toFixed(1)}" y="${(H - 14 - bh).toFixed(1)}" width="${Math.max(0.5, bw - 0.3).toFixed(1)}" height="${bh.toFixed(1)}" class="bar"/>` : '';
    })
    .join('');
  const x = (v: number) => pad + (Math.min(v, h.range) / (h.range || 1)) * (W - 2 * pad);
  const lines = Object.entries(h.amax)
    .map(([m, a], k) => `<line x1="${x(a).toFixed(1)}" x2="${x(a).toFixed(1)}" y1="8" y2="${H - 14}" stroke="${METHOD_COLOURS[m] ?? '#555'}" stroke-width="1.5"><title>${m}: amax ${fmt(a)}</title></line><text x="${Math.min(W - 40, x(a) + 2).toFixed(1)}" y="${10 + k * 9}" class="al" fill="${METHOD_COLOURS[m] ?? '#555'}">${m}</text>`)
    .join('');
  const chosen = h.chosen !== undefined ? `<polygon points="${x(h.chosen) - 4},${H - 4} ${x(h.chosen) + 4},${H - 4} ${x(h.chosen)},${H - 12}" fill="#000"><title>calibrated amax ${fmt(h.chosen)}</title></polygon>` : '';
  const legend = Object.entries(h.amax).map(([m, a]) => `${m} ${fmt(a)}`).join(' · ');
  return (
    `<figure class="hist"><figcaption title="${escapeXml(h.tensor)}">${escapeXml(h.tensor)}</figcaption>` +
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">${bars}${lines}${chosen}<text x="${pad}" y="${H - 2}" class="al">0</text><text x="${W - pad}" y="${H - 2}" class="al" text-anchor="end">|x| ${fmt(h.range)}</text></svg>` +
    `<div class="amax">${escapeXml(legend)}</div></figure>`
  );
}

/** Horizontal bars: output SQNR with only each match quantized (lowest = most sensitive, first). */
export function sensitivitySvg(r: SensitivityReport): string {
  const rows = r.matches;
  const W = 760, row = 18, left = 300, H = rows.length * row + 30;
  const finite = rows.flatMap((m) => [m.only.sqnrDb, m.allBut.sqnrDb]).filter(Number.isFinite);
  const max = Math.max(10, ...finite);
  const x = (db: number) => left + (Math.max(0, Math.min(db, max)) / max) * (W - left - 60);
  const body = rows
    .map((m, i) => {
      const y = 20 + i * row;
      const label = `${i + 1}. ${m.pattern} @ ${m.id}`;
      return (
        `<text x="${left - 6}" y="${y + 12}" text-anchor="end" class="rl"><title>${escapeXml(label)}</title>${escapeXml(label.length > 46 ? `${label.slice(0, 45)}…` : label)}</text>` +
        `<rect x="${left}" y="${y + 2}" width="${(x(m.only.sqnrDb) - left).toFixed(1)}" height="${row - 6}" class="only"><title>only this match quantized: ${fmt(m.only.sqnrDb)} dB</title></rect>` +
        `<line x1="${x(m.allBut.sqnrDb).toFixed(1)}" x2="${x(m.allBut.sqnrDb).toFixed(1)}" y1="${y}" y2="${y + row - 2}" class="allbut"><title>all but this match: ${fmt(m.allBut.sqnrDb)} dB</title></line>` +
        `<text x="${(x(m.only.sqnrDb) + 4).toFixed(1)}" y="${y + 12}" class="al">${fmt(m.only.sqnrDb)} dB</text>`
      );
    })
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" id="sensitivity" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}"><text x="${left}" y="12" class="al">output SQNR (dB), bar: only this match quantized · tick: all but this match</text>${body}</svg>`;
}

/** The tuning search as a table. */
export function stepsTable(steps: readonly TuneStep[], metric: string): string {
  const head = '<tr><th>step</th><th>action</th><th>match</th><th>top-1 / agreement</th><th>score</th><th>MACs quantized</th><th>MACs at base bits</th></tr>';
  const rows = steps
    .map((s) => `<tr><td>${s.step}</td><td>${s.action}</td><td>${escapeXml(s.match ? `${s.pattern} @ ${s.match}` : '—')}</td><td>${s.metrics.top1 !== undefined ? (s.metrics.top1 * 100).toFixed(2) : '—'} / ${(s.metrics.agreement * 100).toFixed(2)}</td><td>${fmt(s.score, 4)}${metric === 'sqnr' ? ' dB' : ' pts'}</td><td>${(s.quantizedMacShare * 100).toFixed(1)} %</td><td>${(s.baseMacShare * 100).toFixed(1)} %</td></tr>`)
    .join('');
  return `<table class="steps">${head}${rows}</table>`;
}
