import type { CheckFinding, Node } from '@qdeploy/core';
import type { CheckContext } from './context.js';

/** One placement rule: reads the analysed model, returns its findings. */
export interface CheckRule {
  /** Short identifier (the file under rules/). */
  readonly name: string;
  readonly description: string;
  run(ctx: CheckContext): CheckFinding[];
}

export type Severity = CheckFinding['severity'];

/** A finding about a node (or about the model when `node` is null). */
export function finding(ctx: CheckContext, severity: Severity, code: string, node: Node | string | null, message: string): CheckFinding {
  const f: CheckFinding = { severity, code, message };
  if (node) f.node = typeof node === 'string' ? node : ctx.label(node);
  return f;
}

/** `Conv "name"` for messages. */
export function describe(ctx: CheckContext, n: Node): string {
  return `${n.opType} "${ctx.label(n)}"`;
}
