// `/` as a route handler: dynamic, so APP_VERSION is read from the worker's environment on each
// request (hypnode's config file sets it, re-read on every reload) instead of being frozen into
// the build.
export const dynamic = 'force-dynamic';

export function GET() {
  const version = process.env.APP_VERSION ?? 'dev';
  return new Response(`hello from next.js, version ${version}, pid ${process.pid}\n`, {
    headers: { 'x-version': version, 'x-pid': String(process.pid) },
  });
}
