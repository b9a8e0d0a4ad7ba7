// `/slow` answers after 300 ms: an in-flight request that a draining worker must finish.
import { env } from '$env/dynamic/private';

export async function GET() {
  const version = env.APP_VERSION ?? 'dev';
  await new Promise((resolve) => setTimeout(resolve, 300));
  return new Response(`slow hello from sveltekit, version ${version}\n`, {
    headers: { 'x-version': version, 'x-pid': String(process.pid) },
  });
}
