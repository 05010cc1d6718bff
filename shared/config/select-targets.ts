import { UserInputError } from '#shared/errors.ts';
import type { ResolvedTarget } from '#shared/report/types.ts';
import { printable } from './load-config.ts';

/**
 * The targets named in `names`, in config order; all of them when `names` is empty.
 * Throws UserInputError (path `where`, e.g. `--target`) for a name the config lacks.
 */
export function selectTargets(
  targets: ResolvedTarget[],
  names: readonly string[] | undefined,
  where = 'target',
): ResolvedTarget[] {
  if (!names || names.length === 0) return targets;

  const known = new Set(targets.map((t) => t.name));
  const unknown = names.filter((n) => !known.has(n));
  if (unknown.length > 0) {
    const list = targets.map((t) => t.name);
    const shown = list.length > 10 ? `${list.slice(0, 10).join(', ')}, ...` : list.join(', ');
    throw new UserInputError(
      where,
      `no target named ${unknown.map((n) => printable(JSON.stringify(n))).join(', ')} in the config (known: ${shown})`,
    );
  }
  const wanted = new Set(names);
  return targets.filter((t) => wanted.has(t.name));
}
