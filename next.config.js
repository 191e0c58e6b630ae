/** @type {import('next').NextConfig} */
const nextConfig = {
  reactStrictMode: true,
  // postgres.js and the local scripts are server-only Node code; keep them out of the bundler
  serverExternalPackages: ['postgres'],
};

export default nextConfig;
