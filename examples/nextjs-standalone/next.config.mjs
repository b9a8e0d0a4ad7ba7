// A self-contained server: `next build` writes .next/standalone/server.js with the modules it
// needs; the build script copies .next/static and public beside it, as Next's docs say to.
/** @type {import('next').NextConfig} */
export default {
  output: 'standalone',
  poweredByHeader: false,
};
