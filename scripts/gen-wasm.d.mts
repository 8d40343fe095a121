/** count-bins.wat as wabt compiles it. */
export function compileCountBins(): Promise<Uint8Array>;
/** assembly/sweeps.ts as AssemblyScript compiles it. */
export function compileSweeps(): Promise<Uint8Array>;
/** weight-extrema.wat as wabt compiles it. */
export function compileWeightExtrema(): Promise<Uint8Array>;
/** quantize-weights.wat as wabt compiles it. */
export function compileQuantizeWeights(): Promise<Uint8Array>;
/** scale-channels.wat as wabt compiles it. */
export function compileScaleChannels(): Promise<Uint8Array>;
/** adamw.wat as wabt compiles it. */
export function compileAdamW(): Promise<Uint8Array>;
