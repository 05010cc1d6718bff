import type { PolicyStatement } from '#sandbox/fixture-schema.ts';

/**
 * Evaluates a list of IAM policy statements against one request, the subset of IAM's
 * logic the sandbox needs: Action and Resource strings or lists with `*` and `?`
 * wildcards (actions case-insensitive, resources case-sensitive), an explicit Deny wins
 * over any Allow, `Principal: { AWS }` (ARNs, account ids, `arn:aws:iam::<acct>:root`)
 * for resource policies such as a role's trust policy, and String conditions.
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
 *
 * Pure: no I/O, no clock.
 */

/** As IAM's policy simulator names them. */
export type EvalDecision = 'allowed' | 'explicitDeny' | 'implicitDeny';

export interface PolicyRequest {
  /** `service:Action`, e.g. `rds-db:connect`. */
  action: string;
  /** The resource ARN. Statements without `Resource` (trust policies) match any. */
  resource: string;
  /**
   * The caller, for statements with `Principal`. When left out, statements that name a
   * principal never match.
   */
  principal?: { arns: string[]; account: string };
  /** Condition keys and their values, e.g. `{ 'sts:ExternalId': 'abc' }`; case-insensitive. */
  context?: Record<string, string | string[] | undefined>;
}

export interface PolicyEvaluation {
  decision: EvalDecision;
  /** The Deny statements that matched when denied, else the Allow statements that matched. */
  matched: PolicyStatement[];
}

export function evaluatePolicy(
  statements: readonly PolicyStatement[],
  request: PolicyRequest,
): PolicyEvaluation {
  const context = normaliseContext(request.context);
  const allows: PolicyStatement[] = [];
  const denies: PolicyStatement[] = [];

  for (const statement of statements) {
    if (!statementMatches(statement, request, context)) continue;
    (statement.Effect === 'Deny' ? denies : allows).push(statement);
  }

  if (denies.length > 0) return { decision: 'explicitDeny', matched: denies };
  if (allows.length > 0) return { decision: 'allowed', matched: allows };
  return { decision: 'implicitDeny', matched: [] };
}

function statementMatches(
  statement: PolicyStatement,
  request: PolicyRequest,
  context: Map<string, string[]>,
): boolean {
  const actionMatches = asList(statement.Action).some((pattern) =>
    wildcardMatch(pattern, request.action, true),
  );
  if (!actionMatches) return false;

  if (statement.Resource !== undefined) {
    const resourceMatches = asList(statement.Resource).some((pattern) =>
      wildcardMatch(pattern, request.resource, false),
    );
    if (!resourceMatches) return false;
  }

  if (statement.Principal !== undefined && !principalMatches(statement.Principal, request)) {
    return false;
  }

  return conditionsHold(statement.Condition, context);
}

function principalMatches(
  principal: NonNullable<PolicyStatement['Principal']>,
  request: PolicyRequest,
): boolean {
  const caller = request.principal;
  if (!caller) return false;
  if (principal === '*') return true;

  return asList(principal.AWS).some((entry) => {
    if (entry === '*') return true;
    if (/^\d{12}$/.test(entry)) return entry === caller.account;
    const root = /^arn:aws:iam::(\d{12}):root$/.exec(entry);
    if (root) return root[1] === caller.account;
    return caller.arns.includes(entry);
  });
}

type ConditionBlock = NonNullable<PolicyStatement['Condition']>;

// The String operators; `...IfExists` holds when the key is absent.
const OPERATORS: Record<string, (actual: string, expected: string) => boolean> = {
  StringEquals: (a, e) => a === e,
  StringNotEquals: (a, e) => a === e,
  StringEqualsIgnoreCase: (a, e) => a.toLowerCase() === e.toLowerCase(),
  StringNotEqualsIgnoreCase: (a, e) => a.toLowerCase() === e.toLowerCase(),
  StringLike: (a, e) => wildcardMatch(e, a, false),
  StringNotLike: (a, e) => wildcardMatch(e, a, false),
};

function conditionsHold(condition: ConditionBlock | undefined, context: Map<string, string[]>) {
  if (!condition) return true;

  for (const [rawOperator, keys] of Object.entries(condition)) {
    const ifExists = rawOperator.endsWith('IfExists');
    const operator = ifExists ? rawOperator.slice(0, -'IfExists'.length) : rawOperator;
    const compare = OPERATORS[operator];
    // An operator the sandbox does not know never holds: an Allow using it does not grant
    // and a Deny using it does not deny. TODO: other operator families (Arn*, Bool,
    // Numeric*, Date*, IpAddress, ForAllValues/ForAnyValue) are not evaluated.
    if (!compare) return false;
    const negated = operator.includes('Not');

    for (const [key, expected] of Object.entries(keys)) {
      const actual = context.get(key.toLowerCase());
      if (actual === undefined) {
        // A missing key fails a positive operator and satisfies a negated one.
        if (ifExists || negated) continue;
        return false;
      }
      const anyEqual = actual.some((a) => asList(expected).some((e) => compare(a, e)));
      if (negated ? anyEqual : !anyEqual) return false;
    }
  }
  return true;
}

function normaliseContext(context: PolicyRequest['context']): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const [key, value] of Object.entries(context ?? {})) {
    if (value === undefined) continue;
    map.set(key.toLowerCase(), Array.isArray(value) ? value : [value]);
  }
  return map;
}

function asList(value: string | string[]): string[] {
  return Array.isArray(value) ? value : [value];
}

const patternCache = new Map<string, RegExp>();

/** IAM wildcard match: `*` any run of characters, `?` exactly one. */
export function wildcardMatch(pattern: string, value: string, ignoreCase: boolean): boolean {
  if (pattern === '*') return true;
  if (!pattern.includes('*') && !pattern.includes('?')) {
    return ignoreCase ? pattern.toLowerCase() === value.toLowerCase() : pattern === value;
  }

  const cacheKey = `${ignoreCase ? 'i' : 's'}${pattern}`;
  let regex = patternCache.get(cacheKey);
  if (!regex) {
    const source = pattern
      .split('')
      .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[\\^$.|+()[\]{}]/g, '\\$&')))
      .join('');
    regex = new RegExp(`^${source}$`, ignoreCase ? 'is' : 's');
    if (patternCache.size > 1000) patternCache.clear();
    patternCache.set(cacheKey, regex);
  }
  return regex.test(value);
}
