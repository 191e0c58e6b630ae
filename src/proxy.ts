// Runs before every page: with Supabase Auth, refreshes the session cookie (server components cannot
// write cookies) and sends signed-out visitors to the sign-in page. The real authorisation happens
// again in each page, action and route: this is only the first, optimistic check.
import { createServerClient } from '@supabase/ssr';
import { NextResponse, type NextRequest } from 'next/server';
import { decideAuthMode } from '@/lib/auth/mode';

const PUBLIC_PATHS = ['/sign-in'];

export async function proxy(request: NextRequest) {
  const mode = decideAuthMode(process.env as Record<string, string | undefined>, request.headers.get('host'));
  if (mode.kind !== 'supabase') return NextResponse.next({ request });

  let response = NextResponse.next({ request });
  const supabase = createServerClient(mode.url, mode.anonKey, {
    cookies: {
      getAll: () => request.cookies.getAll(),
      setAll: (cookiesToSet) => {
        for (const { name, value } of cookiesToSet) request.cookies.set(name, value);
        response = NextResponse.next({ request });
        for (const { name, value, options } of cookiesToSet) response.cookies.set(name, value, options);
      },
    },
  });
  // do not put code between creating the client and getUser: the refresh must happen here
  const {
    data: { user },
  } = await supabase.auth.getUser();

  const path = request.nextUrl.pathname;
  if (!user && !PUBLIC_PATHS.includes(path) && !path.startsWith('/api/')) {
    const url = request.nextUrl.clone();
    url.pathname = '/sign-in';
    url.search = '';
    const redirect = NextResponse.redirect(url);
    for (const cookie of response.cookies.getAll()) redirect.cookies.set(cookie);
    return redirect;
  }
  return response;
}

export const config = {
  matcher: ['/((?!_next/static|_next/image|favicon.ico|api/live).*)'],
};
