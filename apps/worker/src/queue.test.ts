import { describe, expect, it } from 'vitest';
import { guardLostQueueWrites, isConnectionLost } from './queue.js';

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

describe('isConnectionLost', () => {
  it('recognises a database that went away', () => {
    expect(isConnectionLost(withCode('read ECONNRESET', 'ECONNRESET'))).toBe(true);
    expect(isConnectionLost(withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED'))).toBe(
      true,
    );
    expect(
      isConnectionLost(withCode('terminating connection due to administrator command', '57P01')),
    ).toBe(true);
    expect(isConnectionLost(new Error('Connection terminated unexpectedly'))).toBe(true);
  });

  it('leaves statement errors and non-errors alone', () => {
    expect(
      isConnectionLost(withCode('duplicate key value violates unique constraint', '23505')),
    ).toBe(false);
    expect(isConnectionLost(new TypeError('x is not a function'))).toBe(false);
    expect(isConnectionLost('ECONNRESET')).toBe(false);
  });
});

describe('guardLostQueueWrites', () => {
  it('logs a lost connection and leaves other rejections to the other listeners', () => {
    const warnings: string[] = [];
    const others: unknown[] = [];
    const other = (reason: unknown) => others.push(reason);
    process.on('unhandledRejection', other);
    const unguard = guardLostQueueWrites({ warn: (_o, msg) => warnings.push(msg) });
    try {
      const lost = withCode('read ECONNRESET', 'ECONNRESET');
      const bug = new TypeError('x is not a function');
      const promise = Promise.resolve();
      process.emit('unhandledRejection', lost, promise);
      process.emit('unhandledRejection', bug, promise);
      expect(warnings).toEqual([
        'a queue update was lost while the database was away; the job lease expires and it is retried',
      ]);
      expect(others).toEqual([lost, bug]);
    } finally {
      unguard();
      process.off('unhandledRejection', other);
    }
    expect(process.listeners('unhandledRejection')).not.toContain(other);
  });
});
