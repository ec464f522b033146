import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, Redis } from 'ioredis';
import { freePort } from '../../src/runtime/private-redis.js';

// A private three-node Redis Cluster for one test file: three redis-server processes (primaries,
// no replicas) on free ports, each with its own directory and cluster bus port, joined by
// `redis-cli --cluster create`. Never the standard ports (6379, and 7000-7005 of the Redis Cluster
// tutorial) nor their bus ports, so a real server or cluster on the machine is never touched.

export interface RedisClusterHandle {
  /** the client ports of the three nodes */
  ports: number[];
  /** as the gateway's REDIS_URL names a cluster: every node, comma-separated */
  url: string;
  nodes: Array<{ host: string; port: number }>;
  /** an ioredis Cluster client, closed by stop() */
  client(): Cluster;
  /** a plain connection to one node (CLUSTER KEYSLOT, DBSIZE, …), closed by stop() */
  node(port: number): Redis;
  /** the port of the node serving a slot */
  ownerOf(slot: number): Promise<number>;
  /** moves a slot and its keys to another node, as a resharding does (clients get MOVED and ASK meanwhile) */
  moveSlot(slot: number, toPort: number): Promise<void>;
  stop(): Promise<void>;
}

const STANDARD = new Set([6379, 16379, ...Array.from({ length: 6 }, (_, i) => 7000 + i), ...Array.from({ length: 6 }, (_, i) => 17000 + i)]);

async function ports(n: number): Promise<number[]> {
  const taken = new Set<number>();
  while (taken.size < n) {
    const p = await freePort();
    if (!STANDARD.has(p)) taken.add(p);
  }
  return [...taken];
}

async function ping(port: number, deadline: number, password: string | undefined): Promise<void> {
  for (;;) {
    const c = new Redis({ host: '127.0.0.1', port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, ...(password ? { password } : {}) });
    c.on('error', () => {});
    try {
      await c.connect();
      if ((await c.ping()) === 'PONG') return;
    } catch {
      if (Date.now() > deadline) throw new Error(`redis-server on ${port} did not start`);
      await new Promise((r) => setTimeout(r, 30));
    } finally {
      c.disconnect();
    }
  }
}

/** `password`: every node requires it (requirepass), and REDIS_URL carries it as the gateway's would. */
export async function startRedisCluster(opts: { password?: string } = {}): Promise<RedisClusterHandle> {
  const auth = opts.password ? { password: opts.password } : {};
  if (spawnSync('redis-server', ['--version']).error || spawnSync('redis-cli', ['--version']).error) {
    throw new Error('redis-server and redis-cli are not installed: apt-get install -y redis-server');
  }
  const dir = mkdtempSync(join(tmpdir(), 'gerbang-redis-cluster-'));
  const [p1, p2, p3, b1, b2, b3] = await ports(6);
  const clientPorts = [p1!, p2!, p3!];
  const busPorts = [b1!, b2!, b3!];
  const children: ChildProcess[] = [];
  const exits: Promise<void>[] = [];
  const opened: Array<{ disconnect(): void }> = [];

  const stop = async () => {
    for (const c of opened) c.disconnect();
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await Promise.all(exits);
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    clientPorts.forEach((port, i) => {
      const nodeDir = join(dir, String(port));
      mkdirSync(nodeDir);
      const child = spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--dir', nodeDir, '--cluster-enabled', 'yes', '--cluster-port', String(busPorts[i]),
          '--cluster-config-file', join(nodeDir, 'nodes.conf'), '--cluster-node-timeout', '5000', '--appendonly', 'no', '--save', '', '--maxmemory-policy', 'noeviction',
          ...(opts.password ? ['--requirepass', opts.password, '--masterauth', opts.password] : [])],
        { stdio: 'ignore' },
      );
      children.push(child);
      exits.push(new Promise((resolve) => child.once('exit', () => resolve())));
    });
    const deadline = Date.now() + 10_000;
    await Promise.all(clientPorts.map((p) => ping(p, deadline, opts.password)));
    // The password through the environment (REDISCLI_AUTH), not on a command line others can read.
    const create = spawnSync('redis-cli', ['--cluster', 'create', ...clientPorts.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], {
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...process.env, ...(opts.password ? { REDISCLI_AUTH: opts.password } : {}) },
    });
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stderr || create.stdout}`);
    // Every node must agree that all slots are served before a client may rely on the slot map.
    for (const port of clientPorts) {
      const c = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1, ...auth });
      try {
        for (;;) {
          if (/^cluster_state:ok/m.test(await c.cluster('INFO'))) break;
          if (Date.now() > deadline + 20_000) throw new Error(`node ${port}: cluster_state never became ok`);
          await new Promise((r) => setTimeout(r, 50));
        }
      } finally {
        c.disconnect();
      }
    }
  } catch (err) {
    await stop();
    throw err;
  }

  const nodes = clientPorts.map((port) => ({ host: '127.0.0.1', port }));
  const connect = (port: number) => {
    const c = new Redis({ host: '127.0.0.1', port, ...auth });
    opened.push(c);
    return c;
  };
  const ownerOf = async (slot: number) => {
    const ranges = await connect(clientPorts[0]!).cluster('SLOTS');
    const primary = ranges.find(([from, to]) => slot >= from && slot <= to)?.[2];
    if (!primary) throw new Error(`slot ${slot} has no node`);
    return primary[1];
  };
  // The steps of redis-cli --cluster reshard for one slot (CLUSTER SETSLOT, MIGRATE).
  const moveSlot = async (slot: number, toPort: number) => {
    const fromPort = await ownerOf(slot);
    if (fromPort === toPort) return;
    const from = connect(fromPort);
    const to = connect(toPort);
    const fromId = (await from.cluster('MYID')) as string;
    const toId = (await to.cluster('MYID')) as string;
    await to.cluster('SETSLOT', slot, 'IMPORTING', fromId);
    await from.cluster('SETSLOT', slot, 'MIGRATING', toId);
    for (;;) {
      const batch = (await from.cluster('GETKEYSINSLOT', slot, 100)) as string[];
      if (batch.length === 0) break;
      await from.migrate('127.0.0.1', toPort, '', 0, 5_000, ...(opts.password ? ['AUTH', opts.password] : []), 'KEYS', ...batch);
    }
    for (const port of clientPorts) await connect(port).cluster('SETSLOT', slot, 'NODE', toId);
  };
  return {
    ports: clientPorts,
    url: clientPorts.map((p) => `redis://${opts.password ? `:${encodeURIComponent(opts.password)}@` : ''}127.0.0.1:${p}`).join(','),
    nodes,
    client: () => {
      const c = new Cluster(nodes, { redisOptions: { maxRetriesPerRequest: null, ...auth } });
      opened.push(c);
      return c;
    },
    node: connect,
    ownerOf,
    moveSlot,
    stop,
  };
}
