'use server';

import { redirect } from 'next/navigation';
import { z } from 'zod';
import { isOperatorClaims } from '@/lib/auth/mode';
import { authMode } from '@/lib/auth/viewer';
import { supabaseForRequest } from '@/lib/auth/supabase-server';

export interface SignInState {
  message: string;
  errors: Partial<Record<'email' | 'password', string[]>>;
  email?: string;
}

const signInSchema = z.object({
  email: z.email({ message: 'Enter the email address of your account.' }),
  password: z.string().min(1, { message: 'Enter your password.' }),
});

export async function signInAction(_previous: SignInState, form: FormData): Promise<SignInState> {
  const email = String(form.get('email') ?? '');
  const parsed = signInSchema.safeParse({ email, password: form.get('password') ?? '' });
  if (!parsed.success) return { message: '', errors: z.flattenError(parsed.error).fieldErrors, email };
  const mode = await authMode();
  if (mode.kind !== 'supabase') {
    return { message: mode.kind === 'misconfigured' ? mode.problem : 'Local operator mode needs no sign-in.', errors: {}, email };
  }
  const supabase = await supabaseForRequest(mode);
  const { data, error } = await supabase.auth.signInWithPassword(parsed.data);
  if (error) {
    const message = /invalid/i.test(error.message) ? 'That email and password do not match an account.' : `Sign-in failed: ${error.message}`;
    return { message, errors: {}, email };
  }
  // straight to where the proxy would send this user: Next renders an action's redirect target by
  // fetching it, and a second redirect there would show one page under the other's URL
  redirect(isOperatorClaims(data.user) ? '/reviews' : '/not-an-operator');
}

export async function signOutAction(): Promise<void> {
  const mode = await authMode();
  if (mode.kind === 'supabase') {
    const supabase = await supabaseForRequest(mode);
    await supabase.auth.signOut();
  }
  redirect('/sign-in');
}
