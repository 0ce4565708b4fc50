import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { rm, writeFile } from 'node:fs/promises';
import { Agent, request as httpRequest } from 'node:http';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { API_ROOT } from '../../src/http/openapi.js';
import {
  JANSSEN_REQUIRED,
  SCOPE,
  TokenIssuer,
  assertMatchesContract,
  rawEntry,
  startTestDirectory,
  tempDir,
  uniqueName,
  type Reply,
  eventually,
} from './harness.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The service's grace period for requests in flight once shutdown has begun (SHUTDOWN_GRACE_MS). */
const GRACE_MS = 10_000;

/** LDAP protocol operations (the BER tag of an LDAPMessage's protocolOp) the tests wait for. */
const MODIFY_REQUEST = 0x66;
const UNBIND_REQUEST = 0x42;

/**
 * A TCP relay between the service and slapd that reads the protocol operation of every LDAP message
 * the service sends, so that a test can wait until a request has really reached the directory.
 */
class LdapTap {
  private waiters: { tag: number; done: () => void }[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly server: Server;

  private constructor(target: URL) {
    this.server = createServer((client) => {
      const upstream = connect(Number(target.port), target.hostname);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
      let pending: Buffer = Buffer.alloc(0);
      client.on('data', (chunk: Buffer) => {
        upstream.write(chunk);
        pending = this.read(Buffer.concat([pending, chunk]));
      });
      upstream.pipe(client);
    });
  }

  static async start(target: string): Promise<LdapTap> {
    const tap = new LdapTap(new URL(target));
    tap.server.listen(0, '127.0.0.1');
    await once(tap.server, 'listening');
    return tap;
  }

  get url(): string {
    return `ldap://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Resolves when the service next sends an operation with this tag. */
  next(tag: number): Promise<void> {
    return new Promise((done) => this.waiters.push({ tag, done }));
  }

  /** Notes the operation of each complete message in `buffer`; returns what is left of an incomplete one. */
  private read(buffer: Buffer): Buffer {
    let rest = buffer;
    for (;;) {
      // SEQUENCE, length (short or long form), messageID INTEGER, then the protocolOp's tag.
      if (rest.length < 2) return rest;
      const first = rest[1] as number;
      const lengthBytes = first & 0x80 ? first & 0x7f : 0;
      const header = 2 + lengthBytes;
      if (rest.length < header) return rest;
      const length = lengthBytes ? rest.subarray(2, header).reduce((n, b) => n * 256 + b, 0) : first;
      if (rest.length < header + length) return rest;
      const idLength = rest[header + 1] as number;
      const tag = rest[header + 2 + idLength] as number;
      for (const waiter of this.waiters.filter((w) => w.tag === tag)) waiter.done();
      this.waiters = this.waiters.filter((w) => w.tag !== tag);
      rest = rest.subarray(header + length);
    }
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((done) => this.server.close(done));
  }
}

/** Whether a new TCP connection to `port` is refused. */
function refuses(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      done(false);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => done(error.code === 'ECONNREFUSED'));
  });
}

/**
 * An HTTP request on a connection of its own, closed after the answer unless `agent` keeps it alive. (A
 * pooled connection could have been closed by the service while this process was busy, e.g. compiling
 * the contract's validators at its first check.)
 */
function send(url: string, method: string, token: string, body: unknown, agent?: Agent): Promise<Reply> {
  return new Promise((done, fail) => {
    const outgoing = httpRequest(
      url,
      {
        method,
        agent: agent ?? false,
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': method === 'PATCH' ? 'application/json-patch+json' : 'application/json',
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', fail);
        response.on('end', () => {
          const headers = new Headers();
          for (const [name, value] of Object.entries(response.headers)) {
            for (const one of [value ?? []].flat()) headers.append(name, one);
          }
          const text = Buffer.concat(chunks).toString('utf8');
          done({ status: response.statusCode ?? 0, headers, body: text ? JSON.parse(text) : undefined });
        });
      },
    );
    outgoing.on('error', fail);
    outgoing.end(JSON.stringify(body));
  });
}

/** `promise`, or a failure naming `what` when it takes longer than `ms`. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, fail) => {
    timer = setTimeout(() => fail(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

describe('graceful shutdown', () => {
  it('on SIGTERM stops accepting, finishes the write in flight, closes the directory and exits 0', async function () {
    this.timeout(40_000);
    const directory = await startTestDirectory();
    const tap = await LdapTap.start(directory.slapd.url);
    const issuer = new TokenIssuer();
    const dir = await tempDir('shutdown');
    await writeFile(join(dir, 'public.pem'), issuer.publicKey);
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: ROOT,
      env: {
        ...process.env,
        PORT: '0',
        DATA_DIR: dir,
        LDAP_URL: tap.url,
        LDAP_BIND_DN: directory.slapd.bindDn,
        LDAP_BIND_PASSWORD: directory.slapd.password,
        JWT_PUBLIC_KEY_FILE: join(dir, 'public.pem'),
        SCHEMA_CHECK: 'false',
        // One connection, bound by the first write: the held write goes out at once, not after a bind.
        LDAP_POOL_SIZE: '1',
        // The write waits for the paused directory: no operation timeout may end it before the test does.
        LDAP_OPERATION_TIMEOUT_MS: String(GRACE_MS),
      },
    });
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    const token = issuer.token([SCOPE.read, SCOPE.write]);
    // The write in flight goes out on a connection its client would keep open for a minute.
    const keepAlive = new Agent({ keepAlive: true, keepAliveMsecs: 60_000 });
    const request = async (url: string, method: string, path: string, body: unknown, agent?: Agent) => {
      const reply = await send(`${url}${API_ROOT}${path}`, method, token, body, agent);
      await assertMatchesContract(method, `${API_ROOT}${path}`, reply);
      return reply;
    };
    let paused = false;
    try {
      const url = await new Promise<string>((done) =>
        createInterface({ input: child.stdout }).on('line', (line) => {
          const match = /"url":"(http[^"]+)".*attribute registry listening/.exec(line);
          if (match?.[1]) done(match[1]);
        }),
      );
      const port = Number(new URL(url).port);
      const created = await request(url, 'POST', '/attributes', {
        ...JANSSEN_REQUIRED,
        name: uniqueName('shutdown'),
        displayName: 'Before',
        dataType: 'string',
      });
      expect(created.status).to.equal(201);

      // A write must reach the directory; held there (slapd paused), it is in flight for as long as needed.
      directory.slapd.process.kill('SIGSTOP');
      paused = true;
      const modifying = tap.next(MODIFY_REQUEST);
      let answered = false;
      const inFlight = request(
        url,
        'PATCH',
        `/attributes/${created.body.inum}`,
        [{ op: 'replace', path: '/displayName', value: 'During shutdown' }],
        keepAlive,
      ).finally(() => (answered = true));
      const reached = await Promise.race([modifying.then(() => true), inFlight.then(() => false)]);
      expect(reached, 'the write reached the directory before it was answered').to.equal(true);

      const unbinding = tap.next(UNBIND_REQUEST);
      child.kill('SIGTERM');
      const signalled = Date.now();
      await eventually('new connections refused soon after SIGTERM', () => refuses(port), Boolean, 5000);
      expect(answered, 'the write is still in flight while new connections are refused').to.equal(false);
      expect(child.exitCode, 'still running while a request is in flight').to.equal(null);

      directory.slapd.process.kill('SIGCONT');
      paused = false;
      const response = await inFlight;
      const answeredAt = Date.now();
      expect(response.status).to.equal(200);
      expect(response.body.displayName).to.equal('During shutdown');
      expect(await within(exited, GRACE_MS, 'the process exits')).to.equal(0);
      // Its connection, kept alive by the client, is closed once idle rather than after an idle timeout.
      expect(Date.now() - answeredAt, 'exits soon after the last answer').to.be.below(2000);
      expect(Date.now() - signalled, 'exits within the grace period').to.be.below(GRACE_MS);
      // The unbind left before the process exited, but may be read here after the exit is reported.
      await within(unbinding, 5000, 'the service unbinds from the directory');
      expect((await rawEntry(directory.slapd, created.body.dn)).displayName).to.deep.equal([
        'During shutdown',
      ]);
    } finally {
      keepAlive.destroy();
      if (paused) directory.slapd.process.kill('SIGCONT');
      child.kill('SIGKILL');
      await tap.stop();
      await directory.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
