/**
 * Warnings for `validate`: configurations that load fine but cannot work with IAM database
 * authentication, found before anything connects. Each warning names the field and the fix.
 */
import type { ResolvedTarget } from '#shared/report/types.ts';
import { describeNonRdsHost, parseRdsEndpoint } from './rds-endpoint.ts';

export interface LintWarning {
  /** Stable code: NOT_AN_RDS_ENDPOINT, REGION_DISAGREES_WITH_HOST, PORT_IN_HOST, USER_CASE, REJECT_WITHOUT_ROLE. */
  code: string;
  /** Where, e.g. `targets[2].signingHost`. */
  path: string;
  message: string;
  fix: string;
}

/**
 * Returns the warnings for resolved targets, in target order (empty when all is well).
 *
 * @example lintTargets(loadConfig('canary.yaml').targets)
 */
export function lintTargets(targets: readonly ResolvedTarget[]): LintWarning[] {
  return targets.flatMap((target, index) => lintTarget(target, `targets[${index}]`));
}

function lintTarget(target: ResolvedTarget, at: string): LintWarning[] {
  const warnings: LintWarning[] = [];

  for (const field of ['host', 'signingHost'] as const) {
    if (/:\d+$/.test(target[field]) && !target[field].includes('::')) {
      warnings.push({
        code: 'PORT_IN_HOST',
        path: `${at}.${field}`,
        message: `${target[field]} carries a port`,
        fix: `put the port in ${field === 'host' ? 'port' : 'signingPort'} and give the bare host name`,
      });
    }
  }

  const signedFor = parseRdsEndpoint(target.signingHost);
  if (!signedFor) {
    const explicit = target.signingHost !== target.host;
    warnings.push({
      code: 'NOT_AN_RDS_ENDPOINT',
      path: `${at}.${explicit ? 'signingHost' : 'host'}`,
      message:
        `${target.signingHost} is ${describeNonRdsHost(target.signingHost)}; tokens are signed ` +
        'for it, and RDS accepts only tokens signed for its own endpoint name',
      fix: explicit
        ? 'set signingHost to the RDS endpoint name (…rds.amazonaws.com)'
        : 'add signingHost: <the RDS endpoint name> (and signingPort if the port differs)',
    });
  } else if (signedFor.region !== target.region) {
    warnings.push({
      code: 'REGION_DISAGREES_WITH_HOST',
      path: `${at}.region`,
      message: `region ${target.region}, but ${target.signingHost} is in ${signedFor.region}`,
      fix: `set region: ${signedFor.region} (or remove it: it is read from the host name)`,
    });
  }

  if (target.user !== target.user.toLowerCase()) {
    warnings.push({
      code: 'USER_CASE',
      path: `${at}.user`,
      message:
        `user "${target.user}" has capitals: DBUser is case-sensitive, and PostgreSQL folds ` +
        'unquoted role names to lower case',
      fix: `use the name exactly as the database stores it (likely "${target.user.toLowerCase()}")`,
    });
  }

  if (target.expect === 'reject' && target.roles.length === 0) {
    warnings.push({
      code: 'REJECT_WITHOUT_ROLE',
      path: `${at}.roles`,
      message:
        "a reject guard signed with the canary's own credentials proves only that the canary " +
        'is refused, not the principal the guard is about',
      fix: 'add roles: the role whose access must stay refused',
    });
  }
  return warnings;
}
