import type { NextConfig } from 'next';

// Every page and API answer may carry patient data: never stored by a browser or a proxy. Only the
// build's hashed static assets are cacheable.
const noStore = [{ key: 'Cache-Control', value: 'no-store' }];
const securityHeaders = [
  { key: 'X-Content-Type-Options', value: 'nosniff' },
  { key: 'Referrer-Policy', value: 'no-referrer' },
  { key: 'X-Frame-Options', value: 'DENY' },
];

const config: NextConfig = {
  poweredByHeader: false,
  reactStrictMode: true,
  // The shared packages talk to PostgreSQL, the PACS and the file system: run them from
  // node_modules as they are, not through the bundler.
  serverExternalPackages: [
    '@lascar/db',
    '@lascar/core',
    '@lascar/pacs',
    '@lascar/auth',
    '@lascar/queue',
    '@lascar/env',
    'pg-boss',
    'better-auth',
    'pg',
    'dcmjs',
  ],
  experimental: { authInterrupts: true },
  async headers() {
    return [
      { source: '/:path*', headers: securityHeaders },
      { source: '/((?!_next/static|favicon.ico).*)', headers: noStore },
    ];
  },
};

export default config;
