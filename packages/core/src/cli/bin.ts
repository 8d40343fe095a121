#!/usr/bin/env node
/**
 * The `qdeploy` executable. Ctrl-C / SIGTERM remove any half-written output (pending
 * temporary files) and exit 130 / 143; warnings print as one line; stray errors never
 * end in a raw stack trace (unless --verbose). The signal handlers go in before anything
 * else is loaded, so an early Ctrl-C is handled the same way.
 */
const EXIT_SIGINT = 130;
const EXIT_SIGTERM = 143;
let drain: () => unknown = () => undefined;
let written: () => string[] = () => [];

function onSignal(signal: NodeJS.Signals, code: number): void {
  drain();
  // A signal that lands after an output was renamed into place leaves it complete: say so.
  const done = written();
  const what = done.length ? `${done.join(', ')} ${done.length > 1 ? 'were' : 'was'} already written in full` : 'no partial output left behind';
  process.stderr.write(`\nqdeploy: interrupted (${signal}); ${what.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?')}\n`);
  process.exit(code);
}
process.on('SIGINT', () => onSignal('SIGINT', EXIT_SIGINT));
process.on('SIGTERM', () => onSignal('SIGTERM', EXIT_SIGTERM));

// Node's default printer writes "(node:PID) Warning: ..." plus a hint line; print one line instead.
process.removeAllListeners('warning');
process.on('warning', (w) => {
  if (w.name === 'DeprecationWarning' || w.name === 'ExperimentalWarning') return;
  process.stderr.write(`qdeploy: warning: ${w.message}\n`);
});

const args = process.argv.slice(2);
const verbose = args.includes('--verbose') || /^(1|true|yes)$/i.test(process.env.QDEPLOY_VERBOSE ?? '');

const { committedFiles, drainTempFiles, trackCommittedFiles } = await import('../util/atomic-write.js');
trackCommittedFiles();
drain = drainTempFiles;
written = committedFiles;
const { EXIT_FAILED, errorLines } = await import('./errors.js');

function fatal(err: unknown): void {
  drainTempFiles();
  for (const line of errorLines(err, verbose)) process.stderr.write(`${line}\n`);
  process.exit(EXIT_FAILED);
}
process.on('uncaughtException', fatal);
process.on('unhandledRejection', fatal);

const { main } = await import('./main.js');
const code = await main(args);
// A signal that arrived while the last steps ran synchronously (the rename, the report) is
// only seen when the event loop polls: let it poll once, so the handler above reports it
// ("... was already written in full", exit 130/143) instead of a silent exit 0.
await new Promise((r) => setImmediate(r));
await new Promise((r) => setImmediate(r));
drainTempFiles();
// Flush stdout (a pipe may still hold the report), then exit even if a native handle lingers.
process.stdout.write('', () => process.exit(code));
