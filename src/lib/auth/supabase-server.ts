import 'server-only';
import { createServerClient } from '@supabase/ssr';
import { cookies } from 'next/headers';

/**
 * A Supabase client bound to this request's auth cookies. Server components cannot write cookies; the
 * proxy (src/proxy.ts) refreshes the session before they run, so a failed write there is harmless.
 */
export async function supabaseForRequest(config: { url: string; anonKey: string }) {
  const cookieStore = await cookies();
  return createServerClient(config.url, config.anonKey, {
    cookies: {
      getAll: () => cookieStore.getAll(),
      setAll: (cookiesToSet) => {
        try {
          for (const { name, value, options } of cookiesToSet) cookieStore.set(name, value, options);
        } catch {
          // called from a server component: the proxy already refreshed the session
        }
      },
    },
  });
}
