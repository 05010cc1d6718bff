import { describe, expect, it } from 'vitest';
import { UserInputError } from '#shared/errors.ts';
import { parseSmokeEvent } from '#shared/smoke/parse-smoke-event.ts';
import { scheduledEvent, stackStatusChange } from '../support/lambda-events.ts';

function refusal(event: unknown): UserInputError {
  try {
    parseSmokeEvent(event);
  } catch (error) {
    if (error instanceof UserInputError) return error;
    throw error;
  }
  throw new Error('the event was accepted');
}

describe('parseSmokeEvent', () => {
  it('checks every target when invoked with no payload or an empty object', () => {
    expect(parseSmokeEvent(undefined)).toEqual({ trigger: 'direct' });
    expect(parseSmokeEvent(null)).toEqual({ trigger: 'direct' });
    expect(parseSmokeEvent({})).toEqual({ trigger: 'direct' });
  });

  it('takes the target names of a direct invocation, without duplicates', () => {
    const request = parseSmokeEvent({ targets: ['orders', 'ledger', 'orders'] });

    expect(request).toEqual({ trigger: 'direct', targets: ['orders', 'ledger'] });
  });

  it('checks every target when a stack finishes creating or updating', () => {
    for (const status of ['CREATE_COMPLETE', 'UPDATE_COMPLETE']) {
      const request = parseSmokeEvent(stackStatusChange(status, 'payments-access'));

      expect(request).toEqual({ trigger: 'stack', stack: { name: 'payments-access', status } });
    }
  });

  it('checks every target on a scheduled event', () => {
    const event = scheduledEvent();

    expect(parseSmokeEvent(event)).toEqual({ trigger: 'schedule' });
  });

  it('refuses payloads that are not objects', () => {
    for (const event of ['orders', 42, true, ['orders']]) {
      expect(refusal(event)).toMatchObject({ code: 'INVALID_INPUT', path: 'event' });
    }
  });

  it('refuses unknown keys and malformed target lists, naming the field', () => {
    expect(refusal({ target: ['orders'] }).path).toBe('event.target');
    expect(refusal({ targets: 'orders' }).path).toBe('event.targets');
    expect(refusal({ targets: [] }).path).toBe('event.targets');
    expect(refusal({ targets: ['orders', 7] }).path).toBe('event.targets[1]');
    expect(refusal({ targets: ['orders', ''] }).path).toBe('event.targets[1]');
  });

  it('refuses stack statuses that do not mean a finished deploy', () => {
    for (const status of ['UPDATE_ROLLBACK_COMPLETE', 'DELETE_COMPLETE', 'CREATE_IN_PROGRESS']) {
      expect(refusal(stackStatusChange(status)).path).toBe('event.detail.status-details.status');
    }
  });

  it('refuses other EventBridge events and stack events without a stack id', () => {
    const other = { ...stackStatusChange('UPDATE_COMPLETE'), 'detail-type': 'EC2 Instance State' };
    const noId = stackStatusChange('UPDATE_COMPLETE');
    noId.detail['stack-id'] = 'orders-database';

    expect(refusal(other).path).toBe('event.detail-type');
    expect(refusal(noId).path).toBe('event.detail.stack-id');
    expect(
      refusal({ source: 'aws.cloudformation', 'detail-type': 'CloudFormation Stack Status Change' })
        .path,
    ).toBe('event.detail');
  });
});
