// Acting as a signed-in user on a connection that logged in with more power (the web app's taskweave_web,
// the functions' own database login): every transaction switches to role `authenticated` and carries the
// user's JWT claims in `request.jwt.claims`, both local to that transaction, as PostgREST does for each
// request. Row-level security and the SQL API then decide; the database trusts claims only from such a
// front door (taskweave_private.claims_are_trusted). The web app (src/lib/db/identity.ts) and the MCP
// endpoint share this one rule.
import type postgres from 'postgres';

type Sql = postgres.Sql<Record<string, unknown>>;
type Tx = postgres.TransactionSql<Record<string, unknown>>;
type Pending = postgres.PendingQuery<postgres.Row[]>;

/** The transaction-local preamble: the user's claims and role authenticated, in one round trip. */
export async function actAsUser(tx: Tx, claims: object, options: { customPlans?: boolean } = {}): Promise<void> {
  // custom plans where asked: a generic plan cannot see that a keyset cursor or an id list is selective
  await tx`
    select pg_catalog.set_config('request.jwt.claims', ${JSON.stringify(claims)}, true),
           pg_catalog.set_config('role', 'authenticated', true),
           pg_catalog.set_config('plan_cache_mode', ${options.customPlans ? 'force_custom_plan' : 'auto'}, true)`;
}

// what a user's connection passes through unchanged: value helpers that run nothing
const VALUE_HELPERS = new Set<PropertyKey>(['json', 'array', 'typed', 'types', 'identifier', 'options', 'parameters']);
// settings of a query that return it: replayed on the query that runs in the user's transaction
const QUERY_MODIFIERS = new Set<PropertyKey>(['values', 'raw', 'simple', 'signal', 'transform', 'parsers']);
// what would run a query outside the user's transaction: refused loudly rather than run with the login's power
const UNSUPPORTED_QUERY_METHODS = new Set<PropertyKey>(['execute', 'run', 'watch', 'forEach', 'cursor', 'readable', 'writable', 'describe', 'handle']);

/**
 * A connection that runs each query in its own transaction as the user: a drop-in for the `sql` of code
 * written against the SQL API (the MCP tools and their store). Tagged queries and `unsafe` run as the user
 * when awaited, and still work as fragments inside another query; `begin` runs its whole transaction as
 * the user. Nothing else that would reach the database (listen, reserve, file, cursors) is offered.
 */
export function asUser(sql: Sql, claims: object): Sql {
  // options: what sql.begin takes before the function, e.g. 'isolation level repeatable read read only'
  const transaction = <T>(fn: (tx: Tx) => T | Promise<T>, options = '') =>
    sql.begin(options, async (tx) => {
      await actAsUser(tx, claims);
      return fn(tx);
    }) as Promise<T>;

  // a query built on the login's pool but never run there: awaiting it replays it in a user transaction,
  // interpolating it into another query uses it as a fragment
  const deferred = (query: Pending, replay: (tx: Tx) => Pending): Pending => {
    const modifiers: { name: PropertyKey; args: unknown[] }[] = [];
    const run = () =>
      transaction((tx) =>
        modifiers.reduce((q, m) => (Reflect.get(q, m.name) as (...a: unknown[]) => Pending).apply(q, m.args), replay(tx)),
      );
    const proxy: Pending = new Proxy(query, {
      get(target, prop) {
        if (prop === 'then') return (onFulfilled?: (v: unknown) => unknown, onRejected?: (e: unknown) => unknown) => run().then(onFulfilled, onRejected);
        if (prop === 'catch') return (onRejected?: (e: unknown) => unknown) => run().catch(onRejected);
        if (prop === 'finally') return (onFinally?: () => void) => run().finally(onFinally);
        if (QUERY_MODIFIERS.has(prop)) return (...args: unknown[]) => (modifiers.push({ name: prop, args }), proxy);
        if (UNSUPPORTED_QUERY_METHODS.has(prop)) {
          return () => {
            throw new Error(`${String(prop)}() is not available on a user's connection; await the query instead`);
          };
        }
        const value = Reflect.get(target, prop, target) as unknown;
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    return proxy;
  };

  const tagged = (first: unknown, ...rest: unknown[]) => {
    // sql(value) / sql(columns) helpers build identifiers and lists, not queries
    if (!Array.isArray(first) || !('raw' in (first as object))) return (sql as unknown as (...a: unknown[]) => unknown)(first, ...rest);
    const strings = first as unknown as TemplateStringsArray;
    const run = (s: Sql | Tx) => (s as unknown as (s: TemplateStringsArray, ...v: unknown[]) => Pending)(strings, ...rest);
    return deferred(run(sql), (tx) => run(tx));
  };

  return new Proxy(tagged, {
    get(_target, prop) {
      // not a promise (await, Promise.resolve) and nothing to inspect
      if (prop === 'then' || typeof prop === 'symbol') return undefined;
      if (prop === 'unsafe') {
        return (query: string, parameters?: postgres.ParameterOrJSON<never>[], options?: postgres.UnsafeQueryOptions) =>
          deferred(sql.unsafe(query, parameters, options) as Pending, (tx) => tx.unsafe(query, parameters, options) as Pending);
      }
      if (prop === 'begin') {
        return (...args: unknown[]) => {
          const fn = args[args.length - 1] as (tx: Tx) => unknown;
          return transaction(fn, args.length > 1 ? (args[0] as string) : '');
        };
      }
      if (VALUE_HELPERS.has(prop)) {
        const value = Reflect.get(sql, prop) as unknown;
        return typeof value === 'function' ? value.bind(sql) : value;
      }
      throw new Error(`sql.${String(prop)} is not available on a user's connection`);
    },
  }) as unknown as Sql;
}
