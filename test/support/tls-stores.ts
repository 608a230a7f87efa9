import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, closeSync, copyFileSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { postgresBinDir, requireGoTool, GO_TOOLS } from '../../scripts/stack/installers.ts';
import { freePorts } from '../../scripts/private-services.ts';
import { REPO_ROOT, sleep } from '../../scripts/stack/index.ts';

/**
 * The three stores answering over TLS only, with a certificate signed by a CA made here with
 * openssl, and each with a password: a Redis (`--port 0 --tls-port`, `requirepass`), a
 * PostgreSQL (`ssl=on`, pg_hba `hostssl` lines only, scram-sha-256) and a MinIO (`--certs-dir`),
 * on free ports, their files under `.granary/private/tls-*`. For the transport and secrets tests
 * of issue 18, item 6. Everything is killed and deleted by `dispose` (and at exit).
 *
 * @example
 *   const tls = await startTlsStores();
 *   tls.redisUrl       // => 'rediss://:<password>@127.0.0.1:24871'
 *   tls.postgresUrl    // => 'postgres://postgres:<password>@127.0.0.1:23012/granary?sslmode=verify-full&sslrootcert=<dir>/ca.pem'
 *   tls.s3Endpoint     // => 'https://127.0.0.1:27133'
 *   await tls.dispose();
 */
export interface TlsStores {
  readonly dir: string;
  /** The CA's certificate (PEM file). */
  readonly caFile: string;
  readonly redisPassword: string;
  readonly redisUrl: string;
  readonly postgresPassword: string;
  /** With sslmode=verify-full and sslrootcert naming the CA. */
  readonly postgresUrl: string;
  /** The same server, without the CA. */
  readonly postgresUrlWithoutCa: string;
  readonly s3Endpoint: string;
  readonly s3AccessKeyId: string;
  readonly s3SecretAccessKey: string;
  dispose(): Promise<void>;
}

export async function startTlsStores(): Promise<TlsStores> {
  const root = join(REPO_ROOT, '.granary', 'private');
  mkdirSync(root, { recursive: true });
  const dir = mkdtempSync(join(root, 'tls-'));
  chmodSync(dir, 0o755); // PostgreSQL's server runs as the postgres user
  const file = (name: string) => join(dir, name);
  makeCertificates(dir);
  const [redisPort, postgresPort, minioPort, minioConsolePort] = await freePorts(4) as [number, number, number, number];
  const secret = (label: string) => `${label}-${randomBytes(9).toString('base64url')}`;
  const redisPassword = secret('RedisPw');
  const postgresPassword = secret('PgPw');
  const s3SecretAccessKey = secret('S3Secret');
  const pids: number[] = [];
  const stops: (() => void)[] = [];
  const dispose = async (): Promise<void> => {
    for (const stop of stops.splice(0)) stop();
    for (const pid of pids.splice(0)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    await sleep(200);
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', () => {
    for (const stop of stops) stop();
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });
  try {
    // Redis: TLS only (--port 0), a password.
    execFileSync('redis-server', [
      '--port', '0', '--tls-port', String(redisPort), '--bind', '127.0.0.1',
      '--tls-cert-file', file('server.pem'), '--tls-key-file', file('server.key'), '--tls-ca-cert-file', file('ca.pem'), '--tls-auth-clients', 'no',
      '--requirepass', redisPassword, '--save', '', '--appendonly', 'no',
      '--daemonize', 'yes', '--pidfile', file('redis.pid'), '--dir', dir, '--logfile', file('redis.log'),
    ]);
    pids.push(await pidFrom(file('redis.pid')));

    // PostgreSQL: ssl=on, TCP only through hostssl lines (a plaintext connection has no pg_hba entry).
    const bin = postgresBinDir();
    if (bin === null) throw new Error('PostgreSQL is not installed (npm run stack -- up installs it)');
    const pg = file('pg');
    mkdirSync(pg);
    writeFileSync(file('pg-password'), postgresPassword);
    copyFileSync(file('server.pem'), join(pg, 'server.pem'));
    copyFileSync(file('server.key'), join(pg, 'server.key'));
    chmodSync(join(pg, 'server.key'), 0o600);
    closeSync(openSync(file('postgres.log'), 'a'));
    const asPostgres = process.getuid?.() === 0 ? (program: string, args: string[]) => ['runuser', ['-u', 'postgres', '--', program, ...args]] as const : (program: string, args: string[]) => [program, args] as const;
    if (process.getuid?.() === 0) {
      const uid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
      for (const owned of [pg, join(pg, 'server.pem'), join(pg, 'server.key'), file('pg-password'), file('postgres.log')]) chownSync(owned, uid, uid);
    }
    const run = (program: string, args: string[]) => {
      const [command, argv] = asPostgres(program, args);
      execFileSync(command, argv, { stdio: 'pipe' });
    };
    const data = join(pg, 'data');
    run(join(bin, 'initdb'), ['-U', 'postgres', '-D', data, '-E', 'UTF8', '--locale=C', '--no-sync', '--auth-local=trust', '--auth-host=scram-sha-256', `--pwfile=${file('pg-password')}`]);
    writeFileSync(join(data, 'pg_hba.conf'), 'local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\n');
    const options = `-p ${postgresPort} -k '${pg}' -c listen_addresses=127.0.0.1 -c fsync=off -c ssl=on -c ssl_cert_file='${join(pg, 'server.pem')}' -c ssl_key_file='${join(pg, 'server.key')}'`;
    run(join(bin, 'pg_ctl'), ['-D', data, '-l', file('postgres.log'), '-w', '-t', '60', '-o', options, 'start']);
    stops.push(() => {
      const [command, argv] = asPostgres(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', 'stop']);
      spawnSync(command, argv, { stdio: 'ignore' });
    });
    run(join(bin, 'psql'), ['-h', pg, '-p', String(postgresPort), '-U', 'postgres', '-d', 'postgres', '-c', 'CREATE DATABASE granary']);

    // MinIO: public.crt and private.key in --certs-dir make it answer https only.
    const certs = file('minio-certs');
    mkdirSync(certs);
    copyFileSync(file('server.pem'), join(certs, 'public.crt'));
    copyFileSync(file('server.key'), join(certs, 'private.key'));
    const log = openSync(file('minio.log'), 'a');
    const minio = spawn(requireGoTool(GO_TOOLS.minio), [
      'server', file('minio-data'), '--address', `127.0.0.1:${minioPort}`, '--console-address', `127.0.0.1:${minioConsolePort}`, '--certs-dir', certs,
    ], { detached: true, stdio: ['ignore', log, log], env: { ...process.env, MINIO_ROOT_USER: 'granary-tls', MINIO_ROOT_PASSWORD: s3SecretAccessKey } });
    closeSync(log);
    minio.unref();
    pids.push(minio.pid!);
    await waitForMinio(minioPort, readFileSync(file('ca.pem')));
  } catch (error) {
    await dispose();
    throw error;
  }
  const caFile = file('ca.pem');
  const postgresUrlWithoutCa = `postgres://postgres:${postgresPassword}@127.0.0.1:${postgresPort}/granary?sslmode=verify-full`;
  return {
    dir,
    caFile,
    redisPassword,
    redisUrl: `rediss://:${redisPassword}@127.0.0.1:${redisPort}`,
    postgresPassword,
    postgresUrl: `${postgresUrlWithoutCa}&sslrootcert=${caFile}`,
    postgresUrlWithoutCa,
    s3Endpoint: `https://127.0.0.1:${minioPort}`,
    s3AccessKeyId: 'granary-tls',
    s3SecretAccessKey,
    dispose,
  };
}

/** A CA and a server certificate it signs, for 127.0.0.1 and localhost: ca.pem, server.pem, server.key. */
function makeCertificates(dir: string): void {
  const file = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('/usr/bin/openssl', args, { stdio: 'pipe' });
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=granary test CA', '-keyout', file('ca.key'), '-out', file('ca.pem'));
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', file('server.key'), '-out', file('server.csr'));
  writeFileSync(file('san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl('x509', '-req', '-in', file('server.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial', '-days', '1', '-extfile', file('san.ext'), '-out', file('server.pem'));
  chmodSync(file('server.key'), 0o644); // Redis and MinIO run as us; PostgreSQL gets its own copy
}

async function pidFrom(pidFile: string): Promise<number> {
  for (let i = 0; i < 50; i++) {
    try {
      const pid = Number(readFileSync(pidFile, 'utf8').trim());
      if (pid > 0) return pid;
    } catch {
      // not written yet
    }
    await sleep(100);
  }
  throw new Error(`${pidFile} was not written`);
}

async function waitForMinio(port: number, ca: Buffer): Promise<void> {
  const { request } = await import('node:https');
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const req = request(`https://127.0.0.1:${port}/minio/health/live`, { ca, timeout: 2000 }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.on('error', () => resolve(false));
      req.on('timeout', () => req.destroy());
      req.end();
    });
    if (ok) return;
    await sleep(250);
  }
  throw new Error(`MinIO over TLS did not answer on 127.0.0.1:${port} within 60 s`);
}
