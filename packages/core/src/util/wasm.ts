/** The part of the WebAssembly API used here (the TS lib in use does not declare it). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}

/**
 * The exports of a small WebAssembly module, compiled and instantiated synchronously (fine
 * for a few KB); null where WebAssembly is missing (node --jitless), not allowed, or lacks
 * a feature the module uses — callers then take their JavaScript path.
 */
export function instantiateWasm<T>(bytes: Uint8Array, imports: object = {}): T | null {
  const api = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
  if (api === undefined) return null;
  try {
    return new api.Instance(new api.Module(bytes), imports).exports as unknown as T;
  } catch {
    return null;
  }
}
