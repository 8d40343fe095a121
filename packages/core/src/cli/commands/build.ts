import path from 'node:path';
import type { Command } from 'commander';
import { addCommonOptions, cliPluginSpecs, collect, keyValue, outputPath, printJson, type CliIO } from '../options.js';

interface BuildFlags {
  backend?: string;
  output?: string;
  set?: Record<string, unknown>;
  compare?: string;
  reference?: string;
  log?: boolean;
  plugin?: string[];
  json?: boolean;
}

export function registerBuild(program: Command, io: CliIO): void {
  const cmd = program
    .command('build')
    .description("build a (QDQ) ONNX model with the backend's builder (TensorRT: trtexec)")
    .argument('<model>', 'ONNX model to build')
    .argument('[extra...]', 'after --: arguments passed to the builder as they are (options.extraArgs)')
    .option('-b, --backend <name>', 'backend: tensorrt, reference, a package name or a path (default: tensorrt)')
    .option('-o, --output <file>', 'where the built artifact goes (options.output)')
    .option('--compare <precision>', 'also build the FP32 model (--reference) at this precision, e.g. fp16, and print both side by side')
    .option('--reference <model>', 'the FP32 ONNX model the --compare baseline is built from')
    .option('--log', "stream the builder's output to stderr while it runs (the default on a terminal)")
    .option('--no-log', "don't stream the builder's output")
    .option('--set <key=value>', 'a builder option, value parsed as JSON when it can be (repeatable)', keyValue)
    .option('--plugin <spec>', 'load a plugin package or file first (repeatable)', collect);
  addCommonOptions(cmd, { json: true });
  cmd.addHelpText('after', '\nExamples:\n  qdeploy build model.int8.onnx --backend tensorrt -o model.engine -- --useCudaGraph\n  qdeploy build model.int8.onnx --compare fp16 --reference model.onnx   # is INT8 faster than FP16?');
  cmd.action(async (model: string, extra: string[], flags: BuildFlags) => {
    const { buildWithBackend, checkOutputPath, formatBuildReport, loadInputModel, prepareBackend, validateModelFile } = await import('../pipeline/index.js');
    const file = path.resolve(model);
    // The reference model gets the checks every model argument gets; the engine must not overwrite either.
    const models = [file, ...(flags.reference !== undefined ? [path.resolve(flags.reference)] : [])];
    for (const m of models) {
      loadInputModel(m);
      await validateModelFile(m);
    }
    if (flags.output !== undefined) await checkOutputPath(outputPath(flags.output), models);
    const backend = await prepareBackend(flags.backend ?? 'tensorrt', { plugins: cliPluginSpecs(flags.plugin), from: process.cwd() });
    const options: Record<string, unknown> = { ...flags.set };
    if (flags.output !== undefined) options.output = path.resolve(flags.output);
    if (extra.length) options.extraArgs = [...extra];
    if (flags.compare !== undefined) options.compare = flags.compare;
    if (flags.reference !== undefined) options.reference = path.resolve(flags.reference);
    // A TensorRT build takes minutes: on a terminal, show its progress unless asked not to.
    const stream = flags.log ?? (process.stderr.isTTY === true && !process.env.CI);
    if (stream) options.onLine = (line: string) => io.err(`${line}\n`);
    const report = await buildWithBackend(backend, file, options);
    if (flags.json) printJson(io, report);
    else io.out(`${formatBuildReport(report)}\n`);
  });
}
