/** The exclusion flags quantize, inspect, analyze and tune share, merged into the config's quant settings. */
import type { Command } from 'commander';
import type { QuantSettings } from '../config/types.js';

export interface ExcludeFlags {
  excludeNodes?: string[];
  excludeOpTypes?: string[];
  excludePatterns?: string[];
  excludeMatches?: string[];
  nodes_to_exclude?: string[];
  op_types_to_exclude?: string[];
}

/** Comma-separated and repeatable; a "/regex/" is kept whole (it may hold commas). */
export function nameList(value: string, previous: string[] = []): string[] {
  const v = value.trim();
  if (/^\/.*\/[dimsuy]*$/.test(v)) return [...previous, v];
  return [...previous, ...v.split(',').map((x) => x.trim()).filter(Boolean)];
}

export function addExcludeOptions(cmd: Command): Command {
  return cmd
    .option('--exclude-nodes <names>', 'keep in float the matches holding these nodes: names or /regex/ (comma-separated, repeatable)', nameList)
    .option('--exclude-op-types <ops>', 'keep in float the matches holding these op types, e.g. Gemm (comma-separated, repeatable)', nameList)
    .option('--exclude-patterns <names>', 'keep in float the matches of these patterns, e.g. ConvBNAdd (comma-separated, repeatable)', nameList)
    .option('--exclude-matches <ids>', 'keep in float these matches (ids = anchor node names, as inspect and analyze print them)', nameList)
    .option('--nodes_to_exclude <names>', "ModelOpt's spelling of --exclude-nodes", nameList)
    .option('--op_types_to_exclude <ops>', "ModelOpt's spelling of --exclude-op-types", nameList);
}

/** The config's quant settings with the flags' exclusions added. */
export function withExcludeFlags(quant: QuantSettings | undefined, f: ExcludeFlags): QuantSettings | undefined {
  const add = (a: string[] | undefined, ...b: (string[] | undefined)[]) => {
    const all = [...(a ?? []), ...b.flatMap((x) => x ?? [])];
    return all.length ? all : undefined;
  };
  const ex = quant?.exclude ?? {};
  const exclude = {
    nodes: add(ex.nodes, f.excludeNodes, f.nodes_to_exclude),
    opTypes: add(ex.opTypes, f.excludeOpTypes, f.op_types_to_exclude),
    patterns: add(ex.patterns, f.excludePatterns),
    matches: add(ex.matches, f.excludeMatches),
  };
  const any = Object.values(exclude).some((x) => x);
  if (!any) return quant;
  return { ...quant, exclude: Object.fromEntries(Object.entries(exclude).filter(([, v]) => v)) };
}
