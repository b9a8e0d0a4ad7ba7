import { serve } from './server.js';

// The same app changed the way PM2's documentation advises for zero-downtime reloads: it tells
// PM2 when it listens (with `wait_ready`) and closes its server on SIGINT before exiting.
const server = serve();
server.on('listening', () => process.send?.('ready'));
process.on('SIGINT', () => server.close(() => process.exit(0)));
