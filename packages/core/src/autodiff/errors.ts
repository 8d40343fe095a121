/**
 * A node on a path from a trainable value to the loss has an op type with no gradient
 * builder. Thrown by buildGradientGraph before any node is added, so nothing runs.
 */
export class MissingGradientError extends Error {
  readonly opType: string;
  readonly nodeName: string;

  constructor(opType: string, nodeName: string) {
    super(`no gradient builder for ${opType} node "${nodeName}": it lies between a trainable value and the loss (register one with registerGradient('${opType}', …))`);
    this.name = 'MissingGradientError';
    this.opType = opType;
    this.nodeName = nodeName;
  }
}
