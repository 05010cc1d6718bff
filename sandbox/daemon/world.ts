import type {
  Fixture,
  FixtureInstance,
  FixtureRole,
  FixtureUser,
  PolicyStatement,
} from '#sandbox/fixture-schema.ts';

/**
 * The daemon's current view of the fixture: what the admin API changed (instance
 * settings, a principal's policies) over the fixture as loaded. `reset()` goes back.
 */

export type InstancePatch = Partial<Pick<FixtureInstance, 'iamAuth'>> & {
  /** null removes the limit. */
  maxIamConnectionsPerSecond?: number | null;
};

export interface PrincipalPatch {
  arn: string;
  policies?: PolicyStatement[];
  /** null removes the boundary. */
  boundary?: PolicyStatement[] | null;
  /** Roles only: the trust policy. */
  trust?: PolicyStatement[];
}

export class WorldError extends Error {
  override name = 'WorldError';
  constructor(
    readonly code: 'NOT_FOUND' | 'INVALID',
    message: string,
  ) {
    super(message);
  }
}

export class World {
  readonly #fixture: Fixture;
  #current: Fixture;

  constructor(fixture: Fixture) {
    this.#fixture = fixture;
    this.#current = structuredClone(fixture);
  }

  get fixture(): Fixture {
    return this.#current;
  }

  instance(name: string): FixtureInstance | undefined {
    return this.#current.instances.find((i) => i.name === name);
  }

  user(arn: string): FixtureUser | undefined {
    return this.#current.users.find((u) => u.arn === arn);
  }

  role(arn: string): FixtureRole | undefined {
    return this.#current.roles.find((r) => r.arn === arn);
  }

  /** Identity policies and boundary of a user or role ARN; empty when unknown. */
  policiesOf(arn: string): { policies: PolicyStatement[]; boundary?: PolicyStatement[] } {
    const principal = this.user(arn) ?? this.role(arn);
    if (!principal) return { policies: [] };
    return { policies: principal.policies, boundary: principal.boundary };
  }

  organizationDeny(): PolicyStatement[] {
    return this.#current.organization.deny;
  }

  isFixtureAccount(account: string): boolean {
    return account in this.#current.accounts;
  }

  patchInstance(name: string, patch: InstancePatch): FixtureInstance {
    const instance = this.instance(name);
    if (!instance) throw new WorldError('NOT_FOUND', `no instance named "${name}"`);

    if (patch.iamAuth !== undefined) {
      if (typeof patch.iamAuth !== 'boolean') throw new WorldError('INVALID', 'iamAuth: boolean');
      instance.iamAuth = patch.iamAuth;
    }
    if (patch.maxIamConnectionsPerSecond === null) {
      delete instance.maxIamConnectionsPerSecond;
    } else if (patch.maxIamConnectionsPerSecond !== undefined) {
      const limit = patch.maxIamConnectionsPerSecond;
      if (!Number.isInteger(limit) || limit <= 0) {
        throw new WorldError('INVALID', 'maxIamConnectionsPerSecond: a positive integer or null');
      }
      instance.maxIamConnectionsPerSecond = limit;
    }
    return instance;
  }

  patchPrincipal(patch: PrincipalPatch): FixtureUser | FixtureRole {
    const principal = this.user(patch.arn) ?? this.role(patch.arn);
    if (!principal) throw new WorldError('NOT_FOUND', `no user or role "${patch.arn}"`);

    if (patch.policies !== undefined) principal.policies = patch.policies;
    if (patch.boundary === null) delete principal.boundary;
    else if (patch.boundary !== undefined) principal.boundary = patch.boundary;
    if (patch.trust !== undefined) {
      if (!('trust' in principal)) throw new WorldError('INVALID', 'trust: only roles have one');
      principal.trust = patch.trust;
    }
    return principal;
  }

  reset(): void {
    this.#current = structuredClone(this.#fixture);
  }
}
