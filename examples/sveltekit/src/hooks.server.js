import { env } from '$env/dynamic/private';

// Runs once as the server starts, before it listens: where an app would open its database pool.
export async function init() {
  console.log(`sveltekit version ${env.APP_VERSION ?? 'dev'} starting`);
}
