// Runs once when a server process starts (Next's instrumentation hook).
export async function register() {
  // NEXT_RUNTIME is a compile-time constant Next sets per bundle, not configuration: it keeps node:http
  // out of any edge bundle
  if (process.env.NEXT_RUNTIME === 'nodejs') {
    const { stampPeerAddresses } = await import('./lib/server/peer');
    stampPeerAddresses();
  }
}
