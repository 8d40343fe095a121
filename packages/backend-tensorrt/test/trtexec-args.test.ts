import { describe, expect, it } from 'vitest';

import {
  buildTrtexecArgs,
  formatCommand,
  parseTrtVersionHint,
  quoteTensorName,
  TrtexecUsageError,
  type BuildOptions,
} from '../src/trtexec/index.js';

const refused = (options: BuildOptions, message: RegExp | string, onnx = 'model.onnx') => {
  expect(() => buildTrtexecArgs(onnx, options)).toThrow(TrtexecUsageError);
  expect(() => buildTrtexecArgs(onnx, options)).toThrow(message);
};

describe('buildTrtexecArgs: exact argument vectors', () => {
  it('defaults to --best', () => {
    expect(buildTrtexecArgs('model.onnx')).toEqual(['--onnx=model.onnx', '--best']);
  });

  it.each<[BuildOptions['precision'], string[]]>([
    ['best', ['--best']],
    ['int8', ['--int8']],
    ['fp16', ['--fp16']],
    ['fp32', []],
    ['stronglyTyped', ['--stronglyTyped']],
    [['fp16', 'int8'], ['--fp16', '--int8']],
    [['int8', 'fp16'], ['--fp16', '--int8']],
    [['int8', 'int8'], ['--int8']],
  ])('precision %j', (precision, flags) => {
    expect(buildTrtexecArgs('m.onnx', { precision })).toEqual(['--onnx=m.onnx', ...flags]);
  });

  it('fixed shapes for several inputs, quoting names the way trtexec expects', () => {
    expect(
      buildTrtexecArgs('m.onnx', {
        shapes: { input: [32, 3, 224, 224], other: [1, 10], 'input.1': [1, 3, 224, 224], 'ids:0': [8, 128] },
      }),
    ).toEqual(['--onnx=m.onnx', '--best', "--shapes=input:32x3x224x224,other:1x10,'input.1':1x3x224x224,'ids:0':8x128"]);
  });

  it('ranges for a dynamic batch; a fixed input joins min/opt/max; inference shapes go to --shapes', () => {
    expect(
      buildTrtexecArgs('m.onnx', {
        precision: 'int8',
        shapes: {
          images: { min: [1, 3, 640, 640], opt: [8, 3, 640, 640], max: [16, 3, 640, 640] },
          scale: [1, 2],
        },
        inferenceShapes: { images: [4, 3, 640, 640] },
      }),
    ).toEqual([
      '--onnx=m.onnx',
      '--int8',
      '--minShapes=images:1x3x640x640,scale:1x2',
      '--optShapes=images:8x3x640x640,scale:1x2',
      '--maxShapes=images:16x3x640x640,scale:1x2',
      '--shapes=images:4x3x640x640',
    ]);
  });

  it('a pre-quoted name is not quoted twice', () => {
    expect(buildTrtexecArgs('m.onnx', { shapes: { "'input.1'": [1, 3] } })).toEqual([
      '--onnx=m.onnx',
      '--best',
      "--shapes='input.1':1x3",
    ]);
  });

  it('workspace syntax follows the TensorRT version hint', () => {
    expect(buildTrtexecArgs('m.onnx', { workspaceMiB: 4096 })).toContain('--memPoolSize=workspace:4096M');
    expect(buildTrtexecArgs('m.onnx', { workspaceMiB: 4096, trtVersion: '10.9' })).toContain('--memPoolSize=workspace:4096M');
    expect(buildTrtexecArgs('m.onnx', { workspaceMiB: 4096, trtVersion: '8.6' })).toContain('--memPoolSize=workspace:4096');
    expect(buildTrtexecArgs('m.onnx', { workspaceMiB: 4096, trtVersion: '8.4.3' })).toContain('--memPoolSize=workspace:4096');
    expect(buildTrtexecArgs('m.onnx', { workspaceMiB: 2048, trtVersion: '8.2.1' })).toContain('--workspace=2048');
    expect(buildTrtexecArgs('m.onnx', { workspaceMiB: 2048, trtVersion: '8' })).toContain('--workspace=2048');
    expect(buildTrtexecArgs('m.onnx', { workspaceMiB: 2048, trtVersion: '7.2' })).toContain('--workspace=2048');
  });

  it('layer info and profile exports force detailed verbosity and a separate profile run', () => {
    expect(
      buildTrtexecArgs('m.onnx', {
        precision: 'best',
        saveEngine: 'm.engine',
        exportLayerInfo: 'layers.json',
        exportProfile: 'profile.json',
      }),
    ).toEqual([
      '--onnx=m.onnx',
      '--best',
      '--saveEngine=m.engine',
      '--profilingVerbosity=detailed',
      '--exportLayerInfo=layers.json',
      '--exportProfile=profile.json',
      '--separateProfileRun',
    ]);
    expect(buildTrtexecArgs('m.onnx', { exportLayerInfo: 'l.json', profilingVerbosity: 'detailed' })).toEqual([
      '--onnx=m.onnx',
      '--best',
      '--profilingVerbosity=detailed',
      '--exportLayerInfo=l.json',
    ]);
    expect(buildTrtexecArgs('m.onnx', { profilingVerbosity: 'none' })).toEqual([
      '--onnx=m.onnx',
      '--best',
      '--profilingVerbosity=none',
    ]);
  });

  it('benchmark flags in a fixed order, extra arguments last', () => {
    expect(
      buildTrtexecArgs('m.onnx', {
        precision: ['fp16', 'int8'],
        shapes: { x: [1, 3, 224, 224] },
        workspaceMiB: 1024,
        saveEngine: 'out/m.plan',
        useCudaGraph: true,
        useSpinWait: true,
        noDataTransfers: true,
        duration: 10,
        iterations: 200,
        warmUp: 500,
        avgRuns: 100,
        extraArgs: ['--verbose', '--timingCacheFile=t.cache', '--staticPlugins=a.so', '--staticPlugins=b.so'],
      }),
    ).toEqual([
      '--onnx=m.onnx',
      '--fp16',
      '--int8',
      '--shapes=x:1x3x224x224',
      '--memPoolSize=workspace:1024M',
      '--saveEngine=out/m.plan',
      '--useCudaGraph',
      '--useSpinWait',
      '--noDataTransfers',
      '--warmUp=500',
      '--iterations=200',
      '--duration=10',
      '--avgRuns=100',
      '--verbose',
      '--timingCacheFile=t.cache',
      '--staticPlugins=a.so',
      '--staticPlugins=b.so',
    ]);
  });

  it('false booleans and warmUp=0', () => {
    expect(buildTrtexecArgs('m.onnx', { useCudaGraph: false, useSpinWait: false, noDataTransfers: false, warmUp: 0 })).toEqual([
      '--onnx=m.onnx',
      '--best',
      '--warmUp=0',
    ]);
  });

  it('skipInference is --skipInference from 8.6 and --buildOnly before', () => {
    expect(buildTrtexecArgs('m.onnx', { skipInference: true, saveEngine: 'm.engine' })).toEqual([
      '--onnx=m.onnx',
      '--best',
      '--saveEngine=m.engine',
      '--skipInference',
    ]);
    expect(buildTrtexecArgs('m.onnx', { skipInference: true, trtVersion: '8.6.1' })).toContain('--skipInference');
    expect(buildTrtexecArgs('m.onnx', { skipInference: true, trtVersion: '8.5' })).toContain('--buildOnly');
    expect(buildTrtexecArgs('m.onnx', { skipInference: true, exportLayerInfo: 'l.json' })).toEqual([
      '--onnx=m.onnx',
      '--best',
      '--profilingVerbosity=detailed',
      '--exportLayerInfo=l.json',
      '--skipInference',
    ]);
  });

  it('paths with spaces stay one argument (no shell is involved)', () => {
    expect(buildTrtexecArgs('my models/m 1.onnx', { saveEngine: 'out dir/m.engine' })).toEqual([
      '--onnx=my models/m 1.onnx',
      '--best',
      '--saveEngine=out dir/m.engine',
    ]);
  });
});

describe('buildTrtexecArgs: refused before launch', () => {
  it.each<[BuildOptions['precision'], RegExp]>([
    [['stronglyTyped', 'int8'], /stronglyTyped' cannot be combined with int8/],
    [['stronglyTyped', 'best'], /rejects --best with --stronglyTyped/],
    [['stronglyTyped', 'fp16'], /cannot be combined with fp16/],
    [['best', 'int8'], /'best' already enables FP16 and INT8/],
    [['fp32', 'fp16'], /'fp32' means "no reduced-precision flag"/],
    [[], /empty array/],
    ['int4' as never, /Unknown precision "int4"/],
  ])('precision %j', (precision, message) => refused({ precision }, message));

  it('stronglyTyped needs TensorRT 10', () => refused({ precision: 'stronglyTyped', trtVersion: '8.6' }, /needs TensorRT 10/));

  it('min > opt, opt > max, mismatched ranks, missing bound', () => {
    refused({ shapes: { x: { min: [8, 3], opt: [4, 3], max: [16, 3] } } }, /min > opt at dimension 0 \(8 > 4\)/);
    refused({ shapes: { x: { min: [1, 3], opt: [32, 3], max: [16, 3] } } }, /opt > max at dimension 0 \(32 > 16\)/);
    refused({ shapes: { x: { min: [1, 3, 224], opt: [1, 3], max: [1, 3] } } }, /mismatched ranks: min 1x3x224 \(rank 3\)/);
    refused({ shapes: { x: { min: [1, 3], opt: [1, 3] } as never } }, /lacks max/);
  });

  it('non-positive, fractional, dynamic or empty dimensions', () => {
    refused({ shapes: { x: [0, 3] } }, /every dimension must be a positive integer \(0 is not\)/);
    refused({ shapes: { x: [-1, 3, 224, 224] } }, /\(-1 is not\)\. Dynamic \(-1\) dimensions need a \{min, opt, max\} range/);
    refused({ shapes: { x: [1.5, 3] } }, /positive integer \(1.5 is not\)/);
    refused({ shapes: { x: [] } }, /rank 0/);
    refused({ shapes: { x: { min: [1, 0], opt: [1, 1], max: [1, 1] } } }, /min of input "x"/);
  });

  it('fixed shape and range for the same input', () => {
    refused({ shapes: { 'input.1': [1, 3], "'input.1'": { min: [1, 3], opt: [2, 3], max: [4, 3] } } }, /both a fixed shape and a range/);
    refused({ shapes: { x: { min: [1], opt: [1], max: [1], dims: [1] } as never } }, /mixes a range with other keys \(dims\)/);
    refused(
      { shapes: { x: [1, 3], y: { min: [1], opt: [2], max: [4] } }, inferenceShapes: { x: [1, 3] } },
      /input "x" has a fixed shape in shapes \(1x3\); a fixed shape and a run shape for the same input contradict/,
    );
    refused({ shapes: { x: [1, 3] }, inferenceShapes: { x: [1, 3] } }, /inferenceShapes only applies to inputs built with a \{min, opt, max\} range/);
    refused({ shapes: { x: { min: [1], opt: [2], max: [4] } }, inferenceShapes: { x: [8] } }, /outside its range 1 … 4/);
    refused({ shapes: { x: { min: [1], opt: [2], max: [4] } }, inferenceShapes: { y: [2] } }, /"y" is not in shapes/);
  });

  it('names trtexec cannot address', () => {
    refused({ shapes: { 'a,b': [1] } }, /contains ","/);
    refused({ shapes: { "it's": [1] } }, /contains a single quote/);
    refused({ shapes: { '': [1] } }, /empty/);
  });

  it('extraArgs that duplicate a managed flag, repeat a flag, or are not flags', () => {
    refused({ extraArgs: ['--fp16'] }, /--fp16 is managed by this module; use precision: 'fp16'/);
    refused({ extraArgs: ['--shapes=x:1x3'] }, /--shapes is managed by this module; use shapes \/ inferenceShapes/);
    refused({ extraArgs: ['--memPoolSize=workspace:1G'] }, /use workspaceMiB/);
    refused({ extraArgs: ['--workspace=1024'] }, /use workspaceMiB/);
    refused({ extraArgs: ['--loadEngine=a.engine'] }, /--loadEngine would conflict with --onnx/);
    refused({ extraArgs: ['--separateProfileRun'] }, /use exportProfile/);
    refused({ extraArgs: ['--verbose', '--verbose'] }, /--verbose is given twice/);
    refused({ extraArgs: ['model.onnx'] }, /is not a trtexec flag/);
    refused({ extraArgs: ['--help'] }, /only prints usage/);
    refused({ precision: 'stronglyTyped', extraArgs: ['--bf16'] }, /--bf16 cannot be used with precision 'stronglyTyped'/);
  });

  it('contradictory exports and skipInference', () => {
    refused({ exportLayerInfo: 'l.json', profilingVerbosity: 'layer_names_only' }, /contradicts exportLayerInfo, which needs 'detailed'/);
    refused({ exportLayerInfo: 'same.json', exportProfile: 'same.json' }, /name the same file/);
    refused({ skipInference: true, exportProfile: 'p.json' }, /skipInference contradicts exportProfile.*no per-layer profile/);
    refused({ skipInference: true, useCudaGraph: true, duration: 5 }, /skipInference contradicts useCudaGraph, duration/);
    refused({ skipInference: true, trtVersion: '8' }, /ambiguous for skipInference/);
    refused({ exportLayerInfo: 'l.json', trtVersion: '8.2' }, /exportLayerInfo needs TensorRT 8.4/);
    refused({ saveEngine: 'model.onnx' }, /overwrite the model/);
    refused({ exportLayerInfo: 'model.onnx' }, /would overwrite the ONNX model/);
  });

  it('bad numbers and paths', () => {
    refused({ workspaceMiB: 0 }, /workspaceMiB must be a positive integer/);
    refused({ duration: 0.5 }, /duration must be a positive integer/);
    refused({ duration: -1 }, /run forever is not supported/);
    refused({ iterations: 0 }, /iterations must be a positive integer/);
    refused({ warmUp: -5 }, /warmUp must be a non-negative integer/);
    refused({ avgRuns: 2.5 }, /avgRuns must be a positive integer/);
    refused({ saveEngine: '' }, /saveEngine must be a non-empty file path/);
    refused({}, /onnxPath must be a non-empty file path/, '');
    refused({ trtVersion: 'latest' }, /not a TensorRT version/);
  });
});

describe('helpers', () => {
  it('quoteTensorName', () => {
    expect(quoteTensorName('input_0')).toBe('input_0');
    expect(quoteTensorName('input.1')).toBe("'input.1'");
    expect(quoteTensorName('Input:0')).toBe("'Input:0'");
    expect(quoteTensorName('/model/x')).toBe("'/model/x'");
  });

  it('parseTrtVersionHint', () => {
    expect(parseTrtVersionHint(undefined)).toEqual({ major: 10, minor: undefined, text: '10' });
    expect(parseTrtVersionHint('8.6.1.6')).toEqual({ major: 8, minor: 6, text: '8.6.1.6' });
  });

  it('formatCommand quotes for a POSIX shell', () => {
    expect(formatCommand('/opt/trt/bin/trtexec', ['--onnx=a b.onnx', "--shapes='input.1':1x3", '--best'])).toBe(
      `/opt/trt/bin/trtexec '--onnx=a b.onnx' '--shapes='\\''input.1'\\'':1x3' --best`,
    );
  });
});
