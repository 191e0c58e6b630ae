// The typed client's arguments and results are the endpoint's own schemas, not a copy: its methods take
// z.input of the tool's input schema and resolve to z.output of its output schema. (endpoint.test.ts
// checks that those very schemas are what the running endpoint advertises.)
import { describe, expectTypeOf, it } from 'vitest';
import type { z } from 'zod';
import { TOOLS } from '../../supabase/functions/mcp/schemas.ts';
import type { TaskweaveClient } from '../../src/client/index.ts';

type In<K extends keyof typeof TOOLS> = z.input<(typeof TOOLS)[K]['input']>;
type Out<K extends keyof typeof TOOLS> = z.output<(typeof TOOLS)[K]['output']>;

describe('TaskweaveClient types', () => {
  it('come from the shared schemas', () => {
    expectTypeOf<Parameters<TaskweaveClient['createTask']>[0]>().toEqualTypeOf<In<'createTask'>>();
    expectTypeOf<Awaited<ReturnType<TaskweaveClient['createTask']>>>().toEqualTypeOf<Out<'createTask'>>();
    expectTypeOf<Awaited<ReturnType<TaskweaveClient['getTask']>>>().toEqualTypeOf<Out<'getTask'>>();
    expectTypeOf<Parameters<TaskweaveClient['waitForTask']>[0]>().toEqualTypeOf<In<'waitForTask'>>();
    expectTypeOf<Awaited<ReturnType<TaskweaveClient['waitForTask']>>>().toEqualTypeOf<Out<'waitForTask'>>();
    expectTypeOf<Parameters<TaskweaveClient['listReviews']>[0]>().toEqualTypeOf<In<'listReviews'> | undefined>();
    expectTypeOf<Awaited<ReturnType<TaskweaveClient['listReviews']>>>().toEqualTypeOf<Out<'listReviews'>>();
    expectTypeOf<Parameters<TaskweaveClient['resolveReview']>[0]>().toEqualTypeOf<In<'resolveReview'>>();
    expectTypeOf<Awaited<ReturnType<TaskweaveClient['resolveReview']>>>().toEqualTypeOf<Out<'resolveReview'>>();
    expectTypeOf<Parameters<TaskweaveClient['resolveReviews']>[0]>().toEqualTypeOf<In<'resolveReviews'>>();
    expectTypeOf<Awaited<ReturnType<TaskweaveClient['resolveReviews']>>>().toEqualTypeOf<Out<'resolveReviews'>>();
    expectTypeOf<Awaited<ReturnType<TaskweaveClient['cancelTask']>>>().toEqualTypeOf<Out<'cancelTask'>>();
    // and they say what a caller may send: limits may be null (no limit), a wait at most a number
    expectTypeOf<NonNullable<In<'createTask'>['limits']>['max_tokens']>().toEqualTypeOf<number | null | undefined>();
    expectTypeOf<In<'waitForTask'>['timeout_seconds']>().toEqualTypeOf<number | undefined>();
    expectTypeOf<Out<'waitForTask'>['reason']>().toEqualTypeOf<'ended' | 'needs_operator' | 'changed' | 'timed_out'>();
  });
});
