// `/slow` answers after 300 ms: an in-flight request that a draining worker must finish.
export const dynamic = 'force-dynamic';

export async function GET() {
  const version = process.env.APP_VERSION ?? 'dev';
  await new Promise((resolve) => setTimeout(resolve, 300));
  return new Response(`slow hello from next.js, version ${version}\n`, {
    headers: { 'x-version': version, 'x-pid': String(process.pid) },
  });
}
