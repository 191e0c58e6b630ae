// Runs before every page, so who may see it is decided before anything renders and a refusal is a
// real redirect (307), not a page that streams and then navigates. With Supabase Auth it also
// refreshes the session cookie (server components cannot write cookies). Pages, actions and routes
// check the viewer again themselves: a server action is reachable by a plain POST.
import { createServerClient } from '@supabase/ssr';
import { NextResponse, type NextRequest } from 'next/server';
import { PEER_HEADER, decideAuthMode, isOperatorClaims } from '@/lib/auth/mode';
import { serverConfig } from '@/lib/server/config';

const SIGN_IN = '/sign-in';
const NOT_AN_OPERATOR = '/not-an-operator';

function redirectTo(request: NextRequest, pathname: string, carry?: NextResponse) {
  const url = request.nextUrl.clone();
  url.pathname = pathname;
  url.search = '';
  const redirect = NextResponse.redirect(url, 307);
  for (const cookie of carry?.cookies.getAll() ?? []) redirect.cookies.set(cookie);
  return redirect;
}

export async function proxy(request: NextRequest) {
  const path = request.nextUrl.pathname;
  const mode = decideAuthMode(serverConfig().auth, { host: request.headers.get('host'), peer: request.headers.get(PEER_HEADER) });
  if (mode.kind === 'local') return NextResponse.next({ request });
  // no way to sign in from here: the sign-in page says why
  if (mode.kind === 'misconfigured') return path === SIGN_IN ? NextResponse.next({ request }) : redirectTo(request, SIGN_IN);

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

  if (!user) return path === SIGN_IN ? response : redirectTo(request, SIGN_IN, response);
  if (!isOperatorClaims(user) && path !== NOT_AN_OPERATOR && path !== SIGN_IN) return redirectTo(request, NOT_AN_OPERATOR, response);
  return response;
}

export const config = {
  // the live feed answers 401/403 itself (an EventSource cannot follow a redirect to a page)
  matcher: ['/((?!_next/static|_next/image|favicon.ico|api/).*)'],
};
