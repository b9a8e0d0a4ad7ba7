// `/` as an endpoint. APP_VERSION comes from $env/dynamic/private, read at run time from the
// worker's environment (hypnode's config file `env`, read again on every reload), not frozen
// into the build as $env/static/private would be.
import { env } from '$env/dynamic/private';

export function GET() {
  const version = env.APP_VERSION ?? 'dev';
  return new Response(`hello from sveltekit, version ${version}, pid ${process.pid}\n`, {
    headers: { 'x-version': version, 'x-pid': String(process.pid) },
  });
}
