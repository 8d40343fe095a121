import path from 'node:path';
import type { Command } from 'commander';
import { addCommonOptions, cliPluginSpecs, collect, printJson, type CliIO } from '../options.js';

interface CheckFlags {
  backend?: string;
  plugin?: string[];
  json?: boolean;
}

/** Sets the exit code: 1 when the checker reports errors. */
export function registerCheck(program: Command, io: CliIO, setExitCode: (code: number) => void): void {
  const cmd = program
    .command('check')
    .description("check a QDQ model's Q/DQ placement against the backend's rules (exit 1 when there are errors)")
    .argument('<model>', 'QDQ ONNX model')
    .option('-b, --backend <name>', 'backend: tensorrt, reference, a package name or a path (default: tensorrt)')
    .option('--plugin <spec>', 'load a plugin package or file first (repeatable)', collect);
  addCommonOptions(cmd, { json: true });
  cmd.action(async (model: string, flags: CheckFlags) => {
    const { checkModel, formatCheckReport } = await import('../pipeline/index.js');
    const report = await checkModel(path.resolve(model), {
      backend: flags.backend ?? 'tensorrt',
      plugins: cliPluginSpecs(flags.plugin),
      from: process.cwd(),
    });
    if (flags.json) printJson(io, report);
    else io.out(`${formatCheckReport(report)}\n`);
    if (report.counts.error > 0) setExitCode(1);
  });
}
