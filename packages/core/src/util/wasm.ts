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
function instantiateWasm<T>(bytes: Uint8Array, imports: object = {}): T | null {
  const api = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
  if (api === undefined) return null;
  try {
    return new api.Instance(new api.Module(bytes), imports).exports as unknown as T;
  } catch {
    return null;
  }
}

/**
 * A WebAssembly kernel made on first use, once per process: `make` over the exports of
 * the instantiated module, or null where `instantiateWasm` cannot give them. Kernels are
 * synchronous, so one instance serves every caller.
 */
export function lazyWasm<E, K>(bytes: Uint8Array, make: (exports: E) => K, imports: object = {}): () => K | null {
  let kernel: K | null | undefined; // undefined: not tried yet
  return () => {
    if (kernel === undefined) {
      const x = instantiateWasm<E>(bytes, imports);
      kernel = x === null ? null : make(x);
    }
    return kernel;
  };
}
