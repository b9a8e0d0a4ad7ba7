import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** A throwaway self-signed certificate for loopback, as `cert.pem` and `key.pem` in `dir`. */
export function selfSigned(dir: string, commonName: string): { cert: string; fingerprint: string } {
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    '-subj', `/CN=${commonName}`, '-addext', 'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost',
  ], { stdio: 'ignore' });
  const cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
  return { cert, fingerprint: new X509Certificate(cert).fingerprint256 };
}
