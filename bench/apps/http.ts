import { serve } from './server.js';

// The unchanged app: what every contender but PM2's "graceful" variant runs.
serve();
