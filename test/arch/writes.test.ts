import { describe, expect, it } from 'vitest';
import { WriteLog, put, putAll, putFill } from '../../src/arch/writes.js';

const noted = (log: WriteLog): number[] => [...log.at.subarray(0, log.n)];
const olds = (log: WriteLog): number[] => [...log.old.subarray(0, log.n)];

describe('the state write path and its log', () => {
  it('notes the words a write changed and the values they had, only for its own state and only while active', () => {
    const s = new Uint32Array(8), other = new Uint32Array(8), log = new WriteLog(s, 2);
    put(s, 1, 5); // not active yet
    expect(s[1]).toBe(5);
    log.start();
    put(s, 2, 7);
    put(s, 1, 5); // the value it has: nothing to note
    put(s, 3, -1); // stored as 0xffffffff
    put(s, 3, 0xffffffff); // the same word, the same value
    put(other, 4, 9);
    putFill(s, 0, 0, 4); // words 1, 2 and 3 change; word 0 does not
    expect(s[3]).toBe(0);
    expect(other[4]).toBe(9);
    expect(noted(log)).toEqual([2, 3, 1, 2, 3]); // past the log's first capacity of 2: it grew
    expect(olds(log)).toEqual([0, 0, 5, 7, -1]); // as signed words: 0xffffffff is -1
    expect(log.complete()).toBe(true);
    log.undo();
    expect([...s]).toEqual([0, 5, 0, 0, 0, 0, 0, 0]);
    log.start();
    expect(log.n).toBe(0);
    expect(log.complete()).toBe(true);
    log.stop();
    put(s, 5, 1);
    expect(log.n).toBe(0);
    expect(log.complete()).toBe(false);
  });

  it('a whole state put back notes the words it changes; starting another log stops this one', () => {
    const s = Uint32Array.of(1, 0, 3, 0), log = new WriteLog(s), second = new WriteLog(new Uint32Array(4));
    log.start();
    putAll(s, Uint32Array.of(1, 2, 3, 0xfffffffe));
    expect([...s]).toEqual([1, 2, 3, 0xfffffffe]);
    expect(noted(log)).toEqual([1, 3]);
    expect(log.complete()).toBe(true);
    const copy = Int32Array.from(s);
    log.undo(copy);
    expect([...copy]).toEqual([1, 0, 3, 0]);
    second.start();
    put(s, 0, 9);
    expect(log.complete()).toBe(false);
    expect(log.n).toBe(2);
    second.stop();
  });
});
