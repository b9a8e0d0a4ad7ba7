import assert from 'node:assert/strict';
import { test } from 'node:test';
import { boolean, either, list, map, nullable, number, oneOf, string, type Rule } from '../../src/config/rules.js';

// The hand-written checks behind every setting: each says what is wrong, and where inside a value.

const words = (rule: Rule<unknown>, value: unknown) => {
  const p = rule.problem(value);
  return p && `${p.at.length ? `at ${p.at.join('.')}: ` : ''}${p.words}`;
};

test('rules: numbers, strings, choices and switches say what they take', () => {
  const workers = number({ whole: true, min: 1, max: 512 });
  assert.equal(words(workers, 4), null);
  assert.equal(words(workers, '4'), 'expected a number');
  assert.equal(words(workers, Number.NaN), 'expected a number');
  assert.equal(words(workers, 1.5), 'expected a whole number');
  assert.equal(words(workers, 0), 'must be at least 1');
  assert.equal(words(workers, 513), 'must be at most 512');
  assert.equal(words(number({ above: 0 }), 0), 'must be more than 0');
  assert.equal(words(number({ above: 0 }), 0.1), null);
  const port = string({ pattern: [/^\d+$/, 'a port'], also: [(v) => Number(v) <= 65535, 'a port from 1 to 65535'] });
  assert.equal(words(port, 'x'), 'a port');
  assert.equal(words(port, '99999'), 'a port from 1 to 65535');
  assert.equal(words(port, 80), 'expected a string');
  assert.equal(words(string({ nonEmpty: true }), ''), 'must not be empty');
  assert.equal(words(oneOf(['text', 'json']), 'xml'), 'expected "text" or "json"');
  assert.equal(words(boolean, 'yes'), 'expected true or false');
  assert.equal(words(nullable(boolean), null), null);
});

test('rules: either names the error of the rule that takes the type; lists and maps say where', () => {
  const batch = either(number({ whole: true, min: 1 }), string({ pattern: [/^\d+%$/, 'a percentage'] }));
  assert.equal(words(batch, 0), 'must be at least 1');
  assert.equal(words(batch, 'half'), 'a percentage');
  assert.equal(words(batch, true), 'expected a number or a string');
  assert.equal(words(batch, '25%'), null);
  assert.equal(words(list(string()), ['a', 7]), 'at 1: expected a string');
  assert.equal(words(list(string()), 'a'), 'expected a list');
  assert.equal(words(map(string()), { A: 'x', B: 1 }), 'at B: expected a string');
  assert.equal(words(map(string()), ['x']), 'expected an object');
  assert.equal(words(map(string()), null), 'expected an object');
});
