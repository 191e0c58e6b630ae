'use client';

import { useActionState } from 'react';
import { signInAction, type SignInState } from './actions';

const initial: SignInState = { message: '', errors: {} };

export function SignInForm() {
  const [state, formAction, pending] = useActionState(signInAction, initial);
  return (
    <form action={formAction} className="space-y-4" noValidate>
      <div>
        <label htmlFor="email" className="block text-sm font-medium text-slate-800">
          Email
        </label>
        <input
          id="email"
          name="email"
          type="email"
          autoComplete="username"
          required
          defaultValue={state.email}
          aria-invalid={!!state.errors.email}
          aria-describedby={state.errors.email ? 'email-error' : undefined}
          className="mt-1 block w-full rounded-md border border-slate-300 px-3 py-2 text-sm"
        />
        {state.errors.email ? (
          <p id="email-error" className="mt-1 text-sm text-rose-700">
            {state.errors.email[0]}
          </p>
        ) : null}
      </div>
      <div>
        <label htmlFor="password" className="block text-sm font-medium text-slate-800">
          Password
        </label>
        <input
          id="password"
          name="password"
          type="password"
          autoComplete="current-password"
          required
          aria-invalid={!!state.errors.password}
          aria-describedby={state.errors.password ? 'password-error' : undefined}
          className="mt-1 block w-full rounded-md border border-slate-300 px-3 py-2 text-sm"
        />
        {state.errors.password ? (
          <p id="password-error" className="mt-1 text-sm text-rose-700">
            {state.errors.password[0]}
          </p>
        ) : null}
      </div>
      {state.message ? (
        <p role="alert" className="rounded-md bg-rose-50 px-3 py-2 text-sm text-rose-800">
          {state.message}
        </p>
      ) : null}
      <button
        type="submit"
        disabled={pending}
        className="w-full rounded-md bg-slate-900 px-4 py-2 text-sm font-medium text-white hover:bg-slate-800 disabled:opacity-60"
      >
        {pending ? 'Signing in…' : 'Sign in'}
      </button>
    </form>
  );
}
