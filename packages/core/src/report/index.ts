export { reportHtml, writeReport, type ReportContent } from './html.js';
export { stubHistograms, hasHistograms, type StubHistogram } from './histograms.js';
export { matchPrecisions, type MatchPrecision } from './placement.js';
