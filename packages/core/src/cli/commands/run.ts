import path from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { addCommonOptions, oneOfChoice, printJson, type CliIO } from '../options.js';

interface RunFlags {
  config?: string;
  build?: boolean;
  evaluate?: boolean;
  bench?: boolean;
  json?: boolean;
  progress?: boolean;
  float?: 'fp32' | 'fp16' | 'bf16';
}

export function registerRun(program: Command, io: CliIO): void {
  const cmd = program
    .command('run')
    .description('run what a config file describes: quantize, then the optional build, evaluation and bench')
    .option('-c, --config <file>', 'config file (default: the first of qdeploy.config.{ts,mjs,js,yaml,yml,json} in the working directory)')
    .option('--no-build', 'skip the build step')
    .option('--no-evaluate', 'skip the evaluation step')
    .option('--no-bench', 'skip the bench step')
    .option('--float <type>', "float regions: fp32, fp16 or bf16 (strongly typed); over the config's export.float", oneOfChoice(['fp32', 'fp16', 'bf16'] as const));
  addCommonOptions(cmd, { progress: true, json: true });
  cmd.addHelpText('after', '\nPaths in the config file are relative to the file; plugins resolve from its folder.');
  cmd.action(async (flags: RunFlags) => {
    const { CONFIG_FILE_NAMES, displayPath, findConfigFile, loadConfig } = await import('../../config/load.js');
    const { runConfig } = await import('../pipeline/index.js');
    let file = flags.config;
    if (!file) {
      const found = findConfigFile(process.cwd());
      if (!found) {
        throw new UsageError(`no config file in ${process.cwd()} (looked for ${CONFIG_FILE_NAMES.join(', ')}); pass -c <file>`);
      }
      file = found;
    }
    const loaded = await loadConfig(path.resolve(file));
    const config = flags.float ? { ...loaded, export: { ...loaded.export, float: flags.float } } : loaded;
    if (!flags.json) io.out(`config ${displayPath(config.file)}\n`);
    const report = await runConfig(config, {
      progress: flags.progress,
      build: flags.build,
      evaluate: flags.evaluate,
      bench: flags.bench,
      log: (line) => io.err(`${line}\n`),
      onStep: flags.json ? undefined : (step, text) => io.out(`\n[${step}]\n${text}\n`),
    });
    if (flags.json) printJson(io, report);
  });
}
