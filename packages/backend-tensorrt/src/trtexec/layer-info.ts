/**
 * Parses the engine layer information (`trtexec --exportLayerInfo=f.json`) and the per-layer
 * profile (`--exportProfile=f.json`).
 *
 * Layer information with `--profilingVerbosity=detailed`:
 *   {"Layers": [{"Name", "LayerType", "Inputs": [{"Name", "Location", "Dimensions",
 *    "Format/Datatype"}], "Outputs": [...], "Weights": {"Type", "Count"}, "Origin",
 *    "TacticName", "TacticValue", "Metadata", ...}], "Bindings": ["input", "output"]}
 * Without it (`layer_names_only`) "Layers" is a list of names only; precisions are then unknown.
 *
 * "Format/Datatype" is a sentence ("Row major linear FP32", "Channel major FP16 format where
 * channel % 8 == 0", "Thirty-two wide channel vectorized row major Int8 format"), TensorRT 10's
 * compiler back-end prints a bare type ("Float", "Half", "Int8"), compact tools print
 * "Int8 NC/32HW32", and dynamic shapes give "N/A due to dynamic shapes".
 *
 * Definitions used by the summary:
 * - a layer's precision: INT8 when its weights are Int8, otherwise the type of the first input
 *   whose type is known (the activation it computes on), otherwise its first output's type;
 *   for a Reformat layer the type it produces;
 * - reformat layers: LayerType "Reformat" or a name containing "Reformatting CopyNode";
 * - compute layers: every layer except reformats and pure data-movement layers (Shuffle, NoOp,
 *   Constant, Identity);
 * - INT8 share: INT8 compute layers / compute layers whose precision is known (null if none).
 *
 * Profile: `[{"count": N}, {"name", "timeMs", "averageMs", "medianMs", "percentage"}, …]`
 * (`medianMs` appeared in TensorRT 8.5).
 */

export type TensorPrecision =
  | 'INT8'
  | 'UINT8'
  | 'INT4'
  | 'FP8'
  | 'FP4'
  | 'FP16'
  | 'BF16'
  | 'FP32'
  | 'FP64'
  | 'INT32'
  | 'INT64'
  | 'BOOL'
  | 'UNKNOWN';

export interface LayerTensor {
  readonly name: string;
  readonly location?: string;
  readonly dimensions?: readonly number[];
  /** The raw "Format/Datatype" string. */
  readonly format?: string;
  readonly precision: TensorPrecision;
}

export type ReformatKind = 'quantize' | 'dequantize' | 'precision' | 'layout' | 'unknown';

export interface ReformatInfo {
  /** quantize: → INT8; dequantize: INT8 →; precision: another type change; layout: same type, other format. */
  readonly kind: ReformatKind;
  readonly from: { readonly precision: TensorPrecision; readonly format?: string; readonly tensor?: string };
  readonly to: { readonly precision: TensorPrecision; readonly format?: string; readonly tensor?: string };
  /** The layer producing the reformatted tensor (undefined for a network input). */
  readonly producer?: string;
  /** The layers consuming the result (empty for a network output). */
  readonly consumers: readonly string[];
  /** "QDQ" (a Q/DQ node became a reformat) or "REFORMAT" (TensorRT inserted it), when given. */
  readonly origin?: string;
  /** One sentence: what changes, between which neighbours. */
  readonly reason: string;
}

export interface EngineLayer {
  readonly index: number;
  readonly name: string;
  /** LayerType ("CaskConvolution", "Reformat", "kgen", …); "Unknown" without detailed verbosity. */
  readonly type: string;
  readonly precision: TensorPrecision;
  readonly inputs: readonly LayerTensor[];
  readonly outputs: readonly LayerTensor[];
  readonly isReformat: boolean;
  readonly isCompute: boolean;
  readonly weightsType?: string;
  readonly tacticName?: string;
  readonly tacticValue?: string;
  readonly origin?: string;
  readonly metadata?: string;
  readonly reformat?: ReformatInfo;
}

export interface LayerInfoSummary {
  readonly totalLayers: number;
  readonly computeLayers: number;
  readonly reformatLayers: number;
  /** Reformats that change the data type (quantize / dequantize / precision). */
  readonly precisionReformats: number;
  /** All layers by precision (only non-zero entries). */
  readonly byPrecision: Readonly<Partial<Record<TensorPrecision, number>>>;
  /** Compute layers by precision (only non-zero entries). */
  readonly computeByPrecision: Readonly<Partial<Record<TensorPrecision, number>>>;
  readonly int8ComputeLayers: number;
  /** INT8 compute layers / compute layers of known precision, 0…1; null when none is known. */
  readonly int8Share: number | null;
  readonly unknownPrecisionLayers: number;
}

export interface EngineLayerInfo {
  /** false when the file only lists layer names (profilingVerbosity was not detailed). */
  readonly detailed: boolean;
  readonly layers: readonly EngineLayer[];
  readonly bindings: readonly string[];
  readonly summary: LayerInfoSummary;
}

export interface LayerProfileEntry {
  readonly name: string;
  readonly timeMs: number;
  readonly averageMs: number;
  readonly medianMs?: number;
  readonly percentage: number;
}

export interface EngineProfile {
  /** Number of profiled iterations (`{"count": N}`). */
  readonly count?: number;
  readonly layers: readonly LayerProfileEntry[];
  /** Sum of `averageMs` over layers. */
  readonly totalAverageMs: number;
  /** Sum of `averageMs` over reformat layers (recognised by name, or by `layerInfo` when given). */
  readonly reformatAverageMs: number;
}

const NON_COMPUTE_TYPES = new Set(['reformat', 'shuffle', 'noop', 'constant', 'identity']);

/** Maps a "Format/Datatype" string (or a weights type such as "Int8"/"Half"/"Float") to a precision. */
export function formatPrecision(format: string | undefined): TensorPrecision {
  if (format === undefined) return 'UNKNOWN';
  const f = format.replace(/\.+$/, '').trim();
  if (f.length === 0 || /^N\/A\b/i.test(f) || /^unknown/i.test(f) || /^none$/i.test(f)) return 'UNKNOWN';
  const tests: ReadonlyArray<[RegExp, TensorPrecision]> = [
    [/\bu(?:nsigned\s*)?int8\b/i, 'UINT8'],
    [/\bint8\b/i, 'INT8'],
    [/\bint4\b/i, 'INT4'],
    [/\b(?:fp8|e4m3|e5m2)\b/i, 'FP8'],
    [/\bfp4\b/i, 'FP4'],
    [/\b(?:bfloat16|bf16)\b/i, 'BF16'],
    [/\b(?:fp16|half)\b/i, 'FP16'],
    [/\b(?:fp64|double)\b/i, 'FP64'],
    [/\b(?:fp32|float)\b/i, 'FP32'],
    [/\bint32\b/i, 'INT32'],
    [/\bint64\b/i, 'INT64'],
    [/\bbool\b/i, 'BOOL'],
  ];
  for (const [re, p] of tests) if (re.test(f)) return p;
  return 'UNKNOWN';
}

function isReformatLayer(name: string, type: string): boolean {
  return type.toLowerCase() === 'reformat' || name.includes('Reformatting CopyNode');
}

function asRecord(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function tensors(v: unknown): LayerTensor[] {
  if (!Array.isArray(v)) return [];
  return v.map((t): LayerTensor => {
    if (typeof t === 'string') return { name: t, precision: 'UNKNOWN' };
    const r = asRecord(t) ?? {};
    const format = str(r['Format/Datatype']);
    const dims = Array.isArray(r['Dimensions']) ? (r['Dimensions'] as unknown[]).filter((d): d is number => typeof d === 'number') : undefined;
    const out: { name: string; location?: string; dimensions?: number[]; format?: string; precision: TensorPrecision } = {
      name: str(r['Name']) ?? '',
      precision: formatPrecision(format),
    };
    const location = str(r['Location']);
    if (location !== undefined) out.location = location;
    if (dims !== undefined) out.dimensions = dims;
    if (format !== undefined) out.format = format;
    return out;
  });
}

function firstKnown(ts: readonly LayerTensor[]): TensorPrecision {
  return ts.find((t) => t.precision !== 'UNKNOWN')?.precision ?? 'UNKNOWN';
}

/** Parses `--exportLayerInfo` JSON (text or already-parsed value). */
export function parseLayerInfo(json: string | unknown): EngineLayerInfo {
  const data: unknown = typeof json === 'string' ? JSON.parse(json) : json;
  const root = asRecord(data);
  if (!root || !Array.isArray(root['Layers'])) {
    throw new Error('Not a trtexec layer-information file: expected an object with a "Layers" array.');
  }
  const rawLayers = root['Layers'] as unknown[];
  const bindings = Array.isArray(root['Bindings'])
    ? (root['Bindings'] as unknown[]).map((b) => (typeof b === 'string' ? b : str(asRecord(b)?.['Name']) ?? '')).filter((b) => b !== '')
    : [];

  let detailed = false;
  const base = rawLayers.map((entry, index) => {
    if (typeof entry === 'string') {
      return { index, name: entry, type: 'Unknown', inputs: [] as LayerTensor[], outputs: [] as LayerTensor[], r: undefined };
    }
    const r = asRecord(entry) ?? {};
    if (r['LayerType'] !== undefined || r['Inputs'] !== undefined) detailed = true;
    return {
      index,
      name: str(r['Name']) ?? `layer ${index}`,
      type: str(r['LayerType']) ?? 'Unknown',
      inputs: tensors(r['Inputs']),
      outputs: tensors(r['Outputs']),
      r,
    };
  });

  const producerOf = new Map<string, number>();
  const consumersOf = new Map<string, number[]>();
  for (const l of base) {
    for (const t of l.outputs) if (t.name) producerOf.set(t.name, l.index);
    for (const t of l.inputs) if (t.name) consumersOf.set(t.name, [...(consumersOf.get(t.name) ?? []), l.index]);
  }

  const layers: EngineLayer[] = base.map((l) => {
    const r = l.r;
    const isReformat = isReformatLayer(l.name, l.type);
    const weightsType = str(asRecord(r?.['Weights'])?.['Type']);
    const weightsPrecision = formatPrecision(weightsType);
    let precision: TensorPrecision;
    if (isReformat) precision = firstKnown(l.outputs);
    else if (weightsPrecision === 'INT8' || weightsPrecision === 'FP8' || weightsPrecision === 'INT4' || weightsPrecision === 'FP4') precision = weightsPrecision;
    else {
      precision = firstKnown(l.inputs);
      if (precision === 'UNKNOWN') precision = firstKnown(l.outputs);
      if (precision === 'UNKNOWN') precision = weightsPrecision;
    }
    const out: {
      -readonly [K in keyof EngineLayer]: EngineLayer[K];
    } = {
      index: l.index,
      name: l.name,
      type: l.type,
      precision,
      inputs: l.inputs,
      outputs: l.outputs,
      isReformat,
      isCompute: !isReformat && !NON_COMPUTE_TYPES.has(l.type.toLowerCase()),
    };
    if (weightsType !== undefined) out.weightsType = weightsType;
    const tacticName = str(r?.['TacticName']);
    if (tacticName !== undefined) out.tacticName = tacticName;
    const tacticValue = str(r?.['TacticValue']);
    if (tacticValue !== undefined) out.tacticValue = tacticValue;
    const origin = str(r?.['Origin']);
    if (origin !== undefined) out.origin = origin;
    const metadata = str(r?.['Metadata']);
    if (metadata !== undefined) out.metadata = metadata;
    if (isReformat) out.reformat = describeReformat(l, origin, base, producerOf, consumersOf);
    return out;
  });

  return { detailed, layers, bindings, summary: summarize(layers) };
}

function describeReformat(
  l: { index: number; name: string; inputs: LayerTensor[]; outputs: LayerTensor[] },
  origin: string | undefined,
  all: ReadonlyArray<{ name: string }>,
  producerOf: ReadonlyMap<string, number>,
  consumersOf: ReadonlyMap<string, number[]>,
): ReformatInfo {
  const input = l.inputs[0];
  const output = l.outputs[0];
  const fromP = input?.precision ?? 'UNKNOWN';
  const toP = output?.precision ?? 'UNKNOWN';
  let producer = input?.name !== undefined && producerOf.has(input.name) ? all[producerOf.get(input.name)!]!.name : undefined;
  let consumers = output?.name !== undefined ? (consumersOf.get(output.name) ?? []).map((i) => all[i]!.name) : [];
  // Without tensor details the name still says which side it serves.
  const byName = /Reformatting CopyNode for (Input|Output) Tensor \d+ to (.+)$/.exec(l.name);
  if (byName) {
    if (byName[1] === 'Input' && consumers.length === 0) consumers = [byName[2]!];
    if (byName[1] === 'Output' && producer === undefined) producer = byName[2]!;
  }
  let kind: ReformatKind;
  if (fromP === 'UNKNOWN' || toP === 'UNKNOWN') kind = 'unknown';
  else if (fromP !== toP) kind = toP === 'INT8' ? 'quantize' : fromP === 'INT8' ? 'dequantize' : 'precision';
  else kind = 'layout';

  const change =
    kind === 'unknown'
      ? 'format change (types not recorded)'
      : kind === 'layout'
        ? `${fromP} layout change (${input?.format ?? '?'} → ${output?.format ?? '?'})`
        : `${fromP} → ${toP} ${kind === 'precision' ? 'conversion' : kind} (${input?.format ?? '?'} → ${output?.format ?? '?'})`;
  const left = producer !== undefined ? `"${producer}"` : input?.name ? `network input "${input.name}"` : 'its producer';
  const right = consumers.length > 0 ? consumers.map((c) => `"${c}"`).join(', ') : output?.name ? `network output "${output.name}"` : 'its consumer';
  const reason = `${change} between ${left} and ${right}${origin === 'QDQ' ? ' (from a Q/DQ node)' : ''}`;

  const from: { precision: TensorPrecision; format?: string; tensor?: string } = { precision: fromP };
  if (input?.format !== undefined) from.format = input.format;
  if (input?.name) from.tensor = input.name;
  const to: { precision: TensorPrecision; format?: string; tensor?: string } = { precision: toP };
  if (output?.format !== undefined) to.format = output.format;
  if (output?.name) to.tensor = output.name;
  const info: { -readonly [K in keyof ReformatInfo]: ReformatInfo[K] } = { kind, from, to, consumers, reason };
  if (producer !== undefined) info.producer = producer;
  if (origin !== undefined) info.origin = origin;
  return info;
}

function count(layers: readonly EngineLayer[]): Partial<Record<TensorPrecision, number>> {
  const out: Partial<Record<TensorPrecision, number>> = {};
  for (const l of layers) out[l.precision] = (out[l.precision] ?? 0) + 1;
  return out;
}

function summarize(layers: readonly EngineLayer[]): LayerInfoSummary {
  const compute = layers.filter((l) => l.isCompute);
  const known = compute.filter((l) => l.precision !== 'UNKNOWN');
  const int8 = compute.filter((l) => l.precision === 'INT8').length;
  const reformats = layers.filter((l) => l.isReformat);
  return {
    totalLayers: layers.length,
    computeLayers: compute.length,
    reformatLayers: reformats.length,
    precisionReformats: reformats.filter((l) => l.reformat && ['quantize', 'dequantize', 'precision'].includes(l.reformat.kind)).length,
    byPrecision: count(layers),
    computeByPrecision: count(compute),
    int8ComputeLayers: int8,
    int8Share: known.length === 0 ? null : int8 / known.length,
    unknownPrecisionLayers: layers.filter((l) => l.precision === 'UNKNOWN').length,
  };
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** Parses `--exportProfile` JSON (text or already-parsed value). */
export function parseProfile(json: string | unknown, layerInfo?: EngineLayerInfo): EngineProfile {
  const data: unknown = typeof json === 'string' ? JSON.parse(json) : json;
  if (!Array.isArray(data)) {
    throw new Error('Not a trtexec profile file: expected a JSON array ([{"count": N}, {"name", "timeMs", …}, …]).');
  }
  let countValue: number | undefined;
  const layers: LayerProfileEntry[] = [];
  for (const item of data) {
    const r = asRecord(item);
    if (!r) continue;
    const name = str(r['name']);
    if (name === undefined) {
      const c = num(r['count']);
      if (c !== undefined) countValue = c;
      continue;
    }
    const entry: { -readonly [K in keyof LayerProfileEntry]: LayerProfileEntry[K] } = {
      name,
      timeMs: num(r['timeMs']) ?? 0,
      averageMs: num(r['averageMs']) ?? 0,
      percentage: num(r['percentage']) ?? 0,
    };
    const median = num(r['medianMs']);
    if (median !== undefined) entry.medianMs = median;
    layers.push(entry);
  }
  const reformatNames = new Set(layerInfo?.layers.filter((l) => l.isReformat).map((l) => l.name) ?? []);
  const isReformat = (n: string) => reformatNames.has(n) || n.includes('Reformatting CopyNode');
  const out: { -readonly [K in keyof EngineProfile]: EngineProfile[K] } = {
    layers,
    totalAverageMs: layers.reduce((a, l) => a + l.averageMs, 0),
    reformatAverageMs: layers.filter((l) => isReformat(l.name)).reduce((a, l) => a + l.averageMs, 0),
  };
  if (countValue !== undefined) out.count = countValue;
  return out;
}
