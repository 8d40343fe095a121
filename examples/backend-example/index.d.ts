import type { Backend, Pattern, QdeployPlugin } from '@qdeploy/core';

export declare const ConvAct: Pattern;
export declare const Linear: Pattern;
export declare const EXAMPLE_PATTERNS: Pattern[];
export declare const exampleBackend: Backend;
declare const plugin: QdeployPlugin;
export default plugin;
