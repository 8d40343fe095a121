import path from 'node:path';
import type { Command } from 'commander';
import { addExcludeOptions, withExcludeFlags, type ExcludeFlags } from '../placement-options.js';
import { addCommonOptions, cliPluginSpecs, collect, keyValue, printJson, type CliIO } from '../options.js';

interface InspectFlags extends ExcludeFlags {
  backend?: string;
  plugin?: string[];
  backendOption?: Record<string, unknown>;
  config?: string;
  json?: boolean;
  explain?: boolean;
}

export function registerInspect(program: Command, io: CliIO): void {
  const cmd = program
    .command('inspect')
    .description('show what a backend makes of a model: op counts, matches by pattern, where Q/DQ goes and why, what is left unmatched')
    .argument('<model>', 'ONNX model (FP32)')
    .option('-b, --backend <name>', 'backend: tensorrt, reference, a package name or a path (default: tensorrt)')
    .option('--backend-option <key=value>', 'a backend pattern option, e.g. minLinearSize=0 for tensorrt (repeatable)', keyValue)
    .option('--plugin <spec>', 'load a plugin package or file first (repeatable)', collect)
    .option('-c, --config <file>', 'take backend, plugins and quant settings from a config file')
    .option('--explain', "for each node left unmatched, say why each fusion pattern ending in its op did not match");
  addExcludeOptions(cmd);
  addCommonOptions(cmd, { json: true });
  cmd.action(async (model: string, flags: InspectFlags) => {
    const { loadConfig } = await import('../../config/load.js');
    const { formatInspectReport, inspectModel } = await import('../pipeline/index.js');
    const config = flags.config ? await loadConfig(flags.config) : undefined;
    const report = await inspectModel(path.resolve(model), {
      backend: flags.backend ?? config?.backend ?? 'tensorrt',
      backendOptions: flags.backendOption || config?.backendOptions ? { ...config?.backendOptions, ...flags.backendOption } : undefined,
      plugins: [...(config?.plugins ?? []), ...cliPluginSpecs(flags.plugin)],
      from: config?.dir ?? process.cwd(),
      quant: withExcludeFlags(config?.quant, flags),
      explain: flags.explain,
    });
    if (flags.json) printJson(io, report);
    else io.out(`${formatInspectReport(report)}\n`);
  });
}
