// Runs the stand-in trtexec (test/fixtures/fake-trtexec.mjs): a node script that checks its
// arguments like trtexec and prints recorded output. No GPU and no TensorRT are involved.
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import {
  buildEngine,
  locateTrtexec,
  runTrtexec,
  TrtexecCancelledError,
  TrtexecFailedError,
  TrtexecNotFoundError,
  TrtexecTimeoutError,
  TrtexecUsageError,
  type BuildOptions,
} from '../src/trtexec/index.js';
import { FAKE_TRTEXEC, workDir } from './trtexec-helpers.js';

let dir: string;
let onnx: string;
let cleanup: () => Promise<void>;
let argsOut: string;

beforeEach(async () => {
  ({ dir, onnx, cleanup } = await workDir());
  argsOut = path.join(dir, 'argv.json');
});
afterEach(async () => cleanup());

const fake = (scenario: string, extra: BuildOptions = {}): BuildOptions => ({
  trtexecPath: FAKE_TRTEXEC,
  ...extra,
  env: { FAKE_TRTEXEC_SCENARIO: scenario, FAKE_TRTEXEC_ARGS_OUT: argsOut, ...(extra.env ?? {}) },
});

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected the promise to reject');
}

describe('runTrtexec with the stand-in trtexec', () => {
  it('passes the exact arguments, parses the output and the export files', async () => {
    const options = fake('trt10', {
      precision: 'best',
      shapes: { input: [1, 3, 224, 224] },
      saveEngine: path.join(dir, 'model.engine'),
      exportLayerInfo: path.join(dir, 'layers.json'),
      exportProfile: path.join(dir, 'profile.json'),
      workspaceMiB: 4096,
    });
    const r = await runTrtexec(onnx, options);
    expect(JSON.parse(await readFile(argsOut, 'utf8'))).toEqual(r.args);
    expect(r.args).toEqual([
      `--onnx=${onnx}`,
      '--best',
      '--shapes=input:1x3x224x224',
      '--memPoolSize=workspace:4096M',
      `--saveEngine=${path.join(dir, 'model.engine')}`,
      '--profilingVerbosity=detailed',
      `--exportLayerInfo=${path.join(dir, 'layers.json')}`,
      `--exportProfile=${path.join(dir, 'profile.json')}`,
      '--separateProfileRun',
    ]);
    expect(r.trtexecPath).toBe(FAKE_TRTEXEC);
    expect(r.command.startsWith(`${FAKE_TRTEXEC} '--onnx=`) || r.command.startsWith(`${FAKE_TRTEXEC} --onnx=`)).toBe(true);
    expect(r.exitCode).toBe(0);
    expect(r.durationMs).toBeGreaterThan(0);
    expect(r.summary.passed).toBe(true);
    expect(r.summary.tensorrtVersion).toBe('10.9.0');
    expect(r.summary.gpuComputeTime?.median).toBe(0.241699);
    expect(r.summary.throughputQps).toBe(3921.07);
    expect(r.summary.verdict?.command).toBe(`trtexec ${r.args.join(' ')}`);
    expect(r.layerInfo?.summary.int8Share).toBe(5 / 7);
    expect(r.layerInfo?.summary.reformatLayers).toBe(3);
    expect(r.profile?.count).toBe(2000);
    expect(r.profile?.reformatAverageMs).toBeCloseTo(0.0352, 10);
    expect(r.exportErrors).toEqual([]);
    expect(r.enginePath).toBe(path.join(dir, 'model.engine'));
    expect(existsSync(path.join(dir, 'model.engine'))).toBe(true);
    expect(r.log).toContain('=== Performance summary ===');
    // stdout and stderr ([W]/[E] lines, as trtexec's logger does) interleave in arrival order.
    expect(r.log.split('\n').filter((l) => l.startsWith('&&&& '))).toEqual([
      `&&&& RUNNING TensorRT.trtexec [TensorRT v100900] [b34] # trtexec ${r.args.join(' ')}`,
      `&&&& PASSED TensorRT.trtexec [TensorRT v100900] [b34] # trtexec ${r.args.join(' ')}`,
    ]);
  });

  it('TensorRT 8.6 and 8.2 outputs; the version hint picks flags those versions accept', async () => {
    const r86 = await runTrtexec(onnx, fake('trt8.6', { precision: ['fp16', 'int8'], workspaceMiB: 4096, trtVersion: '8.6' }));
    expect(r86.args).toContain('--memPoolSize=workspace:4096');
    expect(r86.summary.tensorrtVersion).toBe('8.6.1');
    expect(r86.summary.enqueueBound).toBe(true);
    expect(r86.summary.latency?.percentiles).toEqual({ 90: 0.41333, 95: 0.421875, 99: 0.49707 });

    const r82 = await runTrtexec(onnx, fake('trt8.2', { precision: 'fp16', workspaceMiB: 2048, trtVersion: '8.2', skipInference: true }));
    expect(r82.args).toEqual([`--onnx=${onnx}`, '--fp16', '--workspace=2048', '--buildOnly']);
    expect(r82.summary.inferenceSkipped).toBe(true);
    expect(r82.summary.throughputQps).toBeUndefined();
    expect(r82.summary.engineBuildTimeS).toBe(158.935);
    expect(r82.summary.passed).toBe(true);
  });

  it('without the hint the TensorRT 10 syntax reaches an 8.2 trtexec, which rejects it like the real one', async () => {
    const e = await rejection(runTrtexec(onnx, fake('trt8.2', { precision: 'fp16', workspaceMiB: 2048 })));
    expect(e).toBeInstanceOf(TrtexecFailedError);
    const err = e as TrtexecFailedError;
    expect(err.exitCode).toBe(1);
    expect(err.errors).toEqual(['Unknown option: --memPoolSize workspace:2048M']);
    expect(err.message).toContain('trtexec failed with exit code 1 (TensorRT 8.2.1).');
    expect(err.message).toContain('  Unknown option: --memPoolSize workspace:2048M');
  });

  it('an unknown flag in extraArgs fails with the [E] line', async () => {
    const e = (await rejection(runTrtexec(onnx, fake('trt10', { extraArgs: ['--notAFlag=1'] })))) as TrtexecFailedError;
    expect(e).toBeInstanceOf(TrtexecFailedError);
    expect(e.errors).toEqual(['Unknown option: --notAFlag 1']);
    expect(e.tail).toContainEqual(expect.stringMatching(/^&&&& FAILED TensorRT\.trtexec \[TensorRT v100900\]/));
  });

  it('a failed build: exit code, [E] lines and the last 30 log lines in the message', async () => {
    const e = (await rejection(runTrtexec(onnx, fake('build-failure')))) as TrtexecFailedError;
    expect(e).toBeInstanceOf(TrtexecFailedError);
    expect(e.exitCode).toBe(1);
    expect(e.signal).toBeUndefined();
    expect(e.errors).toEqual([
      'Error[2]: [convBaseBuilder.cpp::createConvolution::259] Error Code 2: Internal Error (Assertion isOpConsistent(convolution.get()) failed. Cask convolution isConsistent check failed.)',
      'Engine could not be created from network',
      'Building engine failed',
      'Failed to create engine from model or file.',
      'Engine set up failed',
    ]);
    expect(e.tail).toHaveLength(30);
    expect(e.tail).toContain(`&&&& FAILED TensorRT.trtexec [TensorRT v100900] [b34] # trtexec ${e.args.join(' ')}`);
    expect(e.message).toMatch(/^trtexec failed with exit code 1 \(TensorRT 10\.9\.0\)\.\nErrors:\n  Error\[2\]/);
    expect(e.message).toContain('Last 30 lines of the log:\n');
    expect(e.message).toContain('  [11/26/2026-11:02:19] [E] Engine could not be created from network');
    expect(e.message).toContain(`Command: ${e.command}`);
    expect(e.log).toContain('Start parsing network model.');
  });

  it('a missing model file fails the way trtexec does', async () => {
    const e = (await rejection(runTrtexec(path.join(dir, 'absent.onnx'), fake('trt10')))) as TrtexecFailedError;
    expect(e).toBeInstanceOf(TrtexecFailedError);
    expect(e.errors).toContain('Failed to parse onnx file');
  });

  it('a crash (SIGSEGV) is a TrtexecFailedError naming the signal', async () => {
    const e = (await rejection(runTrtexec(onnx, fake('crash')))) as TrtexecFailedError;
    expect(e).toBeInstanceOf(TrtexecFailedError);
    expect(e.signal).toBe('SIGSEGV');
    expect(e.exitCode).toBeUndefined();
    expect(e.message).toMatch(/^trtexec crashed: killed by signal SIGSEGV/);
    expect(e.message).toContain('No [E] lines were printed.');
    expect(e.tail.at(-1)).toContain('Local timing cache in use.');
  });

  it('timeout kills trtexec', async () => {
    const started = Date.now();
    const e = (await rejection(runTrtexec(onnx, fake('hang', { timeoutMs: 400 })))) as TrtexecTimeoutError;
    expect(e).toBeInstanceOf(TrtexecTimeoutError);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(e.timeoutMs).toBe(400);
    expect(e.message).toMatch(/^trtexec did not finish within 400 ms and was killed\. Raise timeoutMs/);
    expect(e.tail.at(-1)).toContain('Local timing cache in use.');
  });

  it('AbortSignal cancels a running trtexec', async () => {
    const controller = new AbortController();
    const seen: string[] = [];
    const e = await rejection(
      runTrtexec(
        onnx,
        fake('hang', {
          signal: controller.signal,
          onLine: (line) => {
            seen.push(line);
            if (line.includes('Local timing cache in use')) controller.abort();
          },
        }),
      ),
    );
    expect(e).toBeInstanceOf(TrtexecCancelledError);
    expect((e as TrtexecCancelledError).message).toMatch(/^trtexec was cancelled after [\d.]+ s and killed\./);
    expect((e as TrtexecCancelledError).log).toContain('Local timing cache in use.');
    expect(seen.length).toBeGreaterThan(5);
  });

  it('an already-aborted signal starts nothing', async () => {
    const controller = new AbortController();
    controller.abort();
    const e = await rejection(runTrtexec(onnx, fake('trt10', { signal: controller.signal })));
    expect(e).toBeInstanceOf(TrtexecCancelledError);
    expect(existsSync(argsOut)).toBe(false);
  });

  it('onLine receives lines while trtexec is still running', async () => {
    const release = path.join(dir, 'release');
    const received: Array<[string, string, boolean]> = [];
    const r = await runTrtexec(
      onnx,
      fake('stream', {
        env: { FAKE_TRTEXEC_WAIT_FOR: release },
        onLine: (line, stream) => {
          // The stand-in cannot finish before `release` exists, and only this callback creates it.
          received.push([line, stream, existsSync(release)]);
          if (received.length === 1) void writeFile(release, '');
        },
      }),
    );
    expect(received[0]![0]).toMatch(/^&&&& RUNNING TensorRT\.trtexec/);
    expect(received[0]![2]).toBe(false);
    expect(received.length).toBe(r.log.split('\n').length);
    expect(received.filter(([l]) => l.includes('[W] * GPU compute time is unstable'))[0]![1]).toBe('stderr');
    expect(received.filter(([l]) => l.startsWith('&&&& PASSED'))[0]![1]).toBe('stdout');
    expect(r.summary.passed).toBe(true);
  });

  it('a throwing onLine callback does not break the run', async () => {
    const r = await runTrtexec(onnx, fake('trt10', { onLine: () => { throw new Error('boom'); } }));
    expect(r.summary.passed).toBe(true);
  });

  it('usage errors are raised before anything is launched', async () => {
    const e = await rejection(runTrtexec(onnx, fake('trt10', { precision: ['stronglyTyped', 'int8'] })));
    expect(e).toBeInstanceOf(TrtexecUsageError);
    expect(existsSync(argsOut)).toBe(false);
    await expect(runTrtexec(onnx, fake('trt10', { timeoutMs: 0 }))).rejects.toThrow(/timeoutMs must be a positive number/);
  });

  it('buildEngine saves next to the model by default', async () => {
    const r = await buildEngine(onnx, fake('trt10', { precision: 'fp16', skipInference: true }));
    expect(r.enginePath).toBe(path.join(dir, 'model.engine'));
    expect(r.args).toEqual([`--onnx=${onnx}`, '--fp16', `--saveEngine=${path.join(dir, 'model.engine')}`, '--skipInference']);
    expect(existsSync(r.enginePath)).toBe(true);
    expect(r.summary.inferenceSkipped).toBe(true);
  });

  it('relative paths are resolved against cwd, for trtexec and for reading the exports', async () => {
    const r = await runTrtexec('model.onnx', fake('trt10', { cwd: dir, exportLayerInfo: 'out.json' }));
    expect(r.args.slice(0, 1)).toEqual(['--onnx=model.onnx']);
    expect(r.layerInfo?.layers).toHaveLength(11);
  });
});

describe('locating trtexec', () => {
  it('TRTEXEC pointing to a missing file is an error that says where it looked and what to do', async () => {
    const e = (await rejection(
      runTrtexec(onnx, { env: { TRTEXEC: path.join(dir, 'nope', 'trtexec'), PATH: '' } }),
    )) as TrtexecNotFoundError;
    expect(e).toBeInstanceOf(TrtexecNotFoundError);
    expect(e.message).toContain(`$TRTEXEC points to ${path.join(dir, 'nope', 'trtexec')}, which is missing`);
    expect(e.message).toContain('TRTEXEC=/path/to/trtexec');
    expect(e.message).toContain('trtexecPath option');
    expect(e.searched).toEqual(['the trtexecPath option (not set)', `$TRTEXEC: ${path.join(dir, 'nope', 'trtexec')} (not found)`]);
  });

  it('an empty PATH and no well-known install', async () => {
    const e = (await rejection(
      locateTrtexec({ env: { PATH: '' }, wellKnownPaths: [path.join(dir, 'usr/src/tensorrt/bin/trtexec')] }),
    )) as TrtexecNotFoundError;
    expect(e).toBeInstanceOf(TrtexecNotFoundError);
    expect(e.searched).toEqual([
      'the trtexecPath option (not set)',
      '$TRTEXEC (not set)',
      '$PATH (empty)',
      `${path.join(dir, 'usr/src/tensorrt/bin/trtexec')} (not found)`,
    ]);
    expect(e.message).toMatch(/^trtexec \(TensorRT's command-line engine builder\) was not found: set TRTEXEC=\/path\/to\/trtexec, or the trtexecPath option .*\.\nLooked at:\n {2}- /);
    expect(e.message).toContain("NVIDIA's TensorRT containers have it at /usr/src/tensorrt/bin/trtexec");
  });

  it('finds trtexec on PATH, through TRTEXEC, and in a well-known location', async () => {
    const bin = path.join(dir, 'bin');
    await mkdir(bin);
    await symlink(FAKE_TRTEXEC, path.join(bin, 'trtexec'));
    expect(await locateTrtexec({ env: { PATH: `/nonexistent-dir${path.delimiter}${bin}` } })).toBe(path.join(bin, 'trtexec'));
    expect(await locateTrtexec({ env: { TRTEXEC: FAKE_TRTEXEC, PATH: '' } })).toBe(FAKE_TRTEXEC);
    expect(await locateTrtexec({ env: { PATH: '' }, wellKnownPaths: [path.join(bin, 'trtexec')] })).toBe(path.join(bin, 'trtexec'));
    // (the rest of PATH is kept so that the stand-in's "#!/usr/bin/env node" still finds node)
    const r = await runTrtexec(onnx, { env: { PATH: `${bin}${path.delimiter}${process.env.PATH ?? ''}`, FAKE_TRTEXEC_SCENARIO: 'trt10' } });
    expect(r.trtexecPath).toBe(path.join(bin, 'trtexec'));
  });

  it('a file that is not executable is reported as such', async () => {
    const file = path.join(dir, 'trtexec');
    await writeFile(file, '#!/bin/sh\n');
    await chmod(file, 0o644);
    await expect(locateTrtexec({ trtexecPath: file, env: {} })).rejects.toThrow(/points to .* which is not executable/);
  });
});
