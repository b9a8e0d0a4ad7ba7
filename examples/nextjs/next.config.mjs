// `next start` reads this file after it has begun listening: a deploy whose config throws used
// to look ready to hypnode (the port was open), then died. hypnode's readiness probe (a real
// request through the worker's own server) now catches it and fails the reload.
/** @type {import('next').NextConfig} */
export default {
  poweredByHeader: false,
};
