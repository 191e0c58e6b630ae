// The part of the Deno global the functions' composition roots use (environment, serve), typed through
// globalThis so the roots also type-check in the repo's Node tsconfig. Only index.ts files import this.
export interface DenoRuntime {
  env: { toObject(): Record<string, string>; get(name: string): string | undefined };
  serve(
    options: { port: number; hostname?: string; onListen?: (addr: { hostname: string; port: number }) => void },
    handler: (req: Request) => Response | Promise<Response>,
  ): unknown;
}

export const Deno = (globalThis as unknown as { Deno: DenoRuntime }).Deno;
