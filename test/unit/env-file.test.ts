import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readEnvFiles } from '../../src/config/env-file.js';

test('env files: node\'s dotenv format, later files winning; a bad line or a missing file named', (t) => {
  const d = mkdtempSync(join(tmpdir(), 'hypnode-env-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  const a = join(d, 'a.env');
  const b = join(d, 'b.env');
  writeFileSync(a, '# comment\nexport A=1\nB = two # a comment\nC="multi\nline"\nD=\'#not a comment\'\n\n');
  writeFileSync(b, 'A=override\n');
  assert.deepEqual(readEnvFiles([a, b]), { A: 'override', B: 'two', C: 'multi\nline', D: '#not a comment' });

  const bad = (text: string, message: RegExp) => {
    writeFileSync(a, text);
    assert.throws(() => readEnvFiles([a]), (err: Error) => message.test(err.message) && err.message.includes(a));
  };
  bad('A=1\nno equals here\n', /line 2: expected KEY=VALUE, found no "="/);
  bad('A=1\n1BAD=x\n', /line 2: what stands before "=" is not a variable name/);
  // A pasted secret is named by its line, never quoted.
  bad('A=1\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC+/x\n', /line 2: expected KEY=VALUE, found no "="/);
  bad('A=1\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC+/x==\n', /^(?!.*MIIEvQ).*line 2: what stands before "=" is not a variable name/);
  bad('A="never closed\nB=2\n', /line 1: the " quote opened here is never closed/);
  assert.throws(() => readEnvFiles([join(d, 'missing.env')]), /env file .*missing\.env cannot be read: ENOENT/);
});
