/**
 * The qdeploy command line: `main(args)` parses and runs one command and resolves to the
 * exit code (0 ok, 1 run failed, 2 bad usage or input). The bin adds signal handling.
 */
import fs from 'node:fs';
import { Command, CommanderError } from 'commander';
import { registerBench } from './commands/bench.js';
import { registerBuild } from './commands/build.js';
import { registerCheck } from './commands/check.js';
import { registerEval } from './commands/eval.js';
import { registerInspect } from './commands/inspect.js';
import { registerQuantize } from './commands/quantize.js';
import { registerRun } from './commands/run.js';
import { registerAnalyze } from './commands/analyze.js';
import { registerTune } from './commands/tune.js';
import { EXIT_OK, EXIT_USAGE, errorJson, errorLines, exitCodeFor } from './errors.js';
import { printJson, processIO, type CliIO } from './options.js';
import { printableText } from '../util/printable.js';

function coreVersion(): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** The commander program (commands registered, output routed to `io`). */
export function createProgram(io: CliIO = processIO, setExitCode: (code: number) => void = () => {}): Command {
  const program = new Command('qdeploy');
  program
    .description('hardware-aware INT8 quantization of ONNX models: Q/DQ placed where the target compiler fuses it')
    .version(coreVersion(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureOutput({
      writeOut: (s) => io.out(s),
      writeErr: (s) => io.err(s),
      outputError: (s, write) => write(`qdeploy: ${s.replace(/^error: /, '').trimEnd()}\n`),
    })
    .addHelpCommand(true)
    .addHelpText('after', '\nExit codes: 0 ok, 1 run failed, 2 bad usage or bad input, 130 interrupted.\nRun qdeploy <command> --help for a command\'s options.');
  registerQuantize(program, io);
  registerRun(program, io);
  registerInspect(program, io);
  registerEval(program, io);
  registerBench(program, io);
  registerBuild(program, io);
  registerCheck(program, io, setExitCode);
  registerAnalyze(program, io);
  registerTune(program, io);
  return program;
}

/** Runs the CLI on `args` (without node and the script); resolves to the exit code. */
export async function main(args: readonly string[], io: CliIO = processIO): Promise<number> {
  const verbose = args.includes('--verbose') || /^(1|true|yes)$/i.test(process.env.QDEPLOY_VERBOSE ?? '');
  const json = args.includes('--json');
  let code = EXIT_OK;
  // Reports and errors carry names from the user's model: no escape sequence reaches the terminal raw.
  const safe: CliIO = { out: (t) => io.out(printableText(t)), err: (t) => io.err(printableText(t)) };
  const program = createProgram(safe, (c) => (code = c));
  try {
    await program.parseAsync([...args], { from: 'user' });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version exit 0; commander already printed its one-line message otherwise.
      if (err.exitCode === 0 || err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return EXIT_OK;
      if (json) printJson(safe, errorJson(err, EXIT_USAGE));
      return EXIT_USAGE;
    }
    for (const line of errorLines(err, verbose)) safe.err(`${line}\n`);
    // A script that asked for JSON reads stdout: the failure is JSON there too.
    if (json) printJson(safe, errorJson(err));
    return exitCodeFor(err);
  }
}
