// db:start's clear errors: a port held by something that is not our Postgres, and a data folder it cannot open.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { dataDirProblem, portTakenMessage, probePort } from '../../scripts/lib/local-postgres.ts';
import { freePort } from '../../scripts/lib/function-server.ts';

const temp = fs.mkdtempSync(path.join(os.tmpdir(), 'taskweave-datadir-'));
afterAll(() => fs.rmSync(temp, { recursive: true, force: true }));

describe('data folder checks', () => {
  it('accepts a missing or empty folder and one made by Postgres 17', () => {
    expect(dataDirProblem(path.join(temp, 'missing'))).toBeUndefined();
    fs.mkdirSync(path.join(temp, 'empty'));
    expect(dataDirProblem(path.join(temp, 'empty'))).toBeUndefined();
    fs.mkdirSync(path.join(temp, 'v17'));
    fs.writeFileSync(path.join(temp, 'v17', 'PG_VERSION'), '17\n');
    expect(dataDirProblem(path.join(temp, 'v17'))).toBeUndefined();
  });

  it('names the version of a folder made by another Postgres and says how to start fresh', () => {
    const dir = path.join(temp, 'v16');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'PG_VERSION'), '16\n');
    expect(dataDirProblem(dir)).toBe(
      `The data folder ${dir} was made by Postgres 16, but the embedded server is Postgres 17; it cannot open it. ` +
        `Move or delete that folder (\`npm run db:stop && rm -rf ${dir}\`) to start fresh.`,
    );
  });

  it('refuses a folder that holds something else', () => {
    const dir = path.join(temp, 'junk');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'hello');
    expect(dataDirProblem(dir)).toBe(`The data folder ${dir} exists but holds no Postgres cluster (no PG_VERSION). Delete it to start fresh.`);
  });
});

describe('port checks', () => {
  it('tells a free port, a foreign program, our Postgres and a Postgres with other credentials apart', async () => {
    const port = await freePort();
    expect(await probePort('127.0.0.1', port, `postgresql://postgres:postgres@127.0.0.1:${port}/postgres`)).toEqual({ kind: 'free' });

    const server = net.createServer((socket) => socket.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    try {
      const other = await probePort('127.0.0.1', port, `postgresql://postgres:postgres@127.0.0.1:${port}/postgres`);
      expect(other.kind).toBe('other');
      expect(portTakenMessage(other, port)).toMatch(new RegExp(`^Port ${port} is taken by another program \\(it does not answer as Postgres: .+\\)\\. Free the port`));
    } finally {
      server.close();
    }

    const real = new URL(inject('serverUrl'));
    const ours = await probePort(real.hostname, Number(real.port), real.toString());
    expect(ours.kind).toBe('postgres');
    expect(portTakenMessage(ours)).toBeUndefined();

    real.password = 'not-the-password';
    const foreign = await probePort(real.hostname, Number(real.port), real.toString());
    expect(foreign.kind).toBe('postgres-auth-failed');
    expect(portTakenMessage(foreign, 54322)).toMatch(/^Port 54322 is taken by a Postgres server that does not accept user "postgres" with password "postgres" \(password authentication failed for user "postgres"\)\./);
  });
});
